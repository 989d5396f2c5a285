"""A dialer's call records, as its export comes (CSV or xlsx, in the agency's own column
names and outcome codes), to ledger calls.

All or nothing: a row that cannot be recorded stops the import, naming the file, the line
as the file numbers it, the field and the fix, and nothing is stored - not even an
objection. A row silently dropped is how objections vanished (a DNC row whose agent name
held a comma); a row stored half-read is how one record stopped every answer (an empty
number written into the journal). So every row is either a call, a leg of one, or
skipped by a rule the agency's manifest states (`[calls] skip`), and the skipped rows are
counted per rule for the user to see.

The reading of the file is the lists' (encodings, Excel artefacts, title rows), so a
dialer's export is read as carefully as a list; what the lists' reader sets aside as
unreadable (a ragged row, a stray quote) is refused here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gatekeeper.core.errors import InputError, SourceFileError
from gatekeeper.core.textfile import bom_encoding
from gatekeeper.core.timeutil import dialer_instants, now_utc
from gatekeeper.dial.ledger import CALL_FIELDS as FIELDS
from gatekeeper.dial.ledger import DIRECTIONS, LEG_SPAN, OUTCOMES, conform
from gatekeeper.dial.ledger import REQUIRED_CALL_FIELDS as REQUIRED
from gatekeeper.intake.manifest import Manifest
from gatekeeper.intake.normalise import normalise, phone_key
from gatekeeper.intake.readers import DELIMITERS, read_source
from gatekeeper.jurisdictions import Jurisdiction

if TYPE_CHECKING:
    from gatekeeper.dial.agencies import Agency

_DIRECTION_WORDS = {"outbound": "outbound", "out": "outbound", "o": "outbound",
                    "uscita": "outbound", "inbound": "inbound", "in": "inbound",
                    "i": "inbound", "entrata": "inbound"}
# Before this no call in a ledger can be real: a placeholder date (0001-01-01, 1900-01-01)
# or a dialer whose clock was never set. Stored, it would sit outside every window.
EARLIEST = dt.datetime(2000, 1, 1)
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass
class Export:
    """A dialer's export as the ledger takes it."""

    calls: pl.DataFrame  # LEDGER_SCHEMA, one row per (agency, call_id)
    objections: pl.DataFrame  # LEDGER_SCHEMA: each call's first `optout` leg
    rows: int  # data rows read, legs and skipped rows included
    legs: int = 0  # rows folded into a call another row of the file started
    skipped: dict[str, int] = field(default_factory=dict)  # per rule, in words


def _text(column: str) -> pl.Expr:
    """A cell's text, stripped; an empty cell is no value (a call without a campaign)."""
    value = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(value != "").then(value)


def _missing(path: Path, columns: Mapping[str, str], found: list[str], manifest: Path,
             hint: int | None = None) -> InputError | None:
    for name in REQUIRED:
        if name not in columns:
            return InputError(f"[calls] columns has no {name}; map it to the export's "
                              f"column, e.g. {name} = \"...\"", file=manifest,
                              key=f"calls.columns.{name}")
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


