"""Who responds: the tables behind the Responders page.

Every function takes a :class:`~analytics.outcomes.PatientOutcomes` (one instrument, one
outcome definition, filters already applied) and returns a DataFrame whose columns are
listed in its docstring. Aggregates carry their small-cell suppression status
(``""``, ``"primary"``: a count of 1 to min_cell_size - 1, shown as "<11";
``"complementary"``: hidden so that a small count cannot be worked out from a total shown
beside it), computed by :mod:`analytics.suppression`.

Statistics (references in docs/responders.md):

- proportions: Wilson score 95% CI (:func:`analytics.stats.wilson_ci`);
- difference of two proportions: Newcombe's hybrid score interval (method 10, from the two
  Wilson intervals), as ``statsmodels``' ``confint_proportions_2indep(method="newcomb")``;
- association of a two-level split with response: Fisher's exact test (two-sided, summing
  the probabilities of tables no more likely than the observed one) when any expected count
  is below 5, else Pearson's chi-square without continuity correction; for more than two
  levels, Pearson's chi-square test of independence (flagged when expected counts are < 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from analytics import schema as s
from analytics.codes import is_in
from analytics.outcomes import RC_IMPROVED, RC_NONE, PatientOutcomes
from analytics.stats import ALL, Z_95, summarise_outcomes, wilson_ci
from analytics.suppression import (
    COMPLEMENTARY,
    DEFAULT_MIN_CELL_SIZE,
    PRIMARY,
    is_small,
    protect_cumulative,
    protect_table,
)

MISSING_GROUP = "(missing)"
MEASURES = {"responders": "Response", "remitters": "Remission"}

BOTH = "Responder and remitter"
RESPONDER_ONLY = "Responder, not remitted"
REMITTER_ONLY = "Remitter, not responder"
NEITHER = "Neither"
RESPONDER = "Responder"
NON_RESPONDER = "Non-responder"

RC_CS = "Reliably improved, clinically significant"
RC_IMPROVED_ONLY = "Reliably improved, not clinically significant"
RC_IMPROVED_ALL = "Reliably improved"
RC_NO_CHANGE = "No reliable change"
RC_WORSE = "Reliably deteriorated"

EARLY_YES = "Early improvement"
EARLY_NO = "No early improvement"
RESP_YES = "Responder at endpoint"
RESP_NO = "Non-responder at endpoint"


# --- the waterfall -----------------------------------------------------------------------


def waterfall_table(outcomes: PatientOutcomes) -> pd.DataFrame:
    """Analysed patients with a percent change, sorted from most worsened to most improved.

    Columns: ``patient_id``, ``pct_change`` (negative = fewer symptoms on a higher-is-worse
    scale), ``improvement_pct``, ``responder``, ``remitter``, ``status`` (responder and/or
    remitter, or :data:`RESPONDER` / :data:`NON_RESPONDER` when remission is not defined),
    ``rank`` (1 = leftmost bar).
    """
    a = outcomes.analysed
    a = a[a["improvement_pct"].notna()]
    resp = a["responder"].fillna(False).to_numpy(dtype=bool)
    if outcomes.resolved.remission_below is None:
        status = np.where(resp, RESPONDER, NON_RESPONDER)
    else:
        rem = a["remitter"].fillna(False).to_numpy(dtype=bool)
        status = np.select(
            [resp & rem, resp, rem], [BOTH, RESPONDER_ONLY, REMITTER_ONLY], default=NEITHER
        )
    out = pd.DataFrame(
        {
            s.PATIENT_ID: a[s.PATIENT_ID].astype("string").to_numpy(),
            "pct_change": a["pct_change"].to_numpy(),
            "improvement_pct": a["improvement_pct"].to_numpy(),
            "responder": a["responder"].to_numpy(),
            "remitter": a["remitter"].to_numpy(),
            "status": status,
        }
    )
    out = out.sort_values(["improvement_pct", s.PATIENT_ID], kind="stable", ignore_index=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def waterfall_statuses(outcomes: PatientOutcomes) -> tuple[str, ...]:
    """The status categories in legend order for this definition."""
    if outcomes.resolved.remission_below is None:
        return (RESPONDER, NON_RESPONDER)
    return (BOTH, RESPONDER_ONLY, REMITTER_ONLY, NEITHER)


def count_statuses(
    waterfall: pd.DataFrame,
    statuses: tuple[str, ...],
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Patients per waterfall status with suppression: ``status``, ``n``, ``suppressed``."""
    counts = waterfall["status"].value_counts().reindex(list(statuses), fill_value=0)
    _, st = protect_table(
        pd.DataFrame([counts.to_numpy()], columns=list(statuses)), min_cell_size=min_cell_size
    )
    return pd.DataFrame(
        {"status": list(statuses), "n": counts.to_numpy(), "suppressed": st.iloc[0, :-1].to_numpy()}
    )


