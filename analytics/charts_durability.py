"""Figures and display tables for the Durability and Statistics pages. No Streamlit here.

Figures follow :mod:`analytics.charts`: title, axis titles with units, N and the outcome
definition in the subtitle, Okabe–Ito colours, ``apply_layout``. Display tables are text
(what a page shows), with small-cell suppression applied: a group of fewer than
``min_cell_size`` patients shows ``"<11"`` (or the configured threshold) and no statistic.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts import OKABE_ITO, apply_layout
from analytics.durability import KaplanMeierResult
from analytics.instruments import Instrument
from analytics.mixed import TIME_LABELS, MixedModelResult
from analytics.suppression import (
    DEFAULT_MIN_CELL_SIZE,
    complementary_suppression,
    count_label,
    suppressed_label,
)

DASH = "—"
WILCOXON_METHODS = {
    "exact": "exact distribution",
    "permutation": "all sign flips",
    "asymptotic": "normal approx.",
}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _num(x: float | None, digits: int = 1) -> str:
    if x is None or not np.isfinite(x):
        return DASH
    return f"{x:,.{digits}f}".replace("-", "−")


def _p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _p_phrase(p: float) -> str:
    if p is None or not np.isfinite(p):
        return f"p {DASH}"
    return "p < 0.001" if p < 0.001 else f"p = {_p(p)}"


def group_label(label: str) -> str:
    """``"6.0"`` -> ``"6"`` (whole-number levels as the sidebar writes them)."""
    return re.sub(r"^(-?\d+)\.0$", r"\1", str(label))


def plot_kaplan_meier(
    result: KaplanMeierResult,
    *,
    title: str,
    x_title: str,
    y_title: str,
    subtitle: str,
    group_title: str = "",
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> go.Figure:
    """Step curves (percent still without the event) with 95% CI bands, censoring ticks,
    a 50% line for the median, and a number-at-risk table under the x-axis; with groups,
    a legend titled ``group_title`` to the right.

    ``result`` should be suppressed (:func:`analytics.durability.suppress_kaplan_meier`):
    hidden groups have no curve; at-risk counts below ``min_cell_size`` show as "<11".
    """
    summary = result.summary.set_index("group")
    shown = [g for g in result.groups if not summary.loc[g].get("suppressed", False)]
    curve_px, gap_px, risk_px = 330, 55, 24 * max(1, len(shown)) + 12
    total_px = curve_px + gap_px + risk_px
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[curve_px, risk_px],
        vertical_spacing=gap_px / total_px,
    )
    for i, grp in enumerate(shown):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        c = result.curves[result.curves["group"] == grp]
        x = c["time"].to_numpy()
        n = int(summary.loc[grp, "n_patients"])
        name = f"{group_label(grp)} (n = {n:,})"
        for col, fill in (("ci95_low", None), ("ci95_high", "tonexty")):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=c[col] * 100,
                    mode="lines",
                    line=dict(width=0, shape="hv"),
                    fill=fill,
                    fillcolor=_rgba(colour, 0.15),
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=grp,
                ),
                row=1,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=c["survival"] * 100,
                mode="lines",
                name=name,
                legendgroup=grp,
                line=dict(color=colour, width=2.5, shape="hv"),
                customdata=np.c_[c["ci95_low"] * 100, c["ci95_high"] * 100, c["n_at_risk"]],
                hovertemplate=(
                    f"{x_title}: %{{x:g}}<br>{y_title}: %{{y:.1f}}%"
                    "<br>95% CI %{customdata[0]:.1f}% to %{customdata[1]:.1f}%"
                    f"<br>At risk: %{{customdata[2]}}<extra>{group_label(grp)}</extra>"
                ),
            ),
            row=1,
            col=1,
        )
        cens = c[c["n_censored"] > 0]
        fig.add_trace(
            go.Scatter(
                x=cens["time"],
                y=cens["survival"] * 100,
                mode="markers",
                marker=dict(symbol="line-ns-open", size=7, color=colour),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=grp,
            ),
            row=1,
            col=1,
        )
        risk = result.at_risk[result.at_risk["group"] == grp]
        fig.add_trace(
            go.Scatter(
                x=risk["time"],
                y=[group_label(grp)] * len(risk),
                mode="text",
                text=[count_label(v, min_cell_size) for v in risk["n_at_risk"]],
                textfont=dict(color=colour, size=12),
                hoverinfo="skip",
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    ticks = result.at_risk["time"].unique() if len(result.at_risk) else [0]
    fig.add_hline(y=50, line=dict(color="#888", width=1, dash="dot"), row=1, col=1)
    fig.update_yaxes(title=y_title, range=[0, 102], ticksuffix="%", row=1, col=1)
    fig.update_yaxes(
        title=dict(text="At risk", font=dict(size=12)),
        type="category",
        range=[len(shown) - 0.5, -0.5],  # first group on top, half a row of padding
        showgrid=False,
        zeroline=False,
        row=2,
        col=1,
    )
    fig.update_xaxes(tickvals=ticks, zeroline=False, row=1, col=1)
    fig.update_xaxes(tickvals=ticks, title=x_title, showgrid=False, zeroline=False, row=2, col=1)
    fig = apply_layout(fig, title, subtitle)
    grouped = shown != ["All"]
    fig.update_layout(
        height=total_px + 120 + 75,
        margin=dict(t=120, b=75),
        showlegend=grouped,
        legend=dict(
            orientation="v",
            x=1.02,
            xanchor="left",
            y=1,
            yanchor="top",
            title=dict(text=group_title),
            traceorder="normal",
        ),
        hovermode="closest",
    )
    return fig


def km_summary_table(
    result: KaplanMeierResult, *, unit: str, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Patients, events, censored and the median with its 95% CI, per group, as text.

    A hidden group shows "<11" patients (or "hidden" when it is hidden only so that a
    smaller one cannot be worked out) and no statistics; events and censored counts of 1
    to ``min_cell_size`` - 1 both show "<11" (either gives the other away)."""
    rows = []
    for _, r in result.summary.iterrows():
        hidden = bool(r.get("suppressed", False))
        small = hidden and 0 < r["n_patients"] < min_cell_size
        events_small = any(0 < r[c] < min_cell_size for c in ("n_events", "n_censored"))
        label = suppressed_label(min_cell_size)
        if hidden:
            n, ev, cens, median = (label if small else "hidden"), "", "", ""
        else:
            n = f"{int(r['n_patients']):,}"
            ev = label if events_small else f"{int(r['n_events']):,}"
            cens = label if events_small else f"{int(r['n_censored']):,}"
            median = _median_text(r["median"], r["median_ci95_low"], r["median_ci95_high"], unit)
        rows.append(
            {
                "Group": group_label(r["group"]),
                "Patients": n,
                "Events": ev,
                "Censored": cens,
                f"Median, {unit} (95% CI)": median,
            }
        )
    return pd.DataFrame(rows)


