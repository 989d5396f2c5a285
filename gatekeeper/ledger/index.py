"""The ledger as the service holds it in memory, and the contact rules' facts."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..timeutil import iso
from . import KEY, LEDGER_SCHEMA, OUTCOMES, Ledger, Recorded, Segment, conform, wal_calls

# What the index reads of a segment: the call's identity and what the contact rules count.
INDEXED: list[str] = ["agency", "call_id", "phone_key", "started_at", "direction", "outcome"]


# A call whose instant is unknown (a damaged record: every door refuses one without it):
# inside every window, so it counts against its own number and no other.
UNKNOWN_TIME = np.iinfo(np.int64).min


def contact_facts() -> list[pl.Expr]:
    """What rules 10 and 11 count of a stored call, written once for the service's index,
    `check` and contract replay: `t` (µs), `counted` (an outbound attempt: every outcome
    but `failed`) and `refused`. An odd record (no outcome, an unknown one, no direction,
    no instant: a damaged segment or an older writer) fails closed for its own number -
    an attempt, a refusal, just now - and never stops the answers for other numbers (a
    null here once made every check fail)."""
    outcome = pl.col("outcome")
    known = outcome.is_in(pl.Series(OUTCOMES).implode()).fill_null(False)
    return [pl.col("started_at").dt.epoch("us").fill_null(UNKNOWN_TIME).alias("t"),
            ((pl.col("direction") != "inbound").fill_null(True)
             & (~known | (outcome != "failed"))).alias("counted"),
            (~known | (outcome == "refused")).fill_null(True).alias("refused")]


def _row_facts(row: dict[str, Any]) -> tuple[int, bool, bool]:
    """`contact_facts` of one call as a request brings it (plain Python: a few a request)."""
    outcome, started = row.get("outcome"), row.get("started_at")
    known = outcome in OUTCOMES
    return ((started - _EPOCH) // dt.timedelta(microseconds=1) if started is not None
            else int(UNKNOWN_TIME),
            row.get("direction") != "inbound" and (not known or outcome != "failed"),
            not known or outcome == "refused")


def _hashes(frame: pl.DataFrame) -> pl.Series:
    """(agency, call_id) as one 64-bit integer: the index's identity of a call (in memory
    only: polars' hash is stable within one process, which is all it is used for)."""
    return frame.select(pl.concat_str(KEY, separator="\x1f")).to_series().hash()


def _row_hashes(rows: list[dict[str, Any]]) -> list[int]:
    """`_hashes` of calls as a request brings them: the same string, the same hash."""
    return pl.Series([f"{r['agency']}\x1f{r['call_id']}" for r in rows], dtype=pl.String
                     ).hash().to_list()


@dataclass
class _Waiting:
    """One request's calls waiting to be written with the others (group commit)."""

    calls: list[dict[str, Any]]
    optouts: Any
    done: bool = False
    result: Recorded | None = None
    error: BaseException | None = None


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows, schema=LEDGER_SCHEMA))


def _appended(result: Any, asked: list[dict[str, Any]]) -> int:
    """How many objections an `optouts` callback recorded (its AppendResult's entries)."""
    entries = getattr(result, "entries", None)
    return len(entries) if entries is not None else len(asked)


def _clash(sent: dict[str, Any], first: dict[str, Any] | None) -> bool:
    """A repeated call id that reports another call: another number, outcome or time."""
    # To the second: calls.jsonl keeps whole seconds, so a retry read back after a restart
    # is the same call.
    return first is not None and (iso(sent.get("started_at")) != iso(first.get("started_at"))
                                  or any(sent.get(c) != first.get(c)
                                         for c in ("phone", "outcome", "direction")))


