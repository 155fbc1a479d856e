"""The outcomes report: a board-ready document of one view, every number beside its
definition, with the data's provenance (docs/report.md).

:func:`build_report` turns a view (the filtered canonical table and its patient outcomes
table) into a :class:`Report`: sections of numbers, tables and plotly figures, built by the
same library functions as the pages and the command line, with small-cell suppression
applied. :func:`render_html` writes it as one self-contained HTML file (plotly.js inline,
interactive charts, no external request when opened offline; every piece of user-supplied
text escaped). :mod:`analytics.report_pdf` prints the same document as a PDF with static
charts.

Sections (:data:`SECTIONS`): ``cohort`` (Table 1 of the patient-level covariates by group),
``outcomes`` (the headline numbers of ``python -m analytics summary``), ``trajectories``,
``responders`` (rates, reliable change, severity transitions, cumulative response, early
signals), ``durability`` (Kaplan-Meier time to response and to loss of response) and
``model`` (a cross-validated response model and its model card; only when features are
given). Patient-level charts (waterfall, individual trajectories) are left out: a report is
made to leave the clinical team.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics import __version__
from analytics import schema as s
from analytics.covariates import patient_covariates
from analytics.errors import DataValidationError
from analytics.instruments import Instrument
from analytics.outcomes import PatientOutcomes
from analytics.stats import summarise_outcomes
from analytics.suppression import (
    COMPLEMENTARY,
    DEFAULT_MIN_CELL_SIZE,
    PRIMARY,
    complementary_suppression,
    display_counts,
    is_small,
    protect_cells,
    suppressed_label,
)
from analytics.table_one import summarise_cohort

if TYPE_CHECKING:  # plotly is imported where figures are rendered
    import plotly.graph_objects as go

SECTIONS: dict[str, str] = {
    "cohort": "Cohort",
    "outcomes": "Headline outcomes",
    "trajectories": "Trajectories",
    "responders": "Responders and reliable change",
    "durability": "Durability",
    "model": "Response model",
}
DEFAULT_SECTIONS: tuple[str, ...] = (
    "cohort",
    "outcomes",
    "trajectories",
    "responders",
    "durability",
)
HIDDEN = "hidden"
SUPPRESSED = "suppressed"
SYNTHETIC_NOTE = "Synthetic demo data: generated patients, not a real clinic."


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Provenance:
    """Where the numbers come from. ``generated`` is UTC ISO-8601; ``command`` reproduces
    the report from the command line; ``file_sha256`` is the input file's hash (command line
    only); ``content_hash`` that of the validated canonical table (:func:`analytics.store.
    content_hash`: independent of row and column order)."""

    dataset_name: str
    dataset_id: str
    content_hash: str
    synthetic: bool
    instrument: str
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE
    generated: str = ""
    app_version: str = __version__
    profile_name: str | None = None
    source_file: str | None = None
    file_sha256: str | None = None
    uploaded_at: str | None = None
    uploaded_by: str | None = None
    command: str = ""

    def filters_text(self) -> str:
        if not self.filters:
            return "none (all patients)"
        return "; ".join(f"{col} = {' or '.join(values)}" for col, values in self.filters)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for display, in order."""
        rows = [
            ("Dataset", self.dataset_name + (" (synthetic demo data)" if self.synthetic else "")),
            ("Dataset id", self.dataset_id),
            ("Content hash (SHA-256 of the validated data)", self.content_hash or "—"),
        ]
        if self.source_file:
            rows.append(("Source file", self.source_file))
        if self.file_sha256:
            rows.append(("Source file SHA-256", self.file_sha256))
        rows.append(("Import profile", self.profile_name or "none (canonical long format)"))
        if self.uploaded_at:
            who = f" by {self.uploaded_by}" if self.uploaded_by else ""
            rows.append(("Uploaded", f"{self.uploaded_at}{who}"))
        rows += [
            ("Instrument", self.instrument),
            ("Filters", self.filters_text()),
            ("Generated", self.generated or now_text()),
            ("App version", f"Infusion Outcomes {self.app_version}"),
            (
                "Small-cell suppression",
                f"counts of 1 to {self.min_cell_size - 1} patients shown as "
                f"'{suppressed_label(self.min_cell_size)}'; 'hidden' where a small count could "
                "be worked out from the totals",
            ),
        ]
        if self.command:
            rows.append(("Reproduce with", self.command))
        return rows


@dataclass(frozen=True)
class Number:
    """One headline figure: ``parts`` are (text, key) pairs; a part with a key is a number
    that equals the ``summary --json`` value of that key (rounded as shown)."""

    label: str
    parts: tuple[tuple[str, str | None], ...]
    definition: str

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.parts)


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    frame: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    figure: go.Figure
    caption: str = ""


@dataclass(frozen=True)
class Text:
    text: str


