"""The contracts file, as sales operations send it (CSV or xlsx, Excel artefacts, their own
column names through `--map`), to one row per contract.

All or nothing: a contract that cannot be read (no id, a number that is not one, a
signing time that is not a time, an id twice) stops the verification with its row and
the fix. A contract silently skipped is a contract nobody traced.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.config import read_toml
from gatekeeper.core.errors import InputError, ManifestError
from gatekeeper.core.exprs import refuse_rows
from gatekeeper.core.timeutil import instants, local_iso_expr, local_midnight
from gatekeeper.intake.manifest import Manifest
from gatekeeper.intake.normalise import normalise, phone_key
from gatekeeper.intake.readers import read_source
from gatekeeper.jurisdictions import Jurisdiction

FIELDS = ("contract_id", "phone", "signed_at", "agency", "agent", "campaign")
REQUIRED = ("contract_id", "phone", "signed_at", "agency")
MAP_KEYS = ("columns", "sheet", "delimiter", "encoding", "header_row")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def read_map(path: Path | None) -> dict[str, Any]:
    """`--map MAP.toml`: [columns] canonical name = the file's column; optionally sheet,
    delimiter, encoding, header_row as in a source manifest."""
    if path is None:
        return {"columns": {f: f for f in FIELDS}}
    raw = read_toml(path, ManifestError)
    for key in raw:
        if key not in MAP_KEYS:
            close = difflib.get_close_matches(key, MAP_KEYS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ManifestError(f"unknown key; {hint}accepted: {', '.join(MAP_KEYS)}",
                                file=path, key=key)
    columns = raw.get("columns", {})
    if not isinstance(columns, dict):
        raise ManifestError("must be a table: [columns] then phone = \"Telefono\" …",
                            file=path, key="columns")
    for key, value in columns.items():
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ManifestError(f"unknown field; {hint}accepted: {', '.join(FIELDS)}",
                                file=path, key=f"columns.{key}")
        if not isinstance(value, str) or not value.strip():
            raise ManifestError("must be the file's column name, in quotes", file=path,
                                key=f"columns.{key}")
    return {**raw, "columns": {**{f: f for f in FIELDS if f not in columns}, **columns}}


def read_contracts(file: Path, map_file: Path | None, jurisdiction: Jurisdiction
                   ) -> pl.DataFrame:
    """One row per contract: row, contract_id, phone (E.164), phone_key, region,
    number_type, signed_at (as written back: ISO instant, or the day), signed_end (naive
    UTC: the latest instant the contract may have been signed), agency, agent, campaign."""
    if not file.is_file():
        raise InputError("file not found", file=file)
    mapping = read_map(map_file)
    columns: dict[str, str] = mapping["columns"]
    reading = Manifest(id="contracts", kind="internal_archive", file=file,
                       received_on=dt.date(2000, 1, 1), purposes=("telemarketing",),
                       supplier=None, columns={"phone": columns["phone"]}, defaults={},
                       path=map_file or file, sheet=mapping.get("sheet"),
                       delimiter=mapping.get("delimiter"), encoding=mapping.get("encoding"),
                       header_row=mapping.get("header_row"))
    table = read_source(reading)
    if table.rejects.height:
        first = table.rejects.row(0, named=True)
        raise InputError(f"{table.rejects.height} row(s) cannot be read ({first.get('reason')}"
                         "); fix the file and verify again", file=file,
                         row=int(first["row"]) if first.get("row") is not None else None)
    found = [c for c in table.frame.columns if c != "row"]
    for name in REQUIRED:
        if columns[name] not in found:
            fix = (f"map it in {map_file.name}" if map_file else
                   f"name a column {name} or pass --map MAP.toml with [columns] {name} = "
                   "\"…\"")
            raise InputError(f"no column '{columns[name]}' for {name}; columns are: "
                             f"{', '.join(found)}; {fix}", file=file)
    frame = table.frame.select(
        "row", *(pl.col(columns[f]).str.strip_chars().alias(f) if columns[f] in found
                 else pl.lit(None, pl.String).alias(f) for f in FIELDS))
    numbers = normalise(frame["phone"], jurisdiction)
    day = pl.coalesce(*(pl.col("signed_at").str.to_date(f, strict=False)
                        for f in _DATE_FORMATS))
    parsed = frame.with_columns(
        numbers["phone"].alias("e164"), numbers["region"].alias("region"),
        numbers["number_type"].alias("number_type"),
        instants(pl.col("signed_at"), jurisdiction.timezone_name).alias("instant"),
        day.alias("day"))
    why = pl.coalesce(
        pl.when(pl.col("contract_id").is_null() | (pl.col("contract_id") == ""))
        .then(pl.lit("contract_id is empty")),
        pl.when(pl.col("e164").is_null())
        .then(pl.format("phone '{}' is not a valid number", pl.col("phone"))),
        pl.when(pl.col("instant").is_null() & pl.col("day").is_null())
        .then(pl.format("signed_at '{}' is not a date or a date and time (e.g. 2026-11-23 "
                        f"10:15, {jurisdiction.time_words})", pl.col("signed_at"))),
        pl.when(pl.col("agency").is_null() | (pl.col("agency") == ""))
        .then(pl.lit("agency is empty: name the call centre (agencies/<id>.toml)")),
        pl.when(pl.col("contract_id").is_duplicated())
        .then(pl.format("contract_id '{}' appears more than once", pl.col("contract_id"))))
    checked = refuse_rows(parsed, why, lambda n, first: f"{n} contract(s) cannot be traced; "
                          f"first: {first}; fix the file and verify again", file)
    # A day without a time: signed some time that day, so its calls are those up to the
    # end of the local day.
    end_of_day = (local_midnight(pl.col("day") + pl.duration(days=1),
                                 jurisdiction.timezone_name) - pl.duration(microseconds=1))
    return checked.select(
        "row", "contract_id", pl.col("e164").alias("phone"),
        phone_key(pl.col("e164")).alias("phone_key"),
        "region", "number_type",
        pl.when(pl.col("instant").is_not_null())
        .then(local_iso_expr("instant", jurisdiction.timezone_name))
        .otherwise(pl.col("day").dt.strftime("%Y-%m-%d")).alias("signed_at"),
        pl.coalesce("instant", end_of_day).alias("signed_end"),
        "agency", "agent", "campaign")
