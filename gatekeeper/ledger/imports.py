"""A dialer's call records, as its export comes (CSV or xlsx, in the agency's own column
names and outcome codes), to ledger calls.

All or nothing: a row that cannot be recorded (an outcome code the agency's manifest does
not map, a number or time that cannot be read) stops the import, naming the row and the
fix, and nothing is stored. The reading of the file is the lists' (encodings, Excel
artefacts, title rows), so a dialer's export is read as carefully as a list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from ..errors import InputError
from ..exprs import refuse_rows
from ..jurisdictions import DEFAULT, Jurisdiction
from ..normalise import normalise
from ..sources.manifest import Manifest
from ..sources.readers import read_source
from ..timeutil import instants, now_utc
from . import CALL_FIELDS as FIELDS
from . import DIRECTIONS, OUTCOMES, conform
from . import REQUIRED_CALL_FIELDS as REQUIRED

_DIRECTION_WORDS = {"outbound": "outbound", "out": "outbound", "o": "outbound",
                    "uscita": "outbound", "inbound": "inbound", "in": "inbound",
                    "i": "inbound", "entrata": "inbound"}


def _text(column: str) -> pl.Expr:
    """A cell's text, stripped; an empty cell is no value (a call without a campaign)."""
    value = pl.col(column).str.strip_chars()
    return pl.when(value != "").then(value)


def _missing(path: Path, columns: Mapping[str, str], found: list[str], manifest: Path,
             hint: int | None = None) -> InputError | None:
    for field in REQUIRED:
        if field not in columns:
            return InputError(f"[calls] columns has no {field}; map it to the export's "
                              f"column, e.g. {field} = \"...\"", file=manifest,
                              key=f"calls.columns.{field}")
    absent = [f"{c} (for {f})" for f, c in columns.items() if c not in found]
    if absent:
        if hint:  # the header is on another line (a title line above it, or none)
            return InputError(f"column(s) {', '.join(absent)} not in the header line; the "
                              f"header seems to be line {hint}: set header_row = {hint} in "
                              f"[calls] of {manifest.name}", file=path)
        named = [c for c in found if not c.startswith("__UNNAMED__")]
        return InputError(f"column(s) {', '.join(absent)} not in the file; columns are: "
                          + ", ".join(named) + f"; fix [calls] columns in {manifest.name}",
                          file=path)
    return None


def read_export(path: Path, agency: str, columns: Mapping[str, str],
                outcomes: Mapping[str, str], manifest: Path, *,
                jurisdiction: Jurisdiction = DEFAULT, header_row: int | None = None
                ) -> pl.DataFrame:
    """The export's rows as ledger calls of `agency` (LEDGER_SCHEMA), or InputError."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    reading = Manifest(id=f"calls-{agency}", kind="internal_archive", file=path,
                       received_on=dt.date.today(), purposes=("telemarketing",),
                       supplier=None, columns={"phone": columns.get("phone", "")},
                       defaults={}, path=manifest, header_row=header_row)
    table = read_source(reading)
    found = [c for c in table.frame.columns if c != "row"]
    # An agency without [calls] columns maps every field to its own name; the optional
    # ones its export does not have are then simply not there (no agent, no direction).
    columns = {f: c for f, c in columns.items()
               if c in found or f in REQUIRED or c != f}
    problem = _missing(path, columns, found, manifest, table.header_hint)
    if problem:
        raise problem
    frame = table.frame.select(
        pl.col("row"),
        *(_text(columns[f]).alias(f) if f in columns
          else pl.lit(None, pl.String).alias(f) for f in FIELDS))
    codes = {str(k).strip(): v for k, v in outcomes.items()}
    codes.update({o: o for o in OUTCOMES if o not in codes})
    numbers = normalise(frame["phone"], jurisdiction)
    # A call centre shows a handful of caller ids in a million calls: each read once.
    shown = frame["caller_id"].drop_nulls().unique()
    callers = dict(zip(shown.to_list(), normalise(shown, jurisdiction)["phone"].to_list(),
                       strict=True))
    parsed = frame.with_columns(
        numbers["phone"].alias("phone_e164"),
        instants(pl.col("started_at")).alias("at"),
        pl.col("outcome").replace_strict(codes, default=None, return_dtype=pl.String)
        .alias("outcome_name"),
        pl.col("duration_s").str.replace(r"[.,]0+$", "").cast(pl.Int64, strict=False)
        .alias("seconds"),
        pl.col("direction").str.to_lowercase()
        .replace_strict(_DIRECTION_WORDS, default=None, return_dtype=pl.String)
        .alias("way"),
        pl.col("caller_id").replace_strict(callers, default=None, return_dtype=pl.String)
        .alias("caller_e164"))
    why = pl.coalesce(
        pl.when(pl.col("call_id").is_null() | (pl.col("call_id") == ""))
        .then(pl.lit("call_id is empty")),
        pl.when(pl.col("phone_e164").is_null())
        .then(pl.format("phone '{}' is not a valid number", pl.col("phone"))),
        pl.when(pl.col("at").is_null())
        .then(pl.format("started_at '{}' is not a date and time (e.g. 2026-11-20 10:15:00, "
                        "Rome time)", pl.col("started_at"))),
        pl.when(pl.col("outcome_name").is_null())
        .then(pl.format(f"outcome code '{{}}' is not in [calls] outcomes of {manifest.name};"
                        " add it there, e.g. CODE = \"no_answer\" (accepted outcomes: "
                        f"{', '.join(OUTCOMES)})", pl.col("outcome"))),
        pl.when(pl.col("duration_s").is_not_null() & pl.col("seconds").is_null())
        .then(pl.format("duration '{}' is not a number of seconds", pl.col("duration_s"))),
        pl.when(pl.col("direction").is_not_null() & pl.col("way").is_null())
        .then(pl.format(f"direction '{{}}' is not one of {', '.join(DIRECTIONS)}",
                        pl.col("direction"))),
        pl.when(pl.col("caller_id").is_not_null() & (pl.col("caller_id") != "")
                & pl.col("caller_e164").is_null())
        .then(pl.format("caller id '{}' is not a valid number", pl.col("caller_id"))),
        pl.when(pl.col("at") > pl.lit(now_utc() + dt.timedelta(minutes=5)))
        .then(pl.format("started_at '{}' is in the future", pl.col("started_at"))))
    checked = refuse_rows(parsed, why, lambda n, first: f"{n} row(s) cannot be recorded, "
                          f"nothing was stored; first {first}; fix the file (or the agency's "
                          "manifest) and import again", path)
    return conform(checked.select(
        pl.lit(agency).alias("agency"), "call_id", pl.col("phone_e164").alias("phone"),
        pl.col("phone_e164").str.strip_prefix("+").cast(pl.Int64).alias("phone_key"),
        "campaign", "agent", pl.col("caller_e164").alias("caller_id"),
        pl.col("way").fill_null("outbound").alias("direction"),
        pl.col("at").alias("started_at"), pl.col("seconds").alias("duration_s"),
        pl.col("outcome_name").alias("outcome"),
        pl.lit(now_utc(), pl.Datetime("us")).alias("recorded_at"),
        pl.lit("import").alias("via")))
