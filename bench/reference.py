"""The reference engine: the patient outcome derivation and the ``summary`` figures written
as DuckDB SQL.

The derivation follows DESIGN.md §3 and ``analytics/outcomes.py`` for the default
``last`` endpoint: a patient's assessments of one instrument are ordered by ``day`` then
``infusions_received`` (by ``infusions_received`` then ``day`` when any of them lacks a
day, missing values last); an assessment is pre-treatment when 0 infusions were received
or, with the count missing, ``day <= 0``; the baseline is the latest pre-treatment
assessment within the window; the endpoint the latest other assessment of a patient with
a baseline. One GROUP BY pass with ``arg_max`` over (order key) tuples, no window
function, which is the fastest formulation found (a ``row_number()`` window is ~1.5x
slower). ``tests/test_bench_smoke.py`` checks it against ``derive_patient_outcomes``.

:func:`summary_script` is a whole program for ``python -c``: DuckDB reads the CSV and
computes the ``summary --json`` figures; the few closed-form statistics that SQL lacks
(t quantile and p-value, Wilson interval) are computed in plain Python (``math`` only), so
the reference process imports nothing but DuckDB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_KEY_DAY = "(day, inf)"
_KEY_INF = "(coalesce(inf, 'inf'::DOUBLE), coalesce(day, 'inf'::DOUBLE))"


@dataclass(frozen=True)
class Params:
    """What the SQL needs from the instrument registry and the outcome definition."""

    instrument: str = "pcl5"
    baseline_window_days: float = 30.0
    response_pct: float | None = 30.0
    remission_below: float | None = 33.0
    higher_is_worse: bool = True
    rci_reliability: float | None = 0.82
    rci_points: float | None = None
    caseness_cutoff: float | None = 33.0

    @classmethod
    def for_instrument(cls, instrument: str) -> Params:
        from analytics.instruments import get_instrument

        inst = get_instrument(instrument)
        return cls(
            instrument=inst.id,
            response_pct=inst.response_pct,
            remission_below=inst.remission_below,
            higher_is_worse=inst.higher_is_worse,
            rci_reliability=inst.rci_reliability,
            rci_points=inst.rci_points,
            caseness_cutoff=inst.caseness_cutoff,
        )


def outcomes_sql(source: str, p: Params) -> str:
    """One query: a row per patient with any assessment of ``p.instrument`` in ``source``
    (a table, a registered frame or a ``read_csv(...)`` call)."""
    sign = 1.0 if p.higher_is_worse else -1.0
    window = f"pre AND (day IS NULL OR day >= {-float(p.baseline_window_days)!r})"
    responder = "NULL::BOOLEAN"
    if p.response_pct is not None:
        pct = float(p.response_pct)
        responder = (
            f"CASE WHEN baseline_score <> 0 AND endpoint_score IS NOT NULL THEN "
            f"({-sign!r} * change) * 100 - {pct!r} * baseline_score "
            f">= -1e-9 * greatest(1, {pct!r} * baseline_score) END"
        )
    remitter = "NULL::BOOLEAN"
    if p.remission_below is not None:
        op = "<" if p.higher_is_worse else ">"
        remitter = (
            f"CASE WHEN endpoint_score IS NOT NULL THEN "
            f"endpoint_score {op} {float(p.remission_below)!r} END"
        )
    return f"""
