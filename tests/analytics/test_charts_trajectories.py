"""Chart builders of the Trajectories and Responders pages: titles, axis titles with units,
N and the definition in the subtitle, colour-blind-safe palettes, suppressed values drawn
as labels (never as numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import responders as r
from analytics.charts import OKABE_ITO, band_colours
from analytics.charts_responders import (
    plot_band_transitions,
    plot_cumulative_response,
    plot_early_metrics,
    plot_rate_forest,
    plot_reliable_change,
    plot_waterfall,
    short_rule,
)
from analytics.charts_trajectories import (
    WEBGL_MIN_POINTS,
    definition_text,
    n_text,
    plot_spaghetti,
    plot_time_course,
)
from analytics.definitions import OutcomeDefinition
from analytics.instruments import get_instrument
from analytics.outcomes import derive_patient_outcomes
from analytics.trajectory_stats import (
    group_labels,
    patient_points,
    spaghetti_points,
    summarise_time_course,
    suppress_time_course,
)
from tests.analytics.test_responders import cohort

OKABE = {c.upper() for c in OKABE_ITO}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return cohort(150)


@pytest.fixture(scope="module")
def outcomes(data):
    return derive_patient_outcomes(data, "pcl5")


def subtitle(fig: go.Figure) -> str:
    return fig.layout.title.subtitle.text


def rgb_of(colour: str) -> str:
    """'#0072B2' or 'rgba(0,114,178,0.45)' -> '#0072B2'."""
    if colour.startswith("#"):
        return colour.upper()
    colour = colour.replace(" ", "")
    r_, g, b = (int(float(x)) for x in colour[colour.index("(") + 1 : -1].split(",")[:3])
    return f"#{r_:02X}{g:02X}{b:02X}"


def test_definition_text_and_n_text(outcomes):
    text = definition_text(outcomes.resolved)
    assert text == (
        "Response: >= 30% reduction · remission: score < 33 · endpoint: latest post-baseline "
        "assessment"
    )
    caps = derive_patient_outcomes(cohort(5).assign(instrument="caps5"), "caps5")
    assert "remission: not defined" in definition_text(caps.resolved)
    completers = OutcomeDefinition(endpoint="infusions:6", population="completers")
    assert "completers only" in definition_text(completers.resolve(get_instrument("pcl5")))
    assert n_text(714) == "N = 714" and n_text(10) == "N <11" and n_text(0) == "N = 0"
    assert n_text(10, 5) == "N = 10"


def test_time_course_figure(data, outcomes):
    pts = patient_points(data, outcomes)
    summary = suppress_time_course(summarise_time_course(pts))
    fig = plot_time_course(
        summary,
        [outcomes.instrument],
        n_patients=150,
        definition=definition_text(outcomes.resolved),
        note="synthetic demo data",
    )
    assert fig.layout.title.text == "PCL-5: mean score by infusions received"
    assert "N = 150 patients with a baseline" in subtitle(fig)
    assert "Response: >= 30% reduction" in subtitle(fig)
    assert "synthetic demo data" in subtitle(fig)
    assert fig.layout.yaxis.title.text == "PCL-5 total score (points, 0–80)"
    assert fig.layout.xaxis.title.text == "Infusions received (0 = baseline)"
    assert tuple(fig.layout.yaxis.range) == (0, 80)
    assert all("n = " in t for t in fig.layout.xaxis.ticktext)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert rgb_of(lines[0].line.color) == OKABE_ITO[0].upper()
    # PCL-5 has no bands: the caseness cut-off splits the axis into two shaded zones
    assert len(fig.layout.shapes) == 2
    assert {rgb_of(s.fillcolor) for s in fig.layout.shapes} == {rgb_of(c) for c in band_colours(2)}


def test_time_course_groups_and_suppressed_points(data, outcomes):
    groups = group_labels(outcomes, "site").copy()
    groups.iloc[:4] = "tiny"
    pts = patient_points(data, outcomes, time="day")
    summary = suppress_time_course(summarise_time_course(pts, statistic="median", groups=groups))
    fig = plot_time_course(
        summary,
        [outcomes.instrument],
        statistic="median",
        time="day",
        value="score",
        n_patients=150,
        split_label="Site",
    )
    assert fig.layout.title.text == "PCL-5: median score by days since first infusion"
    assert fig.layout.xaxis.title.text.startswith("Days since first infusion")
    assert "hidden" in subtitle(fig)
    tiny = next(t for t in fig.data if t.name == "tiny")
    assert all(np.isnan(y) for y in tiny.y)  # nothing of the small group is drawn
    assert fig.layout.legend.title.text == "Site"
    colours = {rgb_of(t.line.color) for t in fig.data if t.mode == "lines+markers"}
    assert colours <= OKABE


def test_percent_of_max_figure(data, outcomes):
    pts = patient_points(data, outcomes)
    summary = suppress_time_course(summarise_time_course(pts, value="pct_of_max"))
    fig = plot_time_course(summary, [outcomes.instrument], value="pct_of_max", n_patients=150)
    assert fig.layout.yaxis.title.text == "% of scale maximum (100 = worst)"
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    assert not fig.layout.shapes  # bands only on the score scale


def test_spaghetti_uses_webgl_for_many_points(data, outcomes):
    pts = spaghetti_points(data, outcomes, time="day", max_patients=100)
    fig = plot_spaghetti(pts, outcomes.instrument, time="day", n_patients=150, seed=1)
    assert "Random sample of 100 of 150 patients" in subtitle(fig)
    assert fig.layout.xaxis.title.text == "Days since first infusion"
    kind = go.Scattergl if len(pts) > WEBGL_MIN_POINTS else go.Scatter
    assert all(isinstance(t, kind) for t in fig.data)
    assert {t.name for t in fig.data} <= {"Responder", "Non-responder", "No response status"}
    big = pd.concat([pts] * 3, ignore_index=True)
    assert isinstance(
        plot_spaghetti(big, outcomes.instrument, n_patients=150, seed=1).data[0], go.Scattergl
    )


def test_waterfall_figure(outcomes):
    w = r.waterfall_table(outcomes)
    counts = r.count_statuses(w, r.waterfall_statuses(outcomes))
    fig = plot_waterfall(
        w, counts, outcomes.resolved, definition=definition_text(outcomes.resolved)
    )
    assert fig.layout.title.text == "PCL-5: change in each patient"
    assert fig.layout.yaxis.title.text == "Change from baseline in PCL-5 (%)"
    assert f"(N = {len(w)})" in fig.layout.xaxis.title.text
    assert sum(len(t.x) for t in fig.data) == len(w)
    dashed = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert dashed[0].y0 == -30
    assert {rgb_of(t.marker.color) for t in fig.data} <= OKABE


def test_a_long_waterfall_shows_patients_evenly_spaced_by_rank(outcomes):
    w = r.waterfall_table(outcomes)
    counts = r.count_statuses(w, r.waterfall_statuses(outcomes))
    cap = 25
    assert len(w) > 2 * cap
    fig = plot_waterfall(w, counts, outcomes.resolved, max_bars=cap)
    ranks = np.sort(np.concatenate([np.asarray(t.x) for t in fig.data]))
    assert len(ranks) == cap and ranks[0] == 1 and ranks[-1] == len(w)
    gaps = np.diff(ranks)
    assert gaps.max() - gaps.min() <= 1  # evenly spaced
    # Each bar is that patient's own change, status and id.
    by_rank = w.set_index("rank")
    for t in fig.data:
        picked = by_rank.loc[list(t.x)]
        assert list(t.y) == list(picked["pct_change"])
        assert list(t.customdata) == list(picked["patient_id"])
        assert set(picked["status"]) == {t.name.split(" (")[0]}
    # The legend counts every patient; the axis says how many are drawn.
    assert f"(N = {len(w)}); {cap} evenly spaced shown" in fig.layout.xaxis.title.text
    assert [t.name for t in fig.data] == [
        t.name for t in plot_waterfall(w, counts, outcomes.resolved).data
    ]


def test_rate_forest_shows_labels_for_suppressed_rows():
    base = [50.0] * 40
    end = [20.0 if i % 2 else 45.0 for i in range(40)]
    grp = {f"p{i:03d}": "small" if i < 6 else "big" for i in range(40)}
    from tests.analytics.test_responders import simple

    o = derive_patient_outcomes(simple(base, end, grp=grp), "pcl5")
    rates = r.rate_table(o, by="grp")
    fig = plot_rate_forest(rates, o.resolved, split_label="Group")
    texts = {a.text for a in fig.layout.annotations}
    assert "<11" in texts and "hidden" in texts
    points = [t for t in fig.data if t.mode == "markers"]
    assert all(len(t.x) == 1 for t in points)  # only the "All" row is drawn
    assert fig.layout.xaxis.title.text == "Patients (%)"
    assert "small (N <11)" in fig.layout.yaxis.categoryarray


def test_reliable_change_figure(outcomes):
    rc = r.reliable_change_table(outcomes, by="site", min_cell_size=1)
    fig = plot_reliable_change(rc, outcomes.resolved, rule=outcomes.reliable_change)
    assert fig.layout.title.text == "PCL-5: reliable change"
    assert short_rule(outcomes.reliable_change) in subtitle(fig)
    assert "r = 0.82" in subtitle(fig)
    assert fig.layout.xaxis.title.text == "Analysed patients (%)"
    for g in ("All patients", "A", "B", "C"):  # bars add up to 100% per group
        total = sum(
            x for t in fig.data for x, y in zip(t.x, t.y, strict=True) if y.startswith(f"{g} (")
        )
        assert total == pytest.approx(100.0)


def test_band_transition_heatmap_hides_suppressed_cells(outcomes):
    table, status = r.band_transitions(outcomes)
    fig = plot_band_transitions(table, status, outcomes.resolved)
    heat = fig.data[-1]
    z = np.array(heat.z, dtype=float)
    hidden = (status.iloc[:-1, :-1] != "").to_numpy()
    assert np.isnan(z[hidden]).all() and not np.isnan(z[~hidden]).any()
    texts = [a.text for a in fig.layout.annotations]
    assert sum(t in ("<11", "hidden") for t in texts) == hidden.sum()
    assert fig.layout.xaxis.title.text == "Endpoint PCL-5 band"
    assert fig.layout.yaxis.title.text == "Baseline PCL-5 band"


def test_cumulative_and_early_figures(outcomes):
    cum = r.cumulative_response(outcomes)
    fig = plot_cumulative_response(cum, outcomes.resolved)
    assert fig.layout.yaxis.title.text == "Patients who had responded (%)"
    assert fig.layout.xaxis.title.text == "Infusions received"
    assert len(fig.data[1].x) == (~cum["suppressed"]).sum()
    table, status = r.early_signal_counts(outcomes, min_cell_size=1)
    metrics = r.early_signal_metrics(table, status)
    fig = plot_early_metrics(metrics, outcomes.resolved, n_patients=100, early_pct=20)
    assert list(fig.data[0].y) == ["Sensitivity", "Specificity", "PPV", "NPV"]
    assert "N = 100 with both known" in subtitle(fig)
