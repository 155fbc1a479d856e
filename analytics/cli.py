"""Command line: reproduces the dashboard's numbers (DESIGN.md §6).

    python -m analytics validate FILE [--profile P.toml] [--json]
    python -m analytics summary FILE --instrument ID [--endpoint last|infusions:N|day:D[+-W]]
        [--response-pct P] [--remission-below S] [--population all|completers]
        [--where COL=VALUE ...] [--by COL] [--profile P.toml] [--json]

Each subcommand lives in ``analytics/commands/<name>.py`` (see that package's docstring)
and is listed in :data:`COMMANDS`. Exit code 0 on success, 2 on bad input (message on
stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from analytics import __version__
from analytics.errors import DataValidationError

EXIT_BAD_INPUT = 2
COMMANDS: tuple[str, ...] = ("validate", "summary", "mixed", "model", "report")


def command(name: str) -> ModuleType:
    return importlib.import_module(f"analytics.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Infusion Outcomes: reproduce the dashboard's numbers from a file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        mod = command(name)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def run_summary(args: argparse.Namespace) -> dict[str, Any]:
    """The ``summary`` result (kept for callers that build args with :func:`build_parser`)."""
    return command("summary").run(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mod = command(args.command)
    try:
        result = mod.run(args)
    except DataValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        print(json.dumps(result, indent=2) if args.json else mod.format_text(result))
    except BrokenPipeError:  # `| head` closed the pipe: not an error of the input
        sys.stderr.close()
        return 0
    code = mod.exit_code(result) if hasattr(mod, "exit_code") else 0
    if code:
        print(f"{args.file}: {result.get('n_errors', '')} errors (see the report)", file=sys.stderr)
    return code
