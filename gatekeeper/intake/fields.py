"""From a reader's text columns to canonical fields (brief: "A source manifest").

Values that cannot be read (a consent flag of "forse", a date of "31/02/2025") make
the row a reject with the reason, never a silent null: a null consent would quietly
block a lawful row, and a misread date could make an expired consent look fresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from gatekeeper.core.columns import (
    BOOLEAN_FIELDS,
    CANONICAL_FIELDS,
    DATE_FIELDS,
    LEADING_ZERO,
    RAW,
    REPAIRED,
    ROW,
    VALID,
)
from gatekeeper.core.errors import SourceFileError
from gatekeeper.intake import consent_evidence as evidence
from gatekeeper.intake.manifest import Manifest
from gatekeeper.intake.normalise import normalise, restore_leading_zero
from gatekeeper.intake.readers import REJECT_SCHEMA, RawTable, header_hint_text
from gatekeeper.jurisdictions import Jurisdiction

# Yes and no as the lists of the countries called write them (Romanian da/nu, French
# oui/non, German ja/nein, Spanish sí/no): a word not here is refused, never guessed.
TRUE_WORDS = ("si", "sì", "sí", "s", "yes", "y", "true", "vero", "1", "x", "ok", "da",
              "oui", "ja")
FALSE_WORDS = ("no", "n", "false", "falso", "0", "nu", "non", "nein")
STATUS_WORDS = {
    "active": "active", "attivo": "active", "attiva": "active", "in essere": "active",
    "activ": "active", "actif": "active", "en cours": "active", "activo": "active",
    "aktiv": "active",
    "ceased": "ceased", "cessato": "ceased", "cessata": "ceased", "chiuso": "ceased",
    "încetat": "ceased", "incetat": "ceased", "résilié": "ceased", "resilie": "ceased",
    "terminado": "ceased", "beendet": "ceased", "gekündigt": "ceased",
}
LOST_ZERO = ("looks like a landline whose leading zero was lost (the column was stored as a "
             "number); format the column as text and export again")
# The fix the person holding the file can make without the supplier.
RESTORE_FIX = ', or write leading_zero = "restore" in {} to read it as that landline'
# Excel's two-digit-year window: 00-29 are 20xx, 30-99 are 19xx.
EXCEL_PIVOT_YY = 30
# Excel's 1900 date system, past its phantom 1900-02-29: date = 1899-12-30 + serial days.
EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_SERIALS = (20000, 80000)  # 1954-10-03 .. 2119-01-11: plausible dates only
_ERR = "__err_"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cleaned(text: pl.Expr) -> pl.Expr:
    """A cell as read: stripped, and nothing when nothing is left (replace costs half of
    when/then/otherwise: 0.07 s a column of 3.3M rows)."""
    return text.str.strip_chars().replace("", None)


def _source_column(field: str, manifest: Manifest, table: RawTable, *,
                   clean: bool = True) -> pl.Expr:
    """The field's column (cleaned, unless `clean` is False), default or a typed null."""
    available = [c for c in table.frame.columns if c != ROW]
    if field in manifest.columns:
        column = manifest.columns[field]
        if column not in available:
            raise SourceFileError(
                f"column '{column}' (for {field}) is not in the file; columns are: "
                + ", ".join(repr(c) for c in available) + header_hint_text(table.header_hint),
                file=manifest.path, key=f"columns.{field}")
        return _cleaned(pl.col(column)) if clean else pl.col(column)
    if field in manifest.defaults:
        return pl.lit(_text(manifest.defaults[field]), dtype=pl.String)
    return pl.lit(None, dtype=pl.String)


def _boolean(field: str) -> tuple[pl.Expr, pl.Expr]:
    low = pl.col(field).str.to_lowercase()
    value = (pl.when(low.is_in(TRUE_WORDS)).then(True)
             .when(low.is_in(FALSE_WORDS)).then(False)
             .otherwise(None))
    error = (pl.when(pl.col(field).is_not_null() & value.is_null())
             .then(pl.format(f"{field} '{{}}' is not yes/no (use si/no, yes/no, true/false, "
                             "1/0 or x/empty)", pl.col(field))))
    return value.alias(field), error.alias(_ERR + field)


