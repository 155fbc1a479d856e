"""Where datasets come from. For now the built-in synthetic demo cohort; uploaded
datasets join through the store (DESIGN.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_ID = "demo"
DEMO_PATH = ROOT / "sample_data" / "demo_cohort.csv"


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    name: str
    synthetic: bool


def available_datasets() -> list[DatasetInfo]:
    return [DatasetInfo(DEMO_ID, "Demo cohort (synthetic, 3 clinics)", synthetic=True)]


def dataset_info(dataset_id: str) -> DatasetInfo:
    for info in available_datasets():
        if info.id == dataset_id:
            return info
    raise KeyError(dataset_id)


def dataset_path(dataset_id: str) -> Path:
    if dataset_id == DEMO_ID:
        return DEMO_PATH
    raise KeyError(dataset_id)
