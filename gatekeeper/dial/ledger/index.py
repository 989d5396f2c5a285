"""The ledger as the service holds it in memory (read only: Ledger.record writes, and
hands it what it wrote), and the contact rules' facts."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gatekeeper.dial.ledger import KEY, OUTCOMES, Ledger, Segment, frame_of, wal_calls

# What the index reads of a segment: the call's identity and what the contact rules count.
INDEXED: list[str] = ["agency", "call_id", "phone_key", "started_at", "direction", "outcome"]


# A call whose instant is unknown (a damaged record: every door refuses one without it):
# inside every window, so it counts against its own number and no other.
UNKNOWN_TIME = np.iinfo(np.int64).min


def contact_facts() -> list[pl.Expr]:
    """What rules 10 and 11 count of a stored call, written once for the service's index
    (in memory and as calls arrive), `check` and contract replay: `t` (µs), `counted` (an
    outbound attempt: every outcome but `failed`) and `refused`. An odd record (no
    outcome, an unknown one, no direction, no instant: a damaged segment or an older
    writer) fails closed for its own number - an attempt, a refusal, just now - and never
    stops the answers for other numbers (a null here once made every check fail). The
    windows they count in are `_count_many`'s."""
    outcome = pl.col("outcome")
    known = outcome.is_in(pl.Series(OUTCOMES).implode()).fill_null(False)
    return [pl.col("started_at").dt.epoch("us").fill_null(UNKNOWN_TIME).alias("t"),
            ((pl.col("direction") != "inbound").fill_null(True)
             & (~known | (outcome != "failed"))).alias("counted"),
            (~known | (outcome == "refused")).fill_null(True).alias("refused"),
            # Ofcom: the person answered and no agent was there (an odd record: fail closed)
            (~known | (outcome == "abandoned")).fill_null(True).alias("abandoned")]


# built once: building them was a good part of what a request's few calls cost
_FACTS = contact_facts()

# (agency, call_id) as one 64-bit integer: the index's identity of a call (in memory only:
# polars' hash is stable within one process, which is all it is used for).
_HASH = pl.concat_str(KEY, separator="\x1f").hash().alias("_hash")


def _hashes(frame: pl.DataFrame) -> pl.Series:
    return frame.select(_HASH).to_series()


