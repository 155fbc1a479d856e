"""``python -m analytics``: exit codes, messages and the summary's numbers.

The summary is checked against an independent computation with plain pandas, scipy and
statsmodels straight from the demo CSV, never against the library itself. Most calls go
through ``analytics.cli.main`` in-process; a few run the real module as a subprocess.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analytics.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO = "sample_data/demo_cohort.csv"
DEMO_PATH = ROOT / DEMO

SUMMARY_KEYS = {
    "n_patients_total",
    "n_patients",
    "n_zero_baseline",
    "n_carried_forward",
    "baseline_mean",
    "baseline_sd",
    "endpoint_mean",
    "endpoint_sd",
    "mean_change",
    "sd_change",
    "mean_change_ci95_low",
    "mean_change_ci95_high",
    "t_statistic",
    "p_value",
    "cohens_dz",
    "responders",
    "remitters",
    "reliable_change",
}
TOP_LEVEL_KEYS = {"instrument", "file", "definition", "definition_text", "filters"} | SUMMARY_KEYS
DEFINITION_KEYS = {
    "endpoint",
    "population",
    "baseline_window_days",
    "response_pct",
    "remission_below",
    "reliable_change_method",
    "reliable_change_threshold",
}
PROPORTION_KEYS = {"n", "N", "pct", "ci95_low", "ci95_high"}
RELIABLE_CHANGE_KEYS = {"improved", "no_change", "deteriorated", "N", "clinically_significant"}
VALIDATE_KEYS = {
    "file",
    "n_rows_read",
    "n_rows_loaded",
    "n_rows_excluded",
    "n_errors",
    "n_warnings",
    "n_patients",
    "summary",
    "issues",
}
ISSUE_KEYS = {"severity", "row", "column", "value", "message"}

HEADER = "patient_id,instrument,score,infusions_received,day,site\n"
GOOD_ROWS = "P1,pcl5,50,0,-1,A\nP1,pcl5,30,4,14,A\nP2,pcl5,40,0,0,B\nP2,pcl5,35,4,15,B\n"


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def summary_json(capsys, *args: str) -> dict:
    code, out, err = run_main(capsys, "summary", str(DEMO_PATH), "--json", *args)
    assert code == 0, err
    assert err == ""
    return json.loads(out)


# --- an independent reference computed from the CSV with plain pandas ---------------------


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return pd.read_csv(DEMO_PATH)


def pcl5_pairs(demo: pd.DataFrame) -> pd.DataFrame:
    """Per patient: baseline = latest PCL-5 with 0 infusions and day >= -30; endpoint =
    latest PCL-5 after the first infusion, by day. Patients with both."""
    p = demo[demo["instrument"] == "pcl5"].sort_values(["patient_id", "day", "infusions_received"])
    pre = p[(p["infusions_received"] == 0) & (p["day"] >= -30)]
    post = p[p["infusions_received"] > 0]
    base = pre.groupby("patient_id")["score"].last().rename("baseline")
    end = post.groupby("patient_id")["score"].last().rename("endpoint")
    return pd.concat([base, end], axis=1, join="inner")


@pytest.fixture(scope="module")
def reference(demo) -> dict:
    pairs = pcl5_pairs(demo)
    b, e = pairs["baseline"], pairs["endpoint"]
    change = e - b
    n = len(pairs)
    # scores are whole numbers: compare reductions as integers, no rounding at 30% exactly
    responders = int(((b - e) * 100 >= 30 * b).sum())
    responders50 = int(((b - e) * 100 >= 50 * b).sum())
    remitters = int((e < 33).sum())
    t = stats.ttest_rel(e, b)
    half = stats.t.ppf(0.975, n - 1) * change.std(ddof=1) / math.sqrt(n)
    rci = 1.96 * math.sqrt(2) * b.std(ddof=1) * math.sqrt(1 - 0.82)  # r = .82 (PCL-5 entry)
    return {
        "pairs": pairs,
        "n_patients_total": demo.loc[demo["instrument"] == "pcl5", "patient_id"].nunique(),
        "n": n,
        "baseline_mean": b.mean(),
        "baseline_sd": b.std(ddof=1),
        "endpoint_mean": e.mean(),
        "endpoint_sd": e.std(ddof=1),
        "mean_change": change.mean(),
        "sd_change": change.std(ddof=1),
        "ci": (change.mean() - half, change.mean() + half),
        "t": t.statistic,
        "p": t.pvalue,
        "responders": responders,
        "responders50": responders50,
        "remitters": remitters,
        "reliably_improved": int((-change > rci).sum()),
        "reliably_deteriorated": int((change > rci).sum()),
    }


@pytest.fixture(scope="module")
def pcl5_json() -> dict:
    """The real command line, once."""
    proc = run_module("summary", DEMO, "--instrument", "pcl5", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


# --- summary: the JSON shape --------------------------------------------------------------


def test_summary_json_keys_are_pinned(pcl5_json):
    assert set(pcl5_json) == TOP_LEVEL_KEYS
    assert set(pcl5_json["definition"]) == DEFINITION_KEYS
    assert set(pcl5_json["responders"]) == PROPORTION_KEYS
    assert set(pcl5_json["remitters"]) == PROPORTION_KEYS
    assert set(pcl5_json["reliable_change"]) == RELIABLE_CHANGE_KEYS
    assert pcl5_json["instrument"] == "pcl5"
    assert pcl5_json["file"] == DEMO
    assert pcl5_json["filters"] == {}
    assert isinstance(pcl5_json["definition_text"], list)
    assert all(isinstance(line, str) for line in pcl5_json["definition_text"])


def test_summary_json_definition_is_the_pcl5_default(pcl5_json):
    d = pcl5_json["definition"]
    assert d["endpoint"] == "last" and d["population"] == "all"
    assert d["baseline_window_days"] == 30
    assert d["response_pct"] == 30 and d["remission_below"] == 33
    assert d["reliable_change_method"] == "jacobson_truax"


def test_summary_json_values_are_consistent(pcl5_json):
    r = pcl5_json
    assert 0 < r["n_patients"] <= r["n_patients_total"]
    assert math.isclose(r["mean_change"], r["endpoint_mean"] - r["baseline_mean"], abs_tol=1e-9)
    assert r["mean_change_ci95_low"] <= r["mean_change"] <= r["mean_change_ci95_high"]
    for name in ("responders", "remitters"):
        p = r[name]
        assert isinstance(p["n"], int) and isinstance(p["N"], int)
        assert 0 <= p["n"] <= p["N"] == r["n_patients"]
        assert p["ci95_low"] <= p["pct"] <= p["ci95_high"]
        assert p["ci95_low"] >= 0 and p["ci95_high"] <= 100
        assert math.isclose(p["pct"], 100 * p["n"] / p["N"], rel_tol=1e-12)
    rc = r["reliable_change"]
    assert rc["improved"] + rc["no_change"] + rc["deteriorated"] == rc["N"] == r["n_patients"]
    assert rc["clinically_significant"] <= rc["improved"]


# --- summary: the numbers against the independent reference --------------------------------


def test_summary_counts_and_means_match_plain_pandas(pcl5_json, reference):
    r = pcl5_json
    assert r["n_patients_total"] == reference["n_patients_total"] == 720
    assert r["n_patients"] == reference["n"]
    for key in ("baseline_mean", "baseline_sd", "endpoint_mean", "endpoint_sd"):
        assert math.isclose(r[key], reference[key], rel_tol=1e-12), key
    assert math.isclose(r["mean_change"], reference["mean_change"], rel_tol=1e-12)
    assert math.isclose(r["sd_change"], reference["sd_change"], rel_tol=1e-12)
    assert math.isclose(r["cohens_dz"], reference["mean_change"] / reference["sd_change"])
    assert r["responders"]["n"] == reference["responders"]
    assert r["remitters"]["n"] == reference["remitters"]
    assert r["reliable_change"]["improved"] == reference["reliably_improved"]
    assert r["reliable_change"]["deteriorated"] == reference["reliably_deteriorated"]


def test_summary_mean_change_ci_and_paired_t_match_scipy(pcl5_json, reference):
    r = pcl5_json
    low, high = reference["ci"]
    assert math.isclose(r["mean_change_ci95_low"], low, rel_tol=1e-9)
    assert math.isclose(r["mean_change_ci95_high"], high, rel_tol=1e-9)
    assert math.isclose(r["t_statistic"], reference["t"], rel_tol=1e-9)
    assert math.isclose(r["p_value"], reference["p"], rel_tol=1e-6)


@pytest.mark.parametrize("name", ["responders", "remitters"])
def test_summary_wilson_intervals_match_statsmodels(pcl5_json, name):
    p = pcl5_json[name]
    low, high = proportion_confint(p["n"], p["N"], alpha=0.05, method="wilson")
    assert math.isclose(p["ci95_low"], 100 * low, rel_tol=1e-9)
    assert math.isclose(p["ci95_high"], 100 * high, rel_tol=1e-9)


# --- summary: options ---------------------------------------------------------------------


def test_summary_by_site_gives_one_group_per_site(capsys, demo, reference):
    r = summary_json(capsys, "--instrument", "pcl5", "--by", "site")
    assert set(r) == TOP_LEVEL_KEYS | {"by", "groups"}
    assert r["by"] == "site"
    sites = sorted(demo["site"].unique())
    assert [g["group"] for g in r["groups"]] == sites
    for g in r["groups"]:
        assert set(g) == SUMMARY_KEYS | {"group"}
    assert sum(g["n_patients"] for g in r["groups"]) == r["n_patients"]
    assert sum(g["n_patients_total"] for g in r["groups"]) == r["n_patients_total"]
    assert sum(g["responders"]["n"] for g in r["groups"]) == r["responders"]["n"]
    site_of = demo.groupby("patient_id")["site"].first()
    expected = site_of.reindex(reference["pairs"].index).value_counts()
    assert {g["group"]: g["n_patients"] for g in r["groups"]} == expected.to_dict()


def test_summary_where_keeps_one_site(capsys, demo, reference):
    r = summary_json(capsys, "--instrument", "pcl5", "--where", "site=Clinic A")
    assert r["filters"] == {"site": ["Clinic A"]}
    clinic_a = set(demo.loc[demo["site"] == "Clinic A", "patient_id"])
    pairs = reference["pairs"]
    assert r["n_patients"] == int(pairs.index.isin(clinic_a).sum())
    assert r["n_patients"] < reference["n"]
    assert math.isclose(
        r["baseline_mean"], pairs.loc[pairs.index.isin(clinic_a), "baseline"].mean()
    )


def test_summary_completers_at_six_infusions(capsys, demo, reference):
    all_ = summary_json(capsys, "--instrument", "pcl5", "--endpoint", "infusions:6")
    comp = summary_json(
        capsys, "--instrument", "pcl5", "--endpoint", "infusions:6", "--population", "completers"
    )
    assert comp["definition"]["endpoint"] == "infusions:6"
    assert comp["definition"]["population"] == "completers"
    assert comp["n_patients"] <= all_["n_patients"]
    # completers: a baseline and a PCL-5 after exactly 6 infusions
    at6 = set(
        demo.loc[(demo["instrument"] == "pcl5") & (demo["infusions_received"] == 6), "patient_id"]
    )
    assert comp["n_patients"] == int(reference["pairs"].index.isin(at6).sum())
    assert comp["n_carried_forward"] == 0


def test_summary_response_threshold_50(capsys, pcl5_json, reference):
    r = summary_json(capsys, "--instrument", "pcl5", "--response-pct", "50")
    assert r["definition"]["response_pct"] == 50
    assert r["responders"]["n"] == reference["responders50"]
    assert r["responders"]["n"] < pcl5_json["responders"]["n"]
    assert r["remitters"] == pcl5_json["remitters"]


def test_summary_remission_cut_off(capsys, reference):
    r = summary_json(capsys, "--instrument", "pcl5", "--remission-below", "20")
    assert r["remitters"]["n"] == int((reference["pairs"]["endpoint"] < 20).sum())


def test_summary_text_output(capsys, reference):
    code, out, err = run_main(capsys, "summary", str(DEMO_PATH), "--instrument", "pcl5")
    assert code == 0 and err == ""
    assert f"patients: {reference['n']} analysed of 720" in out
    assert f"responders: {reference['responders']}/{reference['n']}" in out


def test_summary_of_an_instrument_with_no_rows_is_empty_not_an_error(capsys):
    r = summary_json(capsys, "--instrument", "caps5")
    assert r["n_patients_total"] == 0 and r["n_patients"] == 0
    assert r["mean_change"] is None and r["responders"]["N"] == 0


# --- summary: skipping the patient covariates changes no figure ------------------------------


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--where", "site=Clinic A"],
        ["--where", "sex=Female", "--where", "site=Clinic B", "--response-pct", "50"],
        ["--endpoint", "infusions:6", "--population", "completers"],
        ["--endpoint", "day:28+-7", "--remission-below", "20"],
        ["--by", "sex"],
        ["--by", "age_band", "--where", "veteran=Yes"],
    ],
    ids=lambda o: " ".join(o) or "default",
)
def test_summary_equals_summarise_outcomes_of_a_full_derivation(capsys, options):
    """Without --by the command derives outcomes without the patient covariates; every figure
    equals summarise_outcomes of a full derivation (covariates included) of the same rows."""
    from analytics.cli import build_parser
    from analytics.commands.common import definition_from_args
    from analytics.commands.summary import summary_record
    from analytics.filters import apply_filters, parse_where
    from analytics.io import load_canonical
    from analytics.outcomes import derive_patient_outcomes
    from analytics.stats import summarise_outcomes

    argv = ["summary", str(DEMO_PATH), "--instrument", "pcl5", *options]
    r = summary_json(capsys, *argv[2:])
    args = build_parser().parse_args(argv)
    data = apply_filters(load_canonical(DEMO_PATH).data, parse_where(args.where))
    full = derive_patient_outcomes(data, "pcl5", definition_from_args(args))
    assert "site" in full.table.columns  # the reference does carry the covariates
    table = summarise_outcomes(full, by=args.by)
    expected = summary_record(table.iloc[0])
    assert {k: r[k] for k in expected} == expected
    assert r["definition_text"] == full.describe()
    if args.by:
        groups = [{"group": g["group"], **summary_record(g)} for _, g in table.iloc[1:].iterrows()]
        assert r["groups"] == groups
        assert len(groups) >= 2
    else:
        assert "groups" not in r


def test_load_view_skips_covariates_only_when_asked():
    from analytics.cli import build_parser
    from analytics.commands.common import load_view

    args = build_parser().parse_args(["summary", str(DEMO_PATH), "--instrument", "pcl5"])
    lean = load_view(args, covariates=False).outcomes.table
    full = load_view(args).outcomes.table
    covariate_columns = [c for c in full.columns if c not in lean.columns]
    assert {"site", "sex", "age_band"} <= set(covariate_columns)
    pd.testing.assert_frame_equal(lean, full[list(lean.columns)])


# --- bad input: exit 2, the message on stderr -----------------------------------------------


BAD_FILES = [
    # (id, name, content, fragments stderr must contain)
    ("missing column", "nocol.csv", "patient_id,instrument,day\nP1,pcl5,0\n", ["score", "missing"]),
    (
        "non-numeric score",
        "text.csv",
        HEADER + GOOD_ROWS + "P3,pcl5,abc,0,0,A\n",
        ["row 6", "column 'score'", "not a number"],
    ),
    (
        "score out of range",
        "range.csv",
        HEADER + "P1,pcl5,81,0,0,A\n" + GOOD_ROWS,
        ["row 2", "column 'score'", "0-80"],
    ),
    (
        "unknown instrument",
        "inst.csv",
        HEADER + GOOD_ROWS + "P3,pcl-5,20,0,0,A\n",
        ["row 6", "column 'instrument'", "unknown instrument"],
    ),
    ("empty file", "empty.csv", "", ["the file is empty"]),
    ("header only", "header.csv", HEADER, ["no data rows"]),
]


@pytest.fixture(params=BAD_FILES, ids=[case[0] for case in BAD_FILES])
def bad_file(request, tmp_path) -> tuple[Path, list[str]]:
    _, name, content, fragments = request.param
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path, fragments


@pytest.mark.parametrize("command", ["summary", "validate"])
def test_bad_files_exit_2_with_row_and_column_on_stderr(capsys, bad_file, command):
    path, fragments = bad_file
    extra = ["--instrument", "pcl5"] if command == "summary" else []
    code, out, err = run_main(capsys, command, str(path), *extra)
    assert code == 2
    assert path.name in err
    if command == "summary":  # summary refuses the file: everything is on stderr
        assert out == ""
        report = err
    else:  # validate prints the report on stdout when it gets that far
        report = out + err
    for fragment in fragments:
        assert fragment in report, report
    assert "Traceback" not in err


def test_bad_file_via_the_real_module(tmp_path):
    path = tmp_path / "range.csv"
    path.write_text(HEADER + GOOD_ROWS + "P3,phq9,-1,0,0,A\n", encoding="utf-8")
    proc = run_module("summary", str(path), "--instrument", "pcl5")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "range.csv, row 6, column 'score'" in proc.stderr
    assert "PHQ-9 scores range 0-27" in proc.stderr
    assert "Traceback" not in proc.stderr


BAD_OPTIONS = [
    ("unknown instrument id", ["--instrument", "pcl6"], ["unknown instrument 'pcl6'", "pcl5"]),
    ("endpoint day:abc", ["--instrument", "pcl5", "--endpoint", "day:abc"], ["day:abc"]),
    ("endpoint infusions:0", ["--instrument", "pcl5", "--endpoint", "infusions:0"], ["N >= 1"]),
    ("endpoint day:0", ["--instrument", "pcl5", "--endpoint", "day:0"], ["D > 0"]),
    ("where without =", ["--instrument", "pcl5", "--where", "site"], ["COLUMN=VALUE"]),
    ("where unknown column", ["--instrument", "pcl5", "--where", "shoe=9"], ["'shoe'"]),
    ("by unknown column", ["--instrument", "pcl5", "--by", "shoe"], ["'shoe'"]),
    ("response 0", ["--instrument", "pcl5", "--response-pct", "0"], ["response threshold"]),
    ("response 150", ["--instrument", "pcl5", "--response-pct", "150"], ["at most 100"]),
    ("remission out of range", ["--instrument", "pcl5", "--remission-below", "200"], ["range"]),
]


@pytest.mark.parametrize(
    ("options", "fragments"),
    [case[1:] for case in BAD_OPTIONS],
    ids=[case[0] for case in BAD_OPTIONS],
)
def test_bad_options_exit_2_with_a_clear_message(capsys, tmp_path, options, fragments):
    path = tmp_path / "good.csv"
    path.write_text(HEADER + GOOD_ROWS, encoding="utf-8")
    code, out, err = run_main(capsys, "summary", str(path), *options)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    for fragment in fragments:
        assert fragment in err, err
    assert "Traceback" not in err


def test_bad_option_via_the_real_module():
    proc = run_module("summary", DEMO, "--instrument", "pcl5", "--endpoint", "day:abc")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "day:abc" in proc.stderr and "last, infusions:N" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", DEMO],  # --instrument is required
        ["summary", DEMO, "--instrument", "pcl5", "--population", "some"],
        ["summary", DEMO, "--instrument", "pcl5", "--response-pct", "half"],
        ["frobnicate", DEMO],
        [],
    ],
    ids=["no instrument", "bad population", "non-numeric pct", "unknown command", "nothing"],
)
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


# --- validate -----------------------------------------------------------------------------


def test_validate_demo_exits_0(capsys, demo):
    code, out, err = run_main(capsys, "validate", str(DEMO_PATH), "--json")
    assert code == 0 and err == ""
    rec = json.loads(out)
    assert set(rec) == VALIDATE_KEYS
    assert rec["n_rows_read"] == rec["n_rows_loaded"] == len(demo)
    assert rec["n_rows_excluded"] == rec["n_errors"] == rec["n_warnings"] == 0
    assert rec["n_patients"] == demo["patient_id"].nunique() == 720
    assert rec["issues"] == []


def test_validate_demo_text_output(capsys, demo):
    code, out, err = run_main(capsys, "validate", str(DEMO_PATH))
    assert code == 0 and err == ""
    n = f"{len(demo):,}"
    assert out.strip() == f"{DEMO_PATH}: {n} rows read, {n} loaded, 0 excluded, 0 warnings"


BAD_REPORT = (
    HEADER
    + GOOD_ROWS  # rows 2-5
    + "P3,pcl5,abc,0,0,A\n"  # row 6: score not a number
    + "P3,pcl5,20,-1,9,A\n"  # row 7: negative infusions
    + "P4,gad7,22,0,0,B\n"  # row 8: out of range
    + "P1,pcl5,50,0,-1,A\n"  # row 9: repeats row 2: warning
)


def test_validate_prints_every_issue_with_row_and_column(capsys, tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(BAD_REPORT, encoding="utf-8")
    code, out, err = run_main(capsys, "validate", str(path))
    assert code == 2
    assert "report.csv" in err and "3 errors" in err
    lines = out.splitlines()
    assert lines[0] == f"{path}: 8 rows read, 4 loaded, 3 excluded, 1 warnings"
    assert lines[1].startswith("  error: row 6, column 'score', value 'abc'")
    assert lines[2].startswith("  error: row 7, column 'infusions_received', value '-1'")
    assert lines[3].startswith("  error: row 8, column 'score', value '22'")
    assert "GAD-7" in lines[3]
    assert lines[4].startswith("  warning: row 9, column 'score'")
    assert len(lines) == 5


def test_validate_json_report(capsys, tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(BAD_REPORT, encoding="utf-8")
    code, out, _ = run_main(capsys, "validate", str(path), "--json")
    assert code == 2
    rec = json.loads(out)
    assert set(rec) == VALIDATE_KEYS
    assert (rec["n_rows_read"], rec["n_rows_loaded"], rec["n_rows_excluded"]) == (8, 4, 3)
    assert (rec["n_errors"], rec["n_warnings"], rec["n_patients"]) == (3, 1, 2)
    assert all(set(i) == ISSUE_KEYS for i in rec["issues"])
    got = [(i["severity"], i["row"], i["column"]) for i in rec["issues"]]
    assert got == [
        ("error", 6, "score"),
        ("error", 7, "infusions_received"),
        ("error", 8, "score"),
        ("warning", 9, "score"),
    ]
    assert all(isinstance(i["row"], int) for i in rec["issues"])


def test_validate_warnings_only_exits_0(capsys, tmp_path):
    path = tmp_path / "warn.csv"
    path.write_text(HEADER + GOOD_ROWS + "P2,pcl5,40,0,0,B\n", encoding="utf-8")
    code, out, err = run_main(capsys, "validate", str(path), "--json")
    assert code == 0 and err == ""
    rec = json.loads(out)
    assert (rec["n_errors"], rec["n_warnings"], rec["n_rows_loaded"]) == (0, 1, 4)


def test_summary_uses_only_clean_rows_of_a_file_with_warnings(capsys, tmp_path):
    path = tmp_path / "warn.csv"
    path.write_text(HEADER + GOOD_ROWS + "P2,pcl5,40,0,0,B\n", encoding="utf-8")
    code, out, err = run_main(capsys, "summary", str(path), "--instrument", "pcl5", "--json")
    assert err == ""
    assert code == 0
    r = json.loads(out)
    # P1 50 -> 30 (-40%, responder, remitter), P2 40 -> 35 (-12.5%, neither)
    assert r["n_patients"] == 2
    assert r["baseline_mean"] == 45 and r["endpoint_mean"] == 32.5
    assert r["responders"]["n"] == 1 and r["remitters"]["n"] == 1
    assert np.isclose(r["mean_change"], -12.5)
