"""``validate``: the validation report, every problem with its row and column."""

from __future__ import annotations

import argparse
from typing import Any

from analytics.commands.common import add_file_argument, read_input
from analytics.commands.summary import clean

HELP = "print the validation report (errors exclude a row, warnings keep it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_file_argument(p)


def run(args: argparse.Namespace) -> dict[str, Any]:
    _, result = read_input(args)
    issues = [
        {k: clean(v) for k, v in rec.items()} for rec in result.issues.to_dict(orient="records")
    ]
    return {
        "file": args.file,
        "n_rows_read": result.n_rows_read,
        "n_rows_loaded": len(result.data),
        "n_rows_excluded": int(result.errors["row"].nunique()),
        "n_errors": len(result.errors),
        "n_warnings": len(result.warnings),
        "n_patients": int(result.data["patient_id"].nunique()),
        "summary": result.summary_line(),
        "issues": issues,
    }


def exit_code(result: dict[str, Any]) -> int:
    return 2 if result["n_errors"] else 0


def format_text(rec: dict[str, Any]) -> str:
    lines = [f"{rec['file']}: {rec['summary']}"]
    for i in rec["issues"]:
        lines.append(
            f"  {i['severity']}: row {i['row']}, column '{i['column']}', "
            f"value {i['value']!r}: {i['message']}"
        )
    return "\n".join(lines)
