"""Reports, per-item exports and the "Reproduce" panel (issue 7, docs/report.md).

- :func:`reproduce_panel`: the exact ``python -m analytics ...`` command that prints a
  page's numbers, the original file it names and the import profile to download;
- :func:`exports_panel` (and :func:`overview_exports`, :func:`section_exports`): every
  table as CSV and XLSX (formula-safe, :mod:`analytics.exports`), every chart as PNG and SVG
  (drawn on click by headless Chromium), and the patient outcomes table as CSV;
- cached builders of the report (:func:`report_html`, :func:`report_pdf`).

Every download is written to the audit log. Tables leave the app as they are shown: with
small-cell suppression applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import report as rp
from analytics.definitions import OutcomeDefinition
from analytics.exports import to_csv_bytes, to_xlsx_bytes
from analytics.outcomes import PatientOutcomes
from analytics.reproduce import Source, command_args, command_text
from analytics.store import content_hash
from ui import cache, config
from ui.audit import record_export
from ui.auth import current_user
from ui.cache import FilterKey
from ui.datasets import DEMO_ID, DEMO_PATH, ROOT, dataset_info, dataset_profile_toml
from ui.sidebar import View

Options = tuple[tuple[str, str | None], ...]


def slug(text: str) -> str:
    """A file-name-safe version of any text (``"PCL-5 by site"`` -> ``"pcl-5_by_site"``)."""
    out = re.sub(r"[^A-Za-z0-9.-]+", "_", str(text).strip().lower()).strip("_.")
    return out[:60] or "export"


# ------------------------------------------------------------------------- reproduce


def dataset_source(view: View) -> tuple[Source, str | None]:
    """How the command line reads this dataset, and the import profile's TOML (or None).

    The demo cohort ships with the app; a stored dataset is named by its original file, with
    ``--profile`` when it came through an import profile (its sheet is in the profile)."""
    info = view.dataset
    if info.id == DEMO_ID:
        return Source(str(DEMO_PATH.relative_to(ROOT))), None
    toml = dataset_profile_toml(info.id)
    file = info.source_file or f"{slug(info.name)}.csv"
    profile = f"{slug(info.profile_name or 'profile')}.toml" if toml else None
    return Source(file, profile), toml


def reproduce_command(view: View, subcommand: str = "summary", options: Options = ()) -> str:
    source, _ = dataset_source(view)
    inst = cache.registry(view.dataset_id)[view.instrument]
    args = command_args(
        subcommand, source, inst, view.definition, view.filters, options=tuple(options)
    )
    return command_text(args)


def reproduce_panel(
    view: View, subcommand: str = "summary", *, options: Options = (), what: str = ""
) -> None:
    """An expander with the command that prints this page's numbers."""
    source, toml = dataset_source(view)
    with st.expander("Reproduce from the command line", icon=":material/terminal:"):
        st.code(reproduce_command(view, subcommand, options), language="bash", wrap_lines=True)
        where = (
            "Run it in the app's folder: the demo file ships with the app."
            if view.dataset_id == DEMO_ID
            else f"Run it beside the original file **{_md(source.file)}**"
            + (
                f" and its import profile **{_md(source.profile)}** (download it below)."
                if source.profile
                else " (canonical long format, no import profile)."
            )
        )
        st.caption(
            f"{what or 'Prints the numbers on this page'} for the same dataset, instrument, "
            f"outcome definition and filters. {where} Add `--json` for machine-readable output."
        )
        if toml:
            st.download_button(
                "Import profile (TOML)",
                toml,
                file_name=source.profile,
                mime="application/toml",
                icon=":material/download:",
                key=f"reproduce_profile_{subcommand}",
                on_click=_audit,
                args=(view.dataset_id, f"import profile {source.profile}"),
            )


def _md(text: str | None) -> str:
    from ui.format import escape_md

    return escape_md(text or "")


# --------------------------------------------------------------------------- exports


