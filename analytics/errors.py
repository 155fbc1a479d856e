"""One error family for everything a user can get wrong.

Every message names the file, and where it applies the row and the column, so that a
clinician can open the spreadsheet and fix it. Row numbers count the header as row 1,
as a spreadsheet shows them: the first data row is row 2.
"""

from __future__ import annotations


class DataValidationError(ValueError):
    """Bad input: a file, a row, a column or an option the library cannot use."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class UnknownInstrumentError(DataValidationError):
    """An instrument id that is neither in the registry nor declared as custom."""


class OutcomeDefinitionError(DataValidationError):
    """An outcome definition (endpoint rule, thresholds, population) that cannot be used."""
