"""Shared widgets: the synthetic-data label, the definitions panel, metric tiles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.outcomes import PatientOutcomes
from ui.sidebar import View

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
