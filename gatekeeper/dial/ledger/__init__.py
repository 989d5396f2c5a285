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
not recorded twice. Every call takes one way in, `Ledger.record` (the service's and an
export's alike), so that order and that once are written in one place; the service's
in-memory index (index.py) only reads, and is handed what was written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import JournalError
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.privacy.optouts import Journal, optouts_from_calls

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
KEY: list[str] = ["agency", "call_id"]
# The source of the calls the service records (calls.jsonl; its compactions' segments).
SERVICE = "service"
# A repeat's columns as the call was first stored: first_phone, first_outcome, ...
FIRST = "first_"
# The longest a call's legs may span (a transfer, a closer's queue): rows of one call id
# further apart are two calls under a reused id, never legs of one.
LEG_SPAN = dt.timedelta(hours=4)
_NO_CALLS = pl.DataFrame(schema=LEDGER_SCHEMA)


def empty_calls() -> pl.DataFrame:
    """No calls (one frame shared: frames do not change, and making one costs ~0.5 ms)."""
    return _NO_CALLS


def frame_of(calls: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Calls as a request brings them (dicts) in LEDGER_SCHEMA (a field left out is
    null): from_dicts builds a request's few in ~35 µs, a column at a time ~600."""
    return pl.from_dicts(calls, schema=LEDGER_SCHEMA) if calls else empty_calls()


@dataclass
class Recorded:
    """What recording did, for one request or one export (LEDGER_SCHEMA frames): the calls
    stored now, for each repeat the call as first stored (a dialer retrying is told its
    call is there), the repeats that report another call than the one stored under their
    id (as sent: the dialer reuses call ids; said back so it can notice), and how many
    objections the journal did not hold yet."""

    stored: pl.DataFrame
    repeated: pl.DataFrame
    clashes: pl.DataFrame
    optouts: int = 0
    same_file: bool = False  # this very export was imported before: nothing recorded


@dataclass
class _Request:
    """One caller's calls waiting to be written with the others (group commit)."""

    calls: pl.DataFrame  # LEDGER_SCHEMA
    journal: Journal | None
    source: str
    objections: pl.DataFrame | None
    zone: str
    done: bool = False
    result: Recorded | None = None
    error: BaseException | None = None


class Follower(Protocol):
    """An index that holds the ledger in memory (the service's LedgerIndex): it reads, and
    its writer asks it which calls are held (10M call ids are not read from the files a
    request) and hands it the calls it wrote (so it need not read them back)."""

    def refresh(self) -> None: ...

    def first_stored(self, calls: pl.DataFrame) -> pl.DataFrame: ...

    def took(self, calls: pl.DataFrame, start: int, end: int) -> None: ...


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


def wal_lines(calls: Sequence[dict[str, Any]]) -> list[str]:
    """calls.jsonl's lines (without newlines) for these calls, whichever medium keeps them.
    A request's few calls: json in Python costs a fraction of a frame's writer."""
    return [json.dumps({**{c: row.get(c) for c in LEDGER_SCHEMA},
                        "started_at": iso(row["started_at"]),
                        "recorded_at": iso(row["recorded_at"])}, ensure_ascii=False)
            for row in calls]


def segment_file(calls: pl.DataFrame, source: str, folder: Path, *, durable: bool) -> Segment:
    """The calls as an immutable Parquet segment in folder, named by time and sha256
    (sorted by number, so one number's calls are a few row groups); `durable`: fsynced
    before it is named (a file ledger's only copy; a shared ledger's is the database's)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = folder / f".incoming-{os.getpid()}"
    conform(calls).sort("phone_key", "started_at", nulls_last=True).write_parquet(
        tmp, compression="zstd", statistics=True, row_group_size=100_000)
    if durable:
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    digest = sha256_file(tmp)
    name = f"{now_utc().strftime('%Y%m%dT%H%M%S')}-{digest[:16]}.parquet"
    os.chmod(tmp, 0o600)
    os.replace(tmp, folder / name)
    return Segment(name, digest, calls.height, source)


class Ledger:
    """The contact ledger of one workspace (data/ledger/)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wal = folder / "calls.jsonl"
        self.manifest = folder / "segments.jsonl"
        self.segments_dir = folder / "segments"
        self._listed: tuple[tuple[int, int], list[Segment]] | None = None
        self.follower: Follower | None = None  # set by the index that follows this ledger
        self._leader = threading.Lock()  # group commit: the writer of the waiting calls
        self._queue_lock = threading.Lock()
        self._queue: list[_Request] = []

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

    def segment_path(self, segment: Segment) -> Path:
        """Where a listed segment is read from (a shared ledger fetches it first)."""
        return self.segments_dir / segment.name

    def wal_start(self) -> int:
        """Where calls.jsonl's calls not yet folded into a segment begin (a file: 0, a
        compaction empties it)."""
        return 0

    def wal_size(self) -> int:
        """How far calls.jsonl goes (it only grows, until a compaction empties it)."""
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return 0

    def wal_read(self, start: int = 0) -> tuple[bytes, int]:
        """calls.jsonl's complete lines from start, and where they end (a torn last line:
        never acknowledged)."""
        try:
            with open(self.wal, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return b"", start
        data = data[:data.rfind(b"\n") + 1]
        return data, start + len(data)

    def _wal_frame(self) -> pl.DataFrame:
        data = self.wal_read()[0]
        return wal_calls(data) if data else conform(pl.DataFrame())

    def calls(self, phone_key: int | None = None, until: dt.datetime | None = None,
              columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Every call (of one number, before `until`), each (agency, call_id) once, in
        the order they were recorded."""
        parts = []
        wanted = list(columns or LEDGER_SCHEMA)
        needed = list(dict.fromkeys([*wanted, *KEY]))
        for segment in self.segments():
            scan = pl.scan_parquet(self.segment_path(segment))
            if phone_key is not None:
                scan = scan.filter(pl.col("phone_key") == phone_key)
            parts.append(scan.select(needed).collect())
        wal = self._wal_frame()
        if phone_key is not None:  # before the columns are narrowed: phone_key may not be one
            wal = wal.filter(pl.col("phone_key") == phone_key)
        wal = wal.select(needed)
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
        paths = [self.segment_path(s) for s in self.segments()]
        parts = [self._wal_frame().lazy().select(KEY)]
        if paths:
            parts.insert(0, pl.scan_parquet(paths).select(KEY))
        return pl.concat(parts).filter(pl.col("agency").is_in(agencies)
                                       & pl.col("call_id").is_in(ids)).collect()

    def calls_of(self, phone_keys: pl.Series) -> pl.DataFrame:
        """Every call to these numbers (each (agency, call_id) once): a replay reads the
        ledger once for all its contracts."""
        wanted = phone_keys.unique().cast(pl.Int64)
        parts = [pl.scan_parquet(self.segment_path(s))
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
        paths = [self.segment_path(s) for s in self.segments()]
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
        lines = "".join(line + "\n" for line in wal_lines(calls)).encode()
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
        segment = segment_file(calls, source, self.segments_dir, durable=True)
        line = json.dumps(segment.__dict__) + "\n"
        fd = os.open(self.manifest, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:  # listed only once the file is whole
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return segment

    # --- writing: the one path every call takes -----------------------------------------

    def record(self, calls: pl.DataFrame | Sequence[dict[str, Any]], journal: Journal | None,
               *, source: str = SERVICE, objections: pl.DataFrame | None = None,
               zone: str = "UTC") -> Recorded:
        """Record calls: the service's (`source` SERVICE: appended to calls.jsonl) and a
        dialer's export (`source` "import:<sha256 of the file>": one segment, all or
        nothing, and nothing at all when that very file was imported before). Durable
        when this returns. The steps, under the ledger's lock:

        1. which calls the ledger holds already (`_stored_before`): each (agency,
           call_id) is stored once, and a repeat is answered as first stored, a repeat
           that reports another call marked as a clash (the dialer reuses ids);
        2. an export's later legs of calls already stored (`_legs`);
        3. the journal first (`_journal_first`): every `optout` call (or the export's
           `objections`, whose legs may hold one its stored call does not) becomes an
           objection, once per number, call and instant: the journal is asked before it
           is written, so a retry, an import killed and run again or a call id reused
           for another person's objection records each exactly once; a crash after it
           and before the ledger loses no objection;
        4. the calls (`_store`), and the index that follows this ledger is handed them.

        `journal` None records no objection: only for synthetic history (benches); every
        door of the product passes the workspace's journal, and its jurisdiction's `zone`
        (the words of an objection's instant in a refusal; the instants are UTC).

        Requests that arrive while another is being written wait and are then written
        together, one append and one fsync for all (group commit): one at a time, at ~5 ms
        each behind one lock, 200 requests a second would queue without end."""
        # made a frame by its caller: a request that cannot be fails alone, not its batch
        frame = conform(calls) if isinstance(calls, pl.DataFrame) else frame_of(calls)
        mine = _Request(frame, journal, source,
                        conform(objections) if objections is not None else None, zone)
        with self._queue_lock:
            self._queue.append(mine)
        with self._leader:  # whoever holds it writes everything waiting, its own included
            if not mine.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _write(self, batch: list[_Request]) -> None:
        try:
            with self._lock():
                if self.follower is not None:  # calls other processes wrote since
                    self.follower.refresh()
                pending = [r for r in batch if not self._imported_before(r)]
                if pending:
                    self._record_locked(pending)
                if self.follower is not None:
                    self.follower.refresh()
        except BaseException as exc:  # nothing acknowledged: every request in it fails
            for request in batch:
                request.error = exc
            raise
        finally:
            for request in batch:
                request.done = True

    def _imported_before(self, request: _Request) -> bool:
        """This very file was imported before: nothing is recorded again (step 0)."""
        if not request.source.startswith("import:") or not any(
                s.source == request.source for s in self.segments()):
            return False
        request.result = Recorded(empty_calls(), empty_calls(), empty_calls(), same_file=True)
        return True

    def _record_locked(self, pending: list[_Request]) -> None:
        """Steps 1-4 of `record` for the requests of one batch."""
        rows = pl.concat([r.calls for r in pending])
        before = self._stored_before(rows)
        if before.is_empty() and rows["call_id"].n_unique() == rows.height:
            # Nothing held and no id twice: every call is new, nothing to sort out (the
            # service's usual request: sorting out a request's one call cost ~3 ms).
            parts = [(r.calls, empty_calls(), empty_calls()) for r in pending]
        else:
            parts = self._sort_out(pending, rows, before)
        optouts = _journal_first(pending)
        for request, (stored, repeated, clashes), count in zip(pending, parts, optouts,
                                                               strict=True):
            request.result = Recorded(stored, repeated, clashes, optouts=count)
        for source in dict.fromkeys(r.source for r in pending):
            self._store(pl.concat([r.result.stored for r in pending
                                   if r.source == source and r.result is not None]), source)

    def _sort_out(self, pending: list[_Request], rows: pl.DataFrame, before: pl.DataFrame
                  ) -> list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]]:
        """Each request's calls stored now (an export's later legs included), its repeats
        as first stored, and its clashes: `sorted_out` of the whole batch at once, each
        request's share then gathered by position (no frame query per request)."""
        sizes = [r.calls.height for r in pending]
        marked = sorted_out(rows.with_columns(
            pl.Series("_n", np.repeat(np.arange(len(pending)), sizes)),
            pl.Series("_import", np.repeat([r.source != SERVICE for r in pending], sizes))),
            before)
        legs = self._legs(marked)
        calls, firsts = marked.select(_CALL), marked.select(_AS_FIRST)
        whose, fresh, clash, leg = (marked[c].to_numpy() for c in ("_n", "_fresh", "_clash",
                                                                   "_leg"))
        parts = []
        for n in range(len(pending)):
            mine = whose == n
            stored = calls[np.flatnonzero(mine & fresh)]
            if legs.height:
                stored = pl.concat([stored, legs.filter(pl.col("_n") == n).select(_CALL)])
            parts.append((stored, firsts[np.flatnonzero(mine & ~fresh)],
                          calls[np.flatnonzero(mine & clash & ~leg)]))
        return parts

    def _stored_before(self, calls: pl.DataFrame) -> pl.DataFrame:
        """These calls as the ledger first stored them (those it holds): from the index
        that follows it when there is one (the service: memory), else from the files."""
        if self.follower is not None:
            return self.follower.first_stored(calls)
        held = self.recorded(calls.select(KEY))
        return self.first_of(held) if held.height else empty_calls()

    def _legs(self, marked: pl.DataFrame) -> pl.DataFrame:
        """Calls already stored that an export now reports with another outcome, for the
        same number and within LEG_SPAN of the stored start: the closer's leg of a transfer
        that was still going on when the earlier export was taken. Kept, under the call id
        and its outcome (`1795400000.77#refused`), so the closer's refusal rests the
        number and a re-export records nothing new; the stored call stays as it was
        (evidence is never rewritten). It counts as one more attempt: a stricter count,
        never a looser one. The service tells the dialer of such a repeat instead (a
        clash): a call it reports is over."""
        if not marked["_leg"].any():
            return marked.clear()
        legs = marked.filter("_leg").with_columns(
            pl.format("{}#{}", "call_id", "outcome").alias("call_id")
        ).unique(KEY, keep="first", maintain_order=True)
        if legs.is_empty():
            return legs
        return legs.join(self._stored_before(legs), on=KEY, how="anti")

    def _store(self, new: pl.DataFrame, source: str) -> None:
        """The calls, durable: the service's appended to calls.jsonl (and handed to the
        index that follows this ledger, which then need not read them back), an export's
        as one segment."""
        if new.is_empty():
            return
        if source != SERVICE:
            self._write_segment(new, source)
            return
        start, end = self.write_wal(new.to_dicts())  # a request's few: rows, not a frame
        if self.follower is not None:
            self.follower.took(new, start, end)

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


def open_ledger(ws: Workspace) -> Ledger:
    """The workspace's contact ledger: data/ledger/, or the shared store's when
    gatekeeper.toml has [shared] url (every command and the service alike)."""
    url = ws.config().shared_url
    if url is None:
        return Ledger(ws.ledger_dir)
    files = Ledger(ws.ledger_dir)
    for path in (files.manifest, files.wal):
        if path.exists():
            # Read from the shared store, these calls would not count: fail closed.
            raise JournalError("holds calls while gatekeeper.toml names a shared store, "
                               "which would not count them; move them in with 'gatekeeper "
                               "shared migrate --from-files'", file=path)
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.ledger import SharedLedger

    return SharedLedger(shared_store(url), ws.ledger_dir)


def _first(column: str) -> pl.Expr:
    return pl.col(FIRST + column)


# sorted_out's and _record_locked's expressions, built once (a request's few calls: the
# building was a good part of their cost).
_CALL = list(LEDGER_SCHEMA)
_AS_FIRST = [_first(c).alias(c) for c in LEDGER_SCHEMA]
_FIRSTS = [*(pl.col(c) for c in KEY), *(pl.col(c).alias(FIRST + c) for c in LEDGER_SCHEMA)]
_KEY_TEXT = pl.concat_str(KEY, separator="\x1f")
_CLASH = ~pl.col("_fresh") & (
    pl.any_horizontal(pl.col(c).ne_missing(_first(c)) for c in ("phone", "outcome",
                                                                "direction"))
    # to the second: calls.jsonl keeps whole seconds
    | pl.col("started_at").dt.truncate("1s").ne_missing(_first("started_at").dt.truncate("1s")))
_LEG = (pl.col("_import") & pl.col("_held") & (pl.col("phone") == _first("phone"))
        & (pl.col("outcome") != _first("outcome"))
        & ((pl.col("started_at") - _first("started_at")).abs() <= LEG_SPAN)).fill_null(False)


def sorted_out(rows: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """Each call of a batch (in order; `_import` marks an export's) with what recording
    makes of it: `_fresh`, stored now (its id is new, and this is its first row); else a
    repeat, with the call as first stored (before, or earlier in this batch: the FIRST
    columns); `_clash`, a repeat that reports another call (another number, outcome,
    direction or second: calls.jsonl keeps whole seconds, so a retry read back after a
    restart is the same call); `_leg`, an export's clash that is a later leg of a call
    stored before (Ledger._legs). `stored`: the calls of these ids already held."""
    held = (_KEY_TEXT.is_in(stored.select(_KEY_TEXT).to_series().implode())
            if stored.height else pl.lit(False))
    marked = rows.with_columns(held.alias("_held"),
                               (~held & pl.struct(KEY).is_first_distinct()).alias("_fresh"))
    if marked["_fresh"].all():  # no repeat: each call is its own first (no join)
        marked = marked.with_columns(_FIRSTS[len(KEY):])
    else:
        before = stored.unique(KEY, keep="first", maintain_order=True)
        firsts = pl.concat([before.select(_CALL), marked.filter("_fresh").select(_CALL)])
        marked = marked.join(firsts.select(_FIRSTS), on=KEY, how="left",
                             maintain_order="left")
    return marked.with_columns(_CLASH.alias("_clash"), (_CLASH & _LEG).alias("_leg"))


def _journal_first(pending: list[_Request]) -> list[int]:
    """Step 3 of Ledger.record: the batch's objections (each request's `objections`, else
    its `optout` calls), in the journal before their calls are in the ledger
    (optouts_from_calls asks the journal first: each once per number, call and instant);
    for each request, how many the journal did not hold yet. The batch's requests are
    written together, one append and one fsync (`_chunks`), not one each: a third of a
    floor's calls can end in an objection. A request with none costs no frame operation."""
    wanted: list[tuple[int, pl.DataFrame]] = []
    for n, request in enumerate(pending):
        if request.journal is None:
            continue
        objections = request.objections
        if objections is None:  # a Series test each (~10 µs; a filter or gather: ~150)
            optout = request.calls["outcome"] == "optout"
            objections = (None if not optout.any() else request.calls
                          if optout.sum() == request.calls.height  # all (null is no optout)
                          else request.calls.filter(optout))
        if objections is not None and objections.height:
            wanted.append((n, objections))
    counts = [0] * len(pending)
    for chunk in _chunks(pending, wanted):
        first = pending[chunk[0][0]]
        assert first.journal is not None
        frame = pl.concat([o for _, o in chunk]) if len(chunk) > 1 else chunk[0][1]
        entries = optouts_from_calls(first.journal, frame, first.zone).entries
        if len(chunk) == 1:
            counts[chunk[0][0]] = len(entries)
            continue
        # the chunk's requests share no number (`_chunks`): an entry's number is its request's
        owner = {phone: n for n, o in chunk for phone in o["phone"].to_list()}
        for entry in entries:
            counts[owner[entry["phone"]]] += 1
    return counts


# optouts_from_calls looks this many numbers up one by one in the journal's bytes; more, and
# it parses the whole journal (slow for a big one): a batch's objections are written
# together only up to it.
_JOURNAL_PHONES = 8


def _chunks(pending: list[_Request], wanted: list[tuple[int, pl.DataFrame]]
            ) -> Iterator[list[tuple[int, pl.DataFrame]]]:
    """The batch's objections (request index, frame), in order, in groups written with one
    optouts_from_calls each: same journal and zone, no number in two requests of a group
    (so each entry the journal takes is its number's request's: the count each dialer is
    told stays exact, with no second copy of what makes an objection new) and at most
    _JOURNAL_PHONES numbers (an import's objections: a group of their own)."""
    group: list[tuple[int, pl.DataFrame]] = []
    phones: set[str] = set()
    for n, objections in wanted:
        mine = set(objections["phone"].to_list())
        if group and (pending[group[0][0]].journal is not pending[n].journal
                      or pending[group[0][0]].zone != pending[n].zone
                      or phones & mine or len(phones | mine) > _JOURNAL_PHONES):
            yield group
            group, phones = [], set()
        group.append((n, objections))
        phones |= mine
    if group:
        yield group


from gatekeeper.dial.ledger.index import (  # noqa: E402
    CallFacts,
    LedgerIndex,
    abandoned_many,
    call_facts,
    facts_many,
)

__all__ = ["CALL_FIELDS", "DIRECTIONS", "FIRST", "KEY", "LEDGER_SCHEMA", "LEG_SPAN", "OUTCOMES",
           "REQUIRED_CALL_FIELDS", "SERVICE", "CallFacts", "Follower", "Ledger", "LedgerIndex",
           "Recorded", "Segment", "abandoned_many", "call_facts", "conform", "facts_many",
           "sorted_out", "wal_calls"]
