"""Chart builders: tables in, plotly figures out. No Streamlit here.

Every figure carries a title, axis titles with units, N, and a subtitle naming the
outcome definition in force; colours come from colour-blind-safe palettes (Okabe-Ito for
categories, cividis for ordered severity).
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale

from analytics import schema as s
from analytics.instruments import Instrument
from analytics.outcomes import PatientOutcomes
from analytics.suppression import DEFAULT_MIN_CELL_SIZE

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


@functools.cache
def _template_json() -> str:
    return json.dumps(pio.templates[TEMPLATE].to_plotly_json())


def _set_template(fig: go.Figure) -> None:
    """``fig.update_layout(template=TEMPLATE)`` without plotly validating the registered
    (already valid) template again: that deep copy costs ~15 ms per figure, most of a
    chart's build time on a filter change. Each figure gets its own copy of the template;
    tests/analytics/test_charts.py checks the figures are the same as with update_layout."""
    fig.layout._props["template"] = json.loads(_template_json())
    fig.layout._compound_props.pop("template", None)


def apply_layout(fig: go.Figure, title: str, subtitle: str) -> go.Figure:
    """The house style: title with a subtitle (definition, N), white template, house font,
    horizontal legend under the plot. Every chart builder ends with it."""
    _set_template(fig)
    fig.update_layout(
        title=dict(text=title, subtitle=dict(text=subtitle), x=0, xanchor="left"),
        font=FONT,
        margin=dict(l=70, r=30, t=105, b=70),
        legend=dict(orientation="h", yanchor="bottom", y=-0.32, x=0),
        hoverlabel=dict(font_size=13),
    )
    return fig


def score_axis_title(inst: Instrument, value: str = s.SCORE) -> str:
    if value == "pct_change":
        return f"Change from baseline in {inst.label} (%)"
    return f"{inst.label} total score (points, {inst.min:g}-{inst.max:g})"


def plot_trajectory(
    trajectory: pd.DataFrame,
    inst: Instrument,
    *,
    value: str = s.SCORE,
    n_patients: int,
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Mean with 95% CI per infusion count (one line per ``group`` when present).

    ``trajectory`` is the output of :func:`analytics.trajectories.summarise_trajectory`.
    """
    fig = go.Figure()
    groups = trajectory["group"].unique() if "group" in trajectory else [None]
    for i, grp in enumerate(groups):
        t = trajectory if grp is None else trajectory[trajectory["group"] == grp]
        t = t[t["mean"].notna()]
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        x = t[s.INFUSIONS].to_numpy()
        fig.add_trace(
            go.Scatter(
                x=np.r_[x, x[::-1]],
                y=np.r_[t["ci95_high"].to_numpy(), t["ci95_low"].to_numpy()[::-1]],
                fill="toself",
                mode="lines",
                fillcolor=_rgba(colour, 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
                name=f"95% CI {grp or ''}".strip(),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=t["mean"],
                mode="lines+markers",
                name=str(grp) if grp is not None else "Mean (95% CI)",
                showlegend=grp is not None,
                line=dict(color=colour, width=2.5),
                marker=dict(size=7),
                connectgaps=False,
                customdata=np.c_[t["n"], t["ci95_low"], t["ci95_high"], t["sd"]],
                hovertemplate=(
                    "Infusions received: %{x}<br>Mean: %{y:.1f}"
                    "<br>95% CI: %{customdata[1]:.1f} to %{customdata[2]:.1f}"
                    "<br>SD: %{customdata[3]:.1f}<br>n = %{customdata[0]}<extra>"
                    + (str(grp) if grp is not None else "")
                    + "</extra>"
                ),
            )
        )
    ticks = sorted(trajectory[s.INFUSIONS].unique())
    hidden = trajectory.get("suppressed")
    if "group" not in trajectory:
        n_at = trajectory.set_index(s.INFUSIONS)["n"]
        small = {} if hidden is None else dict(zip(trajectory[s.INFUSIONS], hidden, strict=True))
        labels = [
            f"{k}<br><sub>n{'<' + str(min_cell_size) if small.get(k) else '=' + str(n_at[k])}</sub>"
            for k in ticks
        ]
    else:
        labels = [str(k) for k in ticks]
    if hidden is not None and hidden.any():
        note = f"{note} · points with n<{min_cell_size} hidden"
    fig.update_xaxes(
        title="Infusions received (0 = baseline)", tickvals=ticks, ticktext=labels, zeroline=False
    )
    if value == s.SCORE:
        fig.update_yaxes(title=score_axis_title(inst), range=[inst.min, inst.max])
    else:
        fig.update_yaxes(title=score_axis_title(inst, value), ticksuffix="%")
    what = "Mean change from baseline" if value == "pct_change" else "Mean score"
    sub = f"{what} with 95% CI · N = {n_patients:,} patients with a baseline"
    return apply_layout(fig, f"{inst.label} by infusions received", f"{sub}<br>{note.lstrip(' ·')}")


def band_colours(n: int) -> list[str]:
    """Ordered colours for n severity bands (cividis: colour-blind safe, light to dark)."""
    if n == 1:
        return sample_colorscale("cividis", [0.8])
    return sample_colorscale("cividis", list(np.linspace(0.95, 0.1, n)))


def hide_small_bands(counts: np.ndarray, min_cell_size: int) -> np.ndarray:
    """Which bands of one bar to hide: every count of 1 to min_cell_size - 1, and, when the
    hidden ones could be worked out from 100% (one hidden, or fewer than min_cell_size
    patients hidden in all), the next smallest non-zero bands too."""
    counts = np.asarray(counts)
    hide = (counts > 0) & (counts < min_cell_size)
    if not hide.any():
        return hide
    for i in np.argsort(counts, kind="stable"):
        if hide.sum() >= 2 and counts[hide].sum() >= min_cell_size:
            break
        if counts[i] > 0 and not hide[i]:
            hide[i] = True
    return hide


def plot_band_distribution(
    outcomes: PatientOutcomes, *, note: str = "", min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> go.Figure:
    """Percentage of analysed patients in each severity band at baseline and endpoint.

    Bands with fewer than ``min_cell_size`` patients (and their complements) are merged
    into a grey "suppressed" segment."""
    inst = outcomes.instrument
    a = outcomes.analysed
    fig = go.Figure()
    n = len(a)
    if n == 0 or a["baseline_band"].cat.categories.empty:
        return apply_layout(fig, f"{inst.label} severity at baseline and endpoint", "No data")
    cats = list(a["baseline_band"].cat.categories)
    counts = pd.DataFrame(
        {
            "Baseline": a["baseline_band"].value_counts().reindex(cats, fill_value=0),
            "Endpoint": a["endpoint_band"].value_counts().reindex(cats, fill_value=0),
        }
    )
    hidden = pd.DataFrame(
        {c: hide_small_bands(counts[c].to_numpy(), min_cell_size) for c in counts.columns},
        index=counts.index,
    )
    pct = (counts / n * 100.0).mask(hidden)
    counts = counts.astype("object").mask(hidden, f"<{min_cell_size}")
    for colour, cat in zip(band_colours(len(cats)), cats, strict=True):
        fig.add_trace(
            go.Bar(
                y=["Endpoint", "Baseline"],
                x=[pct.loc[cat, "Endpoint"], pct.loc[cat, "Baseline"]],
                customdata=[counts.loc[cat, "Endpoint"], counts.loc[cat, "Baseline"]],
                name=cat,
                orientation="h",
                marker=dict(color=colour, line=dict(color="white", width=1)),
                hovertemplate="%{y}: " + cat + "<br>%{x:.1f}% (n = %{customdata})<extra></extra>",
                texttemplate="%{x:.0f}%",
                textposition="inside",
                insidetextanchor="middle",
            )
        )
    if hidden.to_numpy().any():
        merged = (100.0 - pct.fillna(0).sum()).clip(lower=0)
        fig.add_trace(
            go.Bar(
                y=["Endpoint", "Baseline"],
                x=[merged["Endpoint"], merged["Baseline"]],
                name=f"Suppressed (bands under {min_cell_size} patients)",
                orientation="h",
                marker=dict(color="#BBBBBB", pattern=dict(shape="/")),
                hovertemplate="%{y}: bands under " + str(min_cell_size) + " patients, merged"
                "<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="Patients (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(title=None)
    scheme = "severity bands" if inst.bands else "caseness cut-off"
    sub = f"By {scheme} · N = {n:,} analysed patients<br>{note.lstrip(' ·')}"
    fig = apply_layout(fig, f"{inst.label} severity at baseline and endpoint", sub)
    fig.update_layout(
        height=300 + 22 * (len(cats) + 1),
        margin=dict(b=80 + 22 * (len(cats) + 1)),
        legend=dict(traceorder="normal", y=-0.3, yanchor="top", title=dict(text="")),
    )
    return fig
