"""The opt-out register: objections, withdrawals and which of them are in force.

Objections live in the journal (journal.py), not in DuckDB, so an agent can record one
while a long run holds the store, and it is on disk before the agent is told so. An
objection counts from the instant it was received; one dated in the future would be
acknowledged yet not honoured until then, so it is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.columns import OPTOUT_CHANNELS, OPTOUT_SCOPES
from gatekeeper.core.errors import InputError, JournalError
from gatekeeper.core.textfile import bom_encoding
from gatekeeper.core.timeutil import Zone, iso, local_words, now_utc, parse_instant
from gatekeeper.intake.normalise import normalise, phone_of
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.privacy.optouts.journal import (
    EVENT_SCHEMA,
    AppendResult,
    BadLine,
    Checkpoint,
    Journal,
    JournalState,
    checkpoint_problems,
    events_frame,
    require_whole,
)


def open_journal(ws: Workspace) -> Journal:
    """The workspace's opt-out journal: data/optouts.jsonl, or the shared register's rows
    when gatekeeper.toml has [shared] url (every command and the service alike)."""
    url = ws.config().shared_url
    if url is None:
        return Journal(ws.journal_path)
    if ws.journal_path.exists():
        # Read from the shared store, its objections would be ignored: fail closed.
        raise JournalError("holds opt-outs while gatekeeper.toml names a shared store, "
                           "which would ignore them; move them in with 'gatekeeper shared "
                           "migrate --from-files'", file=ws.journal_path)
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.journal import SharedJournal

    return SharedJournal(shared_store(url), ws.journal_path)


# A device clock a little ahead of ours is not an objection dated in the future.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _choice(value: str, accepted: tuple[str, ...], what: str) -> str:
    if value not in accepted:
        raise InputError(f"unknown {what} '{value}'; accepted: {', '.join(accepted)}")
    return value


def received_at(at: dt.datetime | None, recorded: dt.datetime, zone: Zone,
                what: str = "--at") -> dt.datetime:
    """When an objection takes effect: when it was received, never later than now.

    Dated in the future (beyond clock skew) it is refused: acknowledging it would tell
    the person "done" while the number stays dialable until that date."""
    if at is None:
        return recorded
    if at > recorded + CLOCK_SKEW:
        raise InputError(f"{what} {local_words(at, zone)} is in the future: an objection counts "
                         "from when "
                         "it was received; give that time, or leave it out for 'now'")
    return min(at, recorded)


def optout_event(phone: str, channel: str, by: str, scope: str = "all", note: str = "",
                 at: dt.datetime | None = None, *, jurisdiction: Jurisdiction
                 ) -> dict[str, Any]:
    """A validated opt-out event (not yet written)."""
    if not by.strip():
        raise InputError("--by is required: who received the objection")
    recorded = now_utc()
    return {"type": "optout", "phone": phone_of(phone, jurisdiction),
            "channel": _choice(channel, OPTOUT_CHANNELS, "channel"),
            "scope": _choice(scope, OPTOUT_SCOPES, "scope"), "recorded_by": by.strip(),
            "note": note, "at": iso(received_at(at, recorded, jurisdiction.timezone_name)),
            "recorded_at": iso(recorded)}


def add_optout(journal: Journal, jurisdiction: Jurisdiction, **kwargs: Any) -> AppendResult:
    """Record one objection; durable when this returns. Old lines are never parsed: a
    damaged journal must not stop an agent recording an objection. Bare numbers are read
    as the jurisdiction's."""
    return journal.append([optout_event(**kwargs, jurisdiction=jurisdiction)])


def withdraw_optout(journal: Journal, phone: str, evidence: str, by: str,
                    jurisdiction: Jurisdiction) -> AppendResult:
    """The privacy officer lifts earlier opt-outs, on evidence of the person's own request."""
    if not evidence.strip():
        raise InputError("--evidence is required: the person's own request (e.g. PEC ref.)")
    now = iso(now_utc())
    return journal.append([{"type": "withdraw", "phone": phone_of(phone, jurisdiction),
                            "evidence": evidence,
                            "recorded_by": by, "at": now, "recorded_at": now}])


IMPORT_COLUMNS = ("phone", "channel", "received_at", "by", "scope", "note")


