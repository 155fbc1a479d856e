"""The report, built on the demo data with `python -m analytics report`:

- the HTML carries the headline numbers of `summary --json` for the same definition (read
  back from the HTML), opens in Chromium with the network off and draws every chart, makes
  no external request, and escapes user-supplied text (dataset and column names, filter
  values);
- the PDF has the expected pages (pdftotext) and its charts are images with varied pixels
  (pdfimages), not blanks;
- sections, suppression, the response model, --json and bad options.

The HTML and the PDF are built once per module (PDF printing takes seconds).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageStat

from analytics.cli import build_parser, main, run_summary
from analytics.report import SECTIONS, build_report
from analytics.report_pdf import find_chromium

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_data" / "demo_cohort.csv"
VIEW = ["--instrument", "phq9", "--endpoint", "infusions:6", "--where", "site=Clinic A"]
EVIL = "<script>alert(1)</script>"

needs_pdf_tools = pytest.mark.skipif(
    find_chromium() is None or shutil.which("pdftotext") is None,
    reason="needs Chromium and poppler-utils (make test installs both)",
)


def cli(*argv: str) -> dict:
    """Run `python -m analytics report ... --json` in-process and return its JSON."""
    ns = build_parser().parse_args(["report", *argv, "--json"])
    from analytics.commands.report import run

    return run(ns)


def summary(*argv: str) -> dict:
    return run_summary(build_parser().parse_args(["summary", str(DEMO), *argv, "--json"]))


@pytest.fixture(scope="module")
def html_report(tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = cli(str(DEMO), *VIEW, "--by", "sex", "--out", str(out))
    return out.read_text(encoding="utf-8"), result


@pytest.fixture(scope="module")
def pdf_report(tmp_path_factory) -> tuple[Path, dict]:
    if find_chromium() is None:
        pytest.skip("needs Chromium")
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    return out, cli(str(DEMO), *VIEW, "--out", str(out))


# --------------------------------------------------------------------------- the HTML


def flat_summary(rec: dict) -> dict:
    """`summary --json` with the nested records flattened to the report's keys."""
    out = {k: v for k, v in rec.items() if not isinstance(v, dict | list)}
    for name in ("responders", "remitters"):
        out.update({f"{name}_{k}": v for k, v in rec[name].items()})
    rc = rec["reliable_change"]
    out.update(
        reliably_improved_n=rc["improved"],
        no_reliable_change_n=rc["no_change"],
        reliably_deteriorated_n=rc["deteriorated"],
        reliable_change_N=rc["N"],
        clinically_significant_n=rc["clinically_significant"],
    )
    return out


def shown(key: str, value: float | int) -> str:
    """How the report writes a summary value."""
    if key.endswith(("_n", "_N")) or key.startswith("n_"):
        return f"{int(value):,}"
    if key in ("t_statistic", "cohens_dz"):
        return f"{value:.2f}"
    if key == "p_value":
        return f"{value:.3f}"
    return f"{value:.1f}"


def test_html_headline_numbers_equal_summary_json(html_report):
    html, _ = html_report
    numbers = dict(re.findall(r'<span class="num" data-key="(\w+)">([^<]*)</span>', html))
    ref = flat_summary(summary(*VIEW))
    must = {
        "n_patients_total",
        "n_patients",
        "baseline_mean",
        "baseline_sd",
        "endpoint_mean",
        "mean_change",
        "mean_change_ci95_low",
        "mean_change_ci95_high",
        "cohens_dz",
        "responders_n",
        "responders_N",
        "responders_pct",
        "responders_ci95_low",
        "responders_ci95_high",
        "remitters_pct",
        "remitters_ci95_low",
        "remitters_ci95_high",
        "reliably_improved_n",
    }
    assert must <= set(numbers)
    for key, text in numbers.items():
        assert text == shown(key, ref[key]), key
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    embedded = json.loads(data.group(1))["headline"]
    assert embedded["responders_pct"] == pytest.approx(ref["responders_pct"])
    assert embedded["n_patients"] == ref["n_patients"]


