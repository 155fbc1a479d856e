"""AppTest: the Data page maps the example exports, reports problem rows, requires a
decision on every flagged column, stores the dataset, and manages stored datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.io import load_canonical
from analytics.store import open_store
from ui import state as k
from ui.upload import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
LONG = "Messy long CSV (one row per assessment)"
WIDE = "Wide workbook (one row per patient)"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTCOMES_DATA_DIR", str(tmp_path))
    return tmp_path


def data_page(**state: object) -> AppTest:
    """The Data page with choices injected before the first run (see test_pages.py)."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_no_file_yet_says_what_to_do(data_dir):
    at = data_page()
    assert any("Choose a file" in t for t in texts(at.info))
    assert any("No stored datasets" in t for t in texts(at.info))


def test_long_export_is_guessed_validated_and_screened(data_dir):
    at = data_page(data_example=LONG)
    headers = texts(at.subheader)
    assert headers == [
        "1 · Map the columns",
        "2 · Check every row",
        "3 · Screen for identifiers",
        "4 · Save",
    ]
    report = next(t for t in texts(at.warning) + texts(at.success) if "rows read" in t)
    assert report.startswith("21,063 rows read, 21,058 loaded, 4 excluded, 1 warnings")
    issues = next(d.value for d in at.dataframe if "severity" in d.value.columns)
    assert set(issues.loc[issues["severity"] == "error", "column"]) == {"Total", "Subject ID"}
    save = next(b for b in at.button if b.label == "Save dataset")
    flagged = [r.label for r in at.radio if r.key.startswith(k.IDENTIFIER_PREFIX)]
    assert save.disabled == bool(flagged)


def test_saving_stores_the_dataset_and_its_profile(data_dir):
    probe = data_page(data_example=LONG)
    decisions = {r.key: "safe" for r in probe.radio if r.key.startswith(k.IDENTIFIER_PREFIX)}
    at = data_page(data_example=LONG, **decisions, **{k.UPLOAD_NAME: "March export"})
    save = next(b for b in at.button if b.label == "Save dataset")
    assert not save.disabled
    save.click().run()
    store = open_store(data_dir)
    records = store.list()
    assert [r.name for r in records] == ["March export"]
    assert records[0].n_rows == 21_058 and records[0].n_patients == 720
    assert records[0].source_file == EXAMPLES[LONG].name
    stored = store.load(records[0].id)
    demo = load_canonical(ROOT / "sample_data/demo_cohort.csv").data
    # the export adds one valid BDI-II row; the repeated row is kept once
    extra = stored["instrument"] == "bdi2"
    assert extra.sum() == 1
    assert len(stored[~extra]) == len(demo)
    assert stored.loc[~extra, "score"].sum() == demo["score"].sum()
    profiles = store.list_profiles()
    assert len(profiles) == 1 and "Subject ID" in profiles[0].columns
    events = store.events()
    uploads = events[events["kind"] == "upload"]
    assert len(uploads) == 1 and uploads["dataset_id"].iloc[0] == records[0].id
    assert "view" in set(events["kind"])  # the Data page view was recorded too


def test_saved_profile_maps_next_months_export_in_one_step(data_dir):
    store = open_store(data_dir)
    text = (ROOT / "sample_data/profiles/wide_export.toml").read_text()
    from analytics.profiles import parse_profile

    store.save_profile("Clinic wide", text, columns=parse_profile(text).source_columns())
    at = data_page(data_example=WIDE)
    assert any("saved profile 'Clinic wide'" in c for c in texts(at.caption))
    report = next(t for t in texts(at.warning) + texts(at.success) if "rows read" in t)
    assert "0 excluded" in report


def test_incomplete_guess_asks_for_the_missing_time_point(data_dir):
    at = data_page(data_example=WIDE)
    warning = next(t for t in texts(at.warning) if t.startswith("Mapping incomplete"))
    assert "Post induction" in warning
    assert not [b for b in at.button if b.label == "Save dataset"]