def _audit(dataset_id: str, what: str) -> None:
    record_export(current_user(), dataset_id, what)


@st.cache_data(max_entries=64, show_spinner=False)
def _chart_bytes(figure_json: str, fmt: str) -> bytes:
    import plotly.io as pio

    from analytics.report_pdf import figure_image

    return figure_image(pio.from_json(figure_json, skip_invalid=True), fmt)  # type: ignore[arg-type]


def chart_downloads(fig: go.Figure, name: str, *, dataset_id: str, key: str) -> None:
    """PNG and SVG buttons for one chart (drawn by headless Chromium on click)."""
    from analytics.report_pdf import static_export_available

    c1, c2 = st.columns(2)
    if not static_export_available():
        c1.caption(f"{name}: PNG/SVG need Chromium on the server (set CHROMIUM_PATH).")
        return
    import plotly.io as pio

    spec = pio.to_json(fig, validate=False)
    for col, fmt, mime in ((c1, "png", "image/png"), (c2, "svg", "image/svg+xml")):
        col.download_button(
            f"{name} · {fmt.upper()}",
            data=lambda f=fmt: _chart_bytes(spec, f),
            file_name=f"{slug(name)}.{fmt}",
            mime=mime,
            icon=":material/image:",
            key=f"{key}_{fmt}",
            on_click=_audit,
            args=(dataset_id, f"chart {name} ({fmt})"),
        )


