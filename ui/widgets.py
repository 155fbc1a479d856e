"""Shared widgets: the synthetic-data label, the definitions panel, metric tiles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.outcomes import PatientOutcomes
from ui import cache
from ui.format import escape_md
from ui.sidebar import View, current_view

DOCS = Path(__file__).resolve().parent.parent / "docs"


def synthetic_notice(view: View) -> None:
    if view.dataset.synthetic:
        st.caption(
            ":orange-badge[:material/science: Synthetic demo data] "
            "Generated patients, not a real clinic: for trying the app."
        )


def definitions_panel(outcomes: PatientOutcomes, filters_text: str) -> None:
    """The outcome definition in force, one click away on every page."""
    with st.expander("Definitions in force", icon=":material/info:"):
        st.markdown("\n".join(f"- {line}" for line in outcomes.describe()))
        st.markdown(f"- filters: {filters_text}")
        inst = outcomes.instrument
        if inst.citations:
            st.caption(
                "Sources: " + " ".join(f"[{i + 1}] {c}" for i, c in enumerate(inst.citations))
            )


def how_computed(topic: str) -> None:
    """A 'how this is computed' panel from docs/<topic>.md."""
    path = DOCS / f"{topic}.md"
    with st.expander("How this is computed", icon=":material/functions:"):
        st.markdown(path.read_text(encoding="utf-8"))


def filters_text(filters: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    if not filters:
        return "none (all patients)"
    return "; ".join(f"{col} = {' or '.join(values)}" for col, values in filters)


def page_start(title: str) -> tuple[View, PatientOutcomes, tuple]:
    """Every analysis page's first lines: the view from the sidebar, the outcomes table,
    the title, the synthetic-data label, and a plain message (and stop) when the sidebar
    has no view yet or the filters match nobody. Returns the view, the outcomes and the
    cache arguments ``(dataset_id, instrument, definition, filters)``."""
    view = current_view()
    if view is None:
        st.info("Choose a dataset and an instrument in the sidebar to begin.")
        st.stop()
    args = (view.dataset_id, view.instrument, view.definition, view.filters)
    outcomes = cache.outcomes(*args)
    inst = outcomes.instrument
    st.title(f"{title} · {escape_md(inst.label)}")
    synthetic_notice(view)
    if outcomes.table.empty:
        st.info(
            f"No patients with a {escape_md(inst.label)} assessment match these filters "
            f"({escape_md(filters_text(view.filters))}). Widen the filters in the sidebar."
        )
        st.stop()
    return view, outcomes, args
