"""Write the demo cohort as two realistic clinic exports, for trying the upload flow.

- ``exports/wide_export.xlsx``: one row per patient, a title block above a two-row header
  (instrument over time point), a second "Notes" sheet; follow-ups at nominal days 45/100.
- ``exports/messy_long_export.csv``: one row per assessment, UTF-8 with BOM, semicolons and
  decimal commas, odd column names, measure labels as an EHR writes them, visit and first
  infusion dates (day/month/year) instead of days, "N/A" strings, and a few bad rows.

Both are SYNTHETIC DEMO DATA. Their profiles are in ``profiles/``. Run
``python -m sample_data.make_exports`` after regenerating ``demo_cohort.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "exports"
LABELS = {"pcl5": "PCL5", "phq9": "PHQ9", "gad7": "GAD7"}
LONG_LABELS = {"pcl5": "PCL-5 Total", "phq9": "PHQ9", "gad7": "GAD-7 score", "cadss": "CADSS"}
COVARIATES = {
    "site": "Site",
    "age_band": "Age band",
    "sex": "Sex",
    "veteran": "Veteran",
    "trauma_type": "Trauma type",
    "comorbid_mdd": "Comorbid MDD",
    "prior_failed_treatments": "Prior failed treatments",
    "psychotherapy": "Psychotherapy",
    "bmi": "BMI",
    "substance_use_history": "Substance use",
    "family_history_aud": "Family history AUD",
    "route": "Route",
}


def time_label(row: pd.Series) -> str | None:
    """The wide export's time point: baseline, session k (before infusion k), post
    induction, day 45 or day 100 (follow-ups keep only the nominal day)."""
    inf, day = row["infusions_received"], row["day"]
    if inf == 0:
        return "Baseline"
    if inf <= 5 and day <= 21:
        return f"Session {int(inf) + 1}"
    if inf == 6 and day <= 21:
        return "Post induction"
    if 30 <= day <= 60:
        return "Day 45"
    if day >= 80:
        return "Day 100"
    return None


def wide_export(demo: pd.DataFrame) -> pd.DataFrame:
    scores = demo[demo["instrument"].isin(LABELS)].copy()
    scores["time"] = scores.apply(time_label, axis=1)
    scores = scores.dropna(subset=["time"])
    wide = scores.pivot_table(
        index="patient_id", columns=["instrument", "time"], values="score", aggfunc="first"
    )
    order = ["Baseline", *(f"Session {k}" for k in range(2, 7))]
    order += ["Post induction", "Day 45", "Day 100"]
    cols = [(i, t) for i in LABELS for t in order if (i, t) in wide.columns]
    wide = wide[cols]
    wide.columns = [f"{LABELS[i]} {t}" for i, t in cols]
    patients = demo.drop_duplicates("patient_id").set_index("patient_id")[list(COVARIATES)]
    patients = patients.rename(columns=COVARIATES)
    out = patients.join(wide).reset_index().rename(columns={"patient_id": "Patient ID"})
    return out


def write_wide_xlsx(wide: pd.DataFrame, path: Path) -> None:
    """Title block, then a merged group header (instrument) over the time points."""
    with pd.ExcelWriter(path, engine="xlsxwriter") as xw:
        sheet = "Outcomes"
        n_title = 3
        wide_cols = list(wide.columns)
        groups = [
            c.split(" ", 1)[0] if c.split(" ", 1)[0] in LABELS.values() else "" for c in wide_cols
        ]
        times = [c.split(" ", 1)[1] if g else c for c, g in zip(wide_cols, groups, strict=True)]
        body = wide.copy()
        body.columns = range(len(wide_cols))
        body.to_excel(xw, sheet_name=sheet, startrow=n_title + 2, header=False, index=False)
        ws = xw.sheets[sheet]
        bold = xw.book.add_format({"bold": True})
        ws.write(0, 0, "Ketamine clinic outcomes export (SYNTHETIC DEMO DATA)", bold)
        ws.write(1, 0, "Scores before each session; follow-ups at nominal days 45 and 100")
        start = 0
        while start < len(groups):
            end = start
            while end + 1 < len(groups) and groups[end + 1] == groups[start]:
                end += 1
            if groups[start]:
                ws.merge_range(n_title, start, n_title, end, groups[start], bold)
            start = end + 1
        for j, t in enumerate(times):
            ws.write(n_title + 1, j, t, bold)
        notes = xw.book.add_worksheet("Notes")
        notes.write(0, 0, "Synthetic demo data generated from sample_data/demo_cohort.csv")


def messy_long_export(demo: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = demo[demo["instrument"].isin(LONG_LABELS)].copy()
    ids = d["patient_id"].unique()
    start = pd.Timestamp("2025-01-06") + pd.to_timedelta(rng.integers(0, 300, len(ids)), "D")
    first = pd.Series(start, index=ids)
    visit = first.reindex(d["patient_id"]).to_numpy() + pd.to_timedelta(d["day"], "D").to_numpy()
    out = pd.DataFrame(
        {
            "Subject ID": d["patient_id"].to_numpy(),
            "Measure": d["instrument"].map(LONG_LABELS).to_numpy(),
            "Total": d["score"].astype("Int64").astype(str).to_numpy(),
            "Infusions to date": d["infusions_received"].astype("Int64").astype(str).to_numpy(),
            "Visit date": pd.DatetimeIndex(visit).strftime("%d/%m/%Y"),
            "First infusion": first.reindex(d["patient_id"]).dt.strftime("%d/%m/%Y").to_numpy(),
        }
    )
    for col, label in COVARIATES.items():
        out[label] = d[col].to_numpy()
    out["Dose (mg/kg)"] = d["dose_mg_per_kg"].map(lambda x: "N/A" if pd.isna(x) else x).to_numpy()
    bad = pd.DataFrame(
        [
            ["DEMO-0001", "PCL-5 Total", "abc", "9", "01/01/2026"],
            ["DEMO-0002", "PHQ9", "99", "9", "01/01/2026"],
            ["", "GAD-7 score", "12", "9", "01/01/2026"],
            ["DEMO-0003", "PCL-5 Total", "N/A", "9", "01/01/2026"],
            ["DEMO-0004", "BDI", "20", "9", "01/01/2026"],
        ],
        columns=["Subject ID", "Measure", "Total", "Infusions to date", "Visit date"],
    )
    own = out.drop_duplicates("Subject ID").set_index("Subject ID")
    for col in out.columns[5:]:
        bad[col] = own[col].reindex(bad["Subject ID"].replace("", "DEMO-0005")).to_numpy()
    repeat = out.iloc[[10]]  # the same row twice: a warning, kept once
    positions = sorted(rng.choice(len(out), size=len(bad), replace=False))
    pieces, last = [], 0
    for k, pos in enumerate(positions):
        pieces += [out.iloc[last:pos], bad.iloc[[k]]]
        last = pos
    pieces += [out.iloc[last:], repeat]
    return pd.concat(pieces, ignore_index=True)[out.columns]


def write_messy_csv(frame: pd.DataFrame, path: Path) -> None:
    text = frame.to_csv(sep=";", index=False, decimal=",", na_rep="N/A")
    path.write_text(text, encoding="utf-8-sig")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    demo = pd.read_csv(HERE / "demo_cohort.csv")
    write_wide_xlsx(wide_export(demo), OUT / "wide_export.xlsx")
    write_messy_csv(messy_long_export(demo), OUT / "messy_long_export.csv")


if __name__ == "__main__":
    main()
