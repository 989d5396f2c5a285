"""The contact ledger: every call attempt, by which call centre, showing which number, with
what outcome. Evidence (kept `[retention] calls_months`), and the facts behind the
dial-time contact rules (attempt limit, cooldown after a refusal) and contract replay.

Like the opt-out journal, the ledger lives beside the DuckDB store, not in it: dialers
report calls while a load or run holds the store, and a call is on disk before the
dialer is told so. Two kinds of file, in data/ledger/:

- calls.jsonl: what the service acknowledged, one call per line, appended under a lock
  and fsynced before the 201 (a call a dialer was told is recorded survives kill -9);
- segments/*.parquet: immutable, sorted by number, each listed (name, sha256, rows, what
  it came from) in segments.jsonl once it is on disk: an import file becomes one segment,
  and the service folds calls.jsonl into one now and then (compaction).

A call is identified by its agency and the dialer's call_id: the same call reported
twice (a dialer retrying, a file imported again) is acknowledged and never counted twice.
An `optout` outcome also records an opt-out in the journal, before the call itself, so a
crash between the two never loses one; reported again, it is found in the journal and
not recorded twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..digest import sha256_file
from ..errors import JournalError
from ..timeutil import iso, now_utc

# `abandoned`: the person answered and no agent was free (VICIdial DROP, Ofcom's abandoned
# call): an attempt, never a contact a contract can trace to.
OUTCOMES = ("no_answer", "busy", "failed", "voicemail", "abandoned", "answered", "refused",
            "callback", "optout", "wrong_number", "sale")
DIRECTIONS = ("outbound", "inbound")
# The fields a dialer export may carry (PRODUCT.md "The contact ledger") ...
CALL_FIELDS = ("call_id", "phone", "started_at", "agent", "campaign", "duration_s", "outcome",
               "caller_id", "direction")
# ... and those without which a row is no evidence of a call: which call, to whom, when,
# how it ended.
REQUIRED_CALL_FIELDS = ("call_id", "phone", "started_at", "outcome")
LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "agency": pl.String(), "call_id": pl.String(), "phone": pl.String(),
    "phone_key": pl.Int64(), "campaign": pl.String(), "agent": pl.String(),
    "caller_id": pl.String(), "direction": pl.String(), "started_at": pl.Datetime("us"),
    "duration_s": pl.Int64(), "outcome": pl.String(), "recorded_at": pl.Datetime("us"),
    "via": pl.String(),
}
KEY = ["agency", "call_id"]
# The longest a call's legs may span (a transfer, a closer's queue): rows of one call id
# further apart are two calls under a reused id, never legs of one.
LEG_SPAN = dt.timedelta(hours=4)


@dataclass
class Recorded:
    """What an append did: the calls stored now, and for each repeated one the call as
    it was first stored (a dialer retrying is told its call is there)."""

    stored: list[dict[str, Any]]  # a request's few calls: rows, not a frame
    repeated: list[dict[str, Any]]
    optouts: int = 0
    # Repeats that report another call than the one stored under their id (as sent): the
    # dialer reuses call ids; said back so it can notice.
    clashes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Segment:
    name: str
    sha256: str
    rows: int
    source: str


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Calls in LEDGER_SCHEMA's columns and order (a column a file predates is null)."""
    if not frame.width:  # no columns at all: no calls (a select of literals is one row)
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    return frame.select((pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c))
                        for c, t in LEDGER_SCHEMA.items())


_PHONE_KEY = re.compile(rb'"phone_key"\s*:\s*(\d{6,15})\b|"phone"\s*:\s*"\+(\d{6,15})"')


