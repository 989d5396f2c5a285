"""The opt-out register: an append-only journal that survives a crash.

An opt-out acknowledged to an agent must never be lost (Garante, TIM 2020), and must be
recordable while a long run holds the DuckDB store. So opt-outs do not live in DuckDB:
each event is one JSON line in data/optouts.jsonl, appended under an exclusive file lock
and fsynced before the call returns. Each line carries the hash of the previous one, so
`gatekeeper audit verify` can prove nothing was edited or removed (Garante, Edison 2022:
a do-not-call list must show when each entry was made).

A crash mid-write leaves a torn last line: the next writer moves it to
optouts.jsonl.torn and reports it (it was never acknowledged); readers skip it and say so.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from .columns import OPTOUT_CHANNELS, OPTOUT_SCOPES
from .errors import InputError, JournalError
from .normalise import normalise, phone_of
from .timeutil import iso, now_utc, parse_instant

GENESIS = "0" * 64
EVENT_SCHEMA = {
    "seq": pl.Int64, "type": pl.String, "phone": pl.String, "at": pl.Datetime("us"),
    "channel": pl.String, "recorded_by": pl.String, "scope": pl.String,
    "note": pl.String, "evidence": pl.String, "recorded_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class JournalState:
    """What a reader saw: events, how far it read, and any torn tail it skipped."""

    events: pl.DataFrame
    position: int
    last_hash: str
    torn_bytes: int = 0


@dataclass
class AppendResult:
    entries: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def _digest(prev: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


def _last_line(handle: BinaryIO, size: int) -> bytes:
    window = min(size, 65536)
    handle.seek(size - window)
    tail = handle.read(window)
    return tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]


def _event_column(raw: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    if name not in raw.columns:
        return pl.lit(None, dtype).alias(name)
    if dtype == pl.Datetime("us"):
        return pl.col(name).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us").alias(name)
    return pl.col(name).cast(dtype).alias(name)


def events_frame(raw: pl.DataFrame) -> pl.DataFrame:
    """Journal lines (as parsed JSON columns) in EVENT_SCHEMA, whatever keys they carry."""
    return raw.select(_event_column(raw, name, dtype) for name, dtype in EVENT_SCHEMA.items())


class Journal:
    """The opt-out journal of one workspace."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[BinaryIO]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            if created:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)  # the new file's name must survive a crash too
                finally:
                    os.close(dir_fd)
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _repair_tail(self, handle: BinaryIO) -> tuple[int, str, int, list[str]]:
        """(size, last hash, last seq, warnings) after moving a torn tail aside."""
        size = handle.seek(0, io.SEEK_END)
        if size == 0:
            return 0, GENESIS, 0, []
        handle.seek(size - 1)
        warnings = []
        if handle.read(1) != b"\n":
            handle.seek(0)
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            with open(f"{self.path}.torn", "ab") as torn:
                torn.write(data[keep:] + b"\n")
                torn.flush()
                os.fsync(torn.fileno())
            handle.truncate(keep)
            os.fsync(handle.fileno())
            size = keep
            warnings.append(f"{self.path}: a torn last line ({len(data) - keep} bytes, from a "
                            f"crash during a write that was never acknowledged) was moved to "
                            f"{self.path.name}.torn")
            if size == 0:
                return 0, GENESIS, 0, warnings
        last = json.loads(_last_line(handle, size))
        return size, last["hash"], int(last["seq"]), warnings

    def append(self, events: Sequence[dict[str, Any]]) -> AppendResult:
        """Append events durably: when this returns they are on disk (fsync)."""
        with self._locked(exclusive=True) as handle:
            _, prev, seq, warnings = self._repair_tail(handle)
            lines, written = [], []
            for event in events:
                seq += 1
                body = {**event, "seq": seq, "prev": prev}
                prev = _digest(prev, body)
                entry = {**body, "hash": prev}
                written.append(entry)
                lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            handle.write("".join(lines).encode())
            handle.flush()
            os.fsync(handle.fileno())
        return AppendResult(written, warnings)

    def read(self) -> JournalState:
        """Every complete event; a torn tail is skipped and counted, never fatal."""
        if not self.path.exists():
            return JournalState(pl.DataFrame(schema=EVENT_SCHEMA), 0, GENESIS)
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        complete = data[:end]
        if not complete:
            return JournalState(pl.DataFrame(schema=EVENT_SCHEMA), 0, GENESIS, len(data))
        raw = pl.read_ndjson(io.BytesIO(complete), infer_schema_length=None)
        events = events_frame(raw)
        last_hash = str(raw["hash"][-1])
        return JournalState(events, end, last_hash, len(data) - end)

    def events_of(self, phone: str) -> pl.DataFrame:
        """The events of one number, without parsing the whole journal (disclosure)."""
        if not self.path.exists():
            return pl.DataFrame(schema=EVENT_SCHEMA)
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            data = handle.read()
        data = data[:data.rfind(b"\n") + 1]
        needle = b'"phone": ' + json.dumps(phone).encode()
        lines, at = [], data.find(needle)
        while at >= 0:  # a byte search, then the line around each hit
            start, end = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at) + 1
            lines.append(data[start:end])
            at = data.find(needle, end)
        if not lines:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        raw = pl.read_ndjson(io.BytesIO(b"".join(lines)), infer_schema_length=None)
        return events_frame(raw)

    def verify(self) -> tuple[int, list[str]]:
        """Check the hash chain line by line; returns (entries, problems)."""
        if not self.path.exists():
            return 0, []
        problems: list[str] = []
        prev, count = GENESIS, 0
        with self._locked(exclusive=False) as handle:
            handle.seek(0)
            data = handle.read()
        for number, line in enumerate(data.split(b"\n"), 1):
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"line {number}: not a complete entry (torn by a crash?)")
                continue
            body = {k: v for k, v in entry.items() if k != "hash"}
            if entry.get("prev") != prev or _digest(prev, body) != entry.get("hash"):
                problems.append(f"line {number}: hash chain broken (edited, removed or "
                                "reordered entry)")
            prev = entry.get("hash", "")
            count += 1
        return count, problems


