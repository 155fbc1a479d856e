"""The reproduce command: flags for every part of the definition that differs from the
command line's defaults, one --where per filter value, shell quoting; parsed back by the CLI
it gives the same definition, and run it prints the same numbers."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.cli import build_parser, run_summary
from analytics.commands.common import definition_from_args
from analytics.definitions import OutcomeDefinition
from analytics.instruments import get_instrument
from analytics.reproduce import Source, command_args, command_text, definition_args, unsupported

ROOT = Path(__file__).resolve().parents[2]
DEMO = "sample_data/demo_cohort.csv"
PCL5 = get_instrument("pcl5")


def test_defaults_are_left_out():
    args = command_args("summary", Source(DEMO), PCL5, OutcomeDefinition(response_pct=30.0))
    assert args == ["python", "-m", "analytics", "summary", DEMO, "--instrument", "pcl5"]


@pytest.mark.parametrize(
    ("definition", "flags"),
    [
        (OutcomeDefinition(endpoint="infusions:6"), ["--endpoint", "infusions:6"]),
        (OutcomeDefinition(endpoint="day:45+-7"), ["--endpoint", "day:45+-7"]),
        (OutcomeDefinition(population="completers"), ["--population", "completers"]),
        (OutcomeDefinition(response_pct=50.0), ["--response-pct", "50"]),
        (OutcomeDefinition(remission_below=28.0), ["--remission-below", "28"]),
        (OutcomeDefinition(remission_below=33.0), []),
        (OutcomeDefinition(baseline_window_days=14), ["--baseline-window", "14"]),
        (OutcomeDefinition(response_pct=37.5), ["--response-pct", "37.5"]),
    ],
)
def test_definition_flags(definition, flags):
    assert definition_args(definition, PCL5) == flags


def test_filters_profile_sheet_and_options_with_quoting():
    args = command_args(
        "mixed",
        Source("Clinic export (May).xlsx", "clinic_ehr.toml", "Scores"),
        PCL5,
        OutcomeDefinition(),
        (("site", ("Clinic A", "Clinic B")), ("sex", ("Female",))),
        options=(("--covariates", "age_band,sex"), ("--reml", None)),
    )
    text = command_text(args)
    assert text == (
        "python -m analytics mixed 'Clinic export (May).xlsx' --profile clinic_ehr.toml "
        "--sheet Scores --instrument pcl5 --where 'site=Clinic A' --where 'site=Clinic B' "
        "--where sex=Female --covariates age_band,sex --reml"
    )
    assert shlex.split(text) == args


def test_markup_and_shell_characters_are_quoted():
    args = command_args(
        "summary", Source("a;b.csv"), PCL5, OutcomeDefinition(), (("<b>$x", ("`rm -rf`",)),)
    )
    assert shlex.split(command_text(args)) == args


def test_the_command_line_parses_it_back_to_the_same_definition():
    definition = OutcomeDefinition(
        endpoint="day:30+-5", population="completers", response_pct=45.0, remission_below=25.0
    )
    args = command_args("summary", Source(DEMO), PCL5, definition, (("site", ("Clinic A",)),))
    ns = build_parser().parse_args(args[3:])
    assert definition_from_args(ns) == definition
    assert ns.where == ["site=Clinic A"]
    assert unsupported(definition) == []
    assert unsupported(OutcomeDefinition(rci_points=10)) == ["a custom reliable-change threshold"]


def test_running_the_command_prints_the_same_numbers():
    definition = OutcomeDefinition(endpoint="infusions:6", response_pct=50.0)
    filters = (("site", ("Clinic A",)),)
    text = command_text(
        command_args("summary", Source(DEMO), get_instrument("phq9"), definition, filters)
    )
    argv = shlex.split(text)
    assert argv[:3] == ["python", "-m", "analytics"]
    out = subprocess.run(
        [sys.executable, *argv[1:], "--json"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout)
    view = ["--instrument", "phq9", "--endpoint", "infusions:6", "--response-pct", "50"]
    ns = build_parser().parse_args(["summary", DEMO, *view, "--where", "site=Clinic A"])
    ns.file = str(ROOT / DEMO)
    want = run_summary(ns)
    assert got["responders"] == want["responders"]
    assert got["mean_change"] == pytest.approx(want["mean_change"])
    assert got["n_patients"] == want["n_patients"]