def wal_calls(data: bytes) -> pl.DataFrame:
    """calls.jsonl's complete lines as calls (LEDGER_SCHEMA). A damaged line (not a JSON
    object, a value of the wrong kind: a disk error, an edit) stops no answer for other
    numbers: when the number can still be read from it, it becomes a call without
    outcome, direction or instant, which fails closed for that number (it rests, see
    contact_facts); when not, it is left out here and `audit verify` names it."""
    if not data:
        return conform(pl.DataFrame())
    try:
        return _parsed(pl.read_ndjson(io.BytesIO(data), infer_schema_length=None))
    except (pl.exceptions.PolarsError, ValueError):
        pass
    good, odd = [], []
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            entry = json.loads(line)
            if isinstance(entry, dict):
                _parsed(pl.DataFrame([entry]))  # each value of its kind
                good.append(line)
                continue
        except (ValueError, RecursionError, TypeError, pl.exceptions.PolarsError):
            pass
        found = _PHONE_KEY.search(line)
        if found:
            digits = (found.group(1) or found.group(2)).decode()
            odd.append({"agency": "?", "call_id": f"damaged calls.jsonl line {number}",
                        "phone": f"+{digits}", "phone_key": int(digits), "via": "damaged"})
    frames = [_parsed(pl.read_ndjson(io.BytesIO(b"\n".join(good) + b"\n"),
                                     infer_schema_length=None))] if good else []
    if odd:
        frames.append(conform(pl.DataFrame(odd)))
    return pl.concat(frames) if frames else conform(pl.DataFrame())


def _parsed(frame: pl.DataFrame) -> pl.DataFrame:
    return conform(frame.with_columns(
        pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
        for c in ("started_at", "recorded_at") if c in frame.columns))