def _choice(value: str, accepted: tuple[str, ...], what: str) -> str:
    if value not in accepted:
        raise InputError(f"unknown {what} '{value}'; accepted: {', '.join(accepted)}")
    return value


def optout_event(phone: str, channel: str, by: str, scope: str = "all", note: str = "",
                 at: dt.datetime | None = None) -> dict[str, Any]:
    """A validated opt-out event (not yet written)."""
    if not by.strip():
        raise InputError("--by is required: who received the objection")
    recorded = now_utc()
    return {"type": "optout", "phone": phone_of(phone),
            "channel": _choice(channel, OPTOUT_CHANNELS, "channel"),
            "scope": _choice(scope, OPTOUT_SCOPES, "scope"), "recorded_by": by.strip(),
            "note": note, "at": iso(at or recorded), "recorded_at": iso(recorded)}


def add_optout(journal: Journal, **kwargs: Any) -> AppendResult:
    """Record one objection; durable when this returns."""
    return journal.append([optout_event(**kwargs)])


def withdraw_optout(journal: Journal, phone: str, evidence: str, by: str) -> AppendResult:
    """The privacy officer lifts earlier opt-outs, on evidence of the person's own request."""
    if not evidence.strip():
        raise InputError("--evidence is required: the person's own request (e.g. PEC ref.)")
    now = iso(now_utc())
    return journal.append([{"type": "withdraw", "phone": phone_of(phone), "evidence": evidence,
                            "recorded_by": by, "at": now, "recorded_at": now}])


IMPORT_COLUMNS = ("phone", "channel", "received_at", "by", "scope", "note")


def import_optouts(journal: Journal, path: Path) -> AppendResult:
    """Bulk objections from CSV; every row is checked before any is written."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    frame = pl.read_csv(path, infer_schema=False).fill_null("")
    missing = [c for c in ("phone", "channel", "received_at", "by") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; the header must be "
                         + ",".join(IMPORT_COLUMNS), file=path, row=0)
    frame = frame.with_columns(
        *(pl.lit("").alias(c) for c in ("scope", "note") if c not in frame.columns))
    phones = normalise(frame["phone"])
    bad = frame.with_row_index("row", 1).filter(~phones["valid"])
    if bad.height:
        raise InputError(f"'{bad['phone'][0]}' is not a valid phone number ({bad.height} "
                         "such rows); fix or remove them", file=path, row=int(bad["row"][0]))
    recorded = iso(now_utc())
    events = []
    for number, record in enumerate(frame.with_columns(phones["phone"]).to_dicts(), 1):
        try:  # opt-out files are small (thousands); each row is validated like a CLI call
            at = parse_instant(record["received_at"], what="received_at")
            events.append({"type": "optout", "phone": record["phone"],
                           "channel": _choice(record["channel"], OPTOUT_CHANNELS, "channel"),
                           "scope": _choice(record["scope"] or "all", OPTOUT_SCOPES, "scope"),
                           "recorded_by": record["by"], "note": record["note"],
                           "at": iso(at), "recorded_at": recorded})
        except InputError as exc:
            raise InputError(exc.message, file=path, row=number) from None
    return journal.append(events)


def active_optouts(events: pl.DataFrame, purpose: str, as_of: dt.datetime) -> pl.DataFrame:
    """Phones with an opt-out covering purpose, received at or before as_of, not lifted by
    a later withdrawal recorded at or before as_of. Columns: phone, optout_at."""
    optouts = events.filter(
        (pl.col("type") == "optout") & pl.col("scope").is_in(["all", purpose])
        & (pl.col("at") <= as_of))
    withdrawn = (events.filter((pl.col("type") == "withdraw") & (pl.col("at") <= as_of))
                 .group_by("phone").agg(pl.col("seq").max().alias("withdraw_seq")))
    active = optouts.join(withdrawn, on="phone", how="left").filter(
        pl.col("withdraw_seq").is_null() | (pl.col("seq") > pl.col("withdraw_seq")))
    return active.group_by("phone").agg(pl.col("at").min().alias("optout_at"))


def check_journal_state(state: JournalState) -> list[str]:
    """Warnings a run should print about the journal it read."""
    if state.torn_bytes:
        return [f"the opt-out journal ends in a torn line ({state.torn_bytes} bytes) from a "
                "crash; it was never acknowledged and is ignored"]
    return []


__all__ = ["Journal", "JournalError", "active_optouts", "add_optout", "import_optouts",
           "withdraw_optout"]