def _median_text(median: float, low: float, high: float, unit: str) -> str:
    if not np.isfinite(median):
        return "not reached"
    lo = _num(low, 0) if np.isfinite(low) else "?"
    hi = _num(high, 0) if np.isfinite(high) else "not reached"
    return f"{median:g} ({lo} to {hi})"


def plot_model_trajectory(
    result: MixedModelResult,
    inst: Instrument,
    *,
    endpoint: str,
    note: str = "",
    observed: pd.DataFrame | None = None,
) -> go.Figure:
    """The model-based mean score over time with its 95% CI band, and the observed mean
    score (with 95% CI) of the rows in the model at each time, to judge the fit.

    The subtitle states the covariate profile, N, the fit and ``endpoint`` (the endpoint
    rule in words); ``note`` is appended to its first line (" · synthetic demo data").

    ``observed`` defaults to ``result.observed``; pass it suppressed
    (:func:`analytics.suppression.suppress_rows` on ``n_patients``): rows with
    ``suppressed`` True are not drawn."""
    t = result.trajectory
    colour, dots = OKABE_ITO[0], OKABE_ITO[1]
    x = t["time"].to_numpy()
    x_title = TIME_LABELS[result.time]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=np.r_[x, x[::-1]],
            y=np.r_[t["ci95_high"].to_numpy(), t["ci95_low"].to_numpy()[::-1]],
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor=_rgba(colour, 0.18),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=t["estimate"],
            mode="lines",
            line=dict(color=colour, width=2.5),
            name="Model-based mean (95% CI)",
            customdata=np.c_[t["ci95_low"], t["ci95_high"]],
            hovertemplate=(
                f"{x_title}: %{{x:.0f}}<br>Model-based mean: %{{y:.1f}}"
                "<br>95% CI %{customdata[0]:.1f} to %{customdata[1]:.1f}<extra></extra>"
            ),
        )
    )
    obs = result.observed if observed is None else observed
    if "suppressed" in obs.columns:
        obs = obs.loc[~obs["suppressed"].astype(bool)]
    obs = obs.loc[obs["mean"].notna()]
    if len(obs):
        fig.add_trace(
            go.Scatter(
                x=obs["time"],
                y=obs["mean"],
                mode="markers",
                marker=dict(color=dots, size=8, symbol="circle"),
                error_y=dict(
                    type="data",
                    array=obs["ci95_high"] - obs["mean"],
                    arrayminus=obs["mean"] - obs["ci95_low"],
                    color=dots,
                    thickness=1.5,
                    width=3,
                ),
                name="Observed mean (95% CI)",
                customdata=np.c_[obs["n_patients"]],
                hovertemplate=(
                    f"{x_title}: %{{x:.0f}}<br>Observed mean: %{{y:.1f}}"
                    "<br>n = %{customdata[0]} patients<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(title=x_title, zeroline=False)
    fig.update_yaxes(
        title=f"{inst.label} total score (points, {inst.min:g}-{inst.max:g})",
        range=[inst.min, inst.max],
    )
    profile = "At the mean baseline score"
    if result.covariates:
        profile += ", reference levels of categorical covariates, mean of numeric ones"
    subtitle = (
        f"{profile} · N = {result.n_patients:,} patients, {result.n_observations:,} "
        f"assessments{note}<br>{result.method}, random intercept"
        f"{' and slope' if result.random_slope else ''} per patient; endpoint: {endpoint}"
    )
    fig = apply_layout(fig, f"Model-based mean {inst.label} over time", subtitle)
    fig.update_layout(
        height=440,
        legend=dict(
            orientation="h",
            yanchor="top",
            y=0.99,
            x=0.99,
            xanchor="right",
            bgcolor="rgba(255,255,255,0.85)",
        ),
    )
    return fig


def _term_label(term: str, result: MixedModelResult) -> str:
    if term == "intercept":
        return "Intercept"
    if term == result.time_term:
        unit = "day" if result.time == "day" else "infusion"
        return f"Time (per {unit})"
    if term == "baseline":
        return "Baseline score (per point)"
    col, sep, level = term.partition("=")
    if sep:
        return f"{col}: {group_label(level)} vs {group_label(result.reference_levels[col])}"
    return f"{term} (per unit)"


def coefficient_table(
    result: MixedModelResult, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """The fixed effects as text. A level term whose level (or the reference level) has
    fewer than ``min_cell_size`` patients shows "<11" and no estimate."""
    counts = dict(zip(result.level_counts["term"], result.level_counts["n_patients"], strict=True))
    label = suppressed_label(min_cell_size)
    rows = []
    for _, r in result.coefficients.iterrows():
        col, sep, _level = r["term"].partition("=")
        small = False
        if sep:
            ref = f"{col}={result.reference_levels[col]}"
            small = any(0 < counts.get(t, 0) < min_cell_size for t in (r["term"], ref))
        rows.append(
            {
                "Term": _term_label(r["term"], result),
                "Estimate": label if small else _num(r["estimate"], 3),
                "SE": "" if small else _num(r["se"], 3),
                "95% CI": "" if small else f"{_num(r['ci95_low'], 3)} to {_num(r['ci95_high'], 3)}",
                "p": "" if small else _p(r["p_value"]),
            }
        )
    return pd.DataFrame(rows)


def coefficient_note(result: MixedModelResult) -> str:
    """The caption under the coefficient table: fit, intervals, reference levels."""
    refs = "; ".join(f"{col} = {group_label(v)}" for col, v in result.reference_levels.items())
    return f"Fixed effects, {result.method}; Wald 95% CIs and z-test p-values." + (
        f" Reference levels: {refs}." if refs else ""
    )


PAIRED_NOTE = (
    "Change = endpoint − baseline (points). Mean change with t-based 95% CI and paired t; "
    "Cohen's d_z = mean change ÷ SD of change; Wilcoxon signed-rank, two-sided, zero "
    "differences dropped (zero_method “wilcox”), no continuity correction."
)


def variance_table(result: MixedModelResult) -> pd.DataFrame:
    """Variance components with their SDs; the intercept–slope covariance with its
    correlation."""
    unit = "day" if result.time == "day" else "infusion"
    vc = result.variance_components
    names = {
        "intercept_variance": "Intercept (between patients)",
        "slope_variance": f"Slope per {unit} (between patients)",
        "residual_variance": "Residual (within patients)",
    }
    rows = []
    for key, value in vc.items():
        if key == "intercept_slope_covariance":
            denom = np.sqrt(vc["intercept_variance"] * vc["slope_variance"])
            corr = value / denom if denom > 0 else float("nan")
            rows.append(
                {
                    "Component": f"Intercept–slope cov. (r = {_num(corr, 2)})",
                    "Variance": _num(value, 4),
                    "SD": "",
                }
            )
            continue
        rows.append(
            {
                "Component": names[key],
                "Variance": _num(value, 4 if value < 1 else 2),
                "SD": _num(np.sqrt(max(value, 0.0)), 3),
            }
        )
    return pd.DataFrame(rows)


def paired_table(
    paired: pd.DataFrame, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Paired change statistics as text, one row per group (the first row is "All").

    Groups of fewer than ``min_cell_size`` patients show "<11" and no statistics; so that
    their size cannot be worked out from the total, further groups may be hidden too.
    The Wilcoxon test's count of non-zero differences is not shown: beside N it would
    give away how many patients did not change."""
    hidden = np.zeros(len(paired), dtype=bool)
    hidden[0] = 0 < paired["n_patients"].iloc[0] < min_cell_size
    if len(paired) > 1:
        hidden[1:] = complementary_suppression(paired["n_patients"].iloc[1:], min_cell_size)
    label = suppressed_label(min_cell_size)
    rows = []
    for hide, (_, r) in zip(hidden, paired.iterrows(), strict=True):
        row = {"Group": group_label(r["group"])}
        if hide:
            small = 0 < r["n_patients"] < min_cell_size
            row["N"] = label if small else "hidden"
            rows.append(row)
            continue
        row.update(
            {
                "N": f"{int(r['n_patients']):,}",
                "Baseline → endpoint": (f"{_num(r['baseline_mean'])} → {_num(r['endpoint_mean'])}"),
                "Mean change (95% CI)": (
                    f"{_num(r['mean_change'])} ({_num(r['mean_change_ci95_low'])} to "
                    f"{_num(r['mean_change_ci95_high'])})"
                ),
                "Paired t (df), p": (
                    f"{_num(r['t_statistic'], 2)} ({int(r['t_df'])}), {_p_phrase(r['t_p_value'])}"
                ),
                "d_z": _num(r["cohens_dz"], 2),
                "Median change": _num(r["median_change"]),
                "Wilcoxon W, p": (
                    f"{_num(r['wilcoxon_statistic'])}, {_p_phrase(r['wilcoxon_p_value'])}"
                ),
                "Wilcoxon p from": WILCOXON_METHODS.get(r["wilcoxon_method"], DASH),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def shown_patients(result: KaplanMeierResult) -> int:
    """Patients in the groups drawn (hidden groups excluded)."""
    s = result.summary
    if "suppressed" in s.columns:
        s = s.loc[~s["suppressed"].astype(bool)]
    return int(s["n_patients"].sum())


def km_notes(result: KaplanMeierResult, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> str:
    """One caption under a Kaplan–Meier chart: the log-rank test, what was hidden, how
    many patients were not at risk (as "<11" when small)."""
    parts = []
    lr = result.logrank
    if lr is not None:
        parts.append(
            f"Log-rank test across {len(lr.groups)} groups: χ² = {lr.test_statistic:.2f}, "
            f"df = {lr.degrees_of_freedom}, {_p_phrase(lr.p_value)}."
        )
    hidden = result.summary.get("suppressed")
    if hidden is not None and hidden.any():
        parts.append(
            f"{int(hidden.sum())} group(s) hidden (fewer than {min_cell_size} patients, or "
            "hidden so that a small group cannot be worked out from the total)."
        )
    parts.append(
        f"Curves end where fewer than {min_cell_size} patients remain at risk; ticks mark "
        "censored patients."
    )
    if result.n_excluded:
        parts.append(
            f"{count_label(result.n_excluded, min_cell_size)} patients not at risk "
            "(see “How this is computed”)."
        )
    return " ".join(parts)