class Ledger:
    """The contact ledger of one workspace (data/ledger/)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wal = folder / "calls.jsonl"
        self.manifest = folder / "segments.jsonl"
        self.segments_dir = folder / "segments"
        self._listed: tuple[tuple[int, int], list[Segment]] | None = None

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One writer at a time (the service, an import, a compaction)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- reading -----------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        try:
            st = self.manifest.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_mtime_ns, st.st_size)  # the service asks twice a request
        if self._listed is not None and self._listed[0] == stamp:
            return list(self._listed[1])
        out = []
        for line in self.manifest.read_bytes().splitlines():
            try:
                item = json.loads(line)
                out.append(Segment(item["name"], item["sha256"], int(item["rows"]),
                                   item["source"]))
            except (ValueError, KeyError, TypeError):
                raise JournalError("a line of the ledger's segment list cannot be read; "
                                   "restore data/ledger/ from a backup",
                                   file=self.manifest) from None
        self._listed = (stamp, out)
        return list(out)

    def _wal_frame(self) -> pl.DataFrame:
        if not self.wal.is_file():
            return conform(pl.DataFrame())
        data = self.wal.read_bytes()
        return wal_calls(data[:data.rfind(b"\n") + 1])  # a torn last line: never acknowledged

    def calls(self, phone_key: int | None = None, until: dt.datetime | None = None,
              columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Every call (of one number, before `until`), each (agency, call_id) once, in
        the order they were recorded."""
        parts = []
        wanted = list(columns or LEDGER_SCHEMA)
        needed = list(dict.fromkeys([*wanted, *KEY]))
        for segment in self.segments():
            scan = pl.scan_parquet(self.segments_dir / segment.name)
            if phone_key is not None:
                scan = scan.filter(pl.col("phone_key") == phone_key)
            parts.append(scan.select(needed).collect())
        wal = self._wal_frame().select(needed)
        if phone_key is not None:
            wal = wal.filter(pl.col("phone_key") == phone_key)
        frame = pl.concat([*parts, wal]) if parts else wal
        frame = frame.unique(KEY, keep="first", maintain_order=True)
        if until is not None:
            # a call whose instant is unknown (a damaged line) may have been before it
            frame = frame.filter((pl.col("started_at") < until) | pl.col("started_at").is_null())
        return frame.select(wanted)

    def recorded(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Which of these (agency, call_id) the ledger already holds: filtered as the
        segments are read, so a 1M-call import into a 10M-call ledger reads the matches,
        not every call id (4.3 s and ~2 GB before)."""
        agencies = keys["agency"].unique().implode()
        ids = keys["call_id"].unique().implode()
        paths = [self.segments_dir / s.name for s in self.segments()]
        parts = [self._wal_frame().lazy().select(KEY)]
        if paths:
            parts.insert(0, pl.scan_parquet(paths).select(KEY))
        return pl.concat(parts).filter(pl.col("agency").is_in(agencies)
                                       & pl.col("call_id").is_in(ids)).collect()

    def calls_of(self, phone_keys: pl.Series) -> pl.DataFrame:
        """Every call to these numbers (each (agency, call_id) once): a replay reads the
        ledger once for all its contracts."""
        wanted = phone_keys.unique().cast(pl.Int64)
        parts = [pl.scan_parquet(self.segments_dir / s.name)
                 .filter(pl.col("phone_key").is_in(wanted)).collect()
                 for s in self.segments()]
        wal = self._wal_frame().filter(pl.col("phone_key").is_in(wanted))
        frame = pl.concat([*(conform(p) for p in parts), wal])
        return frame.unique(KEY, keep="first", maintain_order=True)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the ledger for writing (one writer at a time)."""
        with self._lock():
            yield

    def first_of(self, keys: pl.DataFrame) -> pl.DataFrame:
        """These calls (agency, call_id) as first stored, filtered as the files are read."""
        agencies, ids = keys["agency"].unique().implode(), keys["call_id"].unique().implode()
        paths = [self.segments_dir / s.name for s in self.segments()]
        parts = [self._wal_frame().lazy()]
        if paths:
            parts.insert(0, pl.scan_parquet(paths).select(list(LEDGER_SCHEMA)))
        return (pl.concat(parts).filter(pl.col("agency").is_in(agencies)
                                        & pl.col("call_id").is_in(ids)).collect()
                .join(keys, on=KEY, how="semi").unique(KEY, keep="first",
                                                        maintain_order=True))

    def write_wal(self, calls: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Append calls (LEDGER_SCHEMA's fields) to calls.jsonl, fsynced (call inside
        `writing`); returns where they start and end in the file."""
        # A request's few calls: json in Python costs a fraction of a frame's writer.
        lines = "".join(
            json.dumps({**{c: row.get(c) for c in LEDGER_SCHEMA},
                        "started_at": iso(row["started_at"]),
                        "recorded_at": iso(row["recorded_at"])}, ensure_ascii=False)
            + "\n" for row in calls).encode()
        fd = os.open(self.wal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            size = os.fstat(fd).st_size
            handle.seek(max(0, size - 1))
            if size and handle.read(1) != b"\n":
                # A write killed midway left a torn line, never acknowledged: drop it.
                handle.seek(max(0, size - 65536))
                tail = handle.read()
                cut = tail.rfind(b"\n")
                handle.truncate(size - len(tail) + cut + 1 if cut >= 0 else
                                self._last_newline(handle))
                size = os.fstat(fd).st_size
            handle.write(lines if lines.endswith(b"\n") else lines + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            return size, os.fstat(fd).st_size

    @staticmethod
    def _last_newline(handle: io.BufferedRandom) -> int:
        """Where the last whole line ends (a torn line longer than the tail read)."""
        handle.seek(0)
        return handle.read().rfind(b"\n") + 1

    def _write_segment(self, calls: pl.DataFrame, source: str) -> Segment:
        self.segments_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.segments_dir / f".incoming-{os.getpid()}"
        conform(calls).sort("phone_key", "started_at", nulls_last=True).write_parquet(
            tmp, compression="zstd", statistics=True, row_group_size=100_000)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        digest = sha256_file(tmp)
        name = f"{now_utc().strftime('%Y%m%dT%H%M%S')}-{digest[:16]}.parquet"
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.segments_dir / name)
        segment = Segment(name, digest, calls.height, source)
        line = json.dumps(segment.__dict__) + "\n"
        fd = os.open(self.manifest, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:  # listed only once the file is whole
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return segment

    def import_calls(self, calls: pl.DataFrame, source_sha: str, optouts: Any = None,
                     objections: pl.DataFrame | None = None) -> tuple[int, int, bool]:
        """Record a dialer's export as one segment, all or nothing: (calls stored, calls
        already recorded, whether this very file was imported before).

        `optouts(objections)` records the objections first (default: the `optout` calls;
        an export's legs may hold one its stored call does not), each once per number and
        call (optouts_from_calls checks the journal): an import killed after its
        objections and run again, or a call reported in two files, never records one
        twice, while an objection under a call id the dialer reused for another person
        is still theirs."""
        with self._lock():
            if any(s.source == f"import:{source_sha}" for s in self.segments()):
                return 0, calls.height, True
            rows = conform(calls)
            recorded = self.recorded(rows.select(KEY))
            fresh = rows.join(recorded, on=KEY, how="anti").unique(
                KEY, keep="first", maintain_order=True)
            later = self._later_legs(rows.join(recorded, on=KEY, how="semi"))
            if later.height:
                fresh = pl.concat([fresh, later])
            if objections is None:
                objections = rows.filter(pl.col("outcome") == "optout")
            if objections.height and optouts is not None:
                optouts(conform(objections))
            if fresh.height:
                self._write_segment(fresh, f"import:{source_sha}")
        return fresh.height, calls.height - fresh.height, False

    def _later_legs(self, repeats: pl.DataFrame) -> pl.DataFrame:
        """Calls already stored that an export now reports with another outcome, for the
        same number and within LEG_SPAN of the stored start: the closer's leg of a transfer
        that was still going on when the earlier export was taken. Kept, under the call id
        and its outcome (`1795400000.77#refused`), so the closer's refusal rests the
        number and a re-export records nothing new; the stored call stays as it was
        (evidence is never rewritten). It counts as one more attempt: a stricter count,
        never a looser one."""
        if repeats.is_empty():
            return repeats
        stored = self.first_of(repeats.select(KEY).unique()).select(
            *KEY, pl.col("phone").alias("_phone"), pl.col("outcome").alias("_outcome"),
            pl.col("started_at").alias("_at"))
        legs = repeats.join(stored, on=KEY, how="inner").filter(
            (pl.col("phone") == pl.col("_phone")) & (pl.col("outcome") != pl.col("_outcome"))
            & ((pl.col("started_at") - pl.col("_at")).abs() <= LEG_SPAN)
        ).with_columns(pl.format("{}#{}", "call_id", "outcome").alias("call_id")
                       ).select(repeats.columns).unique(KEY, keep="first", maintain_order=True)
        if legs.is_empty():
            return legs
        return legs.join(self.recorded(legs.select(KEY)), on=KEY, how="anti")

    def compact(self) -> int:
        """Fold the service's calls.jsonl into one segment (it only grows otherwise): the
        segment is listed before the file is emptied, so a crash in between leaves calls
        twice, which reading counts once."""
        with self._lock():
            calls = self._wal_frame()
            if calls.is_empty() or (calls["via"] == "damaged").any():
                return 0  # a damaged line stays where it is, as evidence (audit names it)
            self._write_segment(calls.unique(KEY, keep="first", maintain_order=True),
                                "service")
            with open(self.wal, "r+b") as handle:
                handle.truncate(0)
                os.fsync(handle.fileno())
        return calls.height

    def rewrite(self, change: Callable[[pl.DataFrame], pl.DataFrame], source: str) -> int:
        """Rewrite every segment and calls.jsonl through `change` (erasure, retention):
        one new segment replaces them all; returns the calls kept."""
        with self._lock():
            everything = self.calls()
            kept: pl.DataFrame = change(everything)
            old = self.segments()
            if kept.height:
                self._write_segment(kept, source)
                new = self.segments()[-1:]
            else:
                new = []
            tmp = self.manifest.with_name(".segments.tmp")
            tmp.write_text("".join(json.dumps(s.__dict__) + "\n" for s in new))
            os.replace(tmp, self.manifest)
            if self.wal.exists():
                with open(self.wal, "r+b") as handle:
                    handle.truncate(0)
                    os.fsync(handle.fileno())
            for segment in old:
                (self.segments_dir / segment.name).unlink(missing_ok=True)
        return kept.height


from .index import CallFacts, LedgerIndex, call_facts, facts_many  # noqa: E402

__all__ = ["CALL_FIELDS", "DIRECTIONS", "KEY", "LEDGER_SCHEMA", "LEG_SPAN", "OUTCOMES",
           "REQUIRED_CALL_FIELDS", "CallFacts", "Ledger", "LedgerIndex", "Recorded", "Segment",
           "call_facts", "conform", "facts_many", "wal_calls"]