WITH d AS (
  SELECT patient_id, CAST(score AS DOUBLE) AS score,
         CAST(infusions_received AS DOUBLE) AS inf, CAST(day AS DOUBLE) AS day,
         COALESCE(infusions_received = 0 OR (infusions_received IS NULL AND day <= 0), FALSE)
           AS pre
  FROM {source} WHERE instrument = '{p.instrument}'
), per_patient AS (
  SELECT patient_id, count(*) AS n_assessments, bool_and(day IS NOT NULL) AS by_day,
    arg_max(score, {_KEY_DAY}) FILTER (WHERE {window}) AS b_day,
    arg_max(score, {_KEY_INF}) FILTER (WHERE {window}) AS b_inf,
    arg_max(day, {_KEY_DAY}) FILTER (WHERE {window}) AS bd_day,
    arg_max(day, {_KEY_INF}) FILTER (WHERE {window}) AS bd_inf,
    arg_max(score, {_KEY_DAY}) FILTER (WHERE NOT pre) AS e_day,
    arg_max(score, {_KEY_INF}) FILTER (WHERE NOT pre) AS e_inf,
    arg_max(day, {_KEY_DAY}) FILTER (WHERE NOT pre) AS ed_day,
    arg_max(day, {_KEY_INF}) FILTER (WHERE NOT pre) AS ed_inf
  FROM d GROUP BY patient_id
), chosen AS (
  SELECT patient_id, n_assessments,
    CASE WHEN by_day THEN b_day ELSE b_inf END AS baseline_score,
    CASE WHEN by_day THEN bd_day ELSE bd_inf END AS baseline_day,
    CASE WHEN by_day THEN e_day ELSE e_inf END AS post_score,
    CASE WHEN by_day THEN ed_day ELSE ed_inf END AS post_day
  FROM per_patient
), o AS (
  SELECT patient_id, n_assessments, baseline_score, baseline_day,
    CASE WHEN baseline_score IS NOT NULL THEN post_score END AS endpoint_score,
    CASE WHEN baseline_score IS NOT NULL THEN post_day END AS endpoint_day
  FROM chosen
), c AS (
  SELECT *, endpoint_score IS NOT NULL AS analysed,
    endpoint_score - baseline_score AS change FROM o
)
SELECT patient_id, n_assessments, baseline_score, baseline_day, endpoint_score,
  endpoint_day, analysed, change,
  CASE WHEN baseline_score <> 0 THEN change / baseline_score * 100 END AS pct_change,
  {responder} AS responder,
  {remitter} AS remitter
FROM c ORDER BY patient_id
"""


def outcomes(con, source: str, p: Params):
    """The derivation as a pandas frame (for the equality check)."""
    return con.execute(outcomes_sql(source, p)).df()


def summary_sql(source: str, p: Params) -> str:
    """The ``summary`` aggregates over :func:`outcomes_sql` (no filters, no grouping)."""
    sign = 1.0 if p.higher_is_worse else -1.0
    improvement = f"({-sign!r} * change)"
    if p.rci_points is not None:
        thr = f"{float(p.rci_points)!r}"
        up, down = f"{improvement} >= {thr} - 1e-9", f"-{improvement} >= {thr} - 1e-9"
    elif p.rci_reliability is not None:
        thr = f"(1.96 * sqrt(2.0) * sd_b * sqrt(1 - {float(p.rci_reliability)!r}))"
        up, down = f"{improvement} > {thr}", f"-{improvement} > {thr}"
    else:
        up = down = "NULL"
    crossed = "FALSE"
    if p.caseness_cutoff is not None:
        cut = float(p.caseness_cutoff)
        crossed = (
            f"baseline_score >= {cut!r} AND endpoint_score < {cut!r}"
            if p.higher_is_worse
            else f"baseline_score < {cut!r} AND endpoint_score >= {cut!r}"
        )
    return f"""
WITH o AS ({outcomes_sql(source, p)}),
a AS (SELECT * FROM o WHERE analysed),
s AS (SELECT stddev_samp(baseline_score) AS sd_b FROM a),
r AS (
  SELECT a.*, CASE WHEN {up} THEN 'improved' WHEN {down} THEN 'deteriorated'
                   ELSE 'none' END AS rc
  FROM a, s
)
SELECT
  (SELECT count(*) FROM o) AS n_patients_total,
  count(*) AS n_patients,
  count(*) FILTER (WHERE baseline_score = 0) AS n_zero_baseline,
  avg(baseline_score) AS baseline_mean, stddev_samp(baseline_score) AS baseline_sd,
  avg(endpoint_score) AS endpoint_mean, stddev_samp(endpoint_score) AS endpoint_sd,
  avg(change) AS mean_change, stddev_samp(change) AS sd_change,
  count(*) FILTER (WHERE responder) AS responders_n, count(responder) AS responders_N,
  count(*) FILTER (WHERE remitter) AS remitters_n, count(remitter) AS remitters_N,
  count(*) FILTER (WHERE rc = 'improved') AS improved,
  count(*) FILTER (WHERE rc = 'none') AS no_change,
  count(*) FILTER (WHERE rc = 'deteriorated') AS deteriorated,
  count(*) FILTER (WHERE rc = 'improved' AND {crossed}) AS clinically_significant
