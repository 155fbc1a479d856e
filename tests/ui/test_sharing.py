"""Sharing (issue 6): the URL restores the view, bad links fall back with a message,
sign-in and roles gate the data, the audit log records what happened, and nothing a user
uploads can inject markup or formulas."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.cli import build_parser, run_summary
from analytics.exports import neutralise, to_csv_bytes, to_xlsx_bytes
from analytics.store import open_store
from ui import state as k
from ui.auth import matches, roles_for
from ui.datasets import DEMO_PATH
from ui.format import escape_md
from ui.links import link_problems, number_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "outcomes",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ACCESS = {
    "allowed": ["@clinic.example"],
    "uploaders": ["lead@clinic.example"],
    "admins": ["admin@clinic.example"],
}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTCOMES_DATA_DIR", str(tmp_path))
    return tmp_path


def app(*, params=None, user=None, signed_in=False, page=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    if user is not None or signed_in:
        at.secrets["auth"] = AUTH
        at.secrets["access"] = ACCESS
        at.user = {"is_logged_in": bool(user), "email": user or "", "name": "Test User"}
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def cli(*args: str) -> dict:
    return run_summary(build_parser().parse_args(["summary", str(DEMO_PATH), *args, "--json"]))


# --- the URL carries the view ----------------------------------------------------------


def test_link_restores_instrument_filter_definition_and_grouping(data_dir):
    at = app(
        params={
            k.INSTRUMENT: "phq9",
            k.filter_key("site"): "Clinic B",
            k.ENDPOINT_KIND: "infusions",
            k.TRAJECTORY_BY: "sex",
        }
    )
    ref = cli("--instrument", "phq9", "--where", "site=Clinic B", "--endpoint", "infusions:6")
    assert at.title[0].value == "Overview · PHQ-9"
    assert metric(at, "Patients") == f"{ref['n_patients_total']:,}"
    assert metric(at, "Responders") == f"{ref['responders']['pct']:.0f}%"
    assert at.selectbox(key=k.TRAJECTORY_BY).value == "sex"
    assert not at.sidebar.warning  # every setting applied


@pytest.mark.parametrize(
    ("param", "value", "note"),
    [
        (k.DATASET, "../../etc/passwd", "dataset"),
        (k.DATASET, "0" * 32, "dataset"),
        (k.INSTRUMENT, "not_a_scale", "instrument"),
        ("response_pct__pcl5", "500", "response threshold"),
        (k.ENDPOINT_KIND, "sometime", "endpoint"),
        (k.filter_key("site"), "Clinic Z", "filter Site"),
    ],
)
def test_malformed_link_falls_back_with_a_message(data_dir, param, value, note):
    at = app(params={param: value})
    warnings = " ".join(texts(at.sidebar.warning))
    assert "could not be applied" in warnings and note in warnings
    assert metric(at, "Patients") == "720"  # the demo, unfiltered, default definition
    assert at.title[0].value == "Overview · PCL-5"
    assert escape_md(value) in warnings  # echoed escaped, never as markup


def test_link_to_a_stored_dataset(data_dir):
    store = open_store(data_dir)
    demo = pd.read_csv(DEMO_PATH)
    rec = store.save(demo[demo["site"] == "Clinic A"], name="Clinic A only")
    at = app(params={k.DATASET: rec.id})
    n = demo.loc[(demo["site"] == "Clinic A") & (demo["instrument"] == "pcl5"), "patient_id"]
    assert metric(at, "Patients") == f"{n.nunique():,}"


# --- sign-in and roles -----------------------------------------------------------------


def test_open_mode_says_so(data_dir):
    at = app()
    assert any("Open mode" in c for c in texts(at.sidebar.caption))


def test_signed_out_visitor_must_sign_in_first(data_dir):
    at = app(signed_in=True, params={k.INSTRUMENT: "phq9"})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.get("plotly_chart")


def test_allowed_user_sees_data_and_the_sign_in_is_audited(data_dir):
    at = app(user="nurse@clinic.example")
    assert metric(at, "Patients") == "720"
    assert any("Test User" in c for c in texts(at.sidebar.caption))
    events = open_store(data_dir).events()
    assert list(events.loc[events["kind"] == "sign_in", "user"]) == ["nurse@clinic.example"]


def test_user_outside_the_allow_list_is_refused_and_sees_no_data(data_dir):
    at = app(user="someone@elsewhere.example")
    assert at.title[0].value == "Access not granted"
    assert not at.metric and not at.get("plotly_chart") and not at.dataframe
    events = open_store(data_dir).events()
    assert "access_denied" in set(events["kind"])


def test_viewer_cannot_upload_but_uploader_can(data_dir):
    viewer = app(user="nurse@clinic.example", page="pages/data.py")
    assert any("uploader role" in i for i in texts(viewer.info))
    assert not viewer.get("file_uploader")
    lead = app(user="lead@clinic.example", page="pages/data.py")
    assert lead.get("file_uploader")


def test_only_admins_get_the_audit_log(data_dir):
    lead = app(user="lead@clinic.example")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        lead.switch_page("pages/audit.py").run()
    admin = app(user="admin@clinic.example", page="pages/audit.py")
    assert admin.title[0].value == "Audit log"
    log = next(d.value for d in admin.dataframe)
    assert {"sign_in", "view"} <= set(log["kind"])


def test_views_are_audited_once_per_dataset_and_page(data_dir):
    at = app()
    at.run()  # a rerun of the same page is not a new view
    events = open_store(data_dir).events(kind="view")
    assert len(events) == 1 and events["dataset_id"].iloc[0] == "demo"


@pytest.mark.parametrize(
    ("email", "roles"),
    [
        ("nurse@clinic.example", {"viewer"}),
        ("Lead@Clinic.Example", {"viewer", "uploader"}),
        ("admin@clinic.example", {"viewer", "uploader", "admin"}),
        ("x@sub.clinic.example", set()),  # a domain entry does not cover subdomains
        ("x@elsewhere.example", set()),
        ("not-an-address", set()),
    ],
)
def test_roles_from_the_access_lists(email, roles):
    assert roles_for(email, ACCESS) == frozenset(roles)


def test_matches_addresses_and_domains():
    assert matches("a@b.org", ["A@B.ORG"]) and matches("a@b.org", ["@b.org"])
    assert not matches("a@b.org", ["@c.org", "b@b.org"])


# --- links, markup and formulas --------------------------------------------------------


def test_link_problems_names_each_bad_value_without_echoing_markup():
    notes = link_problems(
        {"a": ["ok"], "b": ["[x](javascript:alert(1))"], "n": ["1e9"], "other": ["x"]},
        {"a": ["ok"], "b": ["ok"], "n": number_in(0, 100)},
    )
    assert len(notes) == 2
    assert "[x](" not in notes[0] and "\\[x\\]" in notes[0]


def test_escape_md_neutralises_links_images_and_html():
    for text in ("![t](http://evil.example/p.png)", "[a](javascript:x)", "<b>x</b>", "**x**"):
        escaped = escape_md(text)
        assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch in "[]<>*!")


def test_exports_neutralise_formulas_in_cells_and_column_names():
    frame = pd.DataFrame(
        {
            '=HYPERLINK("http://x")': ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"],
            "ok": ["plain", "a=b", "text", "x", "y", "z"],
            "n": [-16.5, 1, 2, 3, 4, 5],
        }
    )
    safe = neutralise(frame)
    assert safe.columns[0].startswith("'=")
    assert all(v.startswith("'") for v in safe.iloc[:, 0])
    assert safe["ok"].tolist() == frame["ok"].tolist()
    assert safe["n"].tolist() == frame["n"].tolist()  # numbers stay numbers
    back = pd.read_csv(io.BytesIO(to_csv_bytes(frame)))
    assert not any(str(v).startswith(("=", "+", "@")) for v in back.iloc[:, 0])
    book = pd.read_excel(io.BytesIO(to_xlsx_bytes(frame)))
    assert all(str(v).startswith("'") for v in book.iloc[:, 0])


def test_uploaded_column_names_cannot_inject_markup(data_dir):
    demo = pd.read_csv(DEMO_PATH)
    evil = "[click](javascript:alert(1))"
    demo[evil] = demo["site"]
    rec = open_store(data_dir).save(demo, name="<script>alert(1)</script>")
    at = app(params={k.DATASET: rec.id})
    label = next(m.label for m in at.multiselect if m.key == k.filter_key(evil))
    assert label == escape_md(evil)
    assert all("<script>" not in c for c in texts(at.markdown) + texts(at.caption))


# --- small-cell suppression ------------------------------------------------------------


def small_group() -> tuple[str, str, int]:
    """A filter on the demo data that leaves fewer than 11 patients."""
    demo = pd.read_csv(DEMO_PATH)
    patients = demo[demo["instrument"] == "pcl5"].drop_duplicates("patient_id")
    counts = patients["prior_failed_treatments"].value_counts()
    level = counts[(counts > 0) & (counts < 11)].index[0]
    return "prior_failed_treatments", str(level), int(counts[level])


def test_overview_suppresses_a_group_below_the_threshold(data_dir):
    col, level, n = small_group()
    at = app(params={k.filter_key(col): level})
    assert metric(at, "Patients") == "<11"
    for label in ("Baseline mean", "Mean change", "Responders", "Remitters"):
        assert metric(at, label) == "suppressed", label
    deltas = " ".join(str(m.delta) for m in at.metric)
    assert f"/{n}" not in deltas and f"{n}/" not in deltas


def test_threshold_is_configurable(data_dir, monkeypatch):
    col, level, n = small_group()
    monkeypatch.setenv("OUTCOMES_MIN_CELL_SIZE", "3")
    at = app(params={k.filter_key(col): level})
    assert metric(at, "Patients") == f"{n:,}"


def test_group_just_above_the_threshold_is_shown(data_dir, monkeypatch):
    monkeypatch.setenv("OUTCOMES_MIN_CELL_SIZE", "11")
    demo = pd.read_csv(DEMO_PATH)
    keep = demo["patient_id"].isin(demo["patient_id"].drop_duplicates().iloc[:11])
    rec = open_store(data_dir).save(demo[keep], name="eleven")
    at = app(params={k.DATASET: rec.id})
    assert metric(at, "Patients") == "11"
    assert metric(at, "Mean change") != "suppressed"


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ([50, 20, 40], [0, 0, 0]),
        ([50, 3, 40], [0, 1, 1]),  # one small band: its complement is hidden too
        ([50, 3, 4, 40], [0, 1, 1, 1]),  # two small bands summing under 11: one more
        ([50, 3, 15, 40], [0, 1, 1, 0]),
        ([0, 5, 0, 100], [0, 1, 0, 1]),  # zero stays shown: it identifies nobody
    ],
)
def test_band_chart_suppression_leaves_nothing_recoverable(counts, hidden):
    import numpy as np

    from analytics.charts import hide_small_bands

    mask = hide_small_bands(np.array(counts), 11)
    assert mask.astype(int).tolist() == hidden
    hidden_counts = np.array(counts)[mask]
    assert mask.sum() != 1 and (mask.sum() == 0 or hidden_counts.sum() >= 11)


def test_trajectories_and_responders_choices_travel_in_links(data_dir):
    at = app(
        params={k.TRAJ_VALUE: "pct_change", k.TRAJ_BY: "site", k.TRAJ_TIME: "day"},
        page="pages/trajectories.py",
    )
    assert at.selectbox(key=k.TRAJ_BY).value == "site"
    assert not at.sidebar.warning
    at = app(params={k.RESP_BY: "sex"}, page="pages/responders.py")
    assert at.selectbox(key=k.RESP_BY).value == "sex"


def test_patient_level_views_can_be_switched_off(data_dir, monkeypatch):
    on = app(page="pages/responders.py")
    assert any(s.value == "Review treatment" for s in on.subheader)
    monkeypatch.setenv("OUTCOMES_PATIENT_LEVEL", "off")
    off = app(page="pages/responders.py")
    assert not any(s.value == "Review treatment" for s in off.subheader)
    assert any("off for this deployment" in i for i in texts(off.info))
    assert "responders_waterfall" not in [c.key for c in off.get("plotly_chart") if c.key]
    traj = app(page="pages/trajectories.py")
    assert any("switched off" in i for i in texts(traj.info))
