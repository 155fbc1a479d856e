"""``report``: the outcomes report as one HTML file or a PDF (the Report page's document).

    python -m analytics report FILE --instrument ID --out report.html|report.pdf
        [definition flags] [--where COL=VALUE ...] [--by COL] [--sections a,b,...]
        [--features A,B,... [--model logistic|gbm] [--repeats R] [--seed S]]
        [--name NAME] [--synthetic] [--min-cell-size N] [--profile P.toml] [--json]

The same options as ``summary`` (the headline numbers equal ``summary --json``), plus the
output file, the sections, a response model (``--features``, as ``model``) and how the
dataset is named. ``--json`` prints the headline numbers and every table of the report.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path
from typing import Any

from analytics.commands.common import (
    LoadedView,
    add_definition_arguments,
    add_file_argument,
    definition_from_args,
    definition_record,
    read_input,
)
from analytics.errors import DataValidationError

HELP = "the outcomes report as a self-contained HTML file or a PDF (the Report page)"
MIN_CELL_ENV = "OUTCOMES_MIN_CELL_SIZE"
DEMO = Path(__file__).resolve().parents[2] / "sample_data" / "demo_cohort.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from analytics.models import MODEL_KINDS
    from analytics.report import DEFAULT_SECTIONS, SECTIONS

    add_file_argument(p)
    add_definition_arguments(p)
    p.add_argument("--by", default=None, metavar="COL", help="group Table 1 and outcomes by COL")
    p.add_argument(
        "--out", required=True, metavar="FILE.html|FILE.pdf", help="where to write the report"
    )
    p.add_argument(
        "--sections",
        default=None,
        metavar="A,B,...",
        help=f"comma-separated, of {', '.join(SECTIONS)} (default: {','.join(DEFAULT_SECTIONS)}"
        ", and model with --features)",
    )
    p.add_argument(
        "--features", default="", metavar="A,B,...", help="fit a response model (see 'model')"
    )
    p.add_argument("--model", choices=MODEL_KINDS, default="logistic")
    p.add_argument("--repeats", type=int, default=5, help="cross-validation repeats (default 5)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the model")
    p.add_argument("--name", default=None, help="dataset name shown in the report (default: file)")
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="label the data as synthetic (automatic for the bundled demo cohort)",
    )
    p.add_argument(
        "--min-cell-size",
        type=int,
        default=None,
        help=f"small-cell suppression threshold (default: ${MIN_CELL_ENV} or 11)",
    )


def min_cell_size(args: argparse.Namespace) -> int:
    from analytics.suppression import DEFAULT_MIN_CELL_SIZE

    value = args.min_cell_size
    if value is None:
        try:
            value = int(os.environ.get(MIN_CELL_ENV) or DEFAULT_MIN_CELL_SIZE)
        except ValueError:
            value = DEFAULT_MIN_CELL_SIZE
    if value < 1:
        raise DataValidationError("--min-cell-size must be 1 or more")
    return int(value)


def sections_of(args: argparse.Namespace) -> list[str]:
    from analytics.report import DEFAULT_SECTIONS

    if args.sections:
        chosen = [x.strip().lower() for x in args.sections.split(",") if x.strip()]
    else:
        chosen = list(DEFAULT_SECTIONS) + (["model"] if args.features else [])
    if "model" in chosen and not args.features:
        raise DataValidationError("the model section needs --features A,B,...")
    return chosen


def _sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _is_demo(path: str) -> bool:
    try:
        return Path(path).resolve() == DEMO.resolve()
    except OSError:
        return False


def build(args: argparse.Namespace):
    """(report, view): read, validate, filter, derive and build the report."""
    from analytics.filters import apply_filters, parse_where
    from analytics.instruments import get_instrument
    from analytics.outcomes import derive_patient_outcomes
    from analytics.report import ModelRequest, Provenance, build_report
    from analytics.reproduce import Source, command_args, command_text
    from analytics.store import content_hash

    out = str(args.out)
    if Path(out).suffix.lower() not in (".html", ".htm", ".pdf"):
        raise DataValidationError(f"--out '{out}' must end in .html or .pdf")
    chosen = sections_of(args)
    min_cell = min_cell_size(args)
    ingested, result = read_input(args)
    profile = ingested.profile if ingested else None
    registry = profile.registry if profile else None
    inst = get_instrument(args.instrument.strip().lower(), registry)
    definition = definition_from_args(args)
    result.raise_for_errors()
    filters = parse_where(args.where)
    data = apply_filters(result.data, filters)
    outcomes = derive_patient_outcomes(data, inst, definition, registry=registry)
    filter_key = tuple(sorted((k, tuple(v)) for k, v in filters.items()))
    options: list[tuple[str, str | None]] = []
    if args.by:
        options.append(("--by", args.by))
    if args.sections:
        options.append(("--sections", ",".join(chosen)))
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    if features:
        options += [("--features", ",".join(features)), ("--model", args.model)]
        options.append(("--repeats", str(args.repeats)))
        if args.seed is not None:
            options.append(("--seed", str(args.seed)))
    if args.name:
        options.append(("--name", args.name))
    options.append(("--out", Path(out).name))
    source = Source(args.file, args.profile, args.sheet)
    provenance = Provenance(
        dataset_name=args.name or Path(args.file).name,
        dataset_id="(file on the command line; not stored)",
        content_hash=content_hash(result.data),
        synthetic=bool(args.synthetic or _is_demo(args.file)),
        instrument=f"{inst.label} ({inst.name})",
        filters=filter_key,
        min_cell_size=min_cell,
        profile_name=profile.name if profile else None,
        source_file=Path(args.file).name,
        file_sha256=_sha256(args.file),
        command=command_text(
            command_args("report", source, inst, definition, filter_key, options=options)
        ),
    )
    request = None
    if features and "model" in chosen:
        request = ModelRequest(tuple(features), args.model, args.repeats, seed=args.seed)
    report = build_report(
        data,
        outcomes,
        provenance,
        sections=chosen,
        by=args.by,
        min_cell_size=min_cell,
        model=request,
        registry=registry,
    )
    return report, LoadedView(data, inst, definition, filters, outcomes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from analytics.report import render_html

    report, view = build(args)
    out = Path(args.out)
    if out.suffix.lower() == ".pdf":
        from analytics.report_pdf import render_pdf

        payload = render_pdf(report)
    else:
        payload = render_html(report).encode("utf-8")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(payload)
        tmp.replace(out)
    except OSError as exc:
        raise DataValidationError(f"cannot write {out}: {exc}") from None
    d = report.to_dict()
    return {
        "out": str(out),
        "format": "pdf" if out.suffix.lower() == ".pdf" else "html",
        "bytes": len(payload),
        "instrument": view.instrument.id,
        "file": args.file,
        "definition": definition_record(view),
        "definition_text": view.outcomes.describe(),
        "filters": {k: list(v) for k, v in view.filters.items()},
        "by": args.by,
        "sections": [s["key"] for s in d["sections"]],
        "provenance": d["provenance"],
        "headline": d["headline"],
        "tables": {s["key"]: s["tables"] for s in d["sections"]},
        "figures": {s["key"]: s["figures"] for s in d["sections"]},
    }


def format_text(result: dict[str, Any]) -> str:
    h = result["headline"]
    lines = [
        f"Wrote {result['out']} ({result['format'].upper()}, {result['bytes']:,} bytes)",
        f"Sections: {', '.join(result['sections']) or 'none'}",
        f"Instrument: {result['instrument']}",
        *(f"  {t}" for t in result["definition_text"]),
    ]
    if result["filters"]:
        lines.append(f"Filters: {result['filters']}")
    if h.get("n_patients") is not None:
        lines.append(f"Patients: {h['n_patients']} analysed of {h['n_patients_total']}")
    lines.append(f"Content hash: {result['provenance']['content_hash']}")
    return "\n".join(lines)