def test_dataset_manager_renames_and_deletes(data_dir):
    store = open_store(data_dir)
    demo = load_canonical(ROOT / "sample_data/demo_cohort.csv").data
    rec = store.save(demo, name="Old name")
    at = data_page(**{f"{k.MANAGE_RENAME_PREFIX}{rec.id}": "New name"})
    next(b for b in at.button if b.key == f"rename_btn_{rec.id}").click().run()
    assert store.get(rec.id).name == "New name"

    at = data_page(**{f"{k.MANAGE_DELETE_PREFIX}{rec.id}": True})
    delete = next(b for b in at.button if b.key == f"delete_btn_{rec.id}")
    assert not delete.disabled
    delete.click().run()
    assert store.list() == []
    assert not any(data_dir.joinpath("datasets").glob("*.parquet"))


def test_delete_needs_confirmation(data_dir):
    store = open_store(data_dir)
    demo = load_canonical(ROOT / "sample_data/demo_cohort.csv").data
    rec = store.save(demo.head(100), name="Keep me")
    at = data_page()
    delete = next(b for b in at.button if b.key == f"delete_btn_{rec.id}")
    assert delete.disabled


def test_stored_dataset_is_offered_in_the_sidebar(data_dir):
    store = open_store(data_dir)
    demo = load_canonical(ROOT / "sample_data/demo_cohort.csv").data
    rec = store.save(demo[demo["patient_id"] < "DEMO-0300"], name="First 299")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[k.DATASET] = rec.id
    at.run()
    assert not at.exception
    assert "DEMO" not in at.title[0].value
    patients = next(m for m in at.metric if m.label == "Patients")
    assert patients.value == "299"
    assert not any("Synthetic demo data" in c for c in texts(at.caption))


def test_unknown_dataset_id_falls_back_to_the_demo(data_dir):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[k.DATASET] = "0" * 32
    at.run()
    assert not at.exception
    assert any("no longer available" in w for w in texts(at.sidebar.warning))
    assert next(m for m in at.metric if m.label == "Patients").value == "720"


def test_a_custom_instrument_declared_on_the_page_is_offered_and_saved(data_dir):
    from ui.upload import CUSTOM

    spec = {"id": "ucla_ptsd_ri", "name": "UCLA PTSD Reaction Index", "min": 0.0, "max": 68.0}
    at = data_page(data_example=LONG, **{CUSTOM: [spec]})
    assert any("ucla_ptsd_ri: UCLA PTSD Reaction Index" in c for c in texts(at.caption))
    next(b for b in at.button if b.label == "Save dataset").click().run()
    saved = open_store(data_dir).list()[0].profile_toml
    assert 'id = "ucla_ptsd_ri"' in saved and "UCLA PTSD Reaction Index" in saved


def test_reading_and_checking_show_their_steps_as_they_run(data_dir):
    """A large upload takes seconds per step: each step appears in a status box with a
    progress bar while it runs (the final page keeps the finished boxes, collapsed)."""
    from ui.upload import _recent

    _recent.clear()  # computed results are shared by sessions: start from an empty cache
    at = data_page(data_example=LONG)
    boxes = {b.label: b for b in at.status}
    read = next(b for label, b in boxes.items() if label.startswith("Reading "))
    assert read.label.startswith(f"Reading {EXAMPLES[LONG].name} (") and read.label.endswith(
        "MB): done"
    )
    assert read.state == "complete"
    steps = texts(read.caption)
    assert steps[0] == "Detecting the encoding and delimiter"
    assert steps[1:] == ["Parsing the file", "Tidying the cells"]
    check = next(b for label, b in boxes.items() if label.startswith("Checking "))
    assert check.label == "Checking 21,063 rows: done" and check.state == "complete"
    assert texts(check.caption) == [
        "Mapping the columns",
        "Checking every row",
        "Screening for identifiers",
        "Checked",
    ]
    assert [p.value for p in read.progress] == [100] and [p.value for p in check.progress] == [100]
    # A rerun takes the results from the cache: no step runs again.
    at.run()
    assert not [b for b in at.status if b.label.startswith(("Reading ", "Checking "))]