def test_html_has_every_section_provenance_and_definitions(html_report):
    html, result = html_report
    for key in ("cohort", "outcomes", "trajectories", "responders", "durability"):
        assert f'<section id="section-{key}">' in html
    assert 'id="section-model"' not in html
    assert "Synthetic demo data" in html  # the bundled demo is labelled
    prov = html[html.index('id="provenance"') : html.index('id="definition"')]
    for label in ("Dataset id", "Content hash", "Import profile", "Filters", "Generated"):
        assert label in prov
    assert "site = Clinic A" in prov and "Infusion Outcomes 0." in prov
    assert result["provenance"]["content_hash"] in prov
    assert "counts of 1 to 10 patients shown as &#x27;&lt;11&#x27;" in prov
    assert "python -m analytics report" in prov and "--by sex" in prov
    assert "endpoint: latest assessment after 6 infusions" in html
    assert "Table 1. Patient characteristics" in html
    assert "Outcomes by sex" in html


def test_html_needs_nothing_from_the_network(html_report):
    html, _ = html_report
    assert not re.search(r"<script[^>]*\ssrc=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"@import", html, re.I)
    assert not re.search(r"url\(\s*['\"]?https?:", html, re.I)
    assert 'src="http' not in html
    assert not re.search(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=\"https?:", html, re.I)
    # plotly.js is inline (its bundle contains the string "Plotly.newPlot")
    assert html.count("<script") >= 3 and "newPlot" in html


@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium")
def test_html_opens_offline_and_draws_every_chart(html_report, tmp_path):
    from playwright.sync_api import sync_playwright

    html, _ = html_report
    path = tmp_path / "offline.html"
    path.write_text(html, encoding="utf-8")
    n_figures = html.count("data-figure=")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=find_chromium(), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_figures}",
            timeout=120_000,
        )
        drawn = page.locator(".js-plotly-plot").count()
        browser.close()
    assert n_figures >= 8 and drawn == n_figures
    assert requests == [path.as_uri()]


def test_user_supplied_text_is_escaped(tmp_path):
    data = pd.read_csv(DEMO).rename(columns={"site": EVIL})
    data[EVIL] = data[EVIL].replace("Clinic A", "A & <b>B</b>")
    src = tmp_path / "evil.csv"
    data.to_csv(src, index=False)
    out = tmp_path / "evil.html"
    cli(
        str(src),
        "--instrument",
        "pcl5",
        "--where",
        f"{EVIL}=A & <b>B</b>",
        "--by",
        "sex",
        "--name",
        '<img src=x onerror="alert(2)">',
        "--sections",
        "cohort,outcomes",
        "--out",
        str(out),
    )
    html = out.read_text(encoding="utf-8")
    for raw in (EVIL, "<b>B</b>", "<img src=x", 'alert(2)">'):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &amp; &lt;b&gt;B&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html


def test_chosen_sections_only_and_their_order(tmp_path):
    out = tmp_path / "r.html"
    result = cli(
        str(DEMO), "--instrument", "pcl5", "--sections", "durability,outcomes", "--out", str(out)
    )
    assert result["sections"] == ["outcomes", "durability"]
    html = out.read_text(encoding="utf-8")
    assert "section-cohort" not in html and "section-trajectories" not in html
    assert set(result["tables"]["durability"]) == {"time_to_response", "loss_of_response"}


def test_json_keys_are_stable(tmp_path):
    result = cli(
        str(DEMO),
        "--instrument",
        "gad7",
        "--sections",
        "outcomes",
        "--out",
        str(tmp_path / "g.html"),
    )
    assert list(result) == [
        "out",
        "format",
        "bytes",
        "instrument",
        "file",
        "definition",
        "definition_text",
        "filters",
        "by",
        "sections",
        "provenance",
        "headline",
        "tables",
        "figures",
    ]
    ref = summary("--instrument", "gad7")
    assert result["headline"]["n_patients"] == ref["n_patients"]
    assert result["headline"]["responders_pct"] == pytest.approx(ref["responders"]["pct"])
    assert result["definition"] == ref["definition"]