Item = Table | Figure | Text


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...] = ()
    numbers: tuple[Number, ...] = ()
    definitions: tuple[str, ...] = ()

    @property
    def tables(self) -> list[Table]:
        return [i for i in self.items if isinstance(i, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [i for i in self.items if isinstance(i, Figure)]


@dataclass(frozen=True)
class Report:
    title: str
    provenance: Provenance
    definition: tuple[str, ...]
    sections: tuple[Section, ...]
    headline: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tables(self) -> list[Table]:
        return [t for sec in self.sections for t in sec.tables]

    @property
    def figures(self) -> list[Figure]:
        return [f for sec in self.sections for f in sec.figures]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: provenance, definition, headline (``summary --json`` keys) and every
        table as records of its displayed text."""
        return {
            "title": self.title,
            "provenance": {k: v for k, v in self.provenance.__dict__.items()},
            "definition": list(self.definition),
            "headline": dict(self.headline),
            "sections": [
                {
                    "key": sec.key,
                    "title": sec.title,
                    "tables": {
                        t.key: t.frame.astype(str).to_dict(orient="records") for t in sec.tables
                    },
                    "figures": [f.key for f in sec.figures],
                }
                for sec in self.sections
            ],
        }


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------ number formats


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and not np.isfinite(x))


def num(x: Any, digits: int = 1) -> str:
    return "—" if _missing(x) else f"{float(x):.{digits}f}"


def p_text(p: Any) -> str:
    if _missing(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _p_parts(p: Any) -> tuple[tuple[str, str | None], ...]:
    if _missing(p):
        return ((", p = —", None),)
    if p < 0.001:
        return ((", p < 0.001", None),)
    return ((", p = ", None), (f"{p:.3f}", "p_value"))


def clean(value: Any) -> Any:
    """JSON-safe scalars (numpy -> Python, NaN -> None)."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def headline_record(row: pd.Series) -> dict[str, Any]:
    """One row of :func:`analytics.stats.summarise_outcomes` with the keys of
    ``python -m analytics summary --json`` (flat: ``responders_pct`` for
    ``responders.pct``)."""
    return {k: clean(v) for k, v in row.items() if k != "group"}


# ------------------------------------------------------------------------------ sections


def _definition_line(outcomes: PatientOutcomes) -> str:
    from analytics.charts_trajectories import definition_text

    return definition_text(outcomes.resolved)


def cohort_section(
    outcomes: PatientOutcomes,
    covariates: Sequence[str],
    *,
    by: str | None,
    min_cell_size: int,
) -> Section:
    inst = outcomes.instrument
    t1 = summarise_cohort(
        outcomes.table, columns=list(covariates), by=by, min_cell_size=min_cell_size
    )
    n = len(outcomes.table)
    intro = (
        f"Patients with any {inst.label} assessment after the filters ({_count(n, min_cell_size)}),"
        + (f" by {by}." if by else " overall.")
        + " Characteristics are as recorded once per patient in the data."
    )
    caption = " ".join(t1.describe())
    return Section(
        "cohort",
        SECTIONS["cohort"],
        items=(
            Text(intro),
            Table("table_one", "Table 1. Patient characteristics", t1.table, caption),
        ),
        definitions=tuple(t1.describe()),
    )


def _count(n: int, min_cell_size: int) -> str:
    return suppressed_label(min_cell_size) if is_small(n, min_cell_size) else f"{int(n):,}"


def outcome_numbers(row: pd.Series, outcomes: PatientOutcomes, min_cell_size: int) -> list[Number]:
    """The headline numbers with their definitions (suppressed as on the Overview)."""
    inst, resolved = outcomes.instrument, outcomes.resolved
    n = int(row["n_patients"])
    few = is_small(n, min_cell_size)
    endpoint = resolved.definition.endpoint_rule.describe()
    out = [
        Number(
            "Patients with an assessment",
            ((_count(int(row["n_patients_total"]), min_cell_size), "n_patients_total"),),
            f"patients with any {inst.label} assessment after the filters",
        ),
        Number(
            "Patients analysed",
            ((_count(n, min_cell_size), "n_patients"),),
            f"with a baseline and an endpoint ({endpoint})",
        ),
    ]
    if int(row["n_carried_forward"]):
        out.append(
            Number(
                "Endpoint carried forward",
                ((_count(int(row["n_carried_forward"]), min_cell_size), "n_carried_forward"),),
                "population 'all' with a fixed endpoint: patients who did not reach it "
                "contribute their last assessment before it",
            )
        )
    if int(row["n_zero_baseline"]):
        out.append(
            Number(
                "Baseline of 0",
                ((_count(int(row["n_zero_baseline"]), min_cell_size), "n_zero_baseline"),),
                "no percent change: excluded from response",
            )
        )
    if few:
        out.append(
            Number(
                "Scores and change",
                ((SUPPRESSED, None),),
                f"fewer than {min_cell_size} patients analysed: not shown",
            )
        )
    else:
        out += [
            Number(
                "Baseline mean (SD)",
                (
                    (num(row["baseline_mean"]), "baseline_mean"),
                    (" (", None),
                    (num(row["baseline_sd"]), "baseline_sd"),
                    (")", None),
                ),
                f"{inst.label} total score (points) at baseline: the latest pre-treatment "
                "assessment",
            ),
            Number(
                "Endpoint mean (SD)",
                (
                    (num(row["endpoint_mean"]), "endpoint_mean"),
                    (" (", None),
                    (num(row["endpoint_sd"]), "endpoint_sd"),
                    (")", None),
                ),
                f"{inst.label} total score (points) at the endpoint: {endpoint}",
            ),
            Number(
                "Mean change (95% CI)",
                (
                    (num(row["mean_change"]), "mean_change"),
                    (" (", None),
                    (num(row["mean_change_ci95_low"]), "mean_change_ci95_low"),
                    (" to ", None),
                    (num(row["mean_change_ci95_high"]), "mean_change_ci95_high"),
                    (")", None),
                ),
                "endpoint minus baseline, points (negative = fewer symptoms on a "
                "higher-is-worse scale); t-based 95% CI",
            ),
            Number(
                "Paired t-test",
                (
                    ("t = ", None),
                    (num(row["t_statistic"], 2), "t_statistic"),
                    *_p_parts(row["p_value"]),
                ),
                "paired t-test of endpoint against baseline, two-sided",
            ),
            Number(
                "Cohen's d_z",
                ((num(row["cohens_dz"], 2), "cohens_dz"),),
                "mean change divided by the SD of change",
            ),
        ]
    for prefix, label, what in (
        ("responders", "Responders", resolved.describe_response()),
        ("remitters", "Remitters", resolved.describe_remission()),
    ):
        k, big_n = int(row[f"{prefix}_n"]), int(row[f"{prefix}_N"])
        hide = is_small(np.array([k, big_n - k, big_n]), min_cell_size).any()
        if big_n == 0:
            parts: tuple[tuple[str, str | None], ...] = (("not defined", None),)
        elif hide:
            parts = ((SUPPRESSED, None), (f" (of {_count(big_n, min_cell_size)})", None))
        else:
            parts = (
                (f"{k:,}", f"{prefix}_n"),
                ("/", None),
                (f"{big_n:,}", f"{prefix}_N"),
                (" = ", None),
                (num(row[f"{prefix}_pct"]), f"{prefix}_pct"),
                ("% (", None),
                (num(row[f"{prefix}_ci95_low"]), f"{prefix}_ci95_low"),
                ("% to ", None),
                (num(row[f"{prefix}_ci95_high"]), f"{prefix}_ci95_high"),
                ("%)", None),
            )
        out.append(
            Number(
                f"{label}, n/N = % (95% CI)",
                parts,
                f"{what}; Wilson score 95% CI; denominator: analysed patients with the outcome "
                "defined",
            )
        )
    rc = outcomes.reliable_change
    if rc.method != "unavailable":
        counts = np.array(
            [
                row["reliably_improved_n"],
                row["no_reliable_change_n"],
                row["reliably_deteriorated_n"],
                row["reliable_change_N"],
            ],
            dtype="float64",
        )
        sup = protect_cells(counts, [[0, 1, 2, 3]], min_cell_size=min_cell_size, published=[3])
        keys = ("reliably_improved_n", "no_reliable_change_n", "reliably_deteriorated_n")
        words = ("improved ", "; no reliable change ", "; deteriorated ")

        def shown(i: int) -> str:
            if not sup[i]:
                return f"{int(counts[i]):,}"
            return suppressed_label(min_cell_size) if is_small(counts[i], min_cell_size) else HIDDEN

        parts = []
        for i, (key, word) in enumerate(zip(keys, words, strict=True)):
            parts += [(word, None), (shown(i), None if sup[i] else key)]
        parts += [("; of ", None), (_count(int(counts[3]), min_cell_size), "reliable_change_N")]
        out.append(Number("Reliable change", tuple(parts), rc.describe()))
        cs = int(row["clinically_significant_n"])
        if inst.caseness_cutoff is not None:
            out.append(
                Number(
                    "Clinically significant change",
                    (
                        (
                            _count(cs, min_cell_size),
                            None if is_small(cs, min_cell_size) else "clinically_significant_n",
                        ),
                    ),
                    "reliably improved and moved from at or above the caseness cut-off "
                    f"({inst.caseness_cutoff:g}) to below it",
                )
            )
    return out


def group_outcomes_table(
    outcomes: PatientOutcomes, summary: pd.DataFrame, *, by: str, min_cell_size: int
) -> pd.DataFrame:
    """Per group: patients analysed, baseline mean, mean change (95% CI), response and
    remission (95% CI), suppressed (groups hidden as in :func:`complementary_suppression`,
    rates as in :func:`analytics.responders.rate_table`)."""
    from analytics.responders import rate_table

    groups = summary.iloc[1:].reset_index(drop=True)
    hide = complementary_suppression(groups["n_patients"].to_numpy(), min_cell_size)
    rates = rate_table(outcomes, by=by, min_cell_size=min_cell_size)
    rows = []
    for i, g in groups.iterrows():
        label = str(g["group"])
        n = int(g["n_patients"])
        row = {by: label}
        if hide[i]:
            row["Patients analysed"] = (
                suppressed_label(min_cell_size) if is_small(n, min_cell_size) else HIDDEN
            )
            row["Baseline mean (SD)"] = row["Mean change (95% CI)"] = ""
        else:
            row["Patients analysed"] = f"{n:,}"
            row["Baseline mean (SD)"] = f"{num(g['baseline_mean'])} ({num(g['baseline_sd'])})"
            row["Mean change (95% CI)"] = (
                f"{num(g['mean_change'])} ({num(g['mean_change_ci95_low'])} to "
                f"{num(g['mean_change_ci95_high'])})"
            )
        for measure, col in (("Response", "Responders"), ("Remission", "Remitters")):
            r = rates[(rates["measure"] == measure) & (rates["group"] == label)]
            if r.empty:
                continue
            r = r.iloc[0]
            if r["suppressed"] or hide[i]:
                text = suppressed_label(min_cell_size) if r["suppressed"] == PRIMARY else HIDDEN
            else:
                text = (
                    f"{int(r['n_events']):,}/{int(r['n_patients']):,} = {num(r['pct'])}% "
                    f"({num(r['ci95_low'])}% to {num(r['ci95_high'])}%)"
                )
            row[f"{col}, n/N = % (95% CI)"] = text
        rows.append(row)
    return pd.DataFrame(rows)


def outcomes_section(
    outcomes: PatientOutcomes, *, by: str | None, min_cell_size: int
) -> tuple[Section, dict[str, Any]]:
    summary = summarise_outcomes(outcomes, by=by)
    row = summary.iloc[0]
    numbers = outcome_numbers(row, outcomes, min_cell_size)
    items: list[Item] = [
        Text(
            "The numbers of `python -m analytics summary` for the same data, filters and "
            "definition; each beside its definition."
        )
    ]
    if by:
        items.append(
            Table(
                "outcomes_by_group",
                f"Outcomes by {by}",
                group_outcomes_table(outcomes, summary, by=by, min_cell_size=min_cell_size),
                "Mean change: endpoint minus baseline (points), t-based 95% CI. Response and "
                "remission: Wilson 95% CIs. Groups under "
                f"{min_cell_size} patients are not shown ('{suppressed_label(min_cell_size)}'), "
                "and a further group is hidden ('hidden') where a small one could be worked out "
                "from the total.",
            )
        )
    headline_table = pd.DataFrame(
        {
            "Measure": [x.label for x in numbers],
            "Value": [x.text for x in numbers],
            "Definition": [x.definition for x in numbers],
        }
    )
    items.insert(1, Table("headline", "Headline outcomes", headline_table, ""))
    section = Section(
        "outcomes",
        SECTIONS["outcomes"],
        items=tuple(items),
        numbers=tuple(numbers),
        definitions=tuple(outcomes.describe()),
    )
    return section, headline_record(row)


def trajectories_section(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    by: str | None,
    min_cell_size: int,
    note: str,
) -> Section:
    from analytics.charts_trajectories import plot_time_course
    from analytics.trajectory_stats import (
        group_labels,
        patient_points,
        summarise_time_course,
        suppress_time_course,
    )

    inst = outcomes.instrument
    definition = _definition_line(outcomes)
    n_base = int(outcomes.table["baseline_score"].notna().sum())
    items: list[Item] = [
        Text(
            "Mean score with its t-based 95% CI at each time point. Each patient with a "
            "baseline contributes the baseline and, for each number of infusions received, the "
            "first assessment after that many infusions; on the day axis, assessments are "
            f"binned. Points over fewer than {min_cell_size} patients are hidden."
        )
    ]
    groups = group_labels(outcomes, by) if by else None
    for time, title in (
        ("infusions", "by infusions received"),
        ("day", "by days since the first infusion"),
    ):
        points = patient_points(data, outcomes, time=time)
        if not (points["time"] > 0).any():
            continue
        summary = summarise_time_course(points, value="score", statistic="mean", groups=groups)
        summary = suppress_time_course(summary, min_cell_size=min_cell_size)
        fig = plot_time_course(
            summary,
            [inst],
            value="score",
            statistic="mean",
            time=time,
            n_patients=n_base,
            definition=definition,
            note=note,
            show_bands=True,
            min_cell_size=min_cell_size,
            split_label=by,
        )
        items.append(Figure(f"trajectory_{time}", f"{inst.label} {title}", fig))
        items.append(
            Table(
                f"trajectory_{time}",
                f"{inst.label} {title}: numbers behind the chart",
                _time_course_table(summary, min_cell_size),
                "Patients: with a score at that time point. Mean with t-based 95% CI.",
            )
        )
    return Section(
        "trajectories", SECTIONS["trajectories"], items=tuple(items), definitions=(definition,)
    )


def _time_course_table(summary: pd.DataFrame, min_cell_size: int) -> pd.DataFrame:
    status = summary["suppressed"]
    n = summary["n"].map("{:,}".format)
    n = n.mask(status == PRIMARY, suppressed_label(min_cell_size))
    n = n.mask(status == COMPLEMENTARY, HIDDEN)
    out = pd.DataFrame({"Time": summary["time_label"].astype(str)})
    if (summary["group"] != "All").any():
        out["Group"] = summary["group"].astype(str)
    out["Patients"] = n
    out["Mean"] = summary["centre"].map(num)
    out["95% CI"] = [
        "" if _missing(lo) else f"{num(lo)} to {num(hi)}"
        for lo, hi in zip(summary["ci95_low"], summary["ci95_high"], strict=True)
    ]
    return out


def _status_text(n: float, status: str, min_cell_size: int, pct: float | None = None) -> str:
    if status == PRIMARY:
        return suppressed_label(min_cell_size)
    if status:
        return HIDDEN
    return f"{int(n):,}" + ("" if pct is None or _missing(pct) else f" ({num(pct)}%)")


def responders_section(
    outcomes: PatientOutcomes, *, by: str | None, min_cell_size: int, note: str
) -> Section:
    from analytics import charts_responders as ch
    from analytics import responders as r

    resolved = outcomes.resolved
    opts = dict(definition=_definition_line(outcomes), min_cell_size=min_cell_size, note=note)
    items: list[Item] = []
    rates = r.rate_table(outcomes, by=by, min_cell_size=min_cell_size)
    if not rates.empty:
        items.append(
            Figure(
                "rates",
                "Response and remission",
                ch.plot_rate_forest(rates, resolved, split_label=by, **opts),
            )
        )
        text = rates.copy()
        items.append(
            Table(
                "rates",
                "Response and remission rates",
                pd.DataFrame(
                    {
                        "Measure": text["measure"],
                        "Group": text["group"],
                        "Patients": [
                            _status_text(n, st, min_cell_size)
                            for n, st in zip(text["n_patients"], text["suppressed"], strict=True)
                        ],
                        "Events": [
                            _status_text(n, st, min_cell_size)
                            for n, st in zip(text["n_events"], text["suppressed"], strict=True)
                        ],
                        "%": text["pct"].map(num),
                        "95% CI": [
                            "" if _missing(lo) else f"{num(lo)} to {num(hi)}"
                            for lo, hi in zip(text["ci95_low"], text["ci95_high"], strict=True)
                        ],
                    }
                ),
                f"{resolved.describe_response().capitalize()}; {resolved.describe_remission()}. "
                "Wilson score 95% CIs.",
            )
        )
        if by:
            comparison = r.compare_groups(rates)
            if not comparison.empty:
                items.append(
                    Table(
                        "rate_comparison",
                        f"Response and remission compared across {by}",
                        pd.DataFrame(
                            {
                                "Measure": comparison["measure"],
                                "Groups compared": comparison["groups"],
                                "Difference, percentage points (95% CI)": [
                                    "—" if _missing(d) else f"{d:+.1f} ({lo:+.1f} to {hi:+.1f})"
                                    for d, lo, hi in zip(
                                        comparison["difference_pct"],
                                        comparison["ci95_low"],
                                        comparison["ci95_high"],
                                        strict=True,
                                    )
                                ],
                                "Test": comparison["test"],
                                "p": comparison["p_value"].map(p_text),
                                "Left out": comparison["excluded"].replace("", "—"),
                            }
                        ),
                        "Two groups: difference (first minus second) with Newcombe's hybrid score "
                        "95% CI; Fisher's exact test when an expected count is below 5, else "
                        "Pearson's chi-square without continuity correction.",
                    )
                )
    rc = r.reliable_change_table(outcomes, by=by, min_cell_size=min_cell_size)
    rule = outcomes.reliable_change
    if rc.empty:
        items.append(Text(rule.describe().capitalize() + "."))
    else:
        items.append(
            Figure(
                "reliable_change",
                "Reliable change",
                ch.plot_reliable_change(rc, resolved, rule=rule, split_label=by, **opts),
            )
        )
        items.append(
            Table(
                "reliable_change",
                "Reliable change",
                pd.DataFrame(
                    {
                        "Group": rc["group"],
                        "Category": rc["category"],
                        "Patients": [
                            _status_text(n, st, min_cell_size, p)
                            for n, st, p in zip(rc["n"], rc["suppressed"], rc["pct"], strict=True)
                        ],
                    }
                ),
                rule.describe().capitalize() + ". Percent of the group's patients with a "
                "reliable-change category.",
            )
        )
    table, status = r.band_transitions(outcomes, min_cell_size=min_cell_size)
    if not table.empty:
        items.append(
            Figure(
                "severity_transitions",
                "Severity before and after",
                ch.plot_band_transitions(table, status, resolved, **opts),
            )
        )
        shown = display_counts(table, status, min_cell_size=min_cell_size, hidden_label=HIDDEN)
        shown = shown.reset_index().rename(columns={"baseline": "Baseline \\ endpoint"})
        shown.columns = [str(c) for c in shown.columns]
        items.append(
            Table(
                "severity_transitions",
                "Severity band at baseline (rows) and endpoint (columns)",
                shown,
                "Patients analysed; severity bands of the instrument (or its caseness cut-off).",
            )
        )
    cum = r.cumulative_response(outcomes, min_cell_size=min_cell_size)
    if not cum.empty:
        items.append(
            Figure(
                "cumulative_response",
                "Cumulative response by infusion",
                ch.plot_cumulative_response(cum, resolved, **opts),
            )
        )
        items.append(
            Table(
                "cumulative_response",
                "Cumulative response by infusion",
                pd.DataFrame(
                    {
                        "Infusions received": cum[s.INFUSIONS],
                        "Responded by then, %": cum["pct"].map(num),
                        "95% CI": [
                            "" if _missing(lo) else f"{num(lo)} to {num(hi)}"
                            for lo, hi in zip(cum["ci95_low"], cum["ci95_high"], strict=True)
                        ],
                    }
                ),
                "Share of analysed patients (with response defined) who had met the response "
                "threshold at least once by each infusion count (a lower bound: a patient who "
                "stopped early counts as not responded); Wilson 95% CIs; points that would "
                "reveal a small count are hidden.",
            )
        )
    counts, status = r.early_signal_counts(outcomes, min_cell_size=min_cell_size)
    metrics = r.early_signal_metrics(counts, status)
    two = display_counts(counts, status, min_cell_size=min_cell_size, hidden_label=HIDDEN)
    two.index.name, two.columns.name = None, None
    early_pct = outcomes.resolved.definition.early_improvement_pct
    items.append(
        Table(
            "early_signals",
            "Early improvement and response at the endpoint",
            two.reset_index().rename(columns={"index": ""}),
            f"Early improvement: >= {early_pct:g}% reduction at an assessment after 1 or 2 "
            "infusions; patients with both an early assessment and an endpoint.",
        )
    )
    n_both = int(metrics["n_patients"].iloc[0] + metrics["n_patients"].iloc[1])
    items.append(
        Figure(
            "early_signals",
            "How well early improvement predicts response",
            ch.plot_early_metrics(
                metrics, resolved, n_patients=n_both, early_pct=early_pct, **opts
            ),
        )
    )
    items.append(
        Table(
            "early_signal_metrics",
            "Early improvement as a predictor of response",
            pd.DataFrame(
                {
                    "Measure": metrics["measure"],
                    "Definition": metrics["definition"],
                    "%": metrics["pct"].map(num),
                    "95% CI": [
                        "" if _missing(lo) else f"{num(lo)} to {num(hi)}"
                        for lo, hi in zip(metrics["ci95_low"], metrics["ci95_high"], strict=True)
                    ],
                }
            ),
            "Wilson score 95% CIs; not shown where a count it is computed from is suppressed.",
        )
    )
    return Section(
        "responders",
        SECTIONS["responders"],
        items=tuple(items),
        definitions=(resolved.describe_response(), resolved.describe_remission(), rule.describe()),
    )


def durability_section(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    *,
    by: str | None,
    min_cell_size: int,
    note: str,
) -> Section:
    from analytics.charts_durability import (
        km_notes,
        km_summary_table,
        plot_kaplan_meier,
        shown_patients,
    )
    from analytics.durability import (
        derive_loss_of_response,
        derive_time_to_response,
        fit_kaplan_meier,
        suppress_kaplan_meier,
    )

    inst, resolved = outcomes.instrument, outcomes.resolved
    if resolved.response_pct is None:
        text = f"Response is not defined for {inst.label} (no sourced default): set a threshold."
        return Section("durability", SECTIONS["durability"], items=(Text(text),))
    definition = (
        f"{resolved.describe_response().capitalize()} · endpoint: "
        f"{resolved.definition.endpoint_rule.describe()}"
    )
    suffix = f" · {note}" if note else ""
    items: list[Item] = []
    specs = (
        (
            "time_to_response",
            f"Time to first {inst.label} response",
            "Kaplan–Meier with 95% CI; censored at the endpoint assessment",
            "Days since first infusion",
            "Patients still without response (%)",
            lambda: derive_time_to_response(outcomes, time="day", by=by),
        ),
        (
            "loss_of_response",
            f"Time from first {inst.label} response to loss of response",
            "Responders; Kaplan–Meier with 95% CI; censored at the last assessment",
            "Days since first response",
            "Patients still responding (%)",
            lambda: derive_loss_of_response(data, outcomes, by=by),
        ),
    )
    for key, title, what, x_title, y_title, durations_of in specs:
        durations = durations_of()
        result = suppress_kaplan_meier(
            fit_kaplan_meier(durations, time="day"), durations, min_cell_size=min_cell_size
        )
        n = shown_patients(result)
        if n == 0:
            items.append(Text(f"{title}: fewer than {min_cell_size} patients, not shown."))
            continue
        fig = plot_kaplan_meier(
            result,
            title=title,
            x_title=x_title,
            y_title=y_title,
            subtitle=f"{what} · N = {n:,} patients{suffix}<br>{definition}",
            group_title=by or "",
            min_cell_size=min_cell_size,
        )
        items.append(Figure(key, title, fig))
        items.append(
            Table(
                key,
                f"{title}: summary",
                km_summary_table(result, unit="days", min_cell_size=min_cell_size),
                km_notes(result, min_cell_size=min_cell_size),
            )
        )
    return Section(
        "durability",
        SECTIONS["durability"],
        items=tuple(items),
        definitions=(
            definition,
            "Time to response: days from the first infusion to the first assessment meeting "
            "the response threshold, up to the endpoint (censored there otherwise).",
            "Loss of response: days from the first response to the first later assessment "
            "below the threshold (censored at the last assessment otherwise).",
            "Median with its 95% CI from the Kaplan–Meier estimate (lifelines); 'not reached' "
            "when the curve stays above 50%.",
        ),
    )


@dataclass(frozen=True)
class ModelRequest:
    """Fit a response model for the report: ``features`` as in ``python -m analytics model``."""

    features: tuple[str, ...]
    model: str = "logistic"
    n_repeats: int = 5
    n_splits: int = 5
    seed: int | None = None


def model_section(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    request: ModelRequest,
    *,
    provenance: Provenance,
    min_cell_size: int,
    registry: Mapping[str, Instrument] | None,
) -> Section:
    from analytics import charts_models as ch
    from analytics import models as md
    from analytics.features import build_feature_matrix, fingerprint

    spec_kw: dict[str, Any] = dict(
        model=request.model, n_repeats=request.n_repeats, n_splits=request.n_splits
    )
    if request.seed is not None:
        spec_kw["seed"] = request.seed
    spec = md.ModelSpec(**spec_kw)
    fm = build_feature_matrix(
        data,
        outcomes.instrument,
        list(request.features),
        outcomes.resolved.definition,
        registry=registry,
    )
    guard = md.check_guards(fm, spec)
    if guard.refusal:
        return Section(
            "model", SECTIONS["model"], items=(Text(f"No model fitted: {guard.refusal}"),)
        )
    model = md.fit_response_model(fm, spec)
    sub = ch.model_subtitle(fm, synthetic=provenance.synthetic)
    card = md.model_card(
        model,
        fm,
        dataset_id=provenance.dataset_id,
        dataset_name=provenance.dataset_name,
        content_hash=provenance.content_hash,
        filtered_hash=fingerprint(data),
        filters=dict(provenance.filters),
        synthetic=provenance.synthetic,
    )
    tiles = ch.headline_metrics(model)
    items: list[Item] = [
        Text(md.NOT_A_DECISION_TOOL),
        Text(f"{spec.describe()}. Features: {', '.join(model.labels[f] for f in model.features)}."),
        Table(
            "model_headline",
            "Validation",
            pd.DataFrame(
                {
                    "Measure": [t["label"] for t in tiles],
                    "Value": [t["value"] for t in tiles],
                    "95% CI": [t["delta"].removeprefix("95% CI ") for t in tiles],
                    "Definition": [t["help"] for t in tiles],
                }
            ),
            card["validation"]["scheme"] + "; 95% CIs: " + card["validation"]["ci_method"] + ".",
        ),
        Table(
            "model_comparators",
            "The model beside its comparators",
            ch.metrics_display(model),
            "Base rate: every patient gets the training fold's responder rate. Baseline only: "
            "the same model on baseline severity alone.",
        ),
        Figure("roc", "ROC curve", ch.plot_roc(model, subtitle=sub)),
        Figure(
            "calibration",
            "Calibration",
            ch.plot_calibration(model, subtitle=sub, min_cell_size=min_cell_size),
        ),
        Figure("importance", "Permutation importance", ch.plot_importance(model, subtitle=sub)),
    ]
    if model.odds_ratios.ok:
        items.append(
            Table(
                "odds_ratios",
                "Odds ratios (unpenalised logistic regression)",
                ch.odds_ratio_display(model),
                "Associations among this clinic's past patients, each holding the other "
                "features fixed: not causes. Wald 95% CIs.",
            )
        )
    for w in (*model.warnings, *guard.notices):
        items.append(Text(w))
    items.append(Text("Model card. " + " ".join(card["limitations"])))
    items.append(
        Table(
            "model_card",
            "Model card",
            pd.DataFrame(
                [
                    ("Intended use", card["intended_use"]),
                    (
                        "Model",
                        f"{card['model']['description']}; "
                        + ", ".join(
                            f"{k} = {v}" for k, v in card["model"]["hyperparameters"].items()
                        ),
                    ),
                    ("Preprocessing", card["model"]["preprocessing"]),
                    ("Validation", card["validation"]["scheme"]),
                    ("Confidence intervals", card["validation"]["ci_method"]),
                    (
                        "Patients",
                        f"{card['data']['n_patients']:,} ({card['data']['n_events']:,} responders)",
                    ),
                    ("Outcome", "; ".join(card["outcome"]["definition"])),
                    ("Features dropped", ", ".join(card["features_dropped"]) or "none"),
                    ("Filtered rows SHA-256", card["data"]["filtered_sha256"]),
                ],
                columns=["Field", "Value"],
            ),
            "",
        )
    )
    return Section(
        "model", SECTIONS["model"], items=tuple(items), definitions=tuple(fm.definition_text)
    )


# --------------------------------------------------------------------------------- build


def build_report(
    data: pd.DataFrame,
    outcomes: PatientOutcomes,
    provenance: Provenance,
    *,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    by: str | None = None,
    min_cell_size: int | None = None,
    model: ModelRequest | None = None,
    registry: Mapping[str, Instrument] | None = None,
    title: str | None = None,
) -> Report:
    """The report of one view: ``data`` is the filtered canonical table, ``outcomes`` its
    patient outcomes table. ``sections`` are keys of :data:`SECTIONS` (in any order; shown
    in the order of :data:`SECTIONS`); ``model`` is needed for the ``model`` section.
    Raises :class:`DataValidationError` for an unknown section or grouping column."""
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        raise DataValidationError(
            f"unknown report section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}"
        )
    if by is not None and by not in outcomes.table.columns:
        raise DataValidationError(f"cannot group by '{by}': no such patient-level column")
    min_cell = provenance.min_cell_size if min_cell_size is None else min_cell_size
    inst = outcomes.instrument
    note = "synthetic demo data" if provenance.synthetic else ""
    chosen = [k for k in SECTIONS if k in sections]
    if "model" in chosen and model is None:
        chosen.remove("model")
    covariates = [c for c in patient_covariates(data).columns if c not in s.BOOKKEEPING and c != by]
    built: list[Section] = []
    headline: dict[str, Any] = {}
    _, headline = outcomes_section(outcomes, by=None, min_cell_size=min_cell)
    for key in chosen:
        if key == "cohort":
            built.append(cohort_section(outcomes, covariates, by=by, min_cell_size=min_cell))
        elif key == "outcomes":
            built.append(outcomes_section(outcomes, by=by, min_cell_size=min_cell)[0])
        elif key == "trajectories":
            built.append(
                trajectories_section(data, outcomes, by=by, min_cell_size=min_cell, note=note)
            )
        elif key == "responders":
            built.append(responders_section(outcomes, by=by, min_cell_size=min_cell, note=note))
        elif key == "durability":
            built.append(
                durability_section(data, outcomes, by=by, min_cell_size=min_cell, note=note)
            )
        elif key == "model" and model is not None:
            built.append(
                model_section(
                    data,
                    outcomes,
                    model,
                    provenance=provenance,
                    min_cell_size=min_cell,
                    registry=registry,
                )
            )
    if not provenance.generated:
        provenance = _with(provenance, generated=now_text())
    return Report(
        title=title or f"Outcomes report · {inst.label}",
        provenance=provenance,
        definition=(*outcomes.describe(), f"filters: {provenance.filters_text()}"),
        sections=tuple(built),
        headline=headline,
    )


def _with(p: Provenance, **changes: Any) -> Provenance:
    from dataclasses import replace

    return replace(p, **changes)


# -------------------------------------------------------------------------------- render

CSS = """
:root { --ink: #1b1f24; --muted: #5b6470; --line: #d9dde3; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
  color: var(--ink); margin: 0 auto; max-width: 1120px; padding: 24px 28px 60px; line-height: 1.45;
  font-size: 14px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-top: 8px; border-top: 2px solid var(--accent); }
h3 { font-size: 15px; margin: 22px 0 6px; }
p, li { max-width: 90ch; }
.muted, caption, .caption { color: var(--muted); font-size: 12.5px; }
.banner { background: #FFF4E0; border: 1px solid #E69F00; padding: 8px 12px; border-radius: 6px;
  margin: 10px 0 14px; font-weight: 600; }
table { border-collapse: collapse; margin: 6px 0 4px; font-size: 12.5px; width: auto; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left;
  vertical-align: top; }
th { font-weight: 600; border-bottom: 1.5px solid var(--ink); }
td.n, th.n { text-align: right; }
table.kv th { width: 32%; border-bottom: 1px solid var(--line); font-weight: 600; }
.figure { margin: 12px 0 4px; break-inside: avoid; page-break-inside: avoid; }
.figure img { width: 100%; height: auto; }
.figure .caption { margin-top: 2px; }
.table-block { margin: 14px 0; }
code, .cmd { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
ul.defs { padding-left: 18px; }
.toc a { color: var(--accent); text-decoration: none; }
"""

PRINT_CSS = """
@page { size: A4; margin: 18mm 12mm 16mm 12mm; }
body { max-width: none; padding: 0; font-size: 11px; }
h2 { break-before: page; page-break-before: always; border-top: none; margin-top: 0; }
table { font-size: 10px; }
tr, .table-block .caption { break-inside: avoid; page-break-inside: avoid; }
.toc { display: none; }
"""


def esc(text: Any) -> str:
    """HTML-escape any text (dataset names, column names, labels, filter values)."""
    return html.escape(str(text), quote=True)


def safe_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no comment)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _figure_json(fig: go.Figure) -> str:
    import plotly.io as pio

    return safe_json(pio.to_json(fig, validate=False, pretty=False))


def _table_html(table: Table) -> str:
    frame = table.frame
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(f"<td>{esc('' if _missing(v) else v)}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    caption = f'<div class="caption">{esc(table.caption)}</div>' if table.caption else ""
    return (
        f'<div class="table-block" id="table-{esc(table.key)}"><h3>{esc(table.title)}</h3>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"{caption}</div>"
    )


NUMBER = re.compile(r"-?[\d,]+(?:\.\d+)?")  # a value shown as a number (not "<11", "—")


def _numbers_html(numbers: Sequence[Number]) -> str:
    rows = []
    for n in numbers:
        value = "".join(
            f'<span class="num" data-key="{esc(key)}">{esc(text)}</span>'
            if key and NUMBER.fullmatch(text)
            else esc(text)
            for text, key in n.parts
        )
        definition = f'<td class="muted">{esc(n.definition)}</td>'
        rows.append(f"<tr><th>{esc(n.label)}</th><td>{value}</td>{definition}</tr>")
    return (
        '<div class="table-block" id="table-headline"><h3>Headline outcomes</h3><table class="kv">'
        "<thead><tr><th>Measure</th><th>Value</th><th>Definition</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _figure_html(fig: Figure, index: int, images: Mapping[str, str] | None) -> str:
    caption = f'<div class="caption">{esc(fig.caption)}</div>' if fig.caption else ""
    if images is not None:
        src = images.get(fig.key + f"#{index}", "")
        return (
            f'<div class="figure" id="figure-{esc(fig.key)}"><img alt="{esc(fig.title)}" '
            f'src="{esc(src)}">{caption}</div>'
        )
    div_id = f"fig-{index}"
    height = fig.figure.layout.height or 480
    return (
        f'<div class="figure" id="figure-{esc(fig.key)}"><div id="{div_id}" '
        f'style="width:100%;height:{int(height)}px"></div>{caption}'
        f'<script type="application/json" data-figure="{div_id}">'
        f"{_figure_json(fig.figure)}</script>"
        "</div>"
    )


PLOT_SCRIPT = """
document.querySelectorAll('script[data-figure]').forEach(function (el) {
  var fig = JSON.parse(el.textContent);
  Plotly.newPlot(el.getAttribute('data-figure'), fig.data, fig.layout,
                 {displaylogo: false, responsive: true});
});
"""


def figure_keys(report: Report) -> list[str]:
    """Keys of every figure in render order (``key#index``), as :func:`render_html`'s
    ``images`` mapping expects them."""
    return [f"{f.key}#{i}" for i, f in enumerate(report.figures)]


def render_html(report: Report, *, images: Mapping[str, str] | None = None) -> str:
    """The report as one HTML document.

    Without ``images``: interactive plotly charts with plotly.js inline (about 5 MB; opens
    offline). With ``images`` (``figure_keys`` -> ``data:`` URLs): static images and print
    styles, the input of the PDF.
    """
    p = report.provenance
    printing = images is not None
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)} · {esc(p.dataset_name)}</title>",
        f"<style>{CSS}{PRINT_CSS if printing else ''}</style>",
    ]
    if not printing:
        from plotly.offline import get_plotlyjs

        parts.append(f'<script type="text/javascript">{get_plotlyjs()}</script>')
    parts.append("</head><body>")
    parts.append(f"<h1>{esc(report.title)}</h1>")
    parts.append(f'<div class="muted">{esc(p.dataset_name)} · generated {esc(p.generated)}</div>')
    if p.synthetic:
        parts.append(f'<div class="banner">{esc(SYNTHETIC_NOTE)}</div>')
    if not printing and report.sections:
        links = " · ".join(
            f'<a href="#section-{esc(sec.key)}">{esc(sec.title)}</a>' for sec in report.sections
        )
        parts.append(f'<p class="toc">Contents: {links}</p>')
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in p.rows())
    parts.append(
        f'<h3>Provenance</h3><table class="kv" id="provenance"><tbody>{rows}</tbody></table>'
    )
    defs = "".join(f"<li>{esc(line)}</li>" for line in report.definition)
    parts.append(
        f'<h3>Outcome definition in force</h3><ul class="defs" id="definition">{defs}</ul>'
    )
    index = 0
    for sec in report.sections:
        parts.append(f'<section id="section-{esc(sec.key)}"><h2>{esc(sec.title)}</h2>')
        for item in sec.items:
            if isinstance(item, Text):
                parts.append(f"<p>{esc(item.text)}</p>")
            elif isinstance(item, Table):
                if item.key == "headline" and sec.numbers:
                    parts.append(_numbers_html(sec.numbers))
                else:
                    parts.append(_table_html(item))
            else:
                parts.append(_figure_html(item, index, images))
                index += 1
        if sec.definitions:
            lines = "".join(f"<li>{esc(d)}</li>" for d in sec.definitions)
            parts.append(f'<h3>Definitions</h3><ul class="defs">{lines}</ul>')
        parts.append("</section>")
    parts.append(
        f'<p class="muted">Infusion Outcomes {esc(p.app_version)}. Every number above is '
        "reproducible from the command line (see Provenance).</p>"
    )
    data = {"provenance": report.to_dict()["provenance"], "headline": dict(report.headline)}
    parts.append(f'<script type="application/json" id="report-data">{safe_json(data)}</script>')
    if not printing:
        parts.append(f"<script>{PLOT_SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
