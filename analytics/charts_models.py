"""Chart builders for the response models: results in, plotly figures out. No Streamlit.

Every figure has a title, axis titles with units, N and responders, and the outcome
definition in force in its subtitle (:func:`model_subtitle`); colours are Okabe-Ito.
Counts below ``min_cell_size`` are shown as "<11" (and the values computed from them are
hidden), with one more count hidden where a lone small count could be worked out from the
total (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import roc_curve

from analytics.charts import OKABE_ITO, apply_layout
from analytics.features import ON_TREATMENT, FeatureMatrix
from analytics.models import BASE_RATE, BASELINE_ONLY, ResponseModel
from analytics.suppression import DEFAULT_MIN_CELL_SIZE, is_small, suppressed_label

BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, _, BLACK = OKABE_ITO
GREY = "#7f7f7f"


def _translucent(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def hidden_counts(counts: Sequence[float] | np.ndarray, min_cell_size: int) -> np.ndarray:
    """Which counts to hide: those of 1 to ``min_cell_size`` - 1 patients and, when the
    hidden ones add up to fewer than ``min_cell_size`` (so the total would give them away),
    the smallest shown ones until they do."""
    c = np.asarray(counts, dtype="float64")
    hide = is_small(c, min_cell_size)
    while hide.any() and c[hide].sum() < min_cell_size:
        shown = np.flatnonzero(~hide & (c > 0))
        if not shown.size:
            break
        hide[shown[np.argmin(c[shown])]] = True
    return hide


def model_subtitle(fm: FeatureMatrix, *, synthetic: bool = False) -> str:
    """Three short lines: the response rule, the endpoint, then N, responders and the
    synthetic-data note."""
    lines = list(fm.definition_text)
    inst = lines[0].split(":", 1)[1].split("(")[0].strip() if lines else fm.instrument
    response = next((x for x in lines if x.startswith("response:")), "response: ?")
    endpoint = next((x for x in lines if x.startswith("endpoint:")), "")
    rule = response.removeprefix("response: ").replace(">=", "≥")
    third = f"N = {fm.n_patients:,} patients, {fm.n_events:,} responders" + (
        " · synthetic demo data" if synthetic else ""
    )
    return f"{inst} responder: {rule}<br>Endpoint: {endpoint.removeprefix('endpoint: ')}<br>{third}"


SHORT_LABELS = {"logistic": "Logistic regression (L2)", "gbm": "Gradient-boosted trees"}


def _cv_text(model: ResponseModel) -> str:
    s = model.spec
    return f"{s.n_splits}-fold CV × {s.n_repeats} repeats"


def plot_roc(model: ResponseModel, *, subtitle: str) -> go.Figure:
    """ROC curves of the out-of-fold predictions: one faint line per repeat, the bold line
    from each patient's probability averaged over repeats, and the baseline-only comparator."""
    y = model.predictions["outcome"].to_numpy()
    m = model.metric()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line=dict(color=GREY, dash="dot", width=1),
            name="Chance (AUROC 0.5)",
            hoverinfo="skip",
        )
    )
    for r, p in enumerate(model.oof_by_repeat):
        fpr, tpr, _ = roc_curve(y, p)
        fig.add_trace(
            go.Scatter(
                x=fpr,
                y=tpr,
                mode="lines",
                line=dict(color=BLUE, width=1),
                opacity=0.25,
                name="Each repeat",
                legendgroup="repeats",
                showlegend=r == 0,
                hoverinfo="skip",
            )
        )
    b = model.metric(BASELINE_ONLY)
    fpr, tpr, _ = roc_curve(y, model.predictions[BASELINE_ONLY])
    fig.add_trace(
        go.Scatter(
            x=fpr,
            y=tpr,
            mode="lines",
            line=dict(color=ORANGE, width=2, dash="dash"),
            name=f"Baseline severity only: AUROC {b['auroc']:.2f}",
            hovertemplate="1 − specificity %{x:.2f}<br>Sensitivity %{y:.2f}<extra>baseline only"
            "</extra>",
        )
    )
    fpr, tpr, thr = roc_curve(y, model.predictions["probability"])
    fig.add_trace(
        go.Scatter(
            x=fpr,
            y=tpr,
            mode="lines",
            line=dict(color=BLUE, width=3),
            name=f"Model: AUROC {m['auroc']:.2f} (95% CI {m['auroc_ci95_low']:.2f}–"
            f"{m['auroc_ci95_high']:.2f})",
            customdata=np.clip(thr, 0, 1) * 100,
            hovertemplate="Threshold %{customdata:.0f}%<br>1 − specificity %{x:.2f}"
            "<br>Sensitivity %{y:.2f}<extra>model</extra>",
        )
    )
    fig.update_xaxes(
        title="1 − specificity (false-positive rate)", range=[0, 1], constrain="domain"
    )
    fig.update_yaxes(title="Sensitivity (true-positive rate)", range=[0, 1.01])
    fig = apply_layout(
        fig,
        "ROC curve",
        f"{SHORT_LABELS[model.spec.model]}, out-of-fold, {_cv_text(model)}<br>{subtitle}",
    )
    fig.update_layout(
        height=610,
        margin=dict(t=190, b=70),
        legend=dict(
            x=0.98,
            y=0.03,
            xanchor="right",
            yanchor="bottom",
            orientation="v",
            bgcolor="rgba(255,255,255,0.85)",
            bordercolor="#d0d0d0",
            borderwidth=1,
            font=dict(size=12),
        ),
    )
    return fig