def test_small_numbers_are_suppressed_everywhere(tmp_path):
    out = tmp_path / "small.html"
    cli(
        str(DEMO),
        "--instrument",
        "pcl5",
        "--min-cell-size",
        "5000",
        "--sections",
        "cohort,outcomes,responders",
        "--out",
        str(out),
    )
    html = out.read_text(encoding="utf-8")
    numbers = dict(re.findall(r'<span class="num" data-key="(\w+)">([^<]*)</span>', html))
    assert numbers == {}  # every count is under 5000: no number is shown
    assert "&lt;5000" in html and "suppressed" in html
    ref = summary("--instrument", "pcl5")
    assert f"{ref['baseline_mean']:.1f}" not in html.split('id="section-outcomes"')[1]


def test_model_section_with_features(tmp_path):
    out = tmp_path / "model.html"
    result = cli(
        str(DEMO),
        "--instrument",
        "pcl5",
        "--sections",
        "model",
        "--features",
        "baseline_pcl5,age_band",
        "--repeats",
        "1",
        "--out",
        str(out),
    )
    assert result["sections"] == ["model"]
    tables = result["tables"]["model"]
    assert tables["model_headline"][0]["Measure"] == "AUROC"
    html = out.read_text(encoding="utf-8")
    assert "not a clinical decision tool" in html.lower() or "decision" in html.lower()
    assert html.count("data-figure=") == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "report.txt"], "must end in .html or .pdf"),
        (["--out", "r.html", "--sections", "model"], "needs --features"),
        (["--out", "r.html", "--sections", "outcomes,nope"], "unknown report section"),
        (["--out", "r.html", "--by", "nope"], "cannot group by 'nope'"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", str(DEMO), "--instrument", "pcl5", *argv]) == 2
    assert message in capsys.readouterr().err


def test_build_report_refuses_unknown_sections():
    from analytics.errors import DataValidationError
    from analytics.io import load_canonical
    from analytics.outcomes import derive_patient_outcomes
    from analytics.report import Provenance

    data = load_canonical(DEMO).data
    out = derive_patient_outcomes(data, "pcl5")
    with pytest.raises(DataValidationError, match="choose from cohort"):
        build_report(data, out, Provenance("d", "d", "", False, "PCL-5"), sections=["x"])
    assert list(SECTIONS)[-1] == "model"


# ---------------------------------------------------------------------------- the PDF


def pdf_pages(path: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    n = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for i in range(1, n + 1)
    ]


@needs_pdf_tools
def test_pdf_has_the_expected_pages(pdf_report):
    path, result = pdf_report
    assert path.read_bytes().startswith(b"%PDF")
    pages = pdf_pages(path)
    first = pages[0]
    assert "Outcomes report · PHQ-9" in first
    assert "Provenance" in first and "Synthetic demo data" in first
    assert "site = Clinic A" in first and result["provenance"]["content_hash"][:16] in first
    assert "Page 1 of" in first
    # each section starts a page, in order (line 1 of a page is the running header)
    lines = [[ln.strip() for ln in text.splitlines() if ln.strip()] for text in pages]
    assert all(page[0].startswith("Outcomes report · PHQ-9 · demo_cohort.csv") for page in lines)
    starts = []
    for key in result["sections"]:
        found = [i for i, page in enumerate(lines) if page[1] == SECTIONS[key]]
        assert found, f"no page starts with {SECTIONS[key]}"
        starts.append(found[0])
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    text = "\n".join(pages)
    ref = summary(*VIEW)
    assert f"{ref['responders']['pct']:.1f}%" in text
    assert f"{ref['mean_change']:.1f}" in text


@needs_pdf_tools
def test_pdf_charts_are_images_not_blanks(pdf_report, tmp_path):
    path, result = pdf_report
    subprocess.run(["pdfimages", "-png", str(path), str(tmp_path / "img")], check=True)
    images = sorted(tmp_path.glob("img-*.png"))
    n_figures = sum(len(v) for v in result["figures"].values())
    assert n_figures >= 8 and len(images) == n_figures
    for img_path in images:
        img = Image.open(img_path).convert("RGB")
        assert img.width >= 1000
        stat = ImageStat.Stat(img)
        assert max(stat.stddev) > 10, f"{img_path.name} looks blank"
        assert len(img.getcolors(maxcolors=1 << 20) or []) > 20, f"{img_path.name} is flat"