def table_downloads(frame: pd.DataFrame, name: str, *, dataset_id: str, key: str) -> None:
    """CSV and XLSX buttons for one table (formula-safe)."""
    c1, c2 = st.columns(2)
    for col, fmt, data, mime in (
        (c1, "csv", lambda: to_csv_bytes(frame), "text/csv"),
        (
            c2,
            "xlsx",
            lambda: to_xlsx_bytes(frame, sheet=slug(name)),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ):
        col.download_button(
            f"{name} · {fmt.upper()}",
            data=data,
            file_name=f"{slug(name)}.{fmt}",
            mime=mime,
            icon=":material/table:",
            key=f"{key}_{fmt}",
            on_click=_audit,
            args=(dataset_id, f"table {name} ({fmt})"),
        )


def patient_outcomes_frame(outcomes: PatientOutcomes) -> pd.DataFrame:
    """The patient outcomes table as exported: one row per patient, every column of
    :mod:`analytics.outcomes` (a patient-level table, not an aggregate)."""
    return outcomes.table.copy()


def patient_outcomes_download(view: View, outcomes: PatientOutcomes, *, key: str) -> None:
    """The patient outcomes table for the current definition as CSV, unless the deployment
    switches patient-level views off."""
    if not config.patient_level_allowed():
        st.caption("Patient-level exports are switched off for this deployment.")
        return
    name = f"patient_outcomes_{view.instrument}"
    st.download_button(
        "Patient outcomes table · CSV",
        data=lambda: to_csv_bytes(patient_outcomes_frame(outcomes)),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/patient_list:",
        key=f"{key}_patients",
        help="One row per patient under the current definition and filters (baseline, "
        "endpoint, change, responder, remitter, reliable change, ...). Patient-level data: "
        "share it only with the treating team.",
        on_click=_audit,
        args=(view.dataset_id, f"patient outcomes table ({view.instrument})"),
    )


def exports_panel(
    view: View,
    outcomes: PatientOutcomes | None,
    *,
    key: str,
    tables: Mapping[str, pd.DataFrame] = {},
    figures: Mapping[str, go.Figure] = {},
) -> None:
    """One expander with a download for every table, every chart and the patient table."""
    with st.expander("Download tables and charts", icon=":material/download:"):
        for i, (name, frame) in enumerate(tables.items()):
            table_downloads(frame, name, dataset_id=view.dataset_id, key=f"{key}_t{i}")
        for i, (name, fig) in enumerate(figures.items()):
            chart_downloads(fig, name, dataset_id=view.dataset_id, key=f"{key}_f{i}")
        if outcomes is not None:
            patient_outcomes_download(view, outcomes, key=key)
        st.caption(
            f"Tables are exported as shown, with small-cell suppression (fewer than "
            f"{config.min_cell_size()} patients). Spreadsheet formulas are neutralised."
        )


def overview_exports(
    view: View,
    outcomes: PatientOutcomes,
    row: pd.Series,
    trajectory: pd.DataFrame,
    fig,
    *,
    severity: go.Figure | None = None,
) -> None:
    """The Overview's downloads: headline numbers, the trajectory and severity charts
    (``severity``: the page's own severity figure, built again when not given)."""
    from analytics.charts import plot_band_distribution

    min_cell = config.min_cell_size()
    numbers = rp.outcome_numbers(row, outcomes, min_cell)
    headline = pd.DataFrame(
        {
            "measure": [n.label for n in numbers],
            "value": [n.text for n in numbers],
            "definition": [n.definition for n in numbers],
        }
    )
    note = " · synthetic demo data" if view.dataset.synthetic else ""
    exports_panel(
        view,
        outcomes,
        key="overview_exports",
        tables={
            "Headline outcomes": headline,
            "Trajectory": trajectory_table(trajectory, min_cell),
        },
        figures={
            "Trajectory": fig,
            "Severity": severity
            if severity is not None
            else plot_band_distribution(outcomes, note=note, min_cell_size=min_cell),
        },
    )


def trajectory_table(trajectory: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    """The Overview's trajectory table with suppressed counts as their label."""
    from analytics.suppression import suppressed_label

    out = trajectory.drop(columns=["suppressed"], errors="ignore").copy()
    if "suppressed" in trajectory:
        hide = trajectory["suppressed"].astype(bool)
        out["n"] = out["n"].astype("object").mask(hide, suppressed_label(min_cell_size))
    return out


@st.cache_resource(max_entries=16, show_spinner="Preparing downloads…")
def _section(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    section: str,
    by: str | None,
    min_cell_size: int,
    synthetic: bool,
) -> rp.Section:
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    data = cache.filtered(dataset_id, filters)
    note = "synthetic demo data" if synthetic else ""
    if section == "responders":
        return rp.responders_section(out, by=by, min_cell_size=min_cell_size, note=note)
    if section == "trajectories":
        return rp.trajectories_section(data, out, by=by, min_cell_size=min_cell_size, note=note)
    if section == "durability":
        return rp.durability_section(data, out, by=by, min_cell_size=min_cell_size, note=note)
    raise ValueError(f"no export section '{section}'")


def section_exports(view: View, section: str, *, by: str | None = None) -> None:
    """Downloads for a page whose tables and charts are those of a report section."""
    args = (view.dataset_id, view.instrument, view.definition, view.filters)
    min_cell = config.min_cell_size()
    sec = _section(*args, section, by, min_cell, view.dataset.synthetic)
    exports_panel(
        view,
        cache.outcomes(*args),
        key=f"{section}_exports",
        tables={t.title: t.frame for t in sec.tables},
        figures={f.title: f.figure for f in sec.figures},
    )


# ---------------------------------------------------------------------------- report


@st.cache_data(max_entries=8, show_spinner=False)
def dataset_hash(dataset_id: str, stored: str) -> str:
    """The stored content hash, or the hash of the validated table (the demo)."""
    return stored or content_hash(cache.dataset(dataset_id))


def model_request() -> rp.ModelRequest | None:
    """The response model fitted on the Prediction page in this session, if any."""
    from ui import state as k

    ss = st.session_state
    fit, features = getattr(k, "PRED_FIT", None), getattr(k, "PRED_FEATURES", None)
    if not fit or not features or not ss.get(fit) or not ss.get(features):
        return None
    return rp.ModelRequest(
        tuple(ss[features]),
        str(ss.get(getattr(k, "PRED_MODEL", ""), "logistic")),
        int(ss.get(getattr(k, "PRED_REPEATS", ""), 5)),
    )


def report_options(
    sections: Sequence[str], by: str | None, model: rp.ModelRequest | None
) -> Options:
    """The report command's own options for these choices."""
    options: list[tuple[str, str | None]] = []
    if by:
        options.append(("--by", by))
    chosen = [s for s in rp.SECTIONS if s in sections]
    if model is not None and "model" in chosen:
        options += [("--features", ",".join(model.features)), ("--model", model.model)]
        options.append(("--repeats", str(model.n_repeats)))
        default = [*rp.DEFAULT_SECTIONS, "model"]
    else:
        chosen = [s for s in chosen if s != "model"]
        default = list(rp.DEFAULT_SECTIONS)
    if chosen != default:
        options.append(("--sections", ",".join(chosen)))
    options.append(("--out", "report.html"))
    return tuple(options)


@st.cache_resource(max_entries=4, show_spinner="Building the report…")
def build_report(
    dataset_id: str,
    instrument: str,
    definition: OutcomeDefinition,
    filters: FilterKey,
    sections: tuple[str, ...],
    by: str | None,
    min_cell_size: int,
    model: rp.ModelRequest | None,
    nonce: str,
) -> rp.Report:
    """The report of a view; ``nonce`` (one per click on "Build") makes each build new."""
    info = dataset_info(dataset_id)
    out = cache.outcomes(dataset_id, instrument, definition, filters)
    view = View(info, instrument, definition, filters)
    inst = out.instrument
    provenance = rp.Provenance(
        dataset_name=info.name,
        dataset_id=info.id,
        content_hash=dataset_hash(dataset_id, info.content_hash),
        synthetic=info.synthetic,
        instrument=f"{inst.label} ({inst.name})",
        filters=filters,
        min_cell_size=min_cell_size,
        profile_name=info.profile_name,
        source_file=info.source_file,
        uploaded_at=info.uploaded_at,
        uploaded_by=info.uploaded_by,
        command=reproduce_command(view, "report", report_options(sections, by, model)),
    )
    return rp.build_report(
        cache.filtered(dataset_id, filters),
        out,
        provenance,
        sections=sections,
        by=by,
        min_cell_size=min_cell_size,
        model=model,
        registry=cache.registry(dataset_id),
    )


ReportKey = tuple[
    str, str, OutcomeDefinition, FilterKey, tuple[str, ...], str | None, int,
    rp.ModelRequest | None, str,
]  # fmt: skip


@st.cache_data(max_entries=4, show_spinner=False)
def report_html(key: ReportKey) -> bytes:
    """The HTML report of :func:`build_report`'s arguments."""
    return rp.render_html(build_report(*key)).encode("utf-8")


@st.cache_data(max_entries=4, show_spinner=False)
def report_pdf(key: ReportKey) -> bytes:
    """The PDF report of :func:`build_report`'s arguments (headless Chromium)."""
    from analytics.report_pdf import render_pdf

    return render_pdf(build_report(*key))


def section_options(section: str, by: str | None) -> Options:
    """``report --sections SECTION`` (with ``--by``): the command for a page whose numbers
    are a report section's; ``--json`` prints its tables."""
    return (*((("--by", by),) if by else ()), ("--sections", section), ("--out", f"{section}.html"))


def mixed_options(time: str, covariates: Sequence[str], random_slope: bool, reml: bool) -> Options:
    """The ``mixed`` command's options for the Statistics page's choices."""
    out: list[tuple[str, str | None]] = [("--time", time)]
    if covariates:
        out.append(("--covariates", ",".join(covariates)))
    if random_slope:
        out.append(("--random-slope", None))
    if reml:
        out.append(("--reml", None))
    return tuple(out)


def model_options(features: Sequence[str], model: str, n_repeats: int) -> Options:
    """The ``model`` command's options for the Prediction page's choices."""
    return (("--features", ",".join(features)), ("--model", model), ("--repeats", str(n_repeats)))
