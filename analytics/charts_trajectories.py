"""Chart builders for the Trajectories page: tables in, plotly figures out. No Streamlit.

Every figure has a title, axis titles with units, N and the outcome definition in its
subtitle, Okabe-Ito colours for categories and cividis for severity bands, and uses
:func:`analytics.charts.apply_layout`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import schema as s
from analytics.charts import OKABE_ITO, apply_layout, band_colours
from analytics.definitions import ResolvedDefinition
from analytics.instruments import Instrument, band_scheme
from analytics.suppression import DEFAULT_MIN_CELL_SIZE, suppressed_label
from analytics.trajectory_stats import NO_OUTCOME, NON_RESPONDER, RESPONDER, STATUS_ORDER

WEBGL_MIN_POINTS = 1500
STATUS_COLOURS = {RESPONDER: OKABE_ITO[0], NON_RESPONDER: OKABE_ITO[5], NO_OUTCOME: "#8C8C8C"}
HIDDEN = "hidden"
BAND_LABEL_PX = 130


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def n_text(n: int, min_cell_size: int = DEFAULT_MIN_CELL_SIZE, prefix: str = "N") -> str:
    """``"N = 714"``, or ``"N <11"`` for a small count."""
    if 0 < n < min_cell_size:
        return f"{prefix} {suppressed_label(min_cell_size)}"
    return f"{prefix} = {n:,}"


def definition_text(resolved: ResolvedDefinition) -> str:
    """The outcome definition in one line, e.g. ``Response: >= 30% reduction · remission:
    score < 33 · endpoint: latest post-baseline assessment``."""
    parts = []
    if resolved.response_pct is None:
        parts.append("Response: not defined")
    else:
        parts.append(f"Response: >= {resolved.response_pct:g}% reduction")
    if resolved.remission_below is None:
        parts.append("remission: not defined")
    else:
        word = "<" if resolved.instrument.higher_is_worse else ">"
        parts.append(f"remission: score {word} {resolved.remission_below:g}")
    parts.append(f"endpoint: {resolved.definition.endpoint_rule.describe()}")
    if resolved.definition.population == "completers":
        parts.append("completers only")
    return " · ".join(parts)


def subtitle(*lines: str) -> str:
    """Subtitle lines joined with line breaks (empty ones dropped)."""
    return "<br>".join(line.strip(" ·") for line in lines if line and line.strip(" ·"))


def small_text(text: str, px: int = 11) -> str:
    """Smaller text inside a plotly label (tick labels, axis category labels)."""
    return f'<span style="font-size:{px}px">{text}</span>'


def with_note(line: str, note: str) -> str:
    """``line · note`` (e.g. "synthetic demo data"), or ``line`` without a note."""
    return f"{line} · {note}" if note else line


def size(
    fig: go.Figure,
    *,
    plot_height: int,
    top: int = 130,
    axis_px: int = 60,
    legend_rows: int = 0,
    left: int = 80,
    right: int = 30,
) -> go.Figure:
    """Fix the plot area's height in pixels and put a horizontal legend under the x-axis
    title (``axis_px`` below the plot), so that legends never cover the axis or the data."""
    bottom = axis_px + 12 + 24 * legend_rows
    fig.update_layout(
        height=plot_height + top + bottom,
        margin=dict(t=top, b=bottom, l=left, r=right),
        showlegend=legend_rows > 0,
    )
    if legend_rows:
        fig.update_layout(
            legend=dict(orientation="h", yanchor="top", y=-(axis_px + 4) / plot_height, x=0)
        )
    return fig


def value_axis_title(value: str, inst: Instrument | None) -> str:
    if value == "pct_change":
        label = f" in {inst.label}" if inst else ""
        return f"Change from baseline{label} (%)"
    if value == "pct_of_max":
        return "% of scale maximum (100 = worst)"
    if inst is None:
        return "Total score (points)"
    return f"{inst.label} total score (points, {inst.min:g}–{inst.max:g})"


def time_axis_title(time: str) -> str:
    if time == "day":
        return "Days since first infusion (binned; points at each bin's median day)"
    return "Infusions received (0 = baseline)"


def add_band_zones(fig: go.Figure, inst: Instrument) -> go.Figure:
    """Severity bands (or the caseness cut-off) as shaded horizontal zones, labelled in the
    right margin (call :func:`size` with ``right=BAND_LABEL_PX``)."""
    scheme = band_scheme(inst)
    if scheme is None:
        return fig
    lows = list(scheme.lower_bounds)
    highs = [*lows[1:], inst.max]
    colours = band_colours(len(lows))
    for colour, label, lo, hi in zip(colours, scheme.labels, lows, highs, strict=True):
        fig.add_hrect(y0=lo, y1=hi, fillcolor=colour, opacity=0.14, line_width=0, layer="below")
        fig.add_annotation(
            xref="paper",
            x=1.01,
            xanchor="left",
            y=(lo + hi) / 2,
            yref="y",
            text=label.replace(" (", "<br>("),
            showarrow=False,
            align="left",
            font=dict(size=11, color="#444444"),
        )
    return fig


def _tick_labels(summary: pd.DataFrame, time: str, min_cell_size: int, grouped: bool):
    ticks = summary.drop_duplicates("time").sort_values("time")
    xs = ticks["x"].to_numpy()
    names = ticks["time_label"].astype(str).to_numpy()
    if time == "infusions":
        names = ticks["time"].astype(str).to_numpy()
    if grouped:
        return xs, list(names)
    labels = []
    for name, n in zip(names, ticks["n_time"], strict=True):
        labels.append(f"{name}<br>{small_text(n_text(int(n), min_cell_size, 'n'))}")
    return xs, labels


def plot_time_course(
    summary: pd.DataFrame,
    instruments: Sequence[Instrument],
    *,
    value: str = s.SCORE,
    statistic: str = "mean",
    time: str = "infusions",
    n_patients: int,
    definition: str = "",
    note: str = "",
    split_label: str | None = None,
    show_bands: bool = True,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Centre with 95% CI per time point, one line per ``group`` of ``summary``
    (:func:`analytics.trajectory_stats.suppress_time_course` output; with several
    instruments, ``group`` holds each instrument's label).

    Suppressed points are not drawn; the line breaks there.
    """
    fig = go.Figure()
    groups = list(dict.fromkeys(summary["group"]))
    grouped = groups != ["All"]
    word = "Mean" if statistic == "mean" else "Median"
    for i, grp in enumerate(groups):
        t = summary[summary["group"] == grp].sort_values("time")
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        ok = t["ci95_low"].notna() & t["ci95_high"].notna()
        for seg_id, seg in t[ok].groupby((~ok).cumsum()[ok]):
            x = seg["x"].to_numpy()
            fig.add_trace(
                go.Scatter(
                    x=np.r_[x, x[::-1]],
                    y=np.r_[seg["ci95_high"].to_numpy(), seg["ci95_low"].to_numpy()[::-1]],
                    fill="toself",
                    mode="lines",
                    line=dict(width=0),
                    fillcolor=_rgba(colour, 0.16),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=str(grp),
                    name=f"95% CI {grp} {seg_id}",
                )
            )
        n_shown = [
            n_text(int(n), min_cell_size, "n") if st == "" or st == "primary" else f"n {HIDDEN}"
            for n, st in zip(t["n"], t["suppressed"], strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=t["x"],
                y=t["centre"],
                mode="lines+markers",
                name=str(grp) if grouped else f"{word} (95% CI)",
                legendgroup=str(grp),
                showlegend=grouped,
                connectgaps=False,
                line=dict(color=colour, width=2.5),
                marker=dict(size=7, color=colour),
                customdata=np.c_[
                    t["time_label"].astype(str), t["ci95_low"], t["ci95_high"], n_shown
                ],
                hovertemplate=(
                    "%{customdata[0]}<br>" + word + ": %{y:.1f}"
                    "<br>95% CI %{customdata[1]:.1f} to %{customdata[2]:.1f}"
                    "<br>%{customdata[3]}<extra>" + (str(grp) if grouped else "") + "</extra>"
                ),
            )
        )
    single = instruments[0] if len(instruments) == 1 else None
    if value == s.SCORE and single is not None:
        fig.update_yaxes(range=[single.min, single.max])
        if show_bands:
            add_band_zones(fig, single)
    elif value == "pct_of_max":
        fig.update_yaxes(range=[0, 100], ticksuffix="%")
    else:
        fig.update_yaxes(ticksuffix="%", zeroline=True, zerolinecolor="#999999")
    fig.update_yaxes(title=value_axis_title(value, single))
    xs, labels = _tick_labels(summary, time, min_cell_size, grouped)
    fig.update_xaxes(title=time_axis_title(time), tickvals=xs, ticktext=labels, zeroline=False)
    if time == "day":
        fig.update_xaxes(tickangle=0)
    hidden = (summary["suppressed"] != "").any()
    labels = [i.label for i in instruments]
    names = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    what = {
        "score": "score",
        "pct_change": "% change from baseline",
        "pct_of_max": "% of scale maximum",
    }[value]
    axis = "infusions received" if time == "infusions" else "days since first infusion"
    title = f"{names}: {word.lower()} {what} by {axis}"
    split = f" · split by {split_label}" if split_label else ""
    whose = (
        f" with a {instruments[0].label} baseline" if len(instruments) > 1 else " with a baseline"
    )
    first = f"{word} with 95% CI{split} · {n_text(n_patients, min_cell_size)} patients{whose}"
    small = ""
    if hidden:
        small = f"points over fewer than {min_cell_size} patients are hidden"
        if grouped:
            small += " (and one more group where a hidden one could be worked out)"
    fig = apply_layout(fig, title, subtitle(with_note(first, note), definition, small))
    bands = value == s.SCORE and single is not None and show_bands and band_scheme(single)
    size(
        fig,
        plot_height=330,
        top=140 if small else 120,
        axis_px=55 if grouped else 75,
        legend_rows=1 + len(groups) // 7 if grouped else 0,
        right=BAND_LABEL_PX if bands else 30,
    )
    fig.update_layout(legend=dict(title=dict(text=split_label or "")), hovermode="closest")
    return fig