def _date(field: str) -> tuple[pl.Expr, pl.Expr]:
    """Dates as Italian lists carry them: ISO, d/m/y with a 4- or 2-digit year, or an Excel
    serial number from a cell that lost its date format.

    A two-digit year is read as Excel reads it (00-29 -> 20xx, 30-99 -> 19xx): read as
    year 0025 it would make every consent look expired. A serial is accepted only in
    20000-80000 (1954-2119), so a stray count or code is never taken for a date.
    """
    text = pl.col(field)
    iso_prefix = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$", 1)
    # One separator throughout (31/03/25, 31-03-25, 31.03.25), never mixed (31/03-25).
    one_sep = "|".join(rf"^\d{{1,2}}{sep}\d{{1,2}}{sep}(?:\d{{4}}|\d{{2}})$"
                       for sep in ("/", "-", r"\."))
    dmy = text.str.extract_groups(r"^(\d{1,2})\D(\d{1,2})\D(\d+)$")
    day, month, year = (dmy.struct[i] for i in range(3))
    short = year.str.len_chars() == 2
    full_year = (pl.when(short & (year.cast(pl.Int32, strict=False) < EXCEL_PIVOT_YY))
                 .then(pl.lit("20") + year)
                 .when(short).then(pl.lit("19") + year)
                 .otherwise(year))
    dmy_iso = pl.when(text.str.contains(one_sep)).then(pl.concat_str(
        full_year, pl.lit("-"), month.str.zfill(2), pl.lit("-"), day.str.zfill(2)))
    serial = text.str.extract(r"^(\d{5})(?:[.,]\d+)?$", 1).cast(pl.Int64, strict=False)
    serial_date = (pl.when(serial.is_between(*EXCEL_SERIALS))
                   .then(pl.lit(EXCEL_EPOCH) + pl.duration(days=serial)))
    value = pl.coalesce(
        iso_prefix.str.to_date("%Y-%m-%d", strict=False),
        dmy_iso.str.to_date("%Y-%m-%d", strict=False),
        serial_date.cast(pl.Date),
    )
    error = (pl.when(text.is_not_null() & value.is_null())
             .then(pl.format(f"{field} '{{}}' is not a date (use 2025-03-31 or 31/03/2025)",
                             text)))
    return value.alias(field), error.alias(_ERR + field)


def _status() -> tuple[pl.Expr, pl.Expr]:
    field = "contract_status"
    value = pl.col(field).str.to_lowercase().replace_strict(STATUS_WORDS, default=None)
    error = (pl.when(pl.col(field).is_not_null() & value.is_null())
             .then(pl.format(f"{field} '{{}}' is not active/ceased (attivo/cessato)",
                             pl.col(field))))
    return value.alias(field), error.alias(_ERR + field)


def _once_per_value(column: pl.Series, value: pl.Expr, error: pl.Expr, *, clean: bool
                    ) -> tuple[pl.Series, pl.Series]:
    """value and error (expressions of the column's name) of each row of a text column,
    each worked out once per distinct value (cleaned first if `clean`) and handed to its
    rows by position: the column cast to an Enum of its values numbers them, and the
    numbers pick the answers. A join back on the text gathered every column of the frame
    each time (2 such fields of a 3.3M-row list: 0.6 -> 0.2 CPU-s)."""
    empty = column.null_count() == column.len()  # a field the list leaves blank
    distinct = column.head(0) if empty else column.unique().drop_nulls()
    cells = pl.concat([distinct, pl.Series([None], dtype=column.dtype)]).to_frame()
    if clean:
        cells = cells.select(_cleaned(pl.col(column.name)))
    answers = cells.select(value, error)
    if empty:  # every row has the answer for null: no pass over the rows (0.08 s a field)
        return (answers.to_series(0).new_from_index(0, column.len()),
                answers.to_series(1).new_from_index(0, column.len()))
    at = column.cast(pl.Enum(distinct)).to_physical().cast(pl.UInt32).fill_null(
        distinct.len())  # a null cell: the answer for null, last in `answers`
    return answers.to_series(0).gather(at), answers.to_series(1).gather(at)


