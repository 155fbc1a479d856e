"""The layering of DESIGN.md §2: pages -> ui -> analytics, never back; no Streamlit in
analytics; caching only in ui."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("analytics"), ids=lambda p: p.name)
def test_analytics_imports_neither_streamlit_nor_ui(path):
    top = {m.split(".")[0] for m in imported_modules(path)}
    assert "streamlit" not in top, f"{path} imports streamlit"
    assert not top & {"ui", "pages"}, f"{path} imports the UI layer"


@pytest.mark.parametrize("path", files("ui"), ids=lambda p: p.name)
def test_ui_does_not_import_pages(path):
    assert "pages" not in {m.split(".")[0] for m in imported_modules(path)}


def test_caching_only_in_ui():
    for folder in ("analytics", "pages"):
        for path in files(folder):
            text = path.read_text(encoding="utf-8")
            assert "cache_data" not in text and "cache_resource" not in text, path


def test_analytics_is_importable_without_streamlit_loaded():
    import subprocess
    import sys

    code = (
        "import sys, analytics.cli, analytics.outcomes, analytics.stats, analytics.charts;"
        "sys.exit(1 if 'streamlit' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
