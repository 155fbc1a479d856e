"""Number formatting for display (pure functions, no Streamlit)."""

from __future__ import annotations

import math


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x: float | None, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{x:,.{digits}f}"


def signed(x: float | None, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{x:+,.{digits}f}".replace("-", "−")


def ci(low: float | None, high: float | None, digits: int = 1, unit: str = "") -> str:
    if _missing(low) or _missing(high):
        return "95% CI not estimable"
    return f"95% CI {low:,.{digits}f}{unit} to {high:,.{digits}f}{unit}".replace("-", "−")


def pct(x: float | None, digits: int = 0) -> str:
    return "—" if _missing(x) else f"{x:.{digits}f}%"


def p_value(p: float | None) -> str:
    if _missing(p):
        return "—"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


ACRONYMS = {"aud", "bmi", "mdd", "ptsd", "iv", "im", "id", "mg", "kg", "gad", "phq", "pcl"}


def column_label(column: str) -> str:
    """``family_history_aud`` -> ``Family history AUD`` (any uploaded column name works)."""
    words = str(column).replace("_", " ").replace(".", " ").split()
    out = [w.upper() if w.lower() in ACRONYMS else w for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


# What can start markup inside one line of Streamlit markdown: emphasis, code, links and
# images ([ ] !), HTML (< >), strikethrough (~), LaTeX ($), tables (|), headings (#).
# Hyphens, dots and parentheses stay as they are ("PCL-5", "Age (years)").
_MD_SPECIAL = "\\`*_[]<>!~$|#"


def escape_md(text: object) -> str:
    """User-supplied text made inert in Streamlit markdown (labels, captions, messages):
    every markdown character is backslash-escaped, so no link, image or HTML can form."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))
