"""Seeded synthetic demo cohort: ketamine infusions for PTSD with comorbid depression/anxiety.

SYNTHETIC DEMO DATA: no real patients. Every value is drawn from a random number
generator; ``patient_id`` is a sequence number, ages are bands and there are no dates.

The cohort is returned in the canonical long form of DESIGN.md section 3: one row per
patient, instrument and time point. Generation is fully vectorised with numpy (one array
per quantity, shape ``(n_patients,)`` or ``(n_patients, n_slots)``), so 100,000 patients
(about 3 million rows) take a few seconds. See ``sample_data/README.md`` for the data
dictionary, the schedule and the calibration against published figures.

Usage::

    python -m sample_data.generate_demo [--patients N] [--seed S] [--out PATH]

``PATH`` ending in ``.parquet`` writes Parquet, anything else CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_N_PATIENTS = 720
DEFAULT_SEED = 20261128
DEFAULT_OUT = Path(__file__).resolve().parent / "demo_cohort.csv"

COLUMNS = [
    "patient_id",
    "instrument",
    "score",
    "infusions_received",
    "day",
    "site",
    "age_band",
    "sex",
    "veteran",
    "trauma_type",
    "comorbid_mdd",
    "prior_failed_treatments",
    "psychotherapy",
    "bmi",
    "substance_use_history",
    "family_history_aud",
    "route",
    "dose_mg_per_kg",
]

INSTRUMENTS = ("pcl5", "phq9", "gad7", "cadss")
SCORE_MAX = {"pcl5": 80, "phq9": 27, "gad7": 21, "cadss": 92}

SITES = ("Clinic A", "Clinic B", "Clinic C")
SITE_P = (0.48, 0.32, 0.20)
AGE_BANDS = ("18-29", "30-39", "40-49", "50-59", "60+")
AGE_P = (0.18, 0.28, 0.25, 0.18, 0.11)
SEXES = ("Female", "Male")
TRAUMA_TYPES = ("Combat", "Sexual assault", "Childhood abuse", "Accident", "Other")
# Trauma type given (veteran, sex): rows are non-veteran female, non-veteran male,
# veteran female, veteran male.
TRAUMA_P = np.array(
    [
        [0.01, 0.38, 0.30, 0.14, 0.17],
        [0.03, 0.10, 0.32, 0.28, 0.27],
        [0.30, 0.35, 0.13, 0.10, 0.12],
        [0.66, 0.05, 0.09, 0.10, 0.10],
    ]
)
YES_NO = ("No", "Yes")
ROUTES = ("IV", "IM")

# Outcome instruments (pcl5, phq9, gad7) are assessed in 9 slots:
#   0 baseline (0 infusions), 1..5 before infusions 2..6 (slot j: j infusions received),
#   6 after induction (6 infusions), 7 follow-up ~day 45, 8 follow-up ~day 100.
N_OUTCOME_SLOTS = 9
# CADSS is recorded at each infusion session: 6 induction sessions and up to 3 boosters
# (A between induction and the day-45 visit, B at the day-45 visit after its assessment,
# C between the day-45 and day-100 visits).
N_SESSION_SLOTS = 9

# Booster patterns (A, B, C) and their probabilities among patients who get boosters.
BOOSTER_PATTERNS = np.array(
    [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 0, 1],
        [0, 1, 1],
        [1, 1, 0],
        [1, 1, 1],
    ],
    dtype=bool,
)
BOOSTER_PATTERN_P = (0.30, 0.15, 0.20, 0.15, 0.10, 0.05, 0.05)

MISSING_ASSESSMENT_P = 0.04  # missed individual assessments, at random
NO_PCL5_BASELINE_P = 0.01  # patients whose PCL-5 baseline is absent altogether


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pick(rng: np.random.Generator, n: int, p) -> np.ndarray:
    """Category codes 0..len(p)-1 drawn with probabilities p."""
    return rng.choice(len(p), size=n, p=np.asarray(p) / np.sum(p)).astype(np.int8)


def _pick_rows(rng: np.random.Generator, p_rows: np.ndarray) -> np.ndarray:
    """One category code per row of a (n, k) probability matrix."""
    cum = np.cumsum(p_rows, axis=1)
    u = rng.random(p_rows.shape[0]) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1).astype(np.int8)


def _scores(
    rng: np.random.Generator, base: np.ndarray, reduction: np.ndarray, noise_sd: float, hi: int
) -> np.ndarray:
    """Integer scores: base * (1 - reduction) + measurement noise, clipped to 0..hi."""
    raw = base[:, None] * (1.0 - reduction) + rng.normal(0.0, noise_sd, reduction.shape)
    return np.clip(np.rint(raw), 0, hi).astype(np.int64)


def generate_cohort(
    n_patients: int = DEFAULT_N_PATIENTS, *, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """Return a synthetic cohort in canonical long form (see module docstring and README).

    Deterministic for a given ``(n_patients, seed)``. Rows are sorted by patient, day,
    infusions received and instrument (pcl5, phq9, gad7, cadss).
    """
    n = int(n_patients)
    if n < 1:
        raise ValueError("n_patients must be at least 1")
    rng = np.random.default_rng(seed)

    # ---------------------------------------------------------------- patient covariates
    site = _pick(rng, n, SITE_P)
    age = _pick(rng, n, AGE_P)
    male = rng.random(n) < 0.45
    veteran = rng.random(n) < np.where(male, 0.42, 0.12)
    trauma = _pick_rows(rng, TRAUMA_P[veteran.astype(int) * 2 + male.astype(int)])
    combat = trauma == 0
    mdd = rng.random(n) < 0.68
    prior_failed = np.clip(rng.poisson(np.where(mdd, 2.2, 1.5)), 0, 6).astype(np.int64)
    psychotherapy = rng.random(n) < 0.45
    bmi = np.round(np.clip(rng.lognormal(np.log(28.0), 0.18, n), 18.0, 45.0), 1)
    substance = rng.random(n) < np.where(veteran, 0.32, 0.22)
    fh_aud = rng.random(n) < 0.30
    im_route = rng.random(n) < 0.15

    # ---------------------------------------------------------------- baseline severity
    severity = rng.standard_normal(n)  # shared PTSD/depression/anxiety severity factor
    base_pcl = np.clip(48.5 + 12.0 * severity + 2.0 * combat, 10.0, 80.0)
    phq_z = 0.65 * severity + 0.76 * rng.standard_normal(n)
    base_phq = np.clip(15.7 + 4.6 * phq_z + 2.5 * mdd, 1.0, 27.0)
    gad_z = 0.60 * severity + 0.35 * phq_z + 0.70 * rng.standard_normal(n)
    base_gad = np.clip(14.0 + 4.0 * gad_z, 1.0, 21.0)

    # ---------------------------------------------------------------- response model
    # Fractional PCL-5 reduction after six infusions: prognostic linear predictor from
    # pre-treatment covariates (Niciu 2014: BMI and family history of AUD) plus noise.
    lp = 1.25 * (
        0.011 * (bmi - 28.0)
        + 0.13 * fh_aud
        - 0.045 * (prior_failed - 2.0)
        + 0.10 * psychotherapy
        - 0.11 * substance
        - 0.035 * mdd
        - 0.03 * veteran
        - 0.03 * combat
        - 0.003 * (base_pcl - 48.5)
        - 0.02 * im_route
        + np.array([0.0, 0.03, -0.05])[site]
        + np.array([0.02, 0.01, 0.0, -0.01, -0.03])[age]
    )
    dissociation = rng.standard_normal(n)  # latent propensity, shows up in CADSS
    r_final = 0.36 + lp + 0.03 * dissociation + rng.normal(0.0, 0.19, n)
    r_final = np.clip(r_final, -0.6, 0.97)
    dev = r_final - 0.36
    r_phq_final = np.clip(0.45 + 0.85 * dev + rng.normal(0.0, 0.11, n), -0.6, 1.0)
    r_gad_final = np.clip(0.44 + 0.85 * dev + rng.normal(0.0, 0.11, n), -0.6, 1.0)

    # Speed of response: share of the final effect reached after k infusions.
    rate = rng.lognormal(np.log(0.62), 0.35, n)
    k = np.arange(1, 7)
    shape = (1.0 - np.exp(-rate[:, None] * k)) / (1.0 - np.exp(-6.0 * rate[:, None]))
    responder = r_final >= 0.30

    # ---------------------------------------------------------------- induction schedule
    inf_day = np.empty((n, 6), dtype=np.int64)
    inf_day[:, 0] = 0
    inf_day[:, 1] = rng.integers(2, 4, n)
    inf_day[:, 2] = rng.integers(4, 7, n)
    inf_day[:, 3] = rng.integers(7, 9, n)
    inf_day[:, 4] = rng.integers(10, 13, n)
    inf_day[:, 5] = rng.integers(14, 19, n)
    baseline_day = np.where(rng.random(n) < 0.45, 0, rng.integers(-7, 0, n))
    post_day = inf_day[:, 5] + rng.integers(1, 4, n)
    fu45_day = 45 + rng.integers(-7, 8, n)
    fu100_day = 100 + rng.integers(-7, 8, n)

    # Dose titration from 0.5 mg/kg towards a patient-specific ceiling near 1.0 mg/kg.
    step = rng.uniform(0.06, 0.13, n)
    ceiling = rng.uniform(0.75, 1.1, n)
    inf_dose = np.round(np.minimum(0.5 + step[:, None] * (k - 1), ceiling[:, None]), 2)
    inf_dose[:, 0] = 0.5

    # Dropout during induction, mostly among early non-improvers: the patient receives
    # 2-5 infusions and nothing after.
    early = shape[:, 1] * r_final
    drops = rng.random(n) < _sigmoid(-2.0 - 7.0 * (early - 0.2))
    n_induction = np.where(drops, 2 + _pick(rng, n, (0.35, 0.33, 0.22, 0.10)), 6)
    completer = n_induction == 6

    # Loss to follow-up (monotone), more among non-responders.
    u_loss = rng.random(n)
    lost_before_45 = completer & (u_loss < np.where(responder, 0.05, 0.12))
    lost_before_100 = completer & (u_loss < np.where(responder, 0.13, 0.26))
    has_fu45 = completer & ~lost_before_45
    has_fu100 = completer & ~lost_before_100

    # Boosters during follow-up, more among responders.
    boosted = has_fu45 & (rng.random(n) < np.where(responder, 0.37, 0.17))
    pattern = BOOSTER_PATTERNS[_pick(rng, n, BOOSTER_PATTERN_P)]
    boost_a = boosted & pattern[:, 0]
    boost_b = boosted & pattern[:, 1]
    boost_c = boosted & pattern[:, 2] & has_fu100
    boosted = boost_a | boost_b | boost_c
    boost_a_day = rng.integers(24, 37, n)
    boost_c_day = rng.integers(58, 89, n)
    boost_dose = inf_dose[:, 5]

    # Relapse: response fades after onset over ~3 weeks, less often with boosters.
    relapses = rng.random(n) < np.where(boosted, 0.14, 0.40)
    onset = post_day + 5 + rng.exponential(22.0, n)
    depth = rng.uniform(0.3, 0.85, n)

    # ---------------------------------------------------------------- outcome slots
    day_o = np.empty((n, N_OUTCOME_SLOTS), dtype=np.int64)
    day_o[:, 0] = baseline_day
    day_o[:, 1:6] = inf_day[:, 1:6]
    day_o[:, 6] = post_day
    day_o[:, 7] = fu45_day
    day_o[:, 8] = fu100_day

    ir_o = np.empty((n, N_OUTCOME_SLOTS), dtype=np.int64)
    ir_o[:, :7] = np.arange(7)
    ir_o[:, 7] = 6 + boost_a
    ir_o[:, 8] = 6 + boost_a + boost_b + boost_c

    dose_o = np.full((n, N_OUTCOME_SLOTS), np.nan)
    dose_o[:, 0] = np.where(baseline_day == 0, inf_dose[:, 0], np.nan)
    dose_o[:, 1:6] = inf_dose[:, 1:6]
    dose_o[:, 7] = np.where(boost_b, boost_dose, np.nan)

    present_o = np.zeros((n, N_OUTCOME_SLOTS), dtype=bool)
    present_o[:, 0] = True
    present_o[:, 1:6] = np.arange(2, 7) <= n_induction[:, None]
    present_o[:, 6] = completer
    present_o[:, 7] = has_fu45
    present_o[:, 8] = has_fu100

    # Share of the post-induction effect still present at each slot.
    loss = np.clip((day_o[:, 7:9] - onset[:, None]) / 21.0, 0.0, 1.0) * depth[:, None]
    loss *= relapses[:, None]
    progress = np.empty((n, N_OUTCOME_SLOTS))
    progress[:, 0] = 0.0
    progress[:, 1:7] = shape
    progress[:, 7:9] = 1.0 - loss

    scores = {
        "pcl5": _scores(rng, base_pcl, progress * r_final[:, None], 4.5, 80),
        "phq9": _scores(rng, base_phq, progress * r_phq_final[:, None], 1.9, 27),
        "gad7": _scores(rng, base_gad, progress * r_gad_final[:, None], 1.7, 21),
    }

    # ---------------------------------------------------------------- CADSS sessions
    day_c = np.empty((n, N_SESSION_SLOTS), dtype=np.int64)
    day_c[:, :6] = inf_day
    day_c[:, 6] = boost_a_day
    day_c[:, 7] = fu45_day
    day_c[:, 8] = boost_c_day
    ir_c = np.empty((n, N_SESSION_SLOTS), dtype=np.int64)
    ir_c[:, :7] = np.arange(7)
    ir_c[:, 7] = 6 + boost_a
    ir_c[:, 8] = 6 + boost_a + boost_b
    dose_c = np.empty((n, N_SESSION_SLOTS))
    dose_c[:, :6] = inf_dose
    dose_c[:, 6:] = boost_dose[:, None]
    present_c = np.zeros((n, N_SESSION_SLOTS), dtype=bool)
    present_c[:, :6] = np.arange(1, 7) <= n_induction[:, None]
    present_c[:, 6] = boost_a
    present_c[:, 7] = boost_b
    present_c[:, 8] = boost_c
    session = np.minimum(np.arange(N_SESSION_SLOTS), 6)
    cadss_mean = (
        1.5
        + 21.0 * dose_c * np.exp(0.40 * dissociation)[:, None] * (1.0 + 0.12 * im_route)[:, None]
    ) * (1.0 - 0.025 * session)
    cadss = np.clip(np.rint(cadss_mean + rng.normal(0.0, 2.5, cadss_mean.shape)), 0, 92)
    scores["cadss"] = cadss.astype(np.int64)

    # ---------------------------------------------------------------- missingness
    missing = {
        name: rng.random((n, N_OUTCOME_SLOTS)) < MISSING_ASSESSMENT_P
        for name in ("pcl5", "phq9", "gad7")
    }
    missing["pcl5"][:, 0] = rng.random(n) < NO_PCL5_BASELINE_P
    missing["cadss"] = rng.random((n, N_SESSION_SLOTS)) < MISSING_ASSESSMENT_P

    # ---------------------------------------------------------------- long form
    parts = []
    for code, name in enumerate(INSTRUMENTS):
        if name == "cadss":
            day, ir, dose, present = day_c, ir_c, dose_c, present_c
        else:
            day, ir, dose, present = day_o, ir_o, dose_o, present_o
        keep = present & ~missing[name]
        rows, _ = np.nonzero(keep)
        parts.append(
            (
                rows,
                np.full(rows.size, code, dtype=np.int8),
                scores[name][keep],
                ir[keep],
                day[keep],
                dose[keep],
            )
        )
    pid, inst, score, ir, day, dose = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    del parts
    order = np.lexsort((inst, ir, day, pid))
    pid, inst, score, ir, day, dose = (a[order] for a in (pid, inst, score, ir, day, dose))
    del order

    width = max(4, len(str(n)))
    ids = np.array([f"DEMO-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    yes_no = np.asarray(YES_NO, dtype=object)

    def labels(values, codes: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=object)[codes[pid]]

    def flag(mask: np.ndarray) -> np.ndarray:
        return yes_no[mask.astype(np.int8)[pid]]

    # One Series per column joined with concat: no inference pass over the object
    # columns and no consolidation copy, so 100,000 patients stay well under 1 GB.
    columns = {
        "patient_id": ids[pid],
        "instrument": np.asarray(INSTRUMENTS, dtype=object)[inst],
        "score": score,
        "infusions_received": ir,
        "day": day,
        "site": labels(SITES, site),
        "age_band": labels(AGE_BANDS, age),
        "sex": labels(SEXES, male.astype(np.int8)),
        "veteran": flag(veteran),
        "trauma_type": labels(TRAUMA_TYPES, trauma),
        "comorbid_mdd": flag(mdd),
        "prior_failed_treatments": prior_failed[pid],
        "psychotherapy": flag(psychotherapy),
        "bmi": bmi[pid],
        "substance_use_history": flag(substance),
        "family_history_aud": flag(fh_aud),
        "route": labels(ROUTES, im_route.astype(np.int8)),
        "dose_mg_per_kg": dose,
    }
    assert list(columns) == COLUMNS
    series = [
        pd.Series(values, name=name, dtype=values.dtype, copy=False)
        for name, values in columns.items()
    ]
    return pd.concat(series, axis=1, copy=False)


def write_cohort(frame: pd.DataFrame, out: Path) -> None:
    """Write CSV, or Parquet when ``out`` ends in ``.parquet``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_data.generate_demo",
        description="Write the synthetic demo cohort (SYNTHETIC DEMO DATA: no real patients).",
    )
    parser.add_argument("--patients", type=int, default=DEFAULT_N_PATIENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=".csv or .parquet")
    args = parser.parse_args(argv)
    if args.patients < 1:
        parser.error("--patients must be at least 1")
    frame = generate_cohort(args.patients, seed=args.seed)
    write_cohort(frame, args.out)
    print(f"wrote {len(frame):,} rows for {args.patients:,} patients to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
