"""Chart builders for the Responders page: tables in, plotly figures out. No Streamlit.

Each takes the output of a function in :mod:`analytics.responders` (suppression already
applied) and draws suppressed values as their label ("<11" or "hidden"), never as numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics import schema as s
from analytics.charts import OKABE_ITO, apply_layout
from analytics.charts_trajectories import HIDDEN, n_text, size, small_text, subtitle, with_note
from analytics.definitions import ResolvedDefinition
from analytics.outcomes import ReliableChangeRule
from analytics.responders import (
    BOTH,
    NEITHER,
    NON_RESPONDER,
    RC_CS,
    RC_IMPROVED_ALL,
    RC_IMPROVED_ONLY,
    RC_NO_CHANGE,
    RC_WORSE,
    REMITTER_ONLY,
    RESPONDER,
    RESPONDER_ONLY,
)
from analytics.stats import ALL
from analytics.suppression import COMPLEMENTARY, DEFAULT_MIN_CELL_SIZE, PRIMARY, suppressed_label

STATUS_COLOURS = {
    BOTH: OKABE_ITO[0],
    RESPONDER_ONLY: OKABE_ITO[4],
    REMITTER_ONLY: OKABE_ITO[2],
    NEITHER: OKABE_ITO[5],
    RESPONDER: OKABE_ITO[0],
    NON_RESPONDER: OKABE_ITO[5],
}
RC_COLOURS = {
    RC_CS: OKABE_ITO[0],
    RC_IMPROVED_ONLY: OKABE_ITO[4],
    RC_IMPROVED_ALL: OKABE_ITO[0],
    RC_NO_CHANGE: "#BBBBBB",
    RC_WORSE: OKABE_ITO[5],
}
MEASURE_COLOURS = {"Response": OKABE_ITO[0], "Remission": OKABE_ITO[2]}
NOT_SHOWN = "Not shown (small numbers)"
# A browser draws about 5,000 bars a second: 100,000 patients' bars froze the page for
# 19 s (headless Chromium, 2 cores). Above this many patients the waterfall shows
# patients evenly spaced by rank, which keeps its shape (every quantile) and, in
# proportion, its colours.
WATERFALL_MAX_BARS = 2_000


def _label(status: str, min_cell_size: int) -> str:
    return suppressed_label(min_cell_size) if status == PRIMARY else HIDDEN


def _count_text(n: int, status: str, min_cell_size: int) -> str:
    return f"n = {n:,}" if status == "" else f"n {_label(status, min_cell_size)}"


def plot_waterfall(
    waterfall: pd.DataFrame,
    counts: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    max_bars: int = WATERFALL_MAX_BARS,
) -> go.Figure:
    """One bar per analysed patient: percent change from baseline to the endpoint, sorted,
    coloured by responder/remitter status, with the response threshold as a dashed line.
    Above ``max_bars`` patients, ``max_bars`` of them evenly spaced by rank (the first and
    the last included), each at its own rank; the axis title says so.

    ``waterfall`` is :func:`analytics.responders.waterfall_table`; ``counts`` is
    :func:`analytics.responders.count_statuses` (legend counts, of every patient,
    suppressed)."""
    inst = resolved.instrument
    shown = waterfall
    if len(waterfall) > max_bars:
        picks = np.unique(np.linspace(0, len(waterfall) - 1, max_bars).round().astype(int))
        shown = waterfall.iloc[picks]
    fig = go.Figure()
    for row in counts.itertuples():
        w = shown[shown["status"] == row.status]
        fig.add_trace(
            go.Bar(
                x=w["rank"],
                y=w["pct_change"],
                width=len(waterfall) / max(len(shown), 1),  # each bar spans its patients' ranks
                name=f"{row.status} ({_count_text(int(row.n), row.suppressed, min_cell_size)})",
                marker=dict(color=STATUS_COLOURS[row.status], line=dict(width=0)),
                customdata=w[s.PATIENT_ID],
                hovertemplate="%{customdata}<br>Change: %{y:.0f}%<extra>" + row.status + "</extra>",
            )
        )
    if resolved.response_pct is not None:
        y = -resolved.response_pct if inst.higher_is_worse else resolved.response_pct
        fig.add_hline(
            y=y,
            line=dict(color="#222222", width=1.5, dash="dash"),
            annotation=dict(text=f"Response threshold ({y:+g}%)", font=dict(size=12)),
            annotation_position="bottom left" if inst.higher_is_worse else "top left",
        )
    fig.update_layout(barmode="overlay", bargap=0.0)
    title = f"Patients, sorted by change ({n_text(len(waterfall), min_cell_size)})"
    if len(shown) < len(waterfall):
        title += f"; {len(shown):,} evenly spaced shown"
    fig.update_xaxes(title=title, showticklabels=False)
    fig.update_yaxes(
        title=f"Change from baseline in {inst.label} (%)",
        ticksuffix="%",
        zeroline=True,
        zerolinecolor="#666666",
    )
    direction = "below 0 = fewer symptoms" if inst.higher_is_worse else "above 0 = better"
    first = with_note(f"Percent change at the endpoint, one bar per patient ({direction})", note)
    fig = apply_layout(fig, f"{inst.label}: change in each patient", subtitle(first, definition))
    return size(fig, plot_height=300, top=120, axis_px=40, legend_rows=(len(counts) + 1) // 2)


def plot_rate_forest(
    rates: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    split_label: str | None = None,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Response and remission rates with Wilson 95% CIs, overall and per group: one panel
    per measure, one row per group ("All" on top); suppressed rows show their label.

    ``rates`` is :func:`analytics.responders.rate_table`."""
    inst = resolved.instrument
    measures = list(dict.fromkeys(rates["measure"]))
    fig = make_subplots(
        rows=1,
        cols=max(1, len(measures)),
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[f"{m} (%)" for m in measures],
    )
    groups = list(dict.fromkeys(rates["group"]))
    first = rates[rates["measure"] == measures[0]].set_index("group") if measures else None
    labels = {}
    for g in groups:
        st, n = first.loc[g, "suppressed"], int(first.loc[g, "n_patients"])
        shown = n_text(n, min_cell_size) if st != COMPLEMENTARY else f"N {HIDDEN}"
        labels[g] = f"{'All patients' if g == ALL else g} ({shown})"
    order = [labels[g] for g in reversed(groups)]
    for col, measure in enumerate(measures, start=1):
        r = rates[rates["measure"] == measure]
        ok = r[r["suppressed"] == ""]
        colour = MEASURE_COLOURS.get(measure, OKABE_ITO[0])
        fig.add_trace(
            go.Scatter(
                x=ok["pct"],
                y=[labels[g] for g in ok["group"]],
                mode="markers",
                name=measure,
                marker=dict(size=10, color=colour, symbol="square"),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=ok["ci95_high"] - ok["pct"],
                    arrayminus=ok["pct"] - ok["ci95_low"],
                    color=colour,
                    thickness=2,
                ),
                customdata=np.c_[ok["n_events"], ok["n_patients"], ok["ci95_low"], ok["ci95_high"]],
                hovertemplate=(
                    "%{y}<br>" + measure + ": %{x:.1f}% (%{customdata[0]}/%{customdata[1]})"
                    "<br>Wilson 95% CI %{customdata[2]:.1f}% to %{customdata[3]:.1f}%"
                    "<extra></extra>"
                ),
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        for row in r[r["suppressed"] != ""].itertuples():
            fig.add_annotation(
                x=50,
                y=labels[row.group],
                text=_label(row.suppressed, min_cell_size),
                showarrow=False,
                font=dict(color="#555555"),
                row=1,
                col=col,
            )
        overall = r[(r["group"] == ALL) & (r["suppressed"] == "")]
        if len(overall) and len(groups) > 1:
            fig.add_vline(
                x=float(overall["pct"].iloc[0]),
                line=dict(color="#888888", dash="dot"),
                row=1,
                col=col,
            )
        fig.update_xaxes(range=[0, 100], ticksuffix="%", title="Patients (%)", row=1, col=col)
    fig.update_yaxes(categoryorder="array", categoryarray=order, type="category")
    split = f" · by {split_label}" if split_label else ""
    first_line = with_note(
        f"Rates with Wilson 95% CI{split} · N: patients with a defined outcome", note
    )
    small = (
        f"'{suppressed_label(min_cell_size)}': a count under {min_cell_size} patients; "
        f"'{HIDDEN}': hidden so that a small count cannot be worked out"
    )
    hidden = (rates["suppressed"] != "").any()
    fig = apply_layout(
        fig,
        f"{inst.label}: response and remission rates",
        subtitle(first_line, definition, small if hidden else ""),
    )
    return size(
        fig, plot_height=40 * len(groups) + 30, top=160 if hidden else 140, axis_px=50, left=20
    )


def plot_reliable_change(
    rc: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    rule: ReliableChangeRule,
    split_label: str | None = None,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Stacked 100% bars of reliable-change categories per group ("All" on top). The
    share of suppressed categories is drawn as one hatched "not shown" segment (it equals
    100% minus what is shown, so it reveals nothing new). ``rule`` is the threshold in force
    (stated in the subtitle). ``rc`` is :func:`analytics.responders.reliable_change_table`."""
    inst = resolved.instrument
    fig = go.Figure()
    groups = list(dict.fromkeys(rc["group"]))
    totals = rc.drop_duplicates("group").set_index("group")
    labels = {}
    for g in groups:
        n = int(totals.loc[g, "n_patients"])
        labels[g] = f"{'All patients' if g == ALL else g} ({n_text(n, min_cell_size)})"
    y_order = [labels[g] for g in reversed(groups)]
    for cat in dict.fromkeys(rc["category"]):
        c = rc[rc["category"] == cat]
        text = [
            f"{p:.0f}%" if st == "" else _label(st, min_cell_size)
            for p, st in zip(c["pct"], c["suppressed"], strict=True)
        ]
        fig.add_trace(
            go.Bar(
                y=[labels[g] for g in c["group"]],
                x=c["pct"].fillna(0),
                name=cat,
                orientation="h",
                marker=dict(color=RC_COLOURS[cat], line=dict(color="white", width=1)),
                text=[t if st == "" else "" for t, st in zip(text, c["suppressed"], strict=True)],
                textposition="inside",
                insidetextanchor="middle",
                customdata=np.c_[
                    text,
                    [
                        _count_text(int(n), st, min_cell_size)
                        for n, st in zip(c["n"], c["suppressed"], strict=True)
                    ],
                ],
                hovertemplate="%{y}<br>"
                + cat
                + ": %{customdata[0]} (%{customdata[1]})<extra></extra>",
            )
        )
    shown = rc[rc["suppressed"] == ""].groupby("group")["pct"].sum().reindex(groups, fill_value=0)
    any_hidden = (rc["suppressed"] != "").groupby(rc["group"]).any().reindex(groups)
    rest = (100 - shown).clip(lower=0).where(any_hidden & (totals["n_patients"] > 0), 0)
    if (rest > 0.05).any():
        fig.add_trace(
            go.Bar(
                y=[labels[g] for g in groups],
                x=rest.to_numpy(),
                name=NOT_SHOWN,
                orientation="h",
                marker=dict(
                    color="#E5E5E5",
                    pattern=dict(shape="/", fgcolor="#9A9A9A"),
                    line=dict(color="white", width=1),
                ),
                hovertemplate="%{y}<br>" + NOT_SHOWN + ": %{x:.0f}%<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="Analysed patients (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=y_order, title=None)
    split = f" · by {split_label}" if split_label else ""
    cut = inst.caseness_cutoff
    first = f"No caseness cut-off: clinical significance not assessed{split}"
    if cut is not None:
        first = f"Clinically significant: reliably improved, and from >= {cut:g} to below{split}"
    fig = apply_layout(
        fig,
        f"{inst.label}: reliable change",
        subtitle(with_note(first, note), short_rule(rule), definition),
    )
    size(fig, plot_height=44 * len(groups) + 30, top=140, axis_px=50, legend_rows=3, left=20)
    fig.update_layout(legend=dict(traceorder="normal"))
    return fig


def short_rule(rule: ReliableChangeRule) -> str:
    """The reliable-change threshold in a few words, with its source."""
    if rule.method == "fixed":
        return f"Reliable change: a change of >= {rule.threshold:g} points ({rule.source})"
    if rule.method == "jacobson_truax":
        return (
            f"Reliable change: > {rule.threshold:.1f} points = 1.96 × √2 × SD {rule.sd:.1f} × "
            f"√(1 − r), r = {rule.reliability:g} ({rule.source})"
        )
    return f"Reliable change: not available ({rule.source})"


def _text_colour(z: float, zmax: float) -> str:
    return "white" if zmax > 0 and z / zmax > 0.55 else "#222222"


def plot_band_transitions(
    table: pd.DataFrame,
    status: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Heatmap of patients by severity band at baseline (rows) and at the endpoint
    (columns), counts in the cells, totals in the axis labels; suppressed cells blank with
    their label. ``table``/``status`` are :func:`analytics.responders.band_transitions`."""
    inst = resolved.instrument
    body = table.iloc[:-1, :-1]
    st = status.iloc[:-1, :-1]
    z = body.where(st == "").to_numpy(dtype=float)

    def total(label: str, value: float, state: str) -> str:
        return f"{label}<br>{small_text(_count_text(int(value), state, min_cell_size))}"

    ys = [total(r, table.loc[r, "Total"], status.loc[r, "Total"]) for r in body.index]
    xs = [total(c, table.loc["Total", c], status.loc["Total", c]) for c in body.columns]
    hidden_cells = np.where(st.to_numpy() != "", 1.0, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=hidden_cells,
            x=xs,
            y=ys,
            colorscale=[[0, "#EEEEEE"], [1, "#EEEEEE"]],
            showscale=False,
            hoverinfo="skip",
            xgap=2,
            ygap=2,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=xs,
            y=ys,
            colorscale="Blues",
            zmin=0,
            showscale=bool(np.isfinite(z).any()),
            colorbar=dict(title=dict(text="Patients"), thickness=12),
            hovertemplate="Baseline: %{y}<br>Endpoint: %{x}<br>Patients: %{z}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    zmax = float(np.nanmax(z)) if np.isfinite(z).any() else 0.0
    for i, r in enumerate(body.index):
        for j, c in enumerate(body.columns):
            state = st.loc[r, c]
            text = f"{int(body.loc[r, c]):,}" if state == "" else _label(state, min_cell_size)
            colour = _text_colour(z[i, j], zmax) if state == "" else "#555555"
            fig.add_annotation(
                x=xs[j], y=ys[i], text=text, showarrow=False, font=dict(size=14, color=colour)
            )
    fig.update_xaxes(title=f"Endpoint {inst.label} band", side="bottom")
    fig.update_yaxes(title=f"Baseline {inst.label} band", autorange="reversed")
    n = int(table.loc["Total", "Total"])
    if inst.bands:
        first = (
            f"Analysed patients by severity band · {n_text(n, min_cell_size)} · "
            "left of the diagonal = improved"
        )
    else:
        first = (
            "Analysed patients by caseness (no published severity bands) · "
            f"{n_text(n, min_cell_size)}"
        )
    fig = apply_layout(
        fig,
        f"{inst.label}: severity at baseline and endpoint",
        subtitle(with_note(first, note), definition),
    )
    fig.update_xaxes(type="category", categoryarray=xs)
    fig.update_yaxes(type="category", categoryarray=ys)
    return size(fig, plot_height=max(160, 62 * len(body)), top=120, axis_px=70, left=20)


def plot_cumulative_response(
    cum: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Cumulative percentage of patients who had responded by each infusion count, with
    Wilson 95% CIs. ``cum`` is :func:`analytics.responders.cumulative_response`."""
    inst = resolved.instrument
    colour = OKABE_ITO[0]
    ok = cum[~cum["suppressed"]]
    fig = go.Figure()
    x = ok[s.INFUSIONS].to_numpy()
    fig.add_trace(
        go.Scatter(
            x=np.r_[x, x[::-1]],
            y=np.r_[ok["ci95_high"].to_numpy(), ok["ci95_low"].to_numpy()[::-1]],
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor="rgba(0,114,178,0.16)",
            hoverinfo="skip",
            showlegend=False,
            name="95% CI",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=ok["pct"],
            mode="lines+markers",
            line=dict(color=colour, width=2.5),
            marker=dict(size=8),
            name="Responded by this infusion",
            customdata=np.c_[ok["n_responded"], ok["n_patients"], ok["ci95_low"], ok["ci95_high"]],
            hovertemplate=(
                "After %{x} infusions: %{y:.1f}% (%{customdata[0]}/%{customdata[1]})"
                "<br>Wilson 95% CI %{customdata[2]:.1f}% to %{customdata[3]:.1f}%"
                "<extra></extra>"
            ),
            showlegend=False,
        )
    )
    hidden = cum[cum["suppressed"]]
    for k in hidden[s.INFUSIONS]:
        fig.add_annotation(
            x=k, y=5, text=HIDDEN, showarrow=False, font=dict(color="#555555", size=11)
        )
    fig.update_xaxes(
        title="Infusions received",
        dtick=1,
        range=[0.5, cum[s.INFUSIONS].max() + 0.5] if len(cum) else None,
    )
    fig.update_yaxes(title="Patients who had responded (%)", range=[0, 100], ticksuffix="%")
    n = int(cum["n_patients"].iloc[0]) if len(cum) else 0
    first = (
        "First time the response threshold was met (up to the endpoint) · denominator: all "
        f"{n_text(n, min_cell_size).replace('N = ', '')} analysed patients"
    )
    small = (
        f"points hidden where a count under {min_cell_size} could be worked out"
        if len(hidden)
        else ""
    )
    fig = apply_layout(
        fig,
        f"{inst.label}: cumulative response by infusion",
        subtitle(with_note(first, note), definition, small),
    )
    return size(fig, plot_height=280, top=140 if small else 120, axis_px=50)


def plot_early_metrics(
    metrics: pd.DataFrame,
    resolved: ResolvedDefinition,
    *,
    n_patients: int,
    early_pct: float,
    definition: str = "",
    note: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Sensitivity, specificity, PPV and NPV of early improvement for response at the
    endpoint, with Wilson 95% CIs. ``metrics`` is
    :func:`analytics.responders.early_signal_metrics`."""
    inst = resolved.instrument
    order = list(metrics["measure"])
    ok = metrics[~metrics["suppressed"]]
    fig = go.Figure(
        go.Scatter(
            x=ok["pct"],
            y=ok["measure"],
            mode="markers+text",
            text=[f"{p:.0f}%" for p in ok["pct"]],
            textposition="top center",
            marker=dict(size=11, color=OKABE_ITO[0], symbol="square"),
            error_x=dict(
                type="data",
                symmetric=False,
                array=ok["ci95_high"] - ok["pct"],
                arrayminus=ok["pct"] - ok["ci95_low"],
                color=OKABE_ITO[0],
                thickness=2,
            ),
            customdata=np.c_[
                ok["n"], ok["n_patients"], ok["ci95_low"], ok["ci95_high"], ok["definition"]
            ],
            hovertemplate=(
                "%{y}: %{x:.1f}% (%{customdata[0]}/%{customdata[1]})<br>%{customdata[4]}"
                "<br>Wilson 95% CI %{customdata[2]:.1f}% to %{customdata[3]:.1f}%"
                "<extra></extra>"
            ),
            showlegend=False,
        )
    )
    for m in metrics[metrics["suppressed"]]["measure"]:
        fig.add_annotation(
            x=50, y=m, text="not shown (small numbers)", showarrow=False, font=dict(color="#555555")
        )
    fig.update_xaxes(title="Percent (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)), type="category")
    first = (
        f"Early improvement (>= {early_pct:g}% after 1 or 2 infusions) vs response at the "
        f"endpoint · {n_text(n_patients, min_cell_size)} with both known"
    )
    fig = apply_layout(
        fig,
        f"{inst.label}: how well early improvement predicts response",
        subtitle(with_note(first, note), definition),
    )
    return size(fig, plot_height=190, top=120, axis_px=50, left=20)
