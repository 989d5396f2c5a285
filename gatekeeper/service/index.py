"""What the service answers "may I dial this number now?" from, without holding the store.

A dialer asks before every call, hundreds of times a second, while loads and runs hold
the DuckDB store. So the service keeps in memory:

- per purpose, the latest run's outcome per number (from that run's dialable.csv and
  decisions.parquet, used only if their sha256 still match the run's record: fail closed),
  refreshed in the background when the store changes and can be read;
- the opt-out journal, tailed on every question, so an opt-out counts from the instant
  it is acknowledged, by this service or any other process.

The answer itself is the table's (policy.dial_reasons) over the facts dialing.dial_facts
gathers, from these sources held in memory: the one gatherer and the one evaluator
`gatekeeper check` and contract replay use too. Every answer that is not dialable carries
its reason in Italian words (`reason_text`), for the agents' page and for dialers that show
it to an operator.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.columns import PURPOSES
from gatekeeper.core.errors import (
    EvidenceError,
    JournalError,
    SharedUnavailable,
    StoreBusy,
    StoreDamaged,
    StoreError,
)
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.decide import policy as P
from gatekeeper.dial.agencies import Agency, discover_agencies
from gatekeeper.dial.check import (
    RunSnapshot,
    asked_columns,
    asked_one,
    dial_context,
    dial_facts,
    dial_row,
    load_snapshot,
)
from gatekeeper.dial.ledger import LedgerIndex, open_ledger
from gatekeeper.intake.normalise import normalise_one
from gatekeeper.privacy.erasure.register import erased_numbers
from gatekeeper.privacy.optouts import Checkpoint, Journal, checkpoint_problems, open_journal
from gatekeeper.privacy.optouts.journal import (
    GENESIS,
    REPAIR_HINT,
    RESTORE_HINT,
    chain_link,
    journal_entry,
)
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import runs as run_store

log = logging.getLogger("gatekeeper.service")


class OptoutTail:
    """The journal, read incrementally: only bytes appended since the last question.

    It follows the chain as it reads (as journal.parse does for the whole file): a
    damaged line nobody acknowledged, a line that does not chain to the one before, or a
    journal that shrank under it makes every check fail closed until that is resolved.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.position = 0
        self.lines = 0
        self.link = GENESIS
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.damaged: dict[int, str] = {}  # line -> sha256 of its bytes
        self.broken: dict[int, str] = {}  # line -> the link of the line before it
        self.shrunk = False
        self.token: object = ()  # the journal's follow_token when last read (never ())
        self.lock = threading.Lock()

    def refresh(self) -> None:
        """Read what was appended since the last refresh. A file journal says so by its
        size; the shared register by a notification (LISTEN/NOTIFY), so a check costs no
        query; while it cannot be reached this raises SharedUnavailable (fail closed)."""
        token = self.journal.follow_token()
        if token == self.token:
            return
        with self.lock:
            data = self.journal.tail_from(self.position)
            if data is None:
                self.shrunk = True  # cut while we were reading it: nothing can be trusted
                return
            for raw in data.split(b"\n")[:-1]:
                self._take(raw)
            self.position += len(data)
            self.token = token

    def _take(self, raw: bytes) -> None:
        self.lines += 1
        entry = journal_entry(raw)
        link = chain_link(raw, entry)
        if entry is None:
            self.damaged[self.lines] = link
        elif entry["prev"] != self.link:
            self.broken[self.lines] = self.link
        if entry is not None and entry["type"] == "repair":
            line, sha = int(entry["line"]), str(entry["line_sha256"])
            if self.damaged.get(line) == sha:
                del self.damaged[line]
                if self.broken.get(line + 1) == sha:
                    del self.broken[line + 1]
        elif entry is not None:
            self.events.setdefault(entry["phone"], []).append(entry)
        self.link = link

    def require_whole(self) -> None:
        """Refuse to answer while an opt-out may be missing from what was read."""
        if self.shrunk:
            raise EvidenceError("the opt-out journal became shorter while the service was "
                                f"reading it: entries were cut; {RESTORE_HINT}")
        if self.damaged:
            line = min(self.damaged)
            raise JournalError(f"the opt-out journal's line {line} is not a journal entry; "
                               f"no number is decided until {REPAIR_HINT}")
        if self.broken:
            raise EvidenceError(f"the opt-out journal's line {min(self.broken)} does not "
                                f"chain to the line before it; {RESTORE_HINT}")

    def opted_out(self, phone: str, purpose: str, now: dt.datetime, *,
                  refresh: bool = True) -> dict[str, Any] | None:
        """The opt-out in force for phone and purpose at now (withdrawals lift earlier ones).

        The same rule as optouts.active_optouts, over one number's few entries in plain
        Python: the polars version costs ~2 ms a call, too much per dial check.
        tests/test_service.py holds the two to the same answers."""
        if refresh:
            self.refresh()
        self.require_whole()
        stamp = iso(now) or ""
        active = None
        for entry in self.events.get(phone, ()):
            if entry["at"] > stamp:
                continue
            if entry["type"] == "withdraw":
                active = None
            elif entry.get("scope") in ("all", purpose) and active is None:
                active = entry
        return active