def plot_calibration(
    model: ResponseModel, *, subtitle: str, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> go.Figure:
    """Observed responder rate (Wilson 95% CI) against the mean predicted probability in
    ten equal-width bins, with the number of patients per bin underneath."""
    cal = model.calibration
    hide = hidden_counts(cal["n_patients"].to_numpy(), min_cell_size)
    shown = cal[~hide & (cal["n_patients"] > 0)]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            line=dict(color=GREY, dash="dot", width=1),
            name="Perfect calibration",
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=shown["mean_predicted"] * 100,
            y=shown["observed"] * 100,
            mode="markers+lines",
            marker=dict(size=9, color=BLUE),
            line=dict(color=BLUE, width=1.5),
            error_y=dict(
                type="data",
                symmetric=False,
                array=(shown["observed_ci95_high"] - shown["observed"]) * 100,
                arrayminus=(shown["observed"] - shown["observed_ci95_low"]) * 100,
                color=BLUE,
                thickness=1.2,
            ),
            customdata=np.c_[shown["n_patients"], shown["bin_low"] * 100, shown["bin_high"] * 100],
            name="Observed responders (95% CI)",
            hovertemplate="Predicted %{customdata[1]:.0f}–%{customdata[2]:.0f}%: mean %{x:.0f}%"
            "<br>Observed %{y:.0f}%<br>n = %{customdata[0]}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    centres = (cal["bin_low"] + cal["bin_high"]) / 2 * 100
    counts = cal["n_patients"].to_numpy()
    label = suppressed_label(min_cell_size)
    small = is_small(counts, min_cell_size)
    text = [
        (label if s else "hidden") if h else f"{c:,}"
        for c, h, s in zip(counts, hide, small, strict=True)
    ]
    fig.add_trace(
        go.Bar(
            x=centres,
            y=np.where(hide, 0, counts),
            width=8,
            marker=dict(color=SKY),
            text=text,
            textposition="outside",
            cliponaxis=False,
            name="Patients per bin",
            hovertemplate="%{text} patients<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(range=[0, 100], ticksuffix="%", row=1, col=1)
    fig.update_xaxes(
        range=[0, 100], ticksuffix="%", title="Predicted probability of response (%)", row=2, col=1
    )
    fig.update_yaxes(title="Observed responders (%)", range=[0, 105], ticksuffix="%", row=1, col=1)
    top = max(float(np.where(hide, 0, counts).max()), 1.0)
    fig.update_yaxes(title="Patients", range=[0, top * 1.35], row=2, col=1)
    note = ""
    if hide.any():
        note = f"; bins under {min_cell_size} patients hidden"
    slope = model.calibration_slope
    cal_text = (
        f"Calibration slope {slope:.2f} (1 = ideal), in-the-large "
        f"{model.calibration_intercept:+.2f} (0 = ideal)"
        if np.isfinite(slope)
        else "Calibration slope not estimable"
    )
    fig = apply_layout(
        fig,
        "Calibration: predicted vs observed response",
        f"Out-of-fold, mean over repeats; tenths{note}<br>{cal_text}<br>{subtitle}",
    )
    fig.update_layout(
        height=610,
        margin=dict(t=190, b=70),
        legend=dict(
            x=0.02,
            y=0.98,
            xanchor="left",
            yanchor="top",
            orientation="v",
            bgcolor="rgba(255,255,255,0.85)",
            bordercolor="#d0d0d0",
            borderwidth=1,
            font=dict(size=12),
        ),
    )
    return fig


def _quantile_box(values: np.ndarray) -> dict[str, float]:
    q5, q25, q50, q75, q95 = np.percentile(values, [5, 25, 50, 75, 95])
    return dict(
        lowerfence=[q5 * 100],
        q1=[q25 * 100],
        median=[q50 * 100],
        q3=[q75 * 100],
        upperfence=[q95 * 100],
        mean=[float(np.mean(values)) * 100],
    )


def plot_probability_distribution(
    model: ResponseModel, *, subtitle: str, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> go.Figure:
    """Out-of-fold predicted probabilities of responders and non-responders as boxes
    drawn from quantiles (no individual patient's value is sent to the browser)."""
    pred = model.predictions
    fig = go.Figure()
    hidden = []
    for outcome, name, colour in ((1, "Responders", BLUE), (0, "Non-responders", VERMILLION)):
        p = pred.loc[pred["outcome"] == outcome, "probability"].to_numpy()
        if len(p) < min_cell_size:
            hidden.append(name.lower())
            continue
        fig.add_trace(
            go.Box(
                y=[f"{name}<br>(n = {len(p):,})"],
                orientation="h",
                marker=dict(color=colour),
                line=dict(color=colour, width=2.5),
                fillcolor=_translucent(colour, 0.3),
                boxmean=True,
                name=name,
                hoverinfo="x",
                **_quantile_box(p),
            )
        )
    fig.update_xaxes(title="Predicted probability of response (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(title=None)
    note = f" · {' and '.join(hidden)} hidden (fewer than {min_cell_size})" if hidden else ""
    fig = apply_layout(
        fig,
        "Predicted probability by actual outcome",
        "Box: 25th–75th percentile, line: median, dashed: mean, whiskers: 5th–95th percentile; "
        f"out-of-fold{note}<br>{subtitle}",
    )
    fig.update_layout(height=400, showlegend=False, margin=dict(t=150, b=70))
    return fig


def plot_importance(model: ResponseModel, *, subtitle: str, top: int = 15) -> go.Figure:
    """Permutation importance (drop in AUROC on held-out folds), mean ± SD over folds."""
    imp = model.importance.head(top).iloc[::-1]
    on = imp["kind"] == ON_TREATMENT
    labels = [
        f"{lab} (on-treatment)" if o else lab for lab, o in zip(imp["label"], on, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=imp["mean"],
            y=labels,
            orientation="h",
            marker=dict(color=[ORANGE if o else BLUE for o in on]),
            error_x=dict(type="data", array=imp["sd"], color=BLACK, thickness=1.2),
            customdata=imp["sd"],
            hovertemplate="%{y}<br>Drop in AUROC %{x:.3f} (SD %{customdata:.3f})<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=GREY, width=1))
    fig.update_xaxes(title="Drop in AUROC when the feature is shuffled (AUROC points)")
    fig.update_yaxes(title=None, automargin=True)
    n_folds = int(model.importance["n_folds"].iloc[0]) if len(model.importance) else 0
    fig = apply_layout(
        fig,
        "Which features the model relies on",
        f"Permutation importance on held-out patients, mean ± SD over {n_folds} folds"
        f"{'; orange = on-treatment' if on.any() else ''}<br>{subtitle}",
    )
    fig.update_layout(height=max(360, 170 + 30 * len(imp)), showlegend=False, margin=dict(t=150))
    return fig


def plot_partial_dependence(model: ResponseModel, *, subtitle: str) -> go.Figure:
    """Partial dependence of the predicted probability on the top numeric features, with
    the range over the first repeat's cross-validation refits."""
    table = model.partial_dependence
    features = list(dict.fromkeys(table["feature"]))
    n = max(len(features), 1)
    fig = make_subplots(rows=1, cols=n, shared_yaxes=True, horizontal_spacing=0.06)
    for i, f in enumerate(features, start=1):
        t = table[table["feature"] == f]
        x = t["value"].to_numpy()
        fig.add_trace(
            go.Scatter(
                x=np.r_[x, x[::-1]],
                y=np.r_[t["refit_high"], t["refit_low"][::-1]] * 100,
                fill="toself",
                fillcolor="rgba(0,114,178,0.18)",
                mode="lines",
                line=dict(width=0),
                hoverinfo="skip",
                name="Range over the first repeat's refits",
                showlegend=i == 1,
            ),
            row=1,
            col=i,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=t["probability"] * 100,
                mode="lines+markers",
                line=dict(color=BLUE, width=2.5),
                marker=dict(size=5),
                name="Model fitted on all patients",
                showlegend=i == 1,
                hovertemplate=f"{model.labels[f]} %{{x:.3g}}<br>Predicted %{{y:.0f}}%"
                "<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title=model.labels[f], row=1, col=i)
    fig.update_yaxes(title="Predicted response (%)", ticksuffix="%", row=1, col=1)
    fig = apply_layout(
        fig,
        "How the prediction changes with each feature (partial dependence)",
        "Average prediction when every patient is given that value, others as recorded; "
        f"5th–95th percentile of the feature<br>{subtitle}",
    )
    fig.update_layout(height=520, margin=dict(t=160, b=140), legend=dict(y=-0.4))
    return fig


def odds_ratio_labels(table: pd.DataFrame) -> list[str]:
    """``Family history AUD: Yes vs No`` or ``BMI (per unit)``."""
    per = {"point": "per point", "%": "per percentage point", "unit": "per unit"}
    return [
        f"{r['label']}: {r['level']} vs {r['reference']}"
        if r["level"]
        else f"{r['label']} ({per.get(r['unit'], 'per unit')})"
        for r in table.to_dict(orient="records")
    ]


def plot_odds_ratios(model: ResponseModel, *, subtitle: str) -> go.Figure:
    """Forest plot of the unpenalised logistic regression's odds ratios (log scale)."""
    table = model.odds_ratios.table.iloc[::-1]
    labels = odds_ratio_labels(table)
    clear = (table["ci95_low"] > 1) | (table["ci95_high"] < 1)
    colours = [
        (BLUE if o > 1 else VERMILLION) if c else GREY
        for o, c in zip(table["odds_ratio"], clear, strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=table["odds_ratio"],
            y=labels,
            mode="markers",
            marker=dict(size=9, color=colours, symbol="square"),
            error_x=dict(
                type="data",
                symmetric=False,
                array=table["ci95_high"] - table["odds_ratio"],
                arrayminus=table["odds_ratio"] - table["ci95_low"],
                color=BLACK,
                thickness=1.2,
            ),
            customdata=np.c_[table["ci95_low"], table["ci95_high"], table["p_value"]],
            hovertemplate="%{y}<br>OR %{x:.2f} (95% CI %{customdata[0]:.2f}–%{customdata[1]:.2f})"
            "<br>p = %{customdata[2]:.3g}<extra></extra>",
        )
    )
    fig.add_vline(x=1, line=dict(color=GREY, width=1, dash="dot"))
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    lo, hi = float(table["ci95_low"].min()), float(table["ci95_high"].max())
    ticks = [x for x in ticks if lo / 2 <= x <= hi * 2] or [1]
    fig.update_xaxes(
        type="log",
        title="Odds ratio for response (log scale; above 1 = more likely to respond)",
        tickvals=ticks,
        ticktext=[f"{x:g}" for x in ticks],
    )
    fig.update_yaxes(title=None, automargin=True)
    o = model.odds_ratios
    fig = apply_layout(
        fig,
        "Odds ratios: unpenalised logistic regression",
        f"95% Wald CI; complete cases N = {o.n_used:,} ({o.n_events:,} responders); "
        f"coloured where the CI excludes 1<br>{subtitle}",
    )
    fig.update_layout(height=max(380, 190 + 28 * len(table)), showlegend=False, margin=dict(t=150))
    return fig


def confusion_display(
    summary: pd.DataFrame, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The confusion matrix and its rates as text tables, small cells suppressed.

    ``summary`` is :func:`analytics.models.threshold_summary`. Counts of 1 to
    ``min_cell_size`` - 1 show as "<11"; as responders and non-responders are shown
    elsewhere, the other cell of a row with a small count is hidden too, and so is every
    rate computed from a hidden count. Returns (matrix, rates)."""
    v = summary.set_index("statistic")
    tp, fn, fp, tn = (
        int(v.at[s, "value"])
        for s in ("true_positive", "false_negative", "false_positive", "true_negative")
    )
    label = suppressed_label(min_cell_size)
    rows_small = {
        "Responders": bool(is_small(tp, min_cell_size) or is_small(fn, min_cell_size)),
        "Non-responders": bool(is_small(fp, min_cell_size) or is_small(tn, min_cell_size)),
    }

    def cell(n: int, row: str) -> str:
        if is_small(n, min_cell_size):
            return label
        return "hidden" if rows_small[row] else f"{n:,}"

    matrix = pd.DataFrame(
        {
            "Predicted responder": [cell(tp, "Responders"), cell(fp, "Non-responders")],
            "Predicted non-responder": [cell(fn, "Responders"), cell(tn, "Non-responders")],
        },
        index=["Responders", "Non-responders"],
    )
    any_small = any(rows_small.values())
    names = {
        "sensitivity": ("Sensitivity", "Responders"),
        "specificity": ("Specificity", "Non-responders"),
        "ppv": ("Positive predictive value", None),
        "npv": ("Negative predictive value", None),
    }
    rates = []
    for stat, (name, row) in names.items():
        r = v.loc[stat]
        hidden = rows_small[row] if row else any_small
        if hidden or not np.isfinite(r["value"]):
            text, ci = ("hidden (small cell)" if hidden else "—"), ""
        else:
            text = f"{r['value'] * 100:.0f}%"
            ci = f"{r['ci95_low'] * 100:.0f}–{r['ci95_high'] * 100:.0f}%"
        rates.append({"statistic": name, "value": text, "95% CI": ci})
    return matrix, pd.DataFrame(rates)


def _ci_text(r: pd.Series, key: str, digits: int = 2) -> str:
    if not np.isfinite(r[key]):
        return "—"
    low, high = r[f"{key}_ci95_low"], r[f"{key}_ci95_high"]
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{r[key]:.{digits}f}"
    return f"{r[key]:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def metrics_display(model: ResponseModel) -> pd.DataFrame:
    """The model and its comparators side by side, as text with 95% CIs."""
    rows = []
    for _, r in model.metrics.iterrows():
        rows.append(
            {
                "Model": r["label"],
                "AUROC (95% CI)": _ci_text(r, "auroc"),
                "Brier score (95% CI)": _ci_text(r, "brier", 3),
                "Balanced accuracy (95% CI)": _ci_text(r, "balanced_accuracy"),
            }
        )
    return pd.DataFrame(rows)


def odds_ratio_display(model: ResponseModel) -> pd.DataFrame:
    """The odds-ratio table as text, with its plain-language reading."""
    t = model.odds_ratios.table
    p = [("< 0.001" if v < 0.001 else f"{v:.3f}") for v in t["p_value"]]
    return pd.DataFrame(
        {
            "Term": odds_ratio_labels(t),
            "Odds ratio": [f"{v:.2f}" for v in t["odds_ratio"]],
            "95% CI": [
                f"{a:.2f}–{b:.2f}" for a, b in zip(t["ci95_low"], t["ci95_high"], strict=True)
            ],
            "p": p,
        }
    )


def odds_ratio_readings(model: ResponseModel) -> list[str]:
    """Plain-language readings of the terms whose CI excludes 1, then one line naming the
    rest ("no clear difference")."""
    t = model.odds_ratios.table
    clear = (t["ci95_low"] > 1) | (t["ci95_high"] < 1)
    out = list(t.loc[clear, "reading"])
    rest = odds_ratio_labels(t[~clear])
    if rest:
        out.append(
            "No clear difference in the odds of response (95% CI includes 1): "
            + "; ".join(rest)
            + "."
        )
    return out


def headline_metrics(model: ResponseModel) -> list[dict[str, str]]:
    """The four headline tiles (label, value, delta = the 95% CI, help) of the page."""
    m, d = model.metric(), model.delta_auroc
    base = model.metric(BASE_RATE)

    def ci(key: str, digits: int) -> str:
        return f"95% CI {m[f'{key}_ci95_low']:.{digits}f}–{m[f'{key}_ci95_high']:.{digits}f}"

    return [
        {
            "label": "AUROC",
            "value": f"{m['auroc']:.2f}",
            "delta": ci("auroc", 2),
            "help": "Area under the ROC curve, mean over held-out folds: the chance that a "
            "responder gets a higher predicted probability than a non-responder (0.5 = chance).",
        },
        {
            "label": "Brier score",
            "value": f"{m['brier']:.3f}",
            "delta": ci("brier", 3),
            "help": "Mean squared error of the predicted probabilities; lower is better "
            f"(base rate alone: {base['brier']:.3f}).",
        },
        {
            "label": "Balanced accuracy",
            "value": f"{m['balanced_accuracy']:.2f}",
            "delta": ci("balanced_accuracy", 2),
            "help": "Mean of sensitivity and specificity when a predicted probability above "
            "50% counts as a predicted responder.",
        },
        {
            "label": "Gain over baseline severity",
            "value": f"{d['estimate']:+.2f}",
            "delta": f"95% CI {d['ci95_low']:+.2f} to {d['ci95_high']:+.2f}",
            "help": "AUROC of the model minus that of baseline severity alone, on the same "
            "folds (paired bootstrap CI).",
        },
    ]