# --- rates by group ----------------------------------------------------------------------


def _groups(table: pd.DataFrame, by: str) -> pd.Series:
    col = table[by]
    if pd.api.types.is_float_dtype(col) and bool((col.dropna() == col.dropna().round()).all()):
        col = col.astype("Int64")
    return col.astype("string").fillna(MISSING_GROUP)


def rate_table(
    outcomes: PatientOutcomes,
    *,
    by: str | None = None,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Response and remission rates with Wilson 95% CIs, overall and per level of ``by``.

    The numbers are those of :func:`analytics.stats.summarise_outcomes` (Overview and command
    line). Columns: ``measure`` ("Response"/"Remission"), ``group`` ("All" first),
    ``n_events``, ``n_patients`` (patients with a defined outcome), ``pct``, ``ci95_low``,
    ``ci95_high`` (0-100), ``suppressed`` (status of the row: a row is hidden when its events,
    non-events or patients are suppressed; the "All" row counts as published).
    A measure the definition leaves undefined (no remission cut-off) has no rows.
    """
    summary = summarise_outcomes(outcomes, by=None)
    if by is not None:
        t = outcomes.table
        grouped = outcomes.__class__(
            table=t.assign(**{by: _groups(t, by)}),
            resolved=outcomes.resolved,
            reliable_change=outcomes.reliable_change,
        )
        summary = summarise_outcomes(grouped, by=by)
    parts = []
    for prefix, measure in MEASURES.items():
        if measure == "Remission" and outcomes.resolved.remission_below is None:
            continue
        if measure == "Response" and outcomes.resolved.response_pct is None:
            continue
        part = pd.DataFrame(
            {
                "measure": measure,
                "group": summary["group"].astype(str).to_numpy(),
                "n_events": summary[f"{prefix}_n"].to_numpy(),
                "n_patients": summary[f"{prefix}_N"].to_numpy(),
                "pct": summary[f"{prefix}_pct"].to_numpy(),
                "ci95_low": summary[f"{prefix}_ci95_low"].to_numpy(),
                "ci95_high": summary[f"{prefix}_ci95_high"].to_numpy(),
            }
        )
        part["suppressed"] = _rate_status(part, min_cell_size)
        parts.append(part)
    cols = ["measure", "group", "n_events", "n_patients", "pct", "ci95_low", "ci95_high"]
    if not parts:
        return pd.DataFrame(columns=[*cols, "suppressed"])
    out = pd.concat(parts, ignore_index=True)
    hide = out["suppressed"] != ""
    out.loc[hide, ["pct", "ci95_low", "ci95_high"]] = np.nan
    return out


def _rate_status(part: pd.DataFrame, min_cell_size: int) -> np.ndarray:
    """Suppression status of each row's rate. The overall row is hidden when its events,
    non-events or patients are small; group rows go through :func:`protect_table` (events
    shown, non-events derivable, the overall row published)."""
    overall = part[part["group"] == ALL].iloc[0]
    e, n = overall["n_events"], overall["n_patients"]
    status = {ALL: PRIMARY if is_small(np.array([e, n - e, n]), min_cell_size).any() else ""}
    groups = part[part["group"] != ALL]
    if len(groups):
        counts = pd.DataFrame(
            {
                "events": groups["n_events"].to_numpy(),
                "non_events": (groups["n_patients"] - groups["n_events"]).to_numpy(),
            },
            index=groups["group"].to_numpy(),
        )
        _, st = protect_table(
            counts,
            min_cell_size=min_cell_size,
            hidden_columns=["non_events"],
            published_rows=[ALL],
            total_label=ALL,
        )
        status.update(st.drop(index=ALL).apply(_worst, axis=1).to_dict())
    return part["group"].map(status).fillna("").to_numpy()


def _worst(values: pd.Series) -> str:
    v = set(values)
    return PRIMARY if PRIMARY in v else COMPLEMENTARY if COMPLEMENTARY in v else ""


# --- comparing groups --------------------------------------------------------------------


def newcombe_difference(
    k1: int, n1: int, k2: int, n2: int, z: float = Z_95
) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score 95% interval (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1,), (u1,) = wilson_ci(np.array([k1]), np.array([n1]), z)
    (l2,), (u2,) = wilson_ci(np.array([k2]), np.array([n2]), z)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def expected_counts(table: np.ndarray) -> np.ndarray:
    t = np.asarray(table, dtype="float64")
    return np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()


def pearson_chi_square(table: np.ndarray) -> tuple[float, int, float]:
    """Pearson's chi-square test of independence, no continuity correction:
    (statistic, degrees of freedom, p)."""
    t = np.asarray(table, dtype="float64")
    e = expected_counts(t)
    stat = float(((t - e) ** 2 / e).sum())
    dof = (t.shape[0] - 1) * (t.shape[1] - 1)
    return stat, dof, float(sps.chi2.sf(stat, dof))


def fisher_exact_2x2(table: np.ndarray) -> tuple[float, float]:
    """Fisher's exact test of a 2x2 table: (sample odds ratio, two-sided p), the p summing
    the hypergeometric probabilities of all tables with the same margins that are no more
    likely than the observed one."""
    t = np.asarray(table, dtype="int64")
    a, b, c, d = int(t[0, 0]), int(t[0, 1]), int(t[1, 0]), int(t[1, 1])
    row1, col1, total = a + b, a + c, a + b + c + d
    lo, hi = max(0, row1 + col1 - total), min(row1, col1)
    support = np.arange(lo, hi + 1)
    pmf = sps.hypergeom.pmf(support, total, col1, row1)
    p_obs = sps.hypergeom.pmf(a, total, col1, row1)
    p = float(min(1.0, pmf[pmf <= p_obs * (1 + 1e-7)].sum()))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (a * d) / (b * c) if b * c else (np.inf if a * d else np.nan)
    return float(odds), p


def association_test(table: np.ndarray) -> dict[str, float | str | int]:
    """Fisher's exact test for a 2x2 table with any expected count < 5, else Pearson's
    chi-square. Keys: ``test``, ``statistic``, ``dof``, ``p_value``, ``min_expected``."""
    t = np.asarray(table, dtype="float64")
    e = expected_counts(t)
    min_e = float(e.min())
    if t.shape == (2, 2) and min_e < 5:
        odds, p = fisher_exact_2x2(t)
        return {
            "test": "Fisher's exact test",
            "statistic": odds,
            "dof": 1,
            "p_value": p,
            "min_expected": min_e,
        }
    stat, dof, p = pearson_chi_square(t)
    name = "Pearson chi-square" + (" (expected counts < 5: approximate)" if min_e < 5 else "")
    return {"test": name, "statistic": stat, "dof": dof, "p_value": p, "min_expected": min_e}


def compare_groups(rates: pd.DataFrame) -> pd.DataFrame:
    """Between-group comparison of each measure in a :func:`rate_table` with ``by``.

    Only groups whose rate is shown take part ("(missing)" never does). Two groups: the
    difference in percentage points (first minus second, in the table's order) with
    Newcombe's 95% CI, and Fisher's exact or Pearson's chi-square test; more than two: the
    chi-square test of independence. Columns: ``measure``, ``groups`` (compared, joined by
    " vs "), ``excluded`` (groups left out), ``difference_pct``, ``ci95_low``, ``ci95_high``,
    ``test``, ``statistic``, ``dof``, ``p_value``, ``min_expected``. No row for a measure
    with fewer than two comparable groups.
    """
    rows = []
    for measure, part in rates[rates["group"] != ALL].groupby("measure", sort=False):
        ok = (part["suppressed"] == "") & (part["group"] != MISSING_GROUP)
        ok &= part["n_patients"] > 0
        use, left = part[ok], part[~ok]
        if len(use) < 2:
            continue
        k = use["n_events"].to_numpy(dtype="int64")
        n = use["n_patients"].to_numpy(dtype="int64")
        table = np.column_stack([k, n - k])
        if (table.sum(axis=0) == 0).any():  # everyone or no one: nothing to test
            res = {
                "test": "not testable (all or none)",
                "statistic": np.nan,
                "dof": 0,
                "p_value": np.nan,
                "min_expected": np.nan,
            }
        else:
            res = association_test(table)
        diff = low = high = np.nan
        if len(use) == 2:
            diff, low, high = (100 * x for x in newcombe_difference(k[0], n[0], k[1], n[1]))
        rows.append(
            {
                "measure": measure,
                "groups": " vs ".join(use["group"]),
                "excluded": ", ".join(left["group"]),
                "difference_pct": diff,
                "ci95_low": low,
                "ci95_high": high,
                **res,
            }
        )
    cols = ["measure", "groups", "excluded", "difference_pct", "ci95_low", "ci95_high"]
    cols += ["test", "statistic", "dof", "p_value", "min_expected"]
    return pd.DataFrame(rows, columns=cols)


# --- reliable change ---------------------------------------------------------------------


def reliable_change_categories(outcomes: PatientOutcomes) -> tuple[str, ...]:
    """Stack order: improved (split by clinical significance when a caseness cut-off
    exists), no reliable change, deteriorated."""
    if outcomes.instrument.caseness_cutoff is None:
        return (RC_IMPROVED_ALL, RC_NO_CHANGE, RC_WORSE)
    return (RC_CS, RC_IMPROVED_ONLY, RC_NO_CHANGE, RC_WORSE)


def reliable_change_table(
    outcomes: PatientOutcomes,
    *,
    by: str | None = None,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> pd.DataFrame:
    """Patients per reliable-change category, overall ("All", first) and per group.

    The categories partition the analysed patients with a reliable-change category, so that
    the stacked bar sums to 100%. Columns: ``group``, ``category``, ``n``, ``n_patients``,
    ``pct`` (0-100, blank when suppressed), ``suppressed``. Empty when reliable change is
    not available for the instrument.
    """
    cats = reliable_change_categories(outcomes)
    cols = ["group", "category", "n", "n_patients", "pct", "suppressed"]
    if outcomes.reliable_change.method == "unavailable":
        return pd.DataFrame(columns=cols)
    a = outcomes.analysed
    a = a[a["reliable_change"].notna()]
    rc = a["reliable_change"].astype("string")
    cs = a["clinically_significant"].fillna(False).to_numpy(dtype=bool)
    if len(cats) == 4:
        cat = np.select(
            [(rc == RC_IMPROVED).to_numpy() & cs, (rc == RC_IMPROVED).to_numpy()],
            [RC_CS, RC_IMPROVED_ONLY],
            default=np.where(rc == RC_NONE, RC_NO_CHANGE, RC_WORSE),
        )
    else:
        cat = np.select(
            [(rc == RC_IMPROVED).to_numpy(), (rc == RC_NONE).to_numpy()],
            [RC_IMPROVED_ALL, RC_NO_CHANGE],
            default=RC_WORSE,
        )
    groups = _groups(a, by) if by is not None else pd.Series("_", index=a.index)
    counts = pd.crosstab(groups.to_numpy(), cat).reindex(columns=list(cats), fill_value=0)
    if by is None and counts.empty:
        counts = pd.DataFrame([[0] * len(cats)], index=["_"], columns=list(cats))
    table, status = protect_table(counts, min_cell_size=min_cell_size, total_label=ALL)
    if by is None:
        table, status = table.loc[[ALL]], status.loc[[ALL]]
    else:
        order = [ALL, *sorted(counts.index)]
        table, status = table.loc[order], status.loc[order]
    long = table[list(cats)].stack().rename("n").reset_index()
    long.columns = ["group", "category", "n"]
    long["suppressed"] = status[list(cats)].stack().to_numpy()
    long["n_patients"] = long["group"].map(table[ALL]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        long["pct"] = np.where(long["n_patients"] > 0, long["n"] / long["n_patients"] * 100, np.nan)
    # A group whose own total is small shows nothing at all.
    small_group = long["group"].map(status[ALL]) != ""
    long.loc[small_group & (long["suppressed"] == ""), "suppressed"] = COMPLEMENTARY
    long.loc[long["suppressed"] != "", "pct"] = np.nan
    long[["n", "n_patients"]] = long[["n", "n_patients"]].astype("int64")
    return long[cols]


# --- severity transitions ----------------------------------------------------------------


def band_transitions(
    outcomes: PatientOutcomes, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Baseline band (rows) by endpoint band (columns) among analysed patients, with
    "Total" margins, and its suppression status (see
    :func:`analytics.suppression.protect_table`). Empty frames when the instrument has no
    band scheme."""
    a = outcomes.analysed
    cats = list(a["baseline_band"].cat.categories) if len(a.columns) else []
    if not cats or a.empty:
        return pd.DataFrame(), pd.DataFrame()
    counts = pd.crosstab(a["baseline_band"], a["endpoint_band"], dropna=False)
    counts = counts.reindex(index=cats, columns=cats, fill_value=0)
    counts.index = pd.Index([str(c) for c in cats], name="baseline")
    counts.columns = pd.Index([str(c) for c in cats], name="endpoint")
    return protect_table(counts, min_cell_size=min_cell_size)


# --- cumulative response -----------------------------------------------------------------


def cumulative_response(
    outcomes: PatientOutcomes, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> pd.DataFrame:
    """Percentage of patients who had met the response threshold at least once by each
    infusion count (first response searched up to the endpoint).

    Denominator: analysed patients with a defined response, all of them at every infusion
    count (a patient who stopped early counts as not (yet) responded, so the curve is a
    lower bound; the time-to-response curve with censoring is on the Durability page).
    Columns: ``infusions_received``, ``n_responded``, ``n_patients``, ``pct``, ``ci95_low``,
    ``ci95_high`` (Wilson, 0-100), ``suppressed`` (bool). Empty when response is undefined or
    no response has an infusion count.
    """
    cols = [s.INFUSIONS, "n_responded", "n_patients", "pct", "ci95_low", "ci95_high"]
    a = outcomes.analysed
    a = a[a["responder"].notna()]
    first = a["first_response_infusions"].dropna().astype("int64")
    upper = pd.concat([first, a["endpoint_infusions"].dropna().astype("int64")])
    if a.empty or outcomes.resolved.response_pct is None or upper.empty or upper.max() < 1:
        return pd.DataFrame(columns=[*cols, "suppressed"])
    ks = np.arange(1, int(upper.max()) + 1)
    counts = np.searchsorted(np.sort(first.to_numpy()), ks, side="right")
    n = len(a)
    low, high = wilson_ci(counts, np.full(len(ks), n))
    out = pd.DataFrame(
        {
            s.INFUSIONS: ks,
            "n_responded": counts,
            "n_patients": n,
            "pct": counts / n * 100.0,
            "ci95_low": low * 100,
            "ci95_high": high * 100,
        }
    )
    hide = protect_cumulative(counts, n, min_cell_size=min_cell_size)
    if 0 < n < min_cell_size:
        hide[:] = True
    out["suppressed"] = hide
    out.loc[hide, ["pct", "ci95_low", "ci95_high"]] = np.nan
    return out


# --- early signals -----------------------------------------------------------------------


def early_signal_counts(
    outcomes: PatientOutcomes, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Early improvement (rows) by response at the endpoint (columns), with "Total" margins
    and suppression status. Patients: analysed, with both an early-improvement status (an
    assessment after 1 or 2 infusions) and a defined response."""
    a = outcomes.analysed
    a = a[a["early_improvement"].notna() & a["responder"].notna()]
    early = a["early_improvement"].astype(bool).to_numpy()
    resp = a["responder"].astype(bool).to_numpy()
    counts = pd.DataFrame(
        [
            [int((early & resp).sum()), int((early & ~resp).sum())],
            [int((~early & resp).sum()), int((~early & ~resp).sum())],
        ],
        index=pd.Index([EARLY_YES, EARLY_NO], name="early"),
        columns=pd.Index([RESP_YES, RESP_NO], name="endpoint"),
    )
    return protect_table(counts, min_cell_size=min_cell_size)


def early_signal_metrics(table: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """Sensitivity, specificity, PPV and NPV of early improvement for response at the
    endpoint, from :func:`early_signal_counts`, with Wilson 95% CIs (0-100).

    Columns: ``measure``, ``definition``, ``n``, ``n_patients``, ``pct``, ``ci95_low``,
    ``ci95_high``, ``suppressed`` (True when a count it is computed from is not shown, or
    its denominator is 0).
    """
    tp, fp = table.loc[EARLY_YES, RESP_YES], table.loc[EARLY_YES, RESP_NO]
    fn, tn = table.loc[EARLY_NO, RESP_YES], table.loc[EARLY_NO, RESP_NO]

    def hidden(*cells: tuple[str, str]) -> bool:
        return any(status.loc[r, c] != "" for r, c in cells)

    specs = [
        (
            "Sensitivity",
            "early improvers among endpoint responders",
            tp,
            tp + fn,
            hidden((EARLY_YES, RESP_YES), (EARLY_NO, RESP_YES), ("Total", RESP_YES)),
        ),
        (
            "Specificity",
            "no early improvement among endpoint non-responders",
            tn,
            tn + fp,
            hidden((EARLY_NO, RESP_NO), (EARLY_YES, RESP_NO), ("Total", RESP_NO)),
        ),
        (
            "PPV",
            "endpoint responders among early improvers",
            tp,
            tp + fp,
            hidden((EARLY_YES, RESP_YES), (EARLY_YES, RESP_NO), (EARLY_YES, "Total")),
        ),
        (
            "NPV",
            "endpoint non-responders among patients without early improvement",
            tn,
            tn + fn,
            hidden((EARLY_NO, RESP_NO), (EARLY_NO, RESP_YES), (EARLY_NO, "Total")),
        ),
    ]
    out = pd.DataFrame(
        specs, columns=["measure", "definition", "n", "n_patients", "suppressed"]
    ).astype({"n": "int64", "n_patients": "int64"})
    k, n = out["n"].to_numpy(), out["n_patients"].to_numpy()
    low, high = wilson_ci(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct"] = np.where(n > 0, k / n * 100.0, np.nan)
    out["ci95_low"], out["ci95_high"] = low * 100, high * 100
    out["suppressed"] = out["suppressed"] | (n == 0)
    out.loc[out["suppressed"], ["pct", "ci95_low", "ci95_high"]] = np.nan
    cols = ["measure", "definition", "n", "n_patients", "pct", "ci95_low", "ci95_high"]
    return out[[*cols, "suppressed"]]


def review_list(data: pd.DataFrame, outcomes: PatientOutcomes) -> pd.DataFrame:
    """Patients with no >= 20% improvement by the fourth infusion ("review treatment").

    A patient-level worklist (not an aggregate: no small-cell suppression; a deployment may
    switch it off). Columns: ``patient_id``, ``baseline_score``, ``latest_score`` (the
    patient's most recent assessment of the instrument), ``latest_infusions``,
    ``latest_day``, ``latest_pct_change`` (from baseline). Sorted by ``latest_pct_change``,
    least improved first.
    """
    t = outcomes.table
    flagged = t.loc[t["early_non_improvement"].fillna(False).astype(bool)]
    flagged = flagged[[s.PATIENT_ID, "baseline_score"]]
    d = data.loc[
        (data[s.INSTRUMENT] == outcomes.instrument.id)
        & is_in(data[s.PATIENT_ID], flagged[s.PATIENT_ID]),
        [s.PATIENT_ID, s.DAY, s.INFUSIONS, s.SCORE],
    ]
    d = d.sort_values([s.PATIENT_ID, s.INFUSIONS, s.DAY], kind="stable", na_position="first")
    latest = d.drop_duplicates(s.PATIENT_ID, keep="last").rename(
        columns={s.SCORE: "latest_score", s.INFUSIONS: "latest_infusions", s.DAY: "latest_day"}
    )
    latest[s.PATIENT_ID] = latest[s.PATIENT_ID].astype("string")
    flagged = flagged.assign(**{s.PATIENT_ID: flagged[s.PATIENT_ID].astype("string")})
    out = flagged.merge(latest, on=s.PATIENT_ID, how="left")
    base = out["baseline_score"]
    out["latest_pct_change"] = ((out["latest_score"] - base) / base * 100.0).where(base != 0)
    cols = [s.PATIENT_ID, "baseline_score", "latest_score", "latest_infusions", "latest_day"]
    out = out[[*cols, "latest_pct_change"]]
    sign = 1 if outcomes.instrument.higher_is_worse else -1
    order = (sign * out["latest_pct_change"]).fillna(-np.inf)
    return out.iloc[np.argsort(-order.to_numpy(), kind="stable")].reset_index(drop=True)
