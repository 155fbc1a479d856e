"""Who responds: cross-validated, calibrated response models (docs/prediction.md)."""

import streamlit as st

from analytics import charts_models as ch
from analytics import models as md
from analytics.errors import DataValidationError
from analytics.features import ON_TREATMENT, default_features
from ui import cache_models, config
from ui import report_widgets as rw
from ui import state as k
from ui.widgets import definitions_panel, filters_text, how_computed, page_start

ss = st.session_state
view, outcomes, _ = page_start("Who responds")
content = cache_models.content_hash(view.dataset_id, getattr(view.dataset, "content_hash", ""))
key = (view.dataset_id, content, view.instrument, view.definition, view.filters)
st.caption(
    f":material/info: {md.NOT_A_DECISION_TOOL} Target: {outcomes.resolved.describe_response()}."
)
catalogue = cache_models.catalogue(*key)
labels = dict(zip(catalogue["feature"], catalogue["label"], strict=True))
on_treatment = set(catalogue.loc[catalogue["kind"] == ON_TREATMENT, "feature"])

# Choices: kept in session state; the form applies them together on "Fit model".
on = st.toggle(
    "Offer on-treatment features",
    key=k.PRED_ON_TREATMENT,
    help="Improvement after "
    "1-2 infusions, CADSS at the first session: known only once treatment has started.",
)
options = [f for f in catalogue["feature"] if on or f not in on_treatment]
ss[k.PRED_FEATURES] = [
    f for f in ss.get(k.PRED_FEATURES, default_features(catalogue)) if f in options
]
ss.setdefault(k.PRED_MODEL, "logistic")
ss.setdefault(k.PRED_REPEATS, 5)
with st.form("prediction_form"):
    c1, c2, c3 = st.columns([2, 6, 1])
    c1.radio("Model", md.MODEL_KINDS, format_func=md.MODEL_LABELS.get, key=k.PRED_MODEL)
    c2.multiselect(
        "Features",
        options,
        key=k.PRED_FEATURES,
        format_func=lambda f: labels[f] + (" (on-treatment)" if f in on_treatment else ""),
    )
    c3.number_input("Repeats", 1, 20, step=1, key=k.PRED_REPEATS, help="of 5-fold cross-validation")
    st.form_submit_button(
        "Fit model", type="primary", on_click=lambda: ss.update({k.PRED_FIT: True})
    )
if not ss.get(k.PRED_FIT) or not ss[k.PRED_FEATURES]:
    st.info("Choose a model and features, then press **Fit model**.")
    how_computed("prediction")
    st.stop()

features = tuple(ss[k.PRED_FEATURES])
spec = md.ModelSpec(model=ss[k.PRED_MODEL], n_repeats=int(ss[k.PRED_REPEATS]))
try:
    fm = cache_models.feature_matrix(*key, features)
    guard = cache_models.guard(*key, features, spec)
except DataValidationError as exc:
    st.error(str(exc))
    st.stop()
if guard.refusal:
    st.error(f"**No model fitted.** {guard.refusal}", icon=":material/block:")
    st.stop()
model = cache_models.fit_with_progress(*key, features, spec)
for text in model.warnings:
    st.warning(text, icon=":material/warning:")
for text in guard.notices:
    st.caption(f":material/info: {text}")
sub = ch.model_subtitle(fm, synthetic=view.dataset.synthetic)
min_cell = config.min_cell_size()


def chart(fig, name: str, where=st) -> None:
    where.plotly_chart(fig, width="stretch", theme=None, key=f"prediction_{name}")


# Validation first: never a model without it.
st.subheader("Validation")
for col, tile in zip(st.columns(4), ch.headline_metrics(model), strict=True):
    col.metric(**tile, delta_color="off", delta_arrow="off")
if not model.discriminates:
    st.warning(
        "The AUROC's 95% CI includes 0.5: no evidence that these features predict response "
        "better than chance here. Do not read the explanation below as predictive."
    )
st.dataframe(ch.metrics_display(model), hide_index=True, width="stretch")
left, right = st.columns(2)
chart(ch.plot_roc(model, subtitle=sub), "roc", left)
chart(ch.plot_calibration(model, subtitle=sub, min_cell_size=min_cell), "calibration", right)
chart(ch.plot_probability_distribution(model, subtitle=sub, min_cell_size=min_cell), "distribution")