FROM r
"""


# Plain-Python statistics for the reference process (no scipy: it would cost the
# reference its import time). Regularised incomplete beta by Lentz's continued fraction.
_STATS = r'''
import math

def _betacf(a, b, x):
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d; d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c; c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d; d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c; c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h

def betainc(a, b, x):
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    lbt += a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b

def t_sf2(t, df):
    """Two-sided p-value of a t statistic."""
    return betainc(df / 2.0, 0.5, df / (df + t * t))

def t_ppf975(df):
    lo, hi = 0.0, 1.0
    while t_sf2(hi, df) > 0.05:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_sf2(mid, df) > 0.05:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * hi:
            break
    return (lo + hi) / 2.0

Z = 1.959963984540054

def wilson(k, n):
    if n == 0:
        return None, None
    p = k / n
    denom = 1.0 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return max(0.0, centre - half) * 100.0, min(1.0, centre + half) * 100.0
'''


def figures(row: dict) -> dict:
    """The ``summary --json`` keys from the SQL aggregates (the reference process runs
    the same code from :func:`summary_script`)."""
    ns: dict = {}
    exec(_STATS, ns)
    return _figures(row, ns)


def _figures(row: dict, ns: dict) -> dict:
    import math

    n = row["n_patients"]
    mean, sd = row["mean_change"], row["sd_change"]
    out = {
        k: row[k]
        for k in (
            "n_patients_total",
            "n_patients",
            "n_zero_baseline",
            "baseline_mean",
            "baseline_sd",
            "endpoint_mean",
            "endpoint_sd",
            "mean_change",
            "sd_change",
        )
    }
    out["n_carried_forward"] = 0
    if n >= 2 and sd:
        half = ns["t_ppf975"](n - 1) * sd / math.sqrt(n)
        t = mean / (sd / math.sqrt(n))
        out.update(
            mean_change_ci95_low=mean - half,
            mean_change_ci95_high=mean + half,
            t_statistic=t,
            p_value=ns["t_sf2"](abs(t), n - 1),
            cohens_dz=mean / sd,
        )
    for name in ("responders", "remitters"):
        k, big_n = row[f"{name}_n"], row[f"{name}_N"]
        low, high = ns["wilson"](k, big_n)
        out[name] = {
            "n": k,
            "N": big_n,
            "pct": k / big_n * 100.0 if big_n else None,
            "ci95_low": low,
            "ci95_high": high,
        }
    out["reliable_change"] = {
        "improved": row["improved"],
        "no_change": row["no_change"],
        "deteriorated": row["deteriorated"],
        "N": n,
        "clinically_significant": row["clinically_significant"],
    }
    return out


def summary_script(csv_path: str, p: Params, threads: int | None = None) -> str:
    """A program for ``python -c``: DuckDB reads ``csv_path`` and prints the summary JSON."""
    import inspect

    source = f"read_csv({json.dumps(str(csv_path))}, header = true)".replace('"', "'")
    sql = summary_sql(source, p)
    setup = f"con.execute('SET threads TO {int(threads)}')\n" if threads else ""
    return (
        "import json, duckdb\n"
        + _STATS
        + inspect.getsource(_figures)
        + "con = duckdb.connect()\n"
        + setup
        + f"cur = con.execute({sql!r})\n"
        + "row = dict(zip([c[0] for c in cur.description], cur.fetchone()))\n"
        + "print(json.dumps(_figures(row, globals())))\n"
    )