class LedgerIndex:
    """The ledger as the service holds it: which calls it has (to count a repeated
    call_id once), and per number the calls the contact rules count, as sorted arrays
    (10M calls: ~250 MB, a lookup in microseconds). It only reads: Ledger.record writes
    and hands it the calls it wrote (`took`); files written by other processes (an
    import, a compaction) are picked up on `refresh`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.lock = threading.Lock()
        self._reset()
        ledger.follower = self

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
        self.abandoned = np.empty(0, np.bool_)
        # calls.jsonl's calls per number (t, counted, refused, abandoned): a few a request,
        # appended without re-sorting the arrays above
        self.tail: dict[int, list[tuple[int, bool, bool, bool]]] = {}

    def _seen(self, hashes: pl.Series) -> np.ndarray:
        """Which of these calls the index already holds."""
        values = hashes.to_numpy().astype(np.uint64)
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
                                          "refused": self.refused,
                                          "abandoned": self.abandoned}), facts]
                           ).drop_nulls("phone_key").sort("phone_key", "t")
        self.keys, self.times = merged["phone_key"].to_numpy(), merged["t"].to_numpy()
        self.counted = merged["counted"].to_numpy()
        self.refused = merged["refused"].to_numpy()
        self.abandoned = merged["abandoned"].to_numpy()

    def refresh(self) -> None:
        """Pick up segments and calls.jsonl lines written since the last look."""
        with self.lock:
            listed = self.ledger.segments()
            if listed[:len(self.segments)] != self.segments:  # rewritten (erasure, purge)
                self._reset()
            new = listed[len(self.segments):]
            if new:  # merged into the sorted arrays once, however many (start-up: all)
                calls = pl.concat([
                    pl.read_parquet(self.ledger.segment_path(segment), columns=INDEXED)
                    for segment in new], how="diagonal_relaxed")
                hashes = _hashes(calls)
                first = hashes.is_first_distinct()  # a crash mid-compaction lists calls twice
                self._merge(calls.filter(first), hashes.filter(first))
                self.segments.extend(new)
            self._read_wal()

    def compact_if_over(self, limit_bytes: int) -> bool:
        """Have the ledger fold calls.jsonl into a segment once it passes `limit_bytes`
        (Ledger.compact writes; this index then reads the segment), so a restart reads a
        few Parquet files, not millions of JSON lines."""
        if self.ledger.wal_size() - self.ledger.wal_start() < limit_bytes:
            return False
        self.ledger.compact()
        self.refresh()
        return True

    def _read_wal(self) -> None:
        size = self.ledger.wal_size()
        if size < self.wal_position:  # compacted into a segment, already read above
            self.wal_position, self.first = 0, {}
        if size == self.wal_position:
            return
        data, end = self.ledger.wal_read(self.wal_position)
        if data:
            self._hold(wal_calls(data))
        self.wal_position = end

    def _hold(self, calls: pl.DataFrame) -> None:
        """calls.jsonl's calls join the index, each also kept as first stored. Their
        facts are contact_facts' (one definition); the per-number lists they join are a
        request's few, kept apart from the sorted arrays so no request re-sorts 10M."""
        facts = calls.select(pl.col("phone_key"), *_FACTS, _HASH)
        seen = self._seen(facts["_hash"]).tolist()
        for row, (key, t, counted, refused, abandoned, value), held in zip(
                calls.iter_rows(named=True), facts.iter_rows(), seen, strict=True):
            self.first.setdefault(value, row)
            if held:  # a compaction moved it into a segment already read
                continue
            self.seen_new.add(value)
            if key is not None:
                self.tail.setdefault(int(key), []).append((t, counted, refused, abandoned))

    def took(self, calls: pl.DataFrame, start: int, end: int) -> None:
        """Ledger.record appended these calls to calls.jsonl at [start, end): held
        without reading them back, when nobody wrote in between (else `refresh` reads)."""
        with self.lock:
            if start == self.wal_position:
                self._hold(calls)
                self.wal_position = end

    def first_stored(self, calls: pl.DataFrame) -> pl.DataFrame:
        """These calls (by agency and call_id) as first stored, those the ledger holds: from
        memory when they came through calls.jsonl, else from the segments (a retry of a
        call compacted or imported). Ledger.record asks, under the ledger's lock."""
        hashes = _hashes(calls)
        with self.lock:
            seen = np.flatnonzero(self._seen(hashes))
            held = [(n, self.first.get(int(hashes[n]))) for n in seen.tolist()]
        found = frame_of([row for _, row in held if row is not None])
        missing = [n for n, row in held if row is None]
        if not missing:
            return found
        return pl.concat([found, self.ledger.first_of(calls[missing].select(KEY))])

    def facts(self, phone_key: int, at: dt.datetime, window_days: int,
              cooldown_days: int) -> CallFacts:
        """The contact rules' facts for one number before `at`, from memory."""
        attempts, last = self._counts(np.array([phone_key], np.int64), at, window_days,
                                      cooldown_days)
        return _call_facts(int(attempts[0]), int(last[0]))

    def facts_of(self, phone_keys: np.ndarray, at: dt.datetime, window_days: int,
                 cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        """`facts` for many numbers at one instant, column by column (POST /v1/check's
        10,000 numbers): attempts, and whether a refusal is within the cooldown."""
        attempts, last = self._counts(phone_keys, at, window_days, cooldown_days)
        return attempts, last >= 0

    def abandoned_of(self, phone_keys: np.ndarray, at: dt.datetime, hours: int
                     ) -> np.ndarray:
        """Whether an abandoned call to each number falls in the `hours` before `at`."""
        with self.lock:
            owner, at_rows = _rows_of(self.keys, phone_keys)
            times, abandoned = self.times[at_rows], self.abandoned[at_rows]
            held = self.tail.keys() & set(phone_keys.tolist())
            tail = [(int(k), list(self.tail[k])) for k in held]
        found = _abandoned_within(owner, times, abandoned,
                                  np.full(len(phone_keys), _us(at), np.int64), hours)
        for k, calls in tail:
            for n in np.flatnonzero(phone_keys == k).tolist():
                found[n] |= bool(_abandoned_within(
                    np.zeros(len(calls), np.int64), np.array([c[0] for c in calls], np.int64),
                    np.array([c[3] for c in calls], np.bool_),
                    np.array([_us(at)], np.int64), hours)[0])
        return found

    def _counts(self, phone_keys: np.ndarray, at: dt.datetime, window_days: int,
                cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        """`_count_many` of the numbers asked, over the sorted arrays and the tail."""
        if len(phone_keys) == 1:  # a GET: its rows are one slice (no argsort, no repeat)
            return self._count_one(int(phone_keys[0]), at, window_days, cooldown_days)
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
            extra = [(n, t, c, r) for k, calls in tail for n in where[k]
                     for t, c, r, _ in calls]
            owner = np.concatenate([owner, np.array([e[0] for e in extra], np.int64)])
            times = np.concatenate([times, np.array([e[1] for e in extra], np.int64)])
            counted = np.concatenate([counted, np.array([e[2] for e in extra], np.bool_)])
            refused = np.concatenate([refused, np.array([e[3] for e in extra], np.bool_)])
        at_us = np.full(len(phone_keys), _us(at), np.int64)
        return _count_many(owner, times, counted, refused, at_us, window_days, cooldown_days)


    def _count_one(self, key: int, at: dt.datetime, window_days: int, cooldown_days: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            low = int(np.searchsorted(self.keys, key, side="left"))
            high = int(np.searchsorted(self.keys, key, side="right"))
            times, counted = self.times[low:high], self.counted[low:high]
            refused = self.refused[low:high]
            tail = list(self.tail.get(key, ()))
        if tail:
            times = np.concatenate([times, np.array([c[0] for c in tail], np.int64)])
            counted = np.concatenate([counted, np.array([c[1] for c in tail], np.bool_)])
            refused = np.concatenate([refused, np.array([c[2] for c in tail], np.bool_)])
        return _count_many(np.zeros(len(times), np.int64), times, counted, refused,
                           np.array([_us(at)], np.int64), window_days, cooldown_days)


@dataclass(frozen=True)
class CallFacts:
    """What the contact rules need of a number's calls before an instant."""

    attempts: int  # outbound, not `failed`, within the attempt window
    last_refusal: dt.datetime | None  # within the cooldown


def call_facts(calls: pl.DataFrame, at: dt.datetime, window_days: int,
               cooldown_days: int) -> CallFacts:
    """From one number's calls (started_at, direction, outcome), as the index counts."""
    facts = calls.select(contact_facts())
    attempts, last = _count_many(np.zeros(facts.height, np.int64), facts["t"].to_numpy(),
                                 facts["counted"].to_numpy(), facts["refused"].to_numpy(),
                                 np.array([_us(at)], np.int64), window_days, cooldown_days)
    return _call_facts(int(attempts[0]), int(last[0]))


_EPOCH = dt.datetime(1970, 1, 1)
_DAY_US = 86_400_000_000


def _call_facts(attempts: int, last_us: int) -> CallFacts:
    return CallFacts(attempts, _EPOCH + dt.timedelta(microseconds=last_us)
                     if last_us >= 0 else None)


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
    """Rules 10 and 11 count here, for the service, the command line and contract replay
    alike, for many (number, instant) pairs at once: each call row belongs to the pair
    `owner` names, and its facts are contact_facts'. Calls strictly before the instant;
    "in the last N days" is the half-open (at - N days, at), so a call made exactly N days
    ago no longer counts (a refusal at 10:00 allows a call at 10:00 sixty days later); a
    call of unknown instant is inside every window, as if just before. Attempts per pair,
    and the last refusal within the cooldown (µs; -1: none)."""
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


def _abandoned_within(owner: np.ndarray, times: np.ndarray, abandoned: np.ndarray,
                      at_us: np.ndarray, hours: int) -> np.ndarray:
    """Per (number, instant): an abandoned call strictly before the instant and less than
    `hours` before it (a call of unknown instant counts, as just before)."""
    found = np.zeros(len(at_us), np.bool_)
    if not hours or not len(owner):
        return found
    at = at_us[owner]
    unknown = times == UNKNOWN_TIME
    recent = abandoned & (unknown | ((times < at) & (times > at - hours * 3_600_000_000)))
    found[owner[recent]] = True
    return found


def abandoned_many(calls: pl.DataFrame, asked: pl.DataFrame, hours: int) -> np.ndarray:
    """`abandoned_of` over the calls given, for each (phone_key, at) asked."""
    ordered = calls.select(pl.col("phone_key"), *contact_facts()).drop_nulls(
        "phone_key").sort("phone_key", "t")
    owner, rows = _rows_of(ordered["phone_key"].to_numpy(), asked["phone_key"].to_numpy())
    at_us = asked.select(pl.col("at").dt.epoch("us")).to_series().to_numpy()
    return _abandoned_within(owner, ordered["t"].to_numpy()[rows],
                             ordered["abandoned"].to_numpy()[rows], at_us, hours)


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
    return [_call_facts(n, t) for n, t in zip(attempts.tolist(), last.tolist(), strict=True)]