@st.fragment
def threshold_section() -> None:
    t = st.slider(
        "Predicted responder: probability of at least (%)",
        5,
        95,
        step=5,
        key=k.PRED_THRESHOLD,
        help="Out-of-fold probabilities, mean over repeats.",
    )
    matrix, rates = ch.confusion_display(
        md.threshold_summary(model, t / 100), min_cell_size=min_cell
    )
    a, b = st.columns([3, 2])
    a.dataframe(matrix, width="stretch")
    b.dataframe(rates, hide_index=True, width="stretch")


ss.setdefault(k.PRED_THRESHOLD, 50)
threshold_section()

st.subheader("Explanation")
chart(ch.plot_importance(model, subtitle=sub), "importance")
if spec.model == "gbm" and not model.partial_dependence.empty:
    chart(ch.plot_partial_dependence(model, subtitle=sub), "partial_dependence")
if model.odds_ratios.ok:
    with st.expander(
        "Odds ratios: unpenalised logistic regression", expanded=spec.model == "logistic"
    ):
        chart(ch.plot_odds_ratios(model, subtitle=sub), "odds_ratios")
        st.markdown("\n".join(f"- {line}" for line in ch.odds_ratio_readings(model)))
        st.dataframe(ch.odds_ratio_display(model), hide_index=True, width="stretch")
        st.caption(
            "Associations among this clinic's past patients, each holding the other "
            "features fixed: not causes."
        )
else:
    st.caption(f"Odds ratios: {model.odds_ratios.note}.")


@st.fragment
def what_if_section() -> None:
    st.subheader("What if?")
    st.info(md.NOT_A_DECISION_TOOL, icon=":material/health_and_safety:")
    with st.form("what_if"):
        cols, profile = st.columns(3), {}
        for i, f in enumerate(model.features):
            levels, wkey = model.profile_levels.get(f), f"{k.PRED_WHAT_IF_PREFIX}{f}"
            if ss.get(wkey) is None or (levels and ss[wkey] not in levels):
                ss[wkey] = model.profile_defaults[f]
            if levels:
                profile[f] = cols[i % 3].selectbox(labels[f], levels, key=wkey)
            else:
                lo, hi = model.profile_ranges[f]
                whole = float(lo).is_integer() and float(hi).is_integer()
                profile[f] = cols[i % 3].number_input(
                    labels[f],
                    key=wkey,
                    format="%.0f" if whole else "%.1f",
                    help=f"Seen: {lo:g} to {hi:g}",
                )
        st.form_submit_button("Predict")
    res = md.predict_what_if(model, profile)
    st.metric(
        "Predicted probability of response",
        f"{res.probability:.0%}",
        f"cross-validation refits: {res.refit_low:.0%}–{res.refit_high:.0%}",
        delta_color="off",
        delta_arrow="off",
        help="From the model refitted on all "
        f"patients; the range is the middle 95% of the {res.n_refits} cross-validation "
        "refits (model instability, not a prediction interval).",
    )


what_if_section()
card = md.model_card(
    model,
    fm,
    dataset_id=view.dataset_id,
    dataset_name=view.dataset.name,
    content_hash=content,
    filters=dict(view.filters),
    filtered_hash=cache_models.filtered_hash(view.dataset_id, content, view.filters),
    synthetic=view.dataset.synthetic,
)
c = st.columns(2)
c[0].download_button(
    "Model card (Markdown)",
    md.model_card_markdown(card),
    "model_card.md",
    "text/markdown",
    icon=":material/download:",
)
c[1].download_button(
    "Model card (JSON)",
    md.model_card_json(card),
    "model_card.json",
    "application/json",
    icon=":material/download:",
)
definitions_panel(outcomes, filters_text(view.filters))
how_computed("prediction")
rw.exports_panel(
    view,
    None,
    key="prediction_exports",
    tables={"Validation": ch.metrics_display(model), "Odds ratios": ch.odds_ratio_display(model)}
    if model.odds_ratios.ok
    else {"Validation": ch.metrics_display(model)},
    figures={
        "ROC curve": ch.plot_roc(model, subtitle=sub),
        "Importance": ch.plot_importance(model, subtitle=sub),
    },
)
rw.reproduce_panel(
    view,
    "model",
    options=rw.model_options(features, spec.model, spec.n_repeats),
    what="Prints the model's validation, importance and odds ratios (same seed, same numbers)",
)