class LedgerIndex:
    """The ledger as the service holds it: which calls it has (to count a repeated
    call_id once), and per number the calls the contact rules count, as sorted arrays
    (10M calls: ~250 MB, a lookup in microseconds). Files written by other processes (an
    import, a compaction) are picked up on `refresh`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.lock = threading.Lock()
        self._leader = threading.Lock()  # group commit: the writer of the waiting calls
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._reset()

    def _reset(self) -> None:
        self.segments: list[Segment] = []
        self.wal_position = 0
        self.seen_sorted = np.empty(0, np.uint64)  # hashes of calls in segments
        self.seen_new: set[int] = set()  # hashes of calls added since
        self.first: dict[int, dict[str, Any]] = {}  # calls.jsonl's calls, as first stored
        self.keys = np.empty(0, np.int64)  # phone_key, sorted
        self.times = np.empty(0, np.int64)  # started_at, µs
        self.counted = np.empty(0, np.bool_)  # outbound and not failed
        self.refused = np.empty(0, np.bool_)
        self.tail: dict[int, list[tuple[int, bool, bool]]] = {}

    def _seen(self, hashes: pl.Series | list[int]) -> np.ndarray:
        """Which of these calls the index already holds."""
        values = (hashes.to_numpy() if isinstance(hashes, pl.Series)
                  else np.array(hashes, np.uint64)).astype(np.uint64)
        found = np.zeros(len(values), np.bool_)
        if len(self.seen_sorted):
            at = np.minimum(np.searchsorted(self.seen_sorted, values),
                            len(self.seen_sorted) - 1)
            found = self.seen_sorted[at] == values
        if self.seen_new:
            found |= np.array([int(v) in self.seen_new for v in values], np.bool_)
        return found

    def _merge(self, calls: pl.DataFrame, hashes: pl.Series) -> None:
        """Segments' calls not seen before join the sorted arrays (those seen are
        skipped: a compaction moves calls from calls.jsonl into a segment)."""
        fresh = ~self._seen(hashes)
        calls, hashes = calls.filter(pl.Series(fresh)), hashes.filter(pl.Series(fresh))
        if calls.is_empty():
            return
        facts = calls.select(pl.col("phone_key"), *contact_facts())
        self.seen_sorted = np.sort(np.concatenate(
            [self.seen_sorted, hashes.to_numpy().astype(np.uint64)]))
        merged = pl.concat([pl.DataFrame({"phone_key": self.keys, "t": self.times,
                                          "counted": self.counted,
                                          "refused": self.refused}), facts]
                           ).drop_nulls("phone_key").sort("phone_key", "t")
        self.keys, self.times = merged["phone_key"].to_numpy(), merged["t"].to_numpy()
        self.counted = merged["counted"].to_numpy()
        self.refused = merged["refused"].to_numpy()

    def refresh(self) -> None:
        """Pick up segments and calls.jsonl lines written since the last look."""
        with self.lock:
            listed = self.ledger.segments()
            if listed[:len(self.segments)] != self.segments:  # rewritten (erasure, purge)
                self._reset()
            new = listed[len(self.segments):]
            if new:  # merged into the sorted arrays once, however many (start-up: all)
                calls = pl.concat([
                    pl.read_parquet(self.ledger.segments_dir / segment.name, columns=INDEXED)
                    for segment in new], how="diagonal_relaxed")
                hashes = _hashes(calls)
                first = hashes.is_first_distinct()  # a crash mid-compaction lists calls twice
                self._merge(calls.filter(first), hashes.filter(first))
                self.segments.extend(new)
            self._read_wal()

    def compact_if_over(self, limit_bytes: int) -> bool:
        """Fold the service's calls.jsonl into a segment once it passes `limit_bytes`, so
        a restart reads a few Parquet files, not millions of JSON lines."""
        wal = self.ledger.wal
        if not wal.exists() or wal.stat().st_size < limit_bytes:
            return False
        self.ledger.compact()
        self.refresh()
        return True

    def _read_wal(self) -> None:
        wal = self.ledger.wal
        size = wal.stat().st_size if wal.exists() else 0
        if size < self.wal_position:  # compacted into a segment, already read above
            self.wal_position, self.first = 0, {}
        if size == self.wal_position:
            return
        with open(wal, "rb") as handle:
            handle.seek(self.wal_position)
            data = handle.read(size - self.wal_position)
        end = data.rfind(b"\n") + 1
        if not end:
            return
        calls = wal_calls(data[:end])
        self._hold(list(calls.iter_rows(named=True)), _hashes(calls).to_list())
        self.wal_position += end

    def _hold(self, rows: list[dict[str, Any]], hashes: list[int]) -> None:
        """calls.jsonl's calls join the index, each also kept as first stored: a few
        per request, so plain Python (a frame's fixed costs were most of a request)."""
        for value, row, seen in zip(hashes, rows, self._seen(hashes), strict=True):
            self.first.setdefault(value, row)
            if seen:  # a compaction moved it into a segment already read
                continue
            self.seen_new.add(value)
            if row["phone_key"] is not None:
                self.tail.setdefault(int(row["phone_key"]), []).append(_row_facts(row))

    def record(self, calls: pl.DataFrame | list[dict[str, Any]], optouts: Any = None
               ) -> Recorded:
        """Record calls through the service: each (agency, call_id) once; durable when
        this returns. `optouts(calls)` records the objections of `optout` calls first,
        those reported under a call id already used for another call included, each once
        (optouts_from_calls).

        Requests that arrive while another is being written wait and are then written
        together, one append and one fsync for all (group commit): one at a time, at
        ~5 ms each behind one lock, 200 requests a second would queue without end. A
        request's few calls stay plain Python: frames cost ~3 ms of CPU a request."""
        rows = (conform(calls).to_dicts() if isinstance(calls, pl.DataFrame)
                else [{c: row.get(c) for c in LEDGER_SCHEMA} for row in calls])
        mine = _Waiting(rows, optouts)
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

    def _write(self, batch: list[_Waiting]) -> None:
        try:
            with self.ledger.writing():
                self.refresh()
                rows = [(n, row) for n, waiting in enumerate(batch) for row in waiting.calls]
                hashes = _row_hashes([row for _, row in rows])
                with self.lock:
                    seen = self._seen(hashes)
                taken: set[int] = set()
                fresh: list[tuple[int, dict[str, Any], int]] = []
                again: list[tuple[int, dict[str, Any], int]] = []
                for (n, row), value, held in zip(rows, hashes, seen.tolist(), strict=True):
                    (again if held or value in taken else fresh).append((n, row, value))
                    taken.add(value)
                # Each repeat as first stored (in this batch, or before it): a repeat that
                # says something else (another number, another outcome) is a clash.
                in_batch = {value: row for _, row, value in fresh}
                firsts = self._firsts([(row, value) for _, row, value in again
                                       if value not in in_batch]) if again else {}
                firsts.update(in_batch)
                for n, waiting in enumerate(batch):  # the journal first: never a call
                    objections = [row for m, row, _ in fresh  # without its objection
                                  if m == n and row["outcome"] == "optout"]
                    clashes = [row for m, row, value in again
                               if m == n and _clash(row, firsts.get(value))]
                    # An objection reported under a call id already used is still the
                    # person's objection: recorded, never lost to the dialer's mistake,
                    # unless the journal holds it from this very call (a retry).
                    reused = [row for row in clashes if row["outcome"] == "optout"]
                    recorded = 0
                    # Each once per number and call: the journal is asked first (a
                    # retry after a crash between the journal and the ledger).
                    if waiting.optouts is not None and (objections or reused):
                        recorded += _appended(waiting.optouts(_frame(objections + reused)),
                                              objections + reused)
                    waiting.result = Recorded(
                        [row for m, row, _ in fresh if m == n],
                        [firsts[value] for m, _, value in again if m == n and value in firsts],
                        recorded, clashes)
                if fresh:
                    start, end = self.ledger.write_wal([row for _, row, _ in fresh])
                    with self.lock:
                        if start == self.wal_position:  # nobody wrote since: no read-back
                            self._hold([row for _, row, _ in fresh],
                                       [value for _, _, value in fresh])
                            self.wal_position = end
                self.refresh()
        except BaseException as exc:  # nothing acknowledged: every request in it fails
            for waiting in batch:
                waiting.error = exc
            raise
        finally:
            for waiting in batch:
                waiting.done = True

    def _firsts(self, repeated: list[tuple[dict[str, Any], int]]) -> dict[int, dict[str, Any]]:
        """Each repeated call as it was first stored: from memory when it came through
        calls.jsonl, else from the segments (a retry of a call compacted or imported)."""
        found = {value: self.first[value] for _, value in repeated if value in self.first}
        missing = [row for row, value in repeated if value not in found]
        if missing:
            keys = conform(pl.DataFrame(missing, schema=LEDGER_SCHEMA)).select(KEY)
            stored = self.ledger.first_of(keys)
            found.update(zip(_hashes(stored).to_list(), stored.to_dicts(), strict=True))
        return found

    def facts(self, phone_key: int, at: dt.datetime, window_days: int,
              cooldown_days: int) -> CallFacts:
        """The contact rules' facts for one number before `at`, from memory."""
        with self.lock:
            lo, hi = np.searchsorted(self.keys, [phone_key, phone_key + 1])
            times = self.times[lo:hi]
            counted, refused = self.counted[lo:hi], self.refused[lo:hi]
            tail = list(self.tail.get(phone_key, ()))
        if tail:
            times = np.concatenate([times, np.array([t for t, _, _ in tail], np.int64)])
            counted = np.concatenate([counted, np.array([c for _, c, _ in tail], np.bool_)])
            refused = np.concatenate([refused, np.array([r for _, _, r in tail], np.bool_)])
        return _count(times, counted, refused, at, window_days, cooldown_days)

    def facts_of(self, phone_keys: np.ndarray, at: dt.datetime, window_days: int,
                 cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        """`facts` for many numbers at one instant, column by column (POST /v1/check's
        10,000 numbers): attempts, and whether a refusal is within the cooldown."""
        with self.lock:
            owner, at_rows = _rows_of(self.keys, phone_keys)
            times, counted = self.times[at_rows], self.counted[at_rows]
            refused = self.refused[at_rows]
            # calls.jsonl's few calls, for the numbers asked that have any (set, not loop)
            held = self.tail.keys() & set(phone_keys.tolist())
            tail = [(int(k), list(self.tail[k])) for k in held]
        if tail:
            where: dict[int, list[int]] = {}
            asked = np.flatnonzero(np.isin(phone_keys, np.fromiter(held, np.int64)))
            for n in asked.tolist():  # only the numbers that have such calls
                where.setdefault(int(phone_keys[n]), []).append(n)
            extra = [(n, t, c, r) for k, calls in tail for n in where[k] for t, c, r in calls]
            owner = np.concatenate([owner, np.array([e[0] for e in extra], np.int64)])
            times = np.concatenate([times, np.array([e[1] for e in extra], np.int64)])
            counted = np.concatenate([counted, np.array([e[2] for e in extra], np.bool_)])
            refused = np.concatenate([refused, np.array([e[3] for e in extra], np.bool_)])
        at_us = np.full(len(phone_keys), _us(at), np.int64)
        attempts, last = _count_many(owner, times, counted, refused, at_us, window_days,
                                     cooldown_days)
        return attempts, last >= 0


@dataclass(frozen=True)
class CallFacts:
    """What the contact rules need of a number's calls before an instant."""

    attempts: int  # outbound, not `failed`, within the attempt window
    last_refusal: dt.datetime | None  # within the cooldown


def call_facts(calls: pl.DataFrame, at: dt.datetime, window_days: int,
               cooldown_days: int) -> CallFacts:
    """From one number's calls (started_at, direction, outcome), as the index counts."""
    facts = calls.select(contact_facts())
    return _count(facts["t"].to_numpy(), facts["counted"].to_numpy(),
                  facts["refused"].to_numpy(), at, window_days, cooldown_days)


_EPOCH = dt.datetime(1970, 1, 1)
_DAY_US = 86_400_000_000


def _count(times: np.ndarray, counted: np.ndarray, refused: np.ndarray, at: dt.datetime,
           window_days: int, cooldown_days: int) -> CallFacts:
    """Rules 10 and 11 count here, for the service and the command line alike: calls
    strictly before `at`; "in the last N days" is the half-open (at - N days, at), so a
    call made exactly N days ago no longer counts (a refusal at 10:00 allows a call at
    10:00 sixty days later)."""
    at_us = _us(at)
    before = times < at_us
    unknown = times == UNKNOWN_TIME
    attempts = int(np.count_nonzero(before & counted & (
        unknown | (times > at_us - window_days * _DAY_US))))
    recent = before & refused & (unknown | (times > at_us - cooldown_days * _DAY_US))
    refusals = np.where(unknown[recent], at_us - 1, times[recent])
    return CallFacts(attempts, _EPOCH + dt.timedelta(microseconds=int(refusals.max()))
                     if refusals.size else None)


def _us(at: dt.datetime) -> int:
    return (at - _EPOCH) // dt.timedelta(microseconds=1)


def key_bounds(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each wanted key's rows start and end in sorted `keys`. Asked in sorted order:
    10,000 random lookups into 10M keys miss the cache at every step (12 ms a search, 4 ms
    sorted)."""
    order = np.argsort(wanted, kind="stable")
    lows, highs = np.empty(len(wanted), np.int64), np.empty(len(wanted), np.int64)
    lows[order] = np.searchsorted(keys, wanted[order], side="left")
    highs[order] = np.searchsorted(keys, wanted[order], side="right")
    return lows, highs


def _rows_of(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted `keys`, the positions of every row of each wanted key, and which wanted
    key (its index) each belongs to: the rows of 10,000 numbers without a loop."""
    lows, highs = key_bounds(keys, wanted)
    lengths = highs - lows
    owner = np.repeat(np.arange(len(wanted), dtype=np.int64), lengths)
    starts = np.repeat(lows - (np.cumsum(lengths) - lengths), lengths)
    return owner, starts + np.arange(int(lengths.sum()), dtype=np.int64)


def _count_many(owner: np.ndarray, times: np.ndarray, counted: np.ndarray,
                refused: np.ndarray, at_us: np.ndarray, window_days: int,
                cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
    """`_count` for many (number, instant) pairs at once: each call row belongs to the
    pair `owner` names. Attempts per pair, and the last refusal within the cooldown (µs;
    -1: none). tests/test_dial_rules.py holds the two counts to the same answers."""
    size = len(at_us)
    at = at_us[owner]
    before = times < at
    unknown = times == UNKNOWN_TIME
    attempts = np.bincount(owner, weights=before & counted & (
        unknown | (times > at - window_days * _DAY_US)), minlength=size)
    last = np.full(size, -1, np.int64)
    recent = before & refused & (unknown | (times > at - cooldown_days * _DAY_US))
    np.maximum.at(last, owner[recent], np.where(unknown, at - 1, times)[recent])
    return attempts.astype(np.int64), last


def facts_many(calls: pl.DataFrame, asked: pl.DataFrame, window_days: int,
               cooldown_days: int) -> list[CallFacts]:
    """CallFacts for each (phone_key, at) asked, in order, from the calls given (those of
    the numbers asked about): the same count as `facts` and `call_facts`, for a contract
    replay's thousands of instants without reading the ledger once per contract."""
    ordered = calls.select(pl.col("phone_key"), *contact_facts()).drop_nulls(
        "phone_key").sort("phone_key", "t")
    owner, rows = _rows_of(ordered["phone_key"].to_numpy(), asked["phone_key"].to_numpy())
    at_us = asked.select(pl.col("at").dt.epoch("us")).to_series().to_numpy()
    attempts, last = _count_many(owner, ordered["t"].to_numpy()[rows],
                                 ordered["counted"].to_numpy()[rows],
                                 ordered["refused"].to_numpy()[rows],
                                 at_us, window_days, cooldown_days)
    return [CallFacts(n, _EPOCH + dt.timedelta(microseconds=t) if t >= 0 else None)
            for n, t in zip(attempts.tolist(), last.tolist(), strict=True)]
