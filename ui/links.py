"""Shareable links: the URL carries the view (DESIGN.md §7).

The page is the URL path; every choice that changes what a page shows is a query
parameter named after its widget key, written only when it differs from the default so
links stay short. Streamlit's own ``bind="query-params"`` writes a widget's *display text*
to the URL (a dataset's name rather than its id), so the sync is done here:

1. :func:`remember_link` keeps the query parameters a session was opened with;
2. before drawing a widget, :func:`take` moves that widget's link value into session state
   when it is a valid choice, and notes a problem otherwise (never passing it on);
3. after the run, :func:`publish` writes the non-default choices back to the URL, and
   :func:`show_problems` says which link settings could not be applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from ui.format import escape_md

LINK_PARAMS = "link_params"  # the query parameters the session was opened with
LINK_PROBLEMS = "link_problems"  # what could not be applied, shown once
_REGISTERED = "link_registered"  # this run's (key, default) pairs
_MEMORY = "link_memory"  # non-default choices of pages not shown now (restored on return)

Validator = Sequence[str] | Callable[[str], bool]


def number_in(lo: float, hi: float) -> Callable[[str], bool]:
    def ok(text: str) -> bool:
        try:
            x = float(text)
        except ValueError:
            return False
        return math.isfinite(x) and lo <= x <= hi

    return ok


def _valid(value: str, valid: Validator) -> bool:
    return valid(value) if callable(valid) else value in set(valid)


def problem_note(label: str, values: Sequence[str]) -> str:
    shown = ", ".join(f"'{escape_md(v[:60])}'" for v in values[:3])
    return f"{escape_md(label)}: {shown} is not available here"


def link_problems(
    params: Mapping[str, Sequence[str]],
    choices: Mapping[str, Validator],
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Plain-language notes for every parameter value that is not a valid choice
    (parameters not in ``choices`` are not checked)."""
    labels = labels or {}
    notes = []
    for key, values in params.items():
        if key in choices:
            bad = [v for v in values if not _valid(v, choices[key])]
            if bad:
                notes.append(problem_note(labels.get(key, key), bad))
    return notes


def remember_link() -> None:
    """Keep the query parameters this session was opened with (first run only)."""
    ss = st.session_state
    if LINK_PARAMS not in ss:
        ss[LINK_PARAMS] = {k: list(st.query_params.get_all(k)) for k in st.query_params}
        ss[LINK_PROBLEMS] = []
    ss[_REGISTERED] = {}


def take(
    key: str,
    default: Any,
    valid: Validator,
    *,
    convert: Callable[[str], Any] = str,
    many: bool = False,
    label: str | None = None,
) -> None:
    """Apply the link's value for ``key`` (once), and register ``key`` for the URL.

    Call it before drawing the widget with that key. An invalid value is noted and
    dropped: the widget shows its default."""
    ss = st.session_state
    ss.setdefault(_REGISTERED, {})[key] = default
    pending: dict = ss.get(LINK_PARAMS, {})
    if key not in pending:
        # Streamlit forgets a page's widget state while another page runs: bring back the
        # choice the user made on this page, if it is still a valid one
        remembered = ss.get(_MEMORY, {}).get(key)
        if key not in ss and remembered is not None:
            values = remembered if isinstance(remembered, list) else [remembered]
            if all(_valid(str(v), valid) for v in values):
                ss[key] = remembered
        return
    values = pending.pop(key)
    good = [v for v in values if _valid(v, valid)]
    bad = [v for v in values if not _valid(v, valid)]
    if bad:
        ss[LINK_PROBLEMS].append(problem_note(label or key, bad))
    if many:
        ss[key] = [convert(v) for v in good]
    elif good:
        ss[key] = convert(good[-1])


def publish() -> None:
    """Write this run's non-default choices to the URL (defaults stay out)."""
    ss = st.session_state
    out: dict[str, Any] = {}
    memory: dict = ss.setdefault(_MEMORY, {})
    for key, default in ss.get(_REGISTERED, {}).items():
        value = ss.get(key, default)
        if value is None or value == default or value == []:
            memory.pop(key, None)
            continue
        memory[key] = list(value) if isinstance(value, list | tuple) else value
        if isinstance(value, list | tuple):
            out[key] = [str(v) for v in value]
        elif isinstance(value, float) and value.is_integer():
            out[key] = str(int(value))
        else:
            out[key] = str(value)
    current = {k: list(st.query_params.get_all(k)) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in out.items()}
    if current != wanted:
        st.query_params.from_dict(out)


def show_problems() -> None:
    """Say, once, which settings of the link could not be applied."""
    ss = st.session_state
    notes = ss.get(LINK_PROBLEMS) or []
    if notes:
        st.warning(
            "Some settings in this link could not be applied; the defaults are shown "
            "instead.\n\n" + "\n".join(f"- {n}" for n in notes),
            icon=":material/link_off:",
        )
        ss[LINK_PROBLEMS] = []


def current_link() -> str:
    """The full URL of the current view (page and query parameters)."""
    base = str(st.context.url or "").split("?", 1)[0]
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return f"{base}?{query}" if query else base


def copy_link_button() -> None:
    """A 'Copy link' popover: the link with a copy icon, and what the recipient will see."""
    with st.popover("Copy link", icon=":material/link:", width="stretch"):
        st.code(current_link(), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the icon on the right. Whoever opens it (signed in and allowed, "
            "where sign-in is on) sees this dataset, page, instrument, definition and filters."
        )