def plot_spaghetti(
    points: pd.DataFrame,
    inst: Instrument,
    *,
    value: str = s.SCORE,
    time: str = "infusions",
    n_patients: int,
    seed: int,
    definition: str = "",
    note: str = "",
    show_bands: bool = True,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """One line per sampled patient, coloured by response status under the definition.

    ``points`` is :func:`analytics.trajectory_stats.spaghetti_points` output. WebGL
    (``Scattergl``) is used above :data:`WEBGL_MIN_POINTS` points.
    """
    fig = go.Figure()
    trace = go.Scattergl if len(points) > WEBGL_MIN_POINTS else go.Scatter
    x_word = "Day" if time == "day" else "Infusions received:"
    for status in STATUS_ORDER:
        p = points[points["status"] == status]
        if p.empty:
            continue
        xs, ys, ids = [], [], []
        for pid, g in p.groupby("patient_id", sort=True):
            xs += [*g["x"].tolist(), None]
            ys += [*g[value].tolist(), None]
            ids += [str(pid)] * len(g) + [None]
        colour = STATUS_COLOURS[status]
        fig.add_trace(
            trace(
                x=xs,
                y=ys,
                mode="lines",
                name=status,
                line=dict(color=_rgba(colour, 0.45), width=1.2),
                customdata=ids,
                hovertemplate="%{customdata}<br>"
                + x_word
                + " %{x}<br>%{y:.1f}<extra>"
                + status
                + "</extra>",
            )
        )
    n_lines = points["patient_id"].nunique()
    if value == s.SCORE:
        fig.update_yaxes(range=[inst.min, inst.max])
        if show_bands:
            add_band_zones(fig, inst)
    elif value == "pct_of_max":
        fig.update_yaxes(range=[0, 100], ticksuffix="%")
    else:
        fig.update_yaxes(ticksuffix="%", zeroline=True, zerolinecolor="#999999")
    fig.update_yaxes(title=value_axis_title(value, inst))
    x_title = "Days since first infusion" if time == "day" else "Infusions received (0 = baseline)"
    fig.update_xaxes(title=x_title, zeroline=False)
    if time == "infusions":
        fig.update_xaxes(dtick=1)
    sample = (
        f"All {n_lines:,} patients with a baseline"
        if n_lines >= n_patients
        else f"Random sample of {n_lines:,} of {n_patients:,} patients with a baseline "
        f"(seed {seed})"
    )
    first = with_note(f"{sample} · colour: response at the endpoint", note)
    fig = apply_layout(fig, f"{inst.label}: individual patients", subtitle(first, definition))
    bands = value == s.SCORE and show_bands and band_scheme(inst)
    size(
        fig,
        plot_height=330,
        top=120,
        axis_px=55,
        legend_rows=1,
        right=BAND_LABEL_PX if bands else 30,
    )
    fig.update_layout(hovermode="closest")
    return fig
