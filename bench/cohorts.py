"""Synthetic cohorts for the benchmark, generated once and cached under ``bench/data/``.

Every file is SYNTHETIC DEMO DATA from :func:`sample_data.generate_demo.generate_cohort`
(seeded, so a cached file and a regenerated one are the same). A file is written to a
temporary name and renamed, so an interrupted run never leaves a half-written cohort.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sample_data.generate_demo import DEFAULT_SEED, generate_cohort, write_cohort

DATA = Path(__file__).resolve().parent / "data"
SIZES = (1_000, 10_000, 100_000)


@dataclass(frozen=True)
class Cohort:
    n_patients: int
    csv: Path
    parquet: Path

    @property
    def messy_csv(self) -> Path:
        """The cohort as a messy clinic export (see :func:`messy_export`)."""
        return messy_export(self.n_patients)


def _path(n: int, suffix: str, kind: str = "cohort") -> Path:
    return DATA / f"{kind}_{n}_seed{DEFAULT_SEED}{suffix}"


def _publish(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def cohort(n: int, *, data_dir: Path | None = None) -> Cohort:
    """The canonical CSV and Parquet files of an ``n``-patient cohort, generated on first use."""
    folder = data_dir or DATA
    csv = folder / _path(n, ".csv").name
    parquet = folder / _path(n, ".parquet").name
    if not (csv.exists() and parquet.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        frame = generate_cohort(n, seed=DEFAULT_SEED)
        for final in (csv, parquet):
            if final.exists():
                continue
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp{final.suffix}")
            write_cohort(frame, tmp)
            _publish(tmp, final)
    return Cohort(n, csv, parquet)


def messy_export(n: int, *, data_dir: Path | None = None) -> Path:
    """The ``n``-patient cohort as the messy long export of ``sample_data/make_exports.py``
    (semicolons, decimal commas, dates instead of days, a UTF-8 BOM, a few bad rows)."""
    from sample_data.make_exports import messy_long_export, write_messy_csv

    folder = data_dir or DATA
    path = folder / _path(n, ".csv", kind="messy_export").name
    if not path.exists():
        frame = pd.read_parquet(cohort(n, data_dir=data_dir).parquet)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.csv")
        write_messy_csv(messy_long_export(frame), tmp)
        _publish(tmp, path)
    return path


MESSY_PROFILE = (
    Path(__file__).resolve().parent.parent / "sample_data/profiles/messy_long_export.toml"
)
