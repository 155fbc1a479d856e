"""Column names of the canonical data model (DESIGN.md §3), in one place.

The canonical table is long: one row per patient, instrument and time point.
"""

from __future__ import annotations

PATIENT_ID = "patient_id"
INSTRUMENT = "instrument"
SCORE = "score"
INFUSIONS = "infusions_received"
DAY = "day"

REQUIRED_COLUMNS: tuple[str, ...] = (PATIENT_ID, INSTRUMENT, SCORE)
TIME_COLUMNS: tuple[str, ...] = (INFUSIONS, DAY)
CORE_COLUMNS: tuple[str, ...] = (PATIENT_ID, INSTRUMENT, SCORE, INFUSIONS, DAY)

# Set by validation: the row number the user sees in the source file (header = row 1).
SOURCE_ROW = "source_row"
# Set by an import profile on wide exports: the source column each score came from.
SOURCE_COLUMN = "source_column"
BOOKKEEPING: tuple[str, ...] = (SOURCE_ROW, SOURCE_COLUMN)

# Covariates with at most this many distinct values count as categorical filters.
MAX_FILTER_LEVELS = 30
