"""The benchmark run: sections, the results table, JSON and docs/performance.md."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import cohorts
from bench.context import RESULTS, ROOT, Context, Row, machine

SECTIONS = ("ingest", "derive", "overview", "cli", "pages", "memory", "upload", "models")
DOCS = ROOT / "docs" / "performance.md"
START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()}))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sizes", type=_sizes, default=cohorts.SIZES, help="patients, e.g. 1000,10000")
    p.add_argument(
        "--page-sizes",
        type=_sizes,
        default=(1_000, 10_000, 100_000),
        help="sizes for the AppTest page runs (slow when cold)",
    )
    p.add_argument(
        "--big-pages",
        default="overview",
        help="the pages run at 100,000 patients and more (all pages take many minutes cold)",
    )
    p.add_argument("--upload-sizes", type=_sizes, default=(10_000, 100_000))
    p.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"any of {','.join(SECTIONS)}")
    p.add_argument("--label", default="", help="a name for this run in the JSON file")
    p.add_argument("--no-docs", action="store_true", help="leave docs/performance.md alone")
    return p


def run_models(ctx: Context) -> None:
    """(f) ``bench/bench_models.py``, when the prediction work has added it: its ``run()``
    (own sizes and models) returns a DataFrame with ``patients``, ``model``, ``fit_s``,
    ``cv_s``, ``target_s`` (or a list of :class:`Row`)."""
    path = Path(__file__).with_name("bench_models.py")
    if not path.exists():
        ctx.notes.append("models: bench/bench_models.py not present; skipped")
        return
    spec = importlib.util.spec_from_file_location("bench.bench_models", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench.bench_models"] = module
    spec.loader.exec_module(module)
    result = module.run()
    if hasattr(result, "to_dict"):
        for r in result.to_dict("records"):
            note = f"cv {r.get('cv_s')} s, CPU {r.get('fit_cpu_s')} s, AUROC {r.get('auroc')}"
            target = r.get("target_s")
            ctx.rows.append(
                Row(
                    "models",
                    f"fit_response_model {r.get('model')} ({r.get('features')} features)",
                    int(r.get("patients")),
                    float(r["fit_s"]),
                    [float(r["fit_s"])],
                    target_seconds=None if target is None or target != target else float(target),
                    note=note,
                )
            )
        return
    for r in result or []:
        ctx.rows.append(r if isinstance(r, Row) else Row(**{"section": "models", **dict(r)}))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['nproc']} cores, {info['memory_gb']} GB, "
        f"load {info['load_average']}; Python {info['python']}",
        flush=True,
    )
    ctx = Context(
        sizes=args.sizes, repeats=args.repeats, scratch=Path(tempfile.mkdtemp(prefix="bench-"))
    )
    t_gen = time.perf_counter()
    for n in sorted({*args.sizes, *args.page_sizes}):
        ctx.cohort(n)
    print(f"cohorts ready ({time.perf_counter() - t_gen:.1f} s)", flush=True)

    from bench import library, processes, upload

    extra: dict = {}
    frames: dict = {}

    def frames_needed() -> dict:
        if not frames:
            for n in args.sizes:
                frames[n] = library.load_validated(n, ctx)
        return frames

    steps = {
        "ingest": lambda: library.ingest(ctx),
        "derive": lambda: library.derive(ctx, frames_needed()),
        "overview": lambda: library.overview(ctx, frames_needed()),
        "cli": lambda: processes.cli(ctx, list(args.sizes)),
        "memory": lambda: processes.memory(ctx, list(args.sizes)),
        "pages": lambda: extra.setdefault(
            "pages",
            processes.pages(
                ctx, list(args.page_sizes), max(2, args.repeats - 2), big_pages=args.big_pages
            ),
        ),
        "upload": lambda: extra.setdefault("upload", upload.upload(ctx, list(args.upload_sizes))),
        "models": lambda: run_models(ctx),
    }
    for name in SECTIONS:
        if name not in only:
            continue
        t0 = time.perf_counter()
        before = len(ctx.rows)
        try:
            steps[name]()
        except Exception as exc:  # one broken section must not lose the others' results
            ctx.notes.append(f"{name}: FAILED: {exc!r}")
            traceback.print_exc()
        print(f"\n[{name}] {time.perf_counter() - t0:.1f} s", flush=True)
        print(format_table(ctx.rows[before:]), flush=True)
    frames.clear()

    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print("\n" + format_table(ctx.rows))
    for note in ctx.notes:
        print(f"note: {note}")
    record = {
        "started": started.isoformat(timespec="seconds"),
        "label": args.label,
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": info,
        "rows": [r.record() for r in ctx.rows],
        "notes": ctx.notes,
        "extra": extra,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    (RESULTS / "latest.json").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT)}")
    if not args.no_docs:
        write_docs(record)
        print(f"updated {DOCS.relative_to(ROOT)}")
    return 0


# --- presentation -------------------------------------------------------------------------


def _secs(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x * 1000:,.0f} ms" if x < 1 else f"{x:,.2f} s"


def _value(r: Row | dict) -> str:
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    if get("value") is not None:
        return f"{get('value'):,.0f} {get('unit')}"
    return _secs(get("seconds"))


def _target(r: Row | dict) -> str:
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    if get("target") is not None:
        return f"<= {get('target'):g}x"
    if get("target_seconds") is not None:
        return f"< {_secs(get('target_seconds'))}"
    if get("target_value") is not None:
        return f"< {get('target_value'):,.0f} {get('unit')}"
    return ""


def _cells(r: Row | dict) -> list[str]:
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    ratio = get("ratio") if isinstance(r, dict) else r.ratio
    met = get("met") if isinstance(r, dict) else r.met
    return [
        get("section"),
        get("name"),
        f"{get('size'):,}",
        _value(r),
        get("reference") or "",
        _secs(get("reference_seconds")) if get("reference_seconds") else "",
        f"{ratio:.2f}x" if ratio is not None else "",
        _target(r),
        {True: "met", False: "MISSED", None: ""}[met],
        get("note") or "",
    ]


HEADER = [
    "section",
    "measurement",
    "patients",
    "median",
    "reference",
    "ref. median",
    "ratio",
    "target",
    "",
    "note",
]


def format_table(rows: list[Row]) -> str:
    if not rows:
        return "(no results)"
    body = [_cells(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADER)]
    widths[-1] = min(widths[-1], 60)
    line = "  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c[:w].ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(out)


def markdown_table(rows: list[dict]) -> str:
    out = ["| " + " | ".join(h or "met" for h in HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        cells = [c.replace("|", "/") for c in _cells(r)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_docs(record: dict) -> None:
    m = record["machine"]
    targets = [r for r in record["rows"] if r.get("met") is not None]
    met = sum(1 for r in targets if r["met"])
    lines = [
        START,
        f"## Latest run ({record['started']})",
        "",
        f"Machine: {m['cpu']}, {m['nproc']} cores (`nproc`), {m['memory_gb']} GB memory; "
        f"load average {m['load_average']} at the start and {m.get('load_average_end')} at "
        f"the end (other work on the machine slows both sides of each ratio); "
        f"Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Command: `python -m bench {' '.join(record['argv'])}`.",
        "",
        f"Targets met: {met} of {len(targets)}.",
        "",
        markdown_table(record["rows"]),
        "",
        *(f"- {n}" for n in record["notes"]),
        END,
    ]
    block = "\n".join(lines)
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(text, encoding="utf-8")
