"""Files people open in a spreadsheet: text that a spreadsheet would run stays text, and a
list's row is named as their program shows it.

A name such as `=HYPERLINK("http://…","clic")` in a bought list would otherwise become a
live formula in the campaign manager's Excel (CSV injection, OWASP). Cells that start
with = + - @ or a tab or carriage return get a leading apostrophe, which spreadsheets
show as text; the E.164 phone column (which starts with "+") is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


def neutralised(column: str) -> pl.Expr:
    """The column with every formula-like value made plain text."""
    value = pl.col(column)
    return (pl.when(value.str.contains(FORMULA_START))
            .then(pl.lit("'") + value).otherwise(value).alias(column))


def safe_for_spreadsheets(frame: pl.DataFrame, columns: Iterable[str] | None = None,
                          keep: Iterable[str] = ("phone",)) -> pl.DataFrame:
    """frame with its text columns (or only `columns`) neutralised, except `keep`."""
    chosen = columns if columns is not None else [
        c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(neutralised(c) for c in chosen if c not in set(keep))


def shown_row(row: int, lines_before: int, sheet: str | None = None) -> str:
    """A list's data row named as the person's program shows it, beside the data row:
    Excel's row number and sheet, or the file's line; a Parquet file has no lines."""
    if sheet is not None:
        return f"row {row + lines_before} of sheet '{sheet}' (data row {row})"
    if lines_before:
        return f"line {row + lines_before} (data row {row})"
    return f"row {row}"
