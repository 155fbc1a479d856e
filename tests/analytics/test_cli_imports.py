"""The command line starts fast: parsing arguments imports none of the heavy libraries, and
``summary`` and ``validate`` never import them (issue 8: the CLI as a whole process).

Checked by behaviour, not by timing: a fresh interpreter runs ``analytics.cli.main`` through
a tiny ``-c`` wrapper that then prints ``sorted(sys.modules)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DEMO = "sample_data/demo_cohort.csv"
HEAVY = ("statsmodels", "sklearn", "scipy.stats", "plotly", "lifelines", "streamlit")
MARK = "--- modules ---"

# Runs main(argv) as `python -m analytics` would, then prints the loaded modules after MARK.
WRAPPER = f"""
import json, sys
from analytics.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help and usage errors exit from argparse
    code = exc.code
sys.stdout.flush()
print({MARK!r})
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


def loaded_modules(*argv: str, wrapper: str = WRAPPER) -> tuple[int, set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert MARK in proc.stdout, proc.stderr
    out, _, tail = proc.stdout.rpartition(MARK)
    report = json.loads(tail)
    return report["code"], set(report["modules"]), out


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules))


def test_the_check_sees_a_heavy_import():
    """The wrapper really reports what was imported (guards against a vacuous pass)."""
    wrapper = WRAPPER.replace("code = main(sys.argv[1:])", "import analytics.mixed; code = 0")
    _, modules, _ = loaded_modules(wrapper=wrapper)
    assert heavy_in(modules) == ["scipy.stats", "statsmodels"]


def test_summary_imports_no_heavy_library():
    code, modules, out = loaded_modules("summary", DEMO, "--instrument", "pcl5", "--json")
    assert code == 0
    assert json.loads(out)["n_patients"] > 0
    assert heavy_in(modules) == []


def test_summary_by_and_where_import_no_heavy_library():
    code, modules, out = loaded_modules(
        "summary", DEMO, "--instrument", "pcl5", "--by", "site", "--where", "sex=Female"
    )
    assert code == 0
    assert "site = " in out
    assert heavy_in(modules) == []


def test_validate_imports_no_heavy_library():
    code, modules, out = loaded_modules("validate", DEMO, "--json")
    assert code == 0
    assert json.loads(out)["n_errors"] == 0
    assert heavy_in(modules) == []


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_imports_no_heavy_library(command):
    argv = ["--help"] if command is None else [command, "--help"]
    code, modules, out = loaded_modules(*argv)
    assert code == 0
    assert "usage: python -m analytics" in out
    assert heavy_in(modules) == []


def test_a_usage_error_imports_no_heavy_library():
    code, modules, _ = loaded_modules("model", DEMO, "--instrument", "pcl5")  # no --features
    assert code == 2
    assert heavy_in(modules) == []