def read_phones(raw: pl.Series, manifest: Manifest, jurisdiction: Jurisdiction,
                numbers: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """The phone column as the manifest has it read: normalise()'s columns and REPAIRED,
    and which values are landlines that lost their leading 0 and were left so, for the
    caller to reject. With leading_zero = "restore" none is left: each is read as the
    landline it was, its REPAIRED "leading_zero". `numbers` is normalise(raw), when done
    already: then only the values it found invalid are looked at (a few percent of a list
    instead of all of it: ~1.7 s less per 3.3M rows)."""
    numbers = normalise(raw, jurisdiction) if numbers is None else numbers
    invalid = (~numbers.get_column(VALID).fill_null(False)).arg_true()
    restored = restore_leading_zero(raw.gather(invalid), jurisdiction)
    at = invalid.filter(restored.is_not_null())
    repaired = pl.repeat(None, raw.len(), dtype=pl.String, eager=True).alias(REPAIRED)
    lost = pl.repeat(False, raw.len(), eager=True).alias(RAW)
    if not manifest.restores_leading_zero:
        return numbers.with_columns(repaired), lost.scatter(at, True)
    if at.len():
        fixed = normalise(restored.drop_nulls(), jurisdiction)
        numbers = numbers.with_columns(numbers.get_column(c).scatter(at, fixed.get_column(c))
                                       for c in fixed.columns)
        repaired = repaired.scatter(at, LEADING_ZERO)
    return numbers.with_columns(repaired), lost


def to_canonical(table: RawTable, manifest: Manifest, jurisdiction: Jurisdiction,
                 numbers: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical fields + `row` + `raw` + the number read from it (read_phones; bare
    numbers are the jurisdiction's) for readable rows; rejects (row, reason) for the rest.
    `numbers`: normalise() of the phone column, when the caller has it already."""
    phone_column = manifest.columns["phone"]
    once = {*BOOLEAN_FIELDS, *DATE_FIELDS, "contract_status", "consent_sectors"}
    selected = [_source_column(f, manifest, table, clean=f not in once).alias(f)
                for f in CANONICAL_FIELDS]
    frame = table.frame.select(pl.col(ROW), pl.col(phone_column).alias(RAW), *selected[1:])
    parsed = [_boolean(f) for f in BOOLEAN_FIELDS] + [_date(f) for f in DATE_FIELDS]
    parsed.append(_status())
    # Evidence a list does not carry stays a typed null: parsing a column of nulls would
    # still cost a pass (and a join) over every row of the list.
    given = set(manifest.columns) | set(manifest.defaults)
    absent = {f: t for f, t in evidence.TYPES.items() if f not in given}
    frame = frame.with_columns(pl.lit(None, t).alias(f) for f, t in absent.items())
    if "consent_sectors" not in absent:
        parsed.append(evidence.sectors("consent_sectors"))
    # Flags, dates, statuses and sectors (`once`) take a few hundred distinct values in
    # millions of rows: each is cleaned and parsed once (a date column: 0.85 s -> 0.12 s
    # per 3.3M rows). IP addresses and instants are nearly all distinct: parsed in place.
    frame = frame.with_columns(
        column for value, error in parsed
        for column in _once_per_value(
            frame.get_column(value.meta.output_name()), value, error,
            clean=value.meta.output_name() in manifest.columns))
    distinct = [p for p in (evidence.ip("consent_ip"), evidence.instant("consent_at",
                                                                 jurisdiction.timezone_name))
                if p[0].meta.output_name() not in absent]
    frame = frame.with_columns(*(error for _, error in distinct)).with_columns(
        value for value, _ in distinct)
    parsed += distinct
    # A landline read from a number cell lost its 0: as a row it would just be "invalid",
    # hiding that the whole column needs exporting again as text (or restoring).
    numbers, lost = read_phones(frame.get_column(RAW), manifest, jurisdiction, numbers)
    frame = frame.hstack(numbers)
    fix = LOST_ZERO + RESTORE_FIX.format(f"sources/{manifest.path.name}")
    lost_zero = pl.when(pl.lit(lost)).then(
        pl.concat_str(pl.lit("phone '"), pl.col(RAW).str.strip_chars(), pl.lit(f"' {fix}")))
    frame = frame.with_columns(lost_zero.alias(_ERR + "phone"))
    errors = [_ERR + "phone", *(err.meta.output_name() for _, err in parsed)]
    frame = frame.with_columns(pl.coalesce(errors).alias("reason")).drop(errors)
    bad = frame.filter(pl.col("reason").is_not_null()).select(ROW, "reason")
    good = frame.filter(pl.col("reason").is_null()).drop("reason")
    rejects = pl.concat([table.rejects, bad.cast(REJECT_SCHEMA)]).sort(ROW)  # type: ignore[arg-type]
    return good, rejects