@contextmanager
def _with_positions(path: Path) -> Iterator[Path]:
    """A header-less export (Asterisk's Master.csv) as a file whose header names each
    field by its position ("1", "2", …), so the lists' reader reads it like any other; a
    private temporary copy (the file holds phone numbers), removed afterwards."""
    data = path.read_bytes()
    encoding = bom_encoding(data)
    if encoding:
        data = data.decode(encoding).removeprefix("\ufeff").encode()
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace")
    delimiter = max(DELIMITERS, key=first.count)
    fields = len(next(csv.reader(io.StringIO(first), delimiter=delimiter), []))
    header = delimiter.join(str(n) for n in range(1, max(fields, 1) + 1)) + "\n"
    fd, name = tempfile.mkstemp(suffix=".csv", prefix="gatekeeper-calls-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(header.encode() + data)
        yield Path(name)
    finally:
        os.unlink(name)


def _outcome_key(value: str, codes: Mapping[str, str]) -> str | None:
    """The outcome of one (joined) code: an exact key, else the most specific key whose
    parts match, a part ending in `*` matching any rest of it (the empty one included).
    A key is more specific than another when each of its parts is at least as specific
    (exact, else the longer prefix) and one is more; matching keys that are not so ordered
    and map apart (`busy/*` and `*/human` for `busy/human`) leave the code unmapped:
    refused, never decided by the order the keys were written in."""
    if value in codes:
        return codes[value]
    parts = value.split("/")
    matches: list[tuple[tuple[int, ...], str]] = []
    for key, outcome in codes.items():
        pattern = key.split("/")
        if "*" not in key or len(pattern) != len(parts):
            continue
        if all(p[:-1] == v[:len(p) - 1] if p.endswith("*") else p == v
               for p, v in zip(pattern, parts, strict=True)):
            matches.append((tuple(len(p) - 1 if p.endswith("*") else 1 << 30
                                  for p in pattern), outcome))

    def beaten(rank: tuple[int, ...]) -> bool:
        return any(other != rank and all(o >= r for o, r in zip(other, rank, strict=True))
                   for other, _ in matches)

    best = {outcome for rank, outcome in matches if not beaten(rank)}
    return best.pop() if len(best) == 1 else None


def read_export(path: Path, agency: Agency, *, jurisdiction: Jurisdiction
                ) -> Export:
    """The export's rows as ledger calls of `agency`, or InputError naming the first row
    that cannot be recorded (and how many cannot)."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    if agency.header:
        return _read(path, path, agency, jurisdiction, agency.header_row or 1)
    if path.suffix.lower() != ".csv":
        raise InputError("header = false is for CSV exports (Asterisk's Master.csv); a "
                         "spreadsheet has a header row: remove header = false from "
                         f"[calls] of {agency.path.name}", file=path)
    with _with_positions(path) as positioned:
        return _read(path, positioned, agency, jurisdiction, 0)


def _read(path: Path, readable: Path, agency: Agency, jurisdiction: Jurisdiction,
          header_lines: int) -> Export:
    manifest = agency.path
    columns = dict(agency.columns)
    reading = Manifest(id=f"calls-{agency.id}", kind="internal_archive", file=readable,
                       received_on=dt.date(2000, 1, 1), purposes=("telemarketing",),
                       supplier=None, columns={"phone": columns.get("phone", "")},
                       defaults={}, path=manifest,
                       header_row=agency.header_row if agency.header else None)
    try:
        table = read_source(reading)
    except SourceFileError as exc:
        raise InputError(exc.message, file=path, row=exc.row) from None
    line = pl.col("row") + header_lines  # the line as an editor or Excel numbers it
    if table.rejects.height:  # a row the reader could not split is refused, never dropped
        first = table.rejects.row(0, named=True)
        raise InputError(f"{table.rejects.height} row(s) cannot be read, nothing was stored; "
                         f"first: line {first['row'] + header_lines}: {first['reason']}; fix "
                         "the export (or ask the dialer for a quoted CSV) and import again",
                         file=path)
    found = [c for c in table.frame.columns if c != "row"]
    # An agency without [calls] columns maps every field to its own name; the optional
    # ones its export does not have are then simply not there (no agent, no direction).
    columns = {f: c for f, c in columns.items()
               if c in found or f in REQUIRED or c != f}
    outcome_columns = [c for c in agency.outcome_columns if c != columns.get("outcome")]
    problem = _missing(path, {**columns, **{f"outcome ({c})": c for c in outcome_columns}},
                       found, manifest, table.header_hint)
    if problem:
        raise problem
    for column in agency.skip:
        if column not in found:
            raise InputError(f"[calls] skip names column '{column}', which is not in the "
                             f"file; columns are: {', '.join(found)}", file=manifest,
                             key=f"calls.skip.{column}")
    skipped = dict(table.skipped["reason"].value_counts(sort=True).iter_rows())
    frame = table.frame
    rows = frame.height + table.skipped.height
    rules: list[pl.Expr] = [
        pl.when(pl.col(c).cast(pl.String).fill_null("").str.strip_chars()
                .str.contains(f"^(?:{pattern})$"))
        .then(pl.lit(f"{c} = \"{pattern}\"")) for c, pattern in agency.skip.items()]
    rule = pl.coalesce(rules or [pl.lit(None, pl.String)])
    if agency.skip:
        frame = frame.with_columns(rule.alias("_skip"))
        for reason, count in frame["_skip"].drop_nulls().value_counts(sort=True).iter_rows():
            skipped[f"skip {reason}"] = count
        frame = frame.filter(pl.col("_skip").is_null()).drop("_skip")
    joined = (pl.concat_str([pl.col(c).cast(pl.String).fill_null("").str.strip_chars()
                             for c in agency.outcome_columns], separator="/")
              if len(agency.outcome_columns) > 1 else _text(columns["outcome"]))
    frame = frame.select(
        pl.col("row"),
        *((pl.coalesce(_text(columns[f]), pl.lit(agency.defaults[f])) if f in agency.defaults
           else _text(columns[f])).alias(f)
          if f in columns else pl.lit(agency.defaults.get(f), pl.String).alias(f)
          for f in FIELDS if f != "outcome"),
        joined.alias("outcome"))
    codes = {str(k).strip(): v for k, v in agency.outcomes.items()}
    codes.update({o: o for o in OUTCOMES if o not in codes})
    seen = frame["outcome"].drop_nulls().unique().to_list()
    outcome_of = {v: _outcome_key(v, codes) for v in seen}
    directions = {**_DIRECTION_WORDS, **{k.lower(): v for k, v in agency.directions.items()}}
    numbers = normalise(frame["phone"], jurisdiction)
    # A call centre shows a handful of caller ids in a million calls: each read once.
    shown = frame["caller_id"].drop_nulls().unique()
    callers = dict(zip(shown.to_list(), normalise(shown, jurisdiction)["phone"].to_list(),
                       strict=True))
    at, at_why = dialer_instants(frame["started_at"],
                                 agency.timezone or jurisdiction.timezone_name,
                                 agency.ambiguous)
    parsed = frame.with_columns(
        numbers["phone"].alias("phone_e164"), at.alias("at"), at_why.alias("at_why"),
        pl.col("outcome").replace_strict(outcome_of, default=None, return_dtype=pl.String)
        .alias("outcome_name"),
        pl.col("duration_s").str.replace(r"[.,]0+$", "").cast(pl.Int64, strict=False)
        .alias("seconds"),
        pl.col("direction").str.to_lowercase()
        .replace_strict(directions, default=None, return_dtype=pl.String).alias("way"),
        pl.col("caller_id").replace_strict(callers, default=None, return_dtype=pl.String)
        .alias("caller_e164"))
    value = {f: pl.col(f).fill_null("") for f in FIELDS}
    name = manifest.name
    skip_hint = f"a row that is no call to a person needs a skip rule in [calls] of {name}"
    inbound = pl.col("way").fill_null("outbound") == "inbound"
    lines_called = list(agency.inbound_numbers)
    # (what is wrong, in words): the words are made for the wrong rows only, since
    # formatting a message for each of a million rows cost a second.
    checks: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col("call_id").is_null(), pl.lit(f"call_id is empty; {skip_hint}")),
        (pl.col("phone").is_null(),
         pl.lit(f"phone is empty (a withheld number?); {skip_hint}")),
        (pl.col("phone_e164").is_null(),
         pl.format("phone '{}' is not a valid number", value["phone"])),
        (pl.col("started_at").is_null(), pl.lit(f"started_at is empty; {skip_hint}")),
        (pl.col("at_why").is_not_null(),
         pl.format("started_at '{}' {}", value["started_at"], pl.col("at_why"))),
        (pl.col("at") < pl.lit(EARLIEST),
         pl.format("started_at '{}' is before 2000: a placeholder or a dialer clock never "
                   "set, not a call; fix the row", value["started_at"])),
        (pl.col("at") > pl.lit(now_utc() + CLOCK_SKEW),
         pl.format("started_at '{}' is in the future; check the dialer's clock and [calls] "
                   f"timezone of {name}", value["started_at"])),
        (pl.col("outcome").is_null(), pl.lit(f"outcome is empty; {skip_hint}")),
        (pl.col("outcome_name").is_null(),
         pl.format(f"outcome code '{{}}' is not in [calls] outcomes of {name}; add it there, "
                   "e.g. CODE = \"no_answer\" (accepted outcomes: "
                   f"{', '.join(OUTCOMES)})", value["outcome"])),
        (pl.col("duration_s").is_not_null() & pl.col("seconds").is_null(),
         pl.format("duration_s '{}' is not a number of seconds", value["duration_s"])),
        (pl.col("seconds") < 0, pl.format("duration_s '{}' is negative", value["duration_s"])),
        (pl.col("direction").is_not_null() & pl.col("way").is_null(),
         pl.format(f"direction '{{}}' is not one of {', '.join(DIRECTIONS)}; map it in "
                   f"[calls] directions of {name}", value["direction"])),
        (pl.col("caller_id").is_not_null() & pl.col("caller_e164").is_null(),
         pl.format("caller_id '{}' is not a valid number", value["caller_id"])),
        (inbound & pl.lit(not agency.inbound),
         pl.lit(f"direction is inbound, but {name} does not declare inbound lines: an "
                "inbound call clears a contract of its list; set inbound = true (and "
                "inbound_numbers) in the manifest if the agency answers the controller's "
                "lines")),
        (inbound & pl.lit(bool(lines_called))
         & ~pl.col("caller_e164").is_in(pl.Series(lines_called, dtype=pl.String).implode())
         .fill_null(False),
         pl.format(f"inbound call to line '{{}}', which is not one of the inbound_numbers of "
                   f"{name}", value["caller_id"])),
    ]
    wrong = pl.any_horizontal([condition.fill_null(False) for condition, _ in checks])
    bad = parsed.filter(wrong)
    if bad.height:
        _refuse(bad.with_columns(pl.coalesce(
            [pl.when(condition).then(words) for condition, words in checks]).alias("why")),
            line, path)
    calls = parsed.select(
        "row", "call_id", pl.col("phone_e164").alias("phone"), "campaign", "agent",
        pl.col("caller_e164").alias("caller_id"),
        pl.col("way").fill_null("outbound").alias("direction"),
        pl.col("at").alias("started_at"), pl.col("seconds").alias("duration_s"),
        pl.col("outcome_name").alias("outcome"))
    calls, objections, legs = _legs(calls, line, path)
    return Export(_ledger(calls, agency.id), _ledger(objections, agency.id), rows, legs,
                  skipped)


def _refuse(bad: pl.DataFrame, line: pl.Expr, path: Path) -> None:
    if bad.height:
        first = bad.select(line.alias("line"), "why").row(0)
        raise InputError(f"{bad.height} row(s) cannot be recorded, nothing was stored; first:"
                         f" line {first[0]}: {first[1]}; fix the file (or the agency's "
                         "manifest) and import again", file=path)


def _legs(calls: pl.DataFrame, line: pl.Expr, path: Path
          ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Rows sharing a call id are legs of one call (a transfer to a closer): stored once,
    started when its first leg started, with the outcome and agent of its last leg by
    time (the closer's refusal or sale, which the 60-day rest and contract tracing need),
    and an objection for the first `optout` leg, whichever it is."""
    objections = calls.filter(pl.col("outcome") == "optout").sort("started_at", "row"
                                                                   ).unique(
        "call_id", keep="first", maintain_order=True).sort("row")
    if not calls["call_id"].is_duplicated().any():
        return calls, objections, 0
    other = calls.filter(pl.col("phone").n_unique().over("call_id") > 1)
    if other.height:
        first = other.sort("row").row(0, named=True)
        lines = other.filter(pl.col("call_id") == first["call_id"]).select(line)["row"]
        raise InputError(
            f"call_id '{first['call_id']}' is on lines {', '.join(map(str, lines))} for "
            "different numbers, nothing was stored: rows sharing a call id are legs of one "
            "call and must share the number; give each call its own id", file=path)
    spread = calls.filter((pl.col("started_at").max() - pl.col("started_at").min()).over(
        "call_id") > LEG_SPAN)
    if spread.height:
        first = spread.sort("row").row(0, named=True)
        lines = spread.filter(pl.col("call_id") == first["call_id"]).select(line)["row"]
        hours = int(LEG_SPAN.total_seconds() // 3600)
        raise InputError(
            f"call_id '{first['call_id']}' is on lines {', '.join(map(str, lines))} more than "
            f"{hours} hours apart, nothing was stored: rows sharing a call id are legs of one "
            "call; the dialer reused the id for another call: give each call its own id",
            file=path)
    merged = calls.sort("started_at", "row").group_by("call_id", maintain_order=True).agg(
        pl.col("row").min(), pl.col("phone").first(),
        pl.col("campaign").drop_nulls().first(), pl.col("agent").last(),
        pl.col("caller_id").drop_nulls().first(), pl.col("direction").first(),
        pl.col("started_at").first(),
        pl.when(pl.col("duration_s").is_not_null().any())
        .then(pl.col("duration_s").sum()).alias("duration_s"),
        pl.col("outcome").last()).sort("row")
    return merged.select(calls.columns), objections, calls.height - merged.height


def _ledger(calls: pl.DataFrame, agency: str) -> pl.DataFrame:
    return conform(calls.select(
        pl.lit(agency).alias("agency"), "call_id", "phone",
        phone_key(pl.col("phone")).alias("phone_key"),
        "campaign", "agent", "caller_id", "direction", "started_at", "duration_s", "outcome",
        pl.lit(now_utc(), pl.Datetime("us")).alias("recorded_at"),
        pl.lit("import").alias("via")))