# calls.jsonl is folded into a Parquet segment past this size (~150k calls).
WAL_LIMIT = 64 * 1024 * 1024


@dataclass
class HeldSources:
    """The service's facts as it holds them (dialing.DialSources): the run it answers
    from, the erasures read at the last refresh, the journal's tail and the ledger's
    index, all for one instant (the service's now)."""

    agencies: Mapping[str, Agency]
    snapshot: RunSnapshot | None
    erased: Mapping[str, dt.datetime]
    optouts: OptoutTail
    ledger: LedgerIndex
    optouts_readable: bool = True  # False: the shared register is out of reach

    def run(self, run_id: str) -> RunSnapshot | None:
        return self.snapshot if self.snapshot and self.snapshot.ref.run_id == run_id else None

    def erased_at(self, phones: list[str | None]) -> list[dt.datetime | None]:
        return [self.erased.get(p) if p else None for p in phones]

    def objected(self, phones: list[str | None], at: list[dt.datetime], purpose: str
                 ) -> list[bool | None]:
        """The tail's rule (optouts.active_optouts over one number's entries, in plain
        Python) for the few numbers asked that have any entry; unknown (None) for every
        number while the shared register cannot be read."""
        if not self.optouts_readable:
            return [None] * len(phones)
        self.optouts.require_whole()
        with_entries = self.optouts.events.keys() & set(phones)
        return [p in with_entries and self.optouts.opted_out(p, purpose, t, refresh=False)
                is not None for p, t in zip(phones, at, strict=True)]

    def call_counts(self, keys: np.ndarray, at: list[dt.datetime], window_days: int,
                    cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        if len(set(at)) > 1:
            raise ValueError("the service answers at one instant")
        if len(keys) == 1:  # a GET: the index's lookup of one number (no arrays to build)
            one = self.ledger.facts(int(keys[0]), at[0], window_days, cooldown_days)
            return (np.array([one.attempts], np.int64),
                    np.array([one.last_refusal is not None], np.bool_))
        if not len(keys):
            return np.zeros(0, np.int64), np.zeros(0, np.bool_)
        return self.ledger.facts_of(keys, at[0], window_days, cooldown_days)

    def abandoned(self, keys: np.ndarray, at: list[dt.datetime], hours: int) -> np.ndarray:
        if len(set(at)) > 1:
            raise ValueError("the service answers at one instant")
        if not len(keys):
            return np.zeros(0, np.bool_)
        return self.ledger.abandoned_of(keys, at[0], hours)


class CheckIndex:
    """Answers check questions from memory; refreshes itself when the store changes."""

    def __init__(self, ws: Workspace, clock: dt.datetime | None = None) -> None:
        self.ws = ws
        self.clock = clock  # fixed instant for demos and tests; None = real time
        self.config = ws.config()
        self.hours = self.config.calling_hours
        self.optouts = OptoutTail(open_journal(ws))
        self.ledger = LedgerIndex(open_ledger(ws))
        self.runs: dict[str, RunSnapshot | None] = dict.fromkeys(PURPOSES)
        self.campaigns: dict[tuple[str, str], RunSnapshot | None] = {}
        # Every run's record as last read: a campaign's check is answered from it (and the
        # run's report files) while a load or run holds the store, never with a 503.
        self.run_records = pl.DataFrame()
        self.jurisdiction = self.config.jurisdiction
        self.erased: dict[str, dt.datetime] = {}
        self.agencies: dict[str, Agency] = {}
        self.agencies_stamp: tuple[tuple[str, int, int], ...] | None = None
        self.loaded_stamp: tuple[int, ...] | None = None
        self.next_due: dt.datetime | None = None
        self.generation = 0  # bumped when runs are re-read: a slower read is not cached
        self.last_error: str | None = None
        self.journal_problem: str | None = None
        self.unverified_checkpoints: list[Checkpoint] | None = None
        self.erasures_token: object = None
        self.ledger_ready = True  # False while a shared ledger could not be read
        self.store_problem: str | None = None
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        return self.clock or now_utc()

    def _store_stamp(self) -> tuple[int, ...]:
        stamps: list[int] = []
        for path in (self.ws.store_path, Path(f"{self.ws.store_path}.wal")):
            try:
                st = path.stat()
                stamps += [st.st_mtime_ns, st.st_size]
            except FileNotFoundError:
                stamps += [0, 0]
        return tuple(stamps)

    def _refresh_agencies(self) -> None:
        """The agencies' manifests, re-read when one changes (a contract ends, a caller id
        is added): answers follow them at once."""
        folder = self.ws.root / "agencies"
        files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
        stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        if stamp != self.agencies_stamp:
            agencies, broken = discover_agencies(folder, self.config.jurisdiction)
            for error in broken:  # its agency's calls are refused until it is fixed
                log.warning("agency manifest not read (AGENCY_NOT_AUTHORISED for that "
                            "agency until fixed): %s", error)
            with self._lock:
                self.agencies, self.agencies_stamp = agencies, stamp

    def refresh(self) -> bool:
        """Re-read runs and erasures if the store changed; keep the old answers if busy.
        The ledger and the agencies are followed on every tick. True when what it holds
        was rebuilt (the store re-read, calls.jsonl compacted)."""
        try:
            self.ledger.refresh()
            compacted = self.ledger.compact_if_over(WAL_LIMIT)
            self.ledger_ready = True
        except SharedUnavailable as exc:
            # A shared ledger not read (at start, or since the server went away): calls
            # other instances recorded may be missing from the counts, so no answer is
            # "dialable" until it is (OPTOUTS_UNAVAILABLE, with the register's own).
            self.ledger_ready, self.last_error, compacted = False, exc.message, False
        self._refresh_agencies()
        stamp = self._store_stamp()
        now = self.now()
        due = self.next_due is not None and now >= self.next_due  # a run prepared ahead
        erasures_token = self._erasures_token()
        if stamp == self.loaded_stamp and not due:
            if self.unverified_checkpoints is not None:  # the shared register is back
                self._check_journal(self.unverified_checkpoints)
            if erasures_token != self.erasures_token:  # erased at another host
                self._reload_erasures(erasures_token)
            return compacted
        try:
            with Store(self.ws.store_path, read_only=True, wait=0) as store:
                # The latest run whose as_of has come, as `check --at` picks it.
                latest = {purpose: run_store.run_for(store, purpose, None, now)
                          for purpose in PURPOSES}
                next_due = run_store.next_as_of(store, now)
                erasures = erased_numbers(self.ws, store)
                erased = dict(zip(erasures["phone"].to_list(), erasures["erased_at"].to_list(),
                                  strict=True))
                checkpoints = evidence_store.journal_checkpoints(store)
                runs = {p: (load_snapshot(self.ws, r) if r else None)
                        for p, r in latest.items()}
                records = store.frame(f"SELECT {run_store.RECORD_SQL}, purpose, executed_at, "
                                      "rowid AS n FROM runs")
        except (StoreBusy, SharedUnavailable) as exc:  # a load or run is writing, or the
            # shared store is away (its checks answer OPTOUTS_UNAVAILABLE): answer from
            # what we have, read again at the next tick
            self.last_error = exc.message
            return False
        except StoreError as exc:  # damaged: what it holds cannot be relied on any more
            with self._lock:
                self.runs, self.campaigns = dict.fromkeys(PURPOSES), {}
                self.generation += 1
                self.loaded_stamp = None
                self.store_problem, self.last_error = exc.message, exc.message
            return False
        with self._lock:
            self.erasures_token = erasures_token
            self.runs, self.erased, self.loaded_stamp = runs, erased, stamp
            self.next_due = next_due
            self.run_records = records
            self.campaigns = {}  # read again when asked
            self.generation += 1
            self.last_error = self.store_problem = None
        self._check_journal([Checkpoint(p, h, b) for p, h, b in checkpoints])
        return True

    def _erasures_token(self) -> object:
        """Changes when another host may have erased a number (a shared store's
        notification); None without one. Unchanged while it cannot be reached."""
        url = self.config.shared_url
        if url is None:
            return None
        from gatekeeper.shared import CHANNEL_ERASURES, shared_store

        try:
            return shared_store(url).listener().generation(CHANNEL_ERASURES)
        except SharedUnavailable:
            return self.erasures_token

    def _reload_erasures(self, token: object) -> None:
        try:
            with Store(self.ws.store_path, read_only=True, wait=0) as store:
                erasures = erased_numbers(self.ws, store)
        except (StoreError, SharedUnavailable):
            return  # busy, or away: the next tick tries again
        erased = dict(zip(erasures["phone"].to_list(), erasures["erased_at"].to_list(),
                          strict=True))
        with self._lock:
            self.erased, self.erasures_token = erased, token

    def _check_journal(self, checkpoints: list[Checkpoint]) -> None:
        """The journal against every checkpoint the store recorded (the tail then follows
        the chain line by line): a journal cut behind a run is refused from the start.
        Journal and receipts from one view: read apart, an opt-out recorded in between
        looks like a cut and every check would answer 503 until the next refresh. A
        shared register out of reach is compared at a later refresh (its checks answer
        OPTOUTS_UNAVAILABLE meanwhile)."""
        try:
            state, receipts = self.optouts.journal.view()
        except SharedUnavailable as exc:
            with self._lock:
                self.unverified_checkpoints, self.last_error = checkpoints, exc.message
            return
        cut = checkpoint_problems(state, [*checkpoints, *receipts])
        with self._lock:
            self.journal_problem = f"{cut[0]}; {RESTORE_HINT}" if cut else None
            self.unverified_checkpoints = None

    def _run(self, purpose: str, campaign: str | None) -> RunSnapshot | None:
        """The run an answer rests on: the purpose's latest, or the campaign's."""
        if not campaign:
            return self.runs.get(purpose)
        key = (purpose, campaign)
        with self._lock:
            if key in self.campaigns:
                return self.campaigns[key]
            generation = self.generation
        try:
            with Store(self.ws.store_path, read_only=True, wait=0.5) as store:
                record = run_store.run_for(store, purpose, campaign, self.now())
                snapshot = load_snapshot(self.ws, record) if record else None
        except StoreBusy:  # a load or run is writing: the records read before answer
            snapshot = self._run_from_records(purpose, campaign)
        with self._lock:  # not kept if a refresh replaced what it was read from meanwhile
            if generation == self.generation:
                self.campaigns[key] = snapshot
        return snapshot

    def _run_from_records(self, purpose: str, campaign: str) -> RunSnapshot | None:
        """run_for's rule over the run records read at the last refresh (the latest run of
        the campaign whose as_of has come; of equal as_of the one executed last), read from
        the run's file in the store (no connection to the catalog needed)."""
        with self._lock:
            records = self.run_records
        if records.is_empty():
            raise StoreBusy("another gatekeeper process is writing the store and no run "
                            "was read before; try again when it has finished")
        found = records.filter(
            (pl.col("purpose") == purpose) & (pl.col("campaign") == campaign)
            & (pl.col("as_of") <= self.now())).sort(
            "as_of", "executed_at", "n", descending=True)
        if found.is_empty():
            return None
        return load_snapshot(self.ws, run_store.record_of(found.row(0, named=True), purpose))

    def _trusted(self) -> None:
        with self._lock:
            if self.journal_problem:
                raise EvidenceError(f"the opt-out journal cannot be trusted: "
                                    f"{self.journal_problem}")
            if self.store_problem:
                raise StoreDamaged(self.store_problem)

    def _sources(self, purpose: str, campaign: str | None
                 ) -> tuple[dt.datetime, HeldSources]:
        """The instant and what every number of a question is answered from."""
        now = self.now()
        self._trusted()
        run = self._run(purpose, campaign)
        # Opt-outs count from the moment they are recorded, whatever the clock says: the
        # journal is read before the answer (the dial-time question, policy/table.py). A
        # shared register out of reach leaves them unknown: OPTOUTS_UNAVAILABLE.
        try:
            self.optouts.refresh()
            readable = self.ledger_ready
        except SharedUnavailable as exc:
            readable, self.last_error = False, exc.message
        with self._lock:
            erased, agencies = self.erased, self.agencies
        return now, HeldSources(agencies, run, erased, self.optouts, self.ledger, readable)

    def _facts(self, numbers: pl.DataFrame, purpose: str, campaign: str | None,
               agency: str | None, caller_id: str | None) -> tuple[pl.DataFrame, P.Context]:
        now, sources = self._sources(purpose, campaign)
        run_id = sources.snapshot.ref.run_id if sources.snapshot else None
        asked = numbers.select("phone", "region", "number_type").with_columns(
            pl.lit(now, pl.Datetime("us")).alias("at"), pl.lit(run_id, pl.String).alias("run_id"),
            pl.lit(campaign, pl.String).alias("campaign"),
            pl.lit(agency, pl.String).alias("agency"),
            pl.lit(caller_id, pl.String).alias("caller_id"))
        return (dial_facts(asked_columns(asked), sources, self.config, purpose, "now"),
                dial_context(self.config, purpose, now))

    def _said(self, answer: P.DialAnswer, purpose: str) -> dict[str, Any]:
        if answer.reason and self.jurisdiction.table.words(answer.reason) is None:
            log.warning("reason code %s has no Italian text (policy table)", answer.reason)
        return {**answer.as_json(self.jurisdiction.timezone_name), "purpose": purpose}

    def check(self, phone: str, purpose: str, campaign: str | None = None,
              agency: str | None = None, caller_id: str | None = None) -> dict[str, Any]:
        """The answer for one valid E.164 number now: the table over what this service
        knows (the run, erasures, the journal's tail, the ledger, the agencies)."""
        now, sources = self._sources(purpose, campaign)
        region, number_type = normalise_one(phone, self.jurisdiction)[2:]
        asked = asked_one(phone, region, number_type, now,
                          sources.snapshot.ref.run_id if sources.snapshot else None,
                          campaign, agency, caller_id)
        facts = dial_row(asked, sources, self.config, purpose, "now")
        return self._said(P.may_dial_row(facts, dial_context(self.config, purpose, now)),
                          purpose)

    def invalid(self, purpose: str) -> dict[str, Any]:
        """The answer for a value that is no number (POST /v1/check answers it in place)."""
        now = self.now()
        asked = asked_one(None, None, None, now, None, None, None, None)
        sources = HeldSources({}, None, {}, self.optouts, self.ledger)
        facts = dial_facts(asked, sources, self.config, purpose, "now")
        return self._said(P.may_dial(facts, dial_context(self.config, purpose, now)), purpose)

    def check_many(self, numbers: pl.DataFrame, purpose: str, campaign: str | None = None,
                   agency: str | None = None, caller_id: str | None = None) -> pl.DataFrame:
        """The answers for valid numbers (phone, region, number_type as `normalise` gives
        them), in order, one row each with `check`'s keys.

        The facts are gathered column by column by the gatherer `check` uses, and the
        answers built once per distinct combination of them (a few dozen for 10,000
        numbers): each number gets exactly the answer `check` gives it
        (tests/test_one_answer.py holds them to it)."""
        facts, ctx = self._facts(numbers, purpose, campaign, agency, caller_id)
        answers, combo_of = P.answers_by_combination(facts, ctx)
        said = [self._said(a, purpose) for a in answers]
        fields = said[0] if said else self.invalid(purpose)
        frame = pl.DataFrame(said, schema={key: pl.Boolean if key == "dialable"
                                           else pl.String for key in fields})
        return frame[combo_of].with_columns(numbers["phone"])

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"runs": {p: (r.ref.run_id if r else None) for p, r in self.runs.items()},
                    "store_busy": self.last_error is not None}