def _import_text(path: Path, data: bytes) -> str:
    """The file's text: UTF-8, UTF-16/32 with their byte-order mark, else Windows-1252
    (Excel's "CSV" on Windows). NUL bytes without a mark mean UTF-16 without one, or no
    text at all: read as Windows-1252 they would only end in a baffling "missing column"."""
    encoding = bom_encoding(data)
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise InputError(f"the file starts as {encoding.upper()} but is cut short or "
                             "damaged; save it again as CSV UTF-8", file=path) from None
    if b"\x00" in data:
        raise InputError("the file holds NUL bytes (UTF-16 without a byte-order mark, or not "
                         "a CSV at all); save it again as CSV UTF-8", file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_import(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise InputError("file not found", file=path)
    text = _import_text(path, path.read_bytes())
    if not text.strip():
        raise InputError("the file is empty; it needs the header " + ",".join(IMPORT_COLUMNS)
                         + " and one objection per row", file=path)
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:  # e.g. a header "field" longer than csv's limit: polars says more
        header = []
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:  # which of the two "phone" columns would be the person's number?
        raise InputError(f"column(s) {', '.join(twice)} appear twice in the header; keep one "
                         "of each", file=path, row=0)
    try:
        return pl.read_csv(text.encode(), infer_schema=False).fill_null("")
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read as CSV ({str(exc).splitlines()[0]}); save it as CSV "
                         "with the header " + ",".join(IMPORT_COLUMNS), file=path) from None


def import_optouts(journal: Journal, path: Path, jurisdiction: Jurisdiction) -> AppendResult:
    """Bulk objections from CSV; every row is checked before any is written."""
    frame = _read_import(path)
    missing = [c for c in ("phone", "channel", "received_at", "by") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; the header must be "
                         + ",".join(IMPORT_COLUMNS), file=path, row=0)
    frame = frame.with_columns(
        *(pl.lit("").alias(c) for c in ("scope", "note") if c not in frame.columns))
    phones = normalise(frame["phone"], jurisdiction)
    bad = frame.with_row_index("row", 1).filter(~phones["valid"])
    if bad.height:
        raise InputError(f"'{bad['phone'][0]}' is not a valid phone number ({bad.height} "
                         "such rows); fix or remove them", file=path, row=int(bad["row"][0]))
    recorded = now_utc()
    zone = jurisdiction.timezone_name
    # Each distinct value checked once, as a CLI call checks it (a file of 95,000
    # objections has a few channels, scopes and dates): 95,000 rows 3.7 -> ~0.5 CPU-s.
    scope = pl.col("scope").fill_null("").replace("", "all")
    checked = frame.select(
        pl.col("by").fill_null("").str.strip_chars().alias("by"), "note",
        pl.col("received_at").fill_null("").alias("received_at"),
        pl.col("channel").fill_null(""), scope.alias("scope"))
    at_of: dict[str, dt.datetime] = {}
    problem_of: dict[tuple[str, str], str] = {}
    for value in checked["received_at"].unique().to_list():
        try:
            at_of[value] = received_at(parse_instant(value, zone, what="received_at"),
                                       recorded, zone, "received_at")
        except InputError as exc:
            problem_of[("received_at", value)] = exc.message
    for column, accepted in (("channel", OPTOUT_CHANNELS), ("scope", OPTOUT_SCOPES)):
        for value in checked[column].unique().to_list():
            try:
                _choice(value, accepted, column)
            except InputError as exc:
                problem_of[(column, value)] = exc.message
    if problem_of or (checked["by"] == "").any():
        # The first row with a problem, named with the first of its problems in the order
        # a single objection is checked: who, when, channel, scope.
        for number, row in enumerate(checked.iter_rows(named=True), 1):
            problems = ([] if row["by"] else ["'by' is empty: who received the objection"]) + [
                problem_of[(c, row[c])] for c in ("received_at", "channel", "scope")
                if (c, row[c]) in problem_of]
            if problems:
                raise InputError(problems[0], file=path, row=number)
    if checked.is_empty():  # a header alone: nothing to record, as before
        return journal.append([])
    events = checked.select(
        pl.lit("optout").alias("type"), phones["phone"].alias("phone"), "channel", "scope",
        pl.col("by").alias("recorded_by"), pl.col("note"),
        pl.col("received_at").replace_strict(
            at_of, return_dtype=pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("at"),
        pl.lit(iso(recorded)).alias("recorded_at")).to_dicts()
    return journal.append(events)


def optouts_from_calls(journal: Journal, calls: pl.DataFrame, zone: Zone) -> AppendResult:
    """The objections of calls whose outcome was `optout`: channel operator, received when
    the call was made, recorded by its agent; durable when this returns.

    Each is recorded once: one the journal already holds from the same call (the same
    number, call and instant: a retry, an import killed and run again, a file sent twice)
    is not recorded again, so neither a disclosure lists it twice nor a withdrawal since
    is undone. The caller holds the ledger's lock, so two writers cannot both miss it."""
    recorded = now_utc()
    events = [{"type": "optout", "phone": c["phone"], "channel": "operator", "scope": "all",
               "recorded_by": (c["agent"] or c["agency"]).strip(),
               "note": f"call {c['agency']}/{c['call_id']}",
               "at": iso(received_at(c["started_at"], recorded, zone, "started_at")),
               "recorded_at": iso(recorded)}
              for c in calls.select("phone", "agent", "agency", "call_id", "started_at")
              .iter_rows(named=True)]
    if not events:
        return AppendResult([])
    phones = {e["phone"] for e in events}
    if len(phones) <= 8:  # a request's few: a byte search each, the journal not parsed
        held = [journal.about(phone)[0] for phone in phones]
    else:
        wanted = pl.Series(sorted(phones), dtype=pl.String).implode()
        held = [journal.read().events.filter(pl.col("phone").is_in(wanted))]
    seen = {(phone, str(note), iso(at)) for frame in held for phone, note, at in
            frame.filter(pl.col("type") == "optout").select("phone", "note", "at").iter_rows()}
    fresh = []
    for event in events:
        key = (event["phone"], event["note"], event["at"])
        if key not in seen:
            seen.add(key)
            fresh.append(event)
    return journal.append(fresh) if fresh else AppendResult([])


def repair_journal(journal: Journal, by: str, reason: str) -> tuple[list[BadLine],
                                                                   AppendResult | None]:
    """Acknowledge every damaged line, leaving it in place as evidence: one repair event
    each (line number and sha256 of its bytes), so decisions can resume."""
    if not by.strip() or not reason.strip():
        raise InputError("--by and --reason are required: who acknowledges the damage, and "
                         "why (e.g. 'disk error, ticket 42; no opt-out lost per backup')")
    damaged = list(journal.read().damaged)
    if not damaged:
        return [], None
    now = iso(now_utc())
    events = [{"type": "repair", "line": b.line, "line_sha256": b.sha256,
               "recorded_by": by.strip(), "note": reason.strip(), "at": now,
               "recorded_at": now} for b in damaged]
    return damaged, journal.append(events)


def trusted_state(journal: Journal, store_checkpoints: list[tuple[int, str, str]]
                  ) -> JournalState:
    """The journal as decisions may rely on it: whole, and holding every checkpoint the
    store and the agents' receipts recorded (else JournalError / EvidenceError).

    The journal and its receipts come from one `view`: read apart, a receipt an agent's
    append wrote in between would point past the journal read and look like a cut. The
    store's checkpoints were read before (the caller's argument), so they can only point
    at lines already there."""
    state, receipts = journal.view()
    require_whole(state, [*(Checkpoint(p, h, b) for p, h, b in store_checkpoints),
                          *receipts])
    return state


def active_optouts(events: pl.DataFrame, purpose: str, as_of: dt.datetime) -> pl.DataFrame:
    """Phones with an opt-out covering purpose, received at or before as_of, not lifted by
    a later withdrawal recorded at or before as_of. Columns: phone, optout_at."""
    asked = events.select(pl.col("phone").unique()).with_columns(
        pl.lit(as_of, pl.Datetime("us")).alias("at"))
    return (optouts_at(events, purpose, asked)
            .filter(pl.col("optout_at").is_not_null()).select("phone", "optout_at"))


def optouts_at(events: pl.DataFrame, purpose: str, asked: pl.DataFrame) -> pl.DataFrame:
    """For each (phone, at) asked, in order: optout_at, the first objection covering the
    purpose that stood at that instant (null: none). The rule of active_optouts, for many
    instants at once (a contract replay asks one per call)."""
    queries = asked.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"), "phone",
                           pl.col("at").cast(pl.Datetime("us")))
    known = queries.join(events.select("phone", "type", "scope", pl.col("at").alias("event_at"),
                                       "seq"), on="phone", how="inner"
                         ).filter(pl.col("event_at") <= pl.col("at"))
    withdrawn = (known.filter(pl.col("type") == "withdraw")
                 .group_by("_i").agg(pl.col("seq").max().alias("withdraw_seq")))
    standing = (known.filter((pl.col("type") == "optout")
                             & pl.col("scope").is_in(["all", purpose]))
                .join(withdrawn, on="_i", how="left")
                .filter(pl.col("withdraw_seq").is_null()
                        | (pl.col("seq") > pl.col("withdraw_seq")))
                .group_by("_i").agg(pl.col("event_at").min().alias("optout_at")))
    return (queries.join(standing, on="_i", how="left").sort("_i")
            .select("phone", "at", "optout_at"))


__all__ = [
    "EVENT_SCHEMA",
    "AppendResult",
    "BadLine",
    "Checkpoint",
    "Journal",
    "JournalError",
    "JournalState",
    "active_optouts",
    "add_optout",
    "checkpoint_problems",
    "events_frame",
    "import_optouts",
    "open_journal",
    "optouts_at",
    "optouts_from_calls",
    "repair_journal",
    "require_whole",
    "trusted_state",
    "withdraw_optout",
]
