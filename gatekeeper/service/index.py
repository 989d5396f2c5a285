"""What the service answers "may I dial this number now?" from, without holding the store.

A dialer asks before every call, hundreds of times a second, while loads and runs hold
the DuckDB store. So the service keeps in memory:

- per purpose, the latest run's outcome per number (from that run's dialable.csv and
  decisions.parquet, used only if their sha256 still match the run's record: fail closed),
  refreshed in the background when the store changes and can be read;
- the opt-out journal, tailed on every question, so an opt-out counts from the instant
  it is acknowledged, by this service or any other process.

The answer itself is policy.may_dial, the one dial-time decision `gatekeeper check` gives
too. Every answer that is not dialable carries its reason in Italian words
(`reason_text`), for the agents' page and for dialers that show it to an operator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import policy as P
from ..agencies import Agency, discover_agencies
from ..columns import PURPOSES
from ..config import Workspace
from ..dialing import (
    OUTCOME_SCHEMA,
    RunSnapshot,
    contact_facts,
    facts,
    load_snapshot,
    snapshot_from_reports,
)
from ..errors import EvidenceError, JournalError, StoreBusy, StoreDamaged, StoreError
from ..ledger import CallFacts, Ledger, LedgerIndex
from ..ledger.index import key_bounds
from ..normalise import key_of, normalise_one
from ..optouts import Checkpoint, Journal, checkpoint_problems
from ..optouts.journal import (
    GENESIS,
    REPAIR_HINT,
    RESTORE_HINT,
    chain_link,
    journal_entry,
)
from ..store import Store
from ..store import evidence as evidence_store
from ..store import people as people_store
from ..store import runs as run_store
from ..timeutil import iso, now_utc

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
        self.lock = threading.Lock()

    def refresh(self) -> None:
        path = self.journal.path
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            self.shrunk = self.shrunk or self.position > 0
            return
        with self.lock:
            if size < self.position:
                self.shrunk = True  # cut while we were reading it: nothing can be trusted
            if size <= self.position:
                return
            with open(path, "rb") as handle:
                handle.seek(self.position)
                data = handle.read(size - self.position)
            end = data.rfind(b"\n") + 1  # a line being written is read next time
            for raw in data[:end].split(b"\n")[:-1]:
                self._take(raw)
            self.position += end

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


def _outcomes(run: RunSnapshot | None, keys: np.ndarray) -> list[pl.Series]:
    """The run's outcome for each number (`listed`: the run decided it at all), by one
    sorted search: what RunSnapshot.lookup gives one number."""
    columns = ("reason", "basis", "basis_text", "valid_until")
    if run is None or not len(run.keys):
        return [pl.Series("listed", np.zeros(len(keys), np.bool_)),
                *(pl.Series(c, [None] * len(keys), OUTCOME_SCHEMA[c]) for c in columns)]
    at = np.minimum(key_bounds(run.keys, keys)[0], len(run.keys) - 1)
    listed = run.keys[at] == keys
    got = run.outcomes[at].select(columns)
    return [pl.Series("listed", listed), *(
        got[c].zip_with(pl.Series(listed), pl.Series([None] * len(keys), dtype=got[c].dtype))
        .alias(c) for c in columns)]


class CheckIndex:
    """Answers check questions from memory; refreshes itself when the store changes."""

    def __init__(self, ws: Workspace, clock: dt.datetime | None = None) -> None:
        self.ws = ws
        self.clock = clock  # fixed instant for demos and tests; None = real time
        self.config = ws.config()
        self.hours = self.config.calling_hours
        self.optouts = OptoutTail(Journal(ws.journal_path))
        self.ledger = LedgerIndex(Ledger(ws.ledger_dir))
        self.runs: dict[str, RunSnapshot | None] = dict.fromkeys(PURPOSES)
        self.campaigns: dict[tuple[str, str], RunSnapshot | None] = {}
        # Every run's record as last read: a campaign's check is answered from it (and the
        # run's report files) while a load or run holds the store, never with a 503.
        self.run_records = pl.DataFrame()
        self.jurisdiction = self.config.jurisdiction
        self.erased: set[str] = set()
        self.agencies: dict[str, Agency] = {}
        self.agencies_stamp: tuple[tuple[str, int, int], ...] | None = None
        self.loaded_stamp: tuple[int, ...] | None = None
        self.next_due: dt.datetime | None = None
        self.generation = 0  # bumped when runs are re-read: a slower read is not cached
        self.last_error: str | None = None
        self.journal_problem: str | None = None
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
        self.ledger.refresh()
        compacted = self.ledger.compact_if_over(WAL_LIMIT)
        self._refresh_agencies()
        stamp = self._store_stamp()
        now = self.now()
        due = self.next_due is not None and now >= self.next_due  # a run prepared ahead
        if stamp == self.loaded_stamp and not due:
            return compacted
        try:
            with Store(self.ws.store_path, read_only=True, wait=0) as store:
                # The latest run whose as_of has come, as `check --at` picks it.
                latest = {purpose: run_store.run_for(store, purpose, None, now)
                          for purpose in PURPOSES}
                next_due = run_store.next_as_of(store, now)
                erased = set(people_store.erased_numbers(store)["phone"].to_list())
                checkpoints = evidence_store.journal_checkpoints(store)
                runs = {p: (load_snapshot(self.ws, store, r) if r else None)
                        for p, r in latest.items()}
                records = store.frame(
                    "SELECT run_id, campaign, purpose, as_of, outputs_json, executed_at, "
                    "rowid AS n, TRY_CAST(json_extract_string(policy_json, "
                    "'$.rpo_validity_days') AS BIGINT) AS days FROM runs")
        except StoreBusy as exc:  # a load or run is writing: answer from what we have
            self.last_error = exc.message
            return False
        except StoreError as exc:  # damaged: what it holds cannot be relied on any more
            with self._lock:
                self.runs, self.campaigns = dict.fromkeys(PURPOSES), {}
                self.generation += 1
                self.loaded_stamp = None
                self.store_problem, self.last_error = exc.message, exc.message
            return False
        # The journal against every checkpoint the store recorded (the tail then follows
        # the chain line by line): a journal cut behind a run is refused from the start.
        # Journal and receipts from one view: read apart, an opt-out recorded in between
        # looks like a cut and every check would answer 503 until the next refresh.
        state, receipts = self.optouts.journal.view()
        cut = checkpoint_problems(state, [
            *(Checkpoint(p, h, b) for p, h, b in checkpoints), *receipts])
        with self._lock:
            self.runs, self.erased, self.loaded_stamp = runs, erased, stamp
            self.next_due = next_due
            self.run_records = records
            self.campaigns = {}  # read again when asked
            self.generation += 1
            self.journal_problem = f"{cut[0]}; {RESTORE_HINT}" if cut else None
            self.last_error = self.store_problem = None
        return True

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
                snapshot = load_snapshot(self.ws, store, record) if record else None
        except StoreBusy:  # a load or run is writing: the records read before answer
            snapshot = self._run_from_records(purpose, campaign)
        with self._lock:  # not kept if a refresh replaced what it was read from meanwhile
            if generation == self.generation:
                self.campaigns[key] = snapshot
        return snapshot

    def _run_from_records(self, purpose: str, campaign: str) -> RunSnapshot | None:
        """run_for's rule over the run records read at the last refresh (the latest run of
        the campaign whose as_of has come; of equal as_of the one executed last), from its
        report files; StoreBusy again when those are not intact (nothing to prove with)."""
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
        row = found.row(0, named=True)
        record = run_store.RunRecord(row["run_id"], row["campaign"], purpose, row["as_of"],
                                     row["outputs_json"])
        days = int(row["days"]) if row["days"] is not None else None
        snapshot = snapshot_from_reports(self.ws, record, days)
        if snapshot is None:
            raise StoreBusy("another gatekeeper process is writing the store and this run's "
                            "report files cannot be used; try again when it has finished")
        return snapshot

    def _trusted(self) -> None:
        with self._lock:
            if self.journal_problem:
                raise EvidenceError(f"the opt-out journal cannot be trusted: "
                                    f"{self.journal_problem}")
            if self.store_problem:
                raise StoreDamaged(self.store_problem)

    def _shared(self, purpose: str, campaign: str | None, agency: str | None,
                caller_id: str | None) -> tuple[dt.datetime, RunSnapshot | None, set[str],
                                                P.ContactFacts]:
        """What is the same for every number of a question: the instant, the run, the
        erasures, the hours, the agency and its caller id."""
        now = self.now()
        self._trusted()
        run = self._run(purpose, campaign)
        with self._lock:
            erased, agencies = self.erased, self.agencies
        shared = contact_facts(self.config, agencies, CallFacts(0, None), now,
                               campaign=campaign, agency=agency, caller_id=caller_id)
        return now, run, erased, shared

    def _said(self, answer: P.DialAnswer, purpose: str) -> dict[str, Any]:
        if answer.reason and P.reason_text(answer.reason) is None:
            log.warning("reason code %s has no Italian text (policy table)", answer.reason)
        return {**answer.as_json(self.jurisdiction.timezone_name), "purpose": purpose}

    def check(self, phone: str, purpose: str, campaign: str | None = None,
              agency: str | None = None, caller_id: str | None = None) -> dict[str, Any]:
        """The answer for one valid E.164 number now: policy.may_dial on what this
        service knows (the run, erasures, the journal's tail, the ledger, the agencies).
        Plain Python, ~0.3 ms: a dialer asks one number at a time, and a frame's fixed
        cost alone is several times that."""
        now, run, erased, shared = self._shared(purpose, campaign, agency, caller_id)
        knobs = self.config.contact
        calls = self.ledger.facts(key_of(phone), now,
                                  knobs.attempt_window_days, knobs.refusal_cooldown_days)
        # Opt-outs count from the instant they are received, whatever the clock says: the
        # journal is read first, so every entry read counts (the batch does the same).
        self.optouts.refresh()
        optout = self.optouts.opted_out(phone, purpose, max(now, now_utc()), refresh=False)
        answer = P.may_dial(facts(
            phone, now, erased=phone in erased, opted_out=optout is not None, snapshot=run,
            jurisdiction=self.jurisdiction, numbering=normalise_one(phone,
                                                                    self.jurisdiction)[2:],
            contact=dataclasses.replace(shared, attempts=calls.attempts,
                                        refused_recently=calls.last_refusal is not None)))
        return self._said(answer, purpose)

    def check_many(self, numbers: pl.DataFrame, purpose: str, campaign: str | None = None,
                   agency: str | None = None, caller_id: str | None = None) -> pl.DataFrame:
        """The answers for valid numbers (phone, region, number_type as `normalise` gives
        them), in order, one row each with `check`'s keys.

        The facts are gathered column by column, and policy.may_dial is asked once per
        distinct combination of them (a few dozen for 10,000 numbers): its answer depends
        on the number only through the facts and the `phone` it echoes, so each number
        gets exactly the answer `check` gives it (tests/test_one_answer.py holds them to
        it) at ~1/10 of the cost of asking 10,000 times."""
        now, run, erased, shared = self._shared(purpose, campaign, agency, caller_id)
        knobs = self.config.contact
        phones = numbers["phone"]
        listed = set(phones.to_list())
        keys = phones.str.slice(1).cast(pl.Int64).to_numpy()  # phone_key, as stored
        attempts, refused = self.ledger.facts_of(keys, now, knobs.attempt_window_days,
                                                 knobs.refusal_cooldown_days)
        self.optouts.refresh()
        self.optouts.require_whole()
        heard = max(now, now_utc())
        opted = [phone for phone in self.optouts.events.keys() & listed  # the few with entries
                 if self.optouts.opted_out(phone, purpose, heard, refresh=False)]
        known = numbers.select(
            "region", "number_type",
            pl.col("phone").is_in(pl.Series(list(erased & listed), dtype=pl.String))
            .alias("erased"),
            pl.col("phone").is_in(pl.Series(opted, dtype=pl.String)).alias("opted_out"),
            pl.Series("attempts", attempts), pl.Series("refused", refused),
            *_outcomes(run, keys))
        groups = known.with_row_index("_n").group_by(known.columns, maintain_order=True
                                                      ).agg(pl.col("_n"))
        said = []
        for combo in groups.iter_rows(named=True):  # per distinct facts, not per number
            outcome = (P.RunOutcome(combo["reason"], combo["basis"], combo["basis_text"],
                                    combo["valid_until"]) if combo["listed"] else None)
            answer = P.may_dial(P.DialFacts(
                now, phones[combo["_n"][0]], combo["region"], combo["number_type"],
                combo["erased"], combo["opted_out"], run.ref if run else None, outcome,
                self.jurisdiction, P.ContactFacts(
                    shared.open, shared.next_open, combo["attempts"], shared.max_attempts,
                    combo["refused"], shared.agency_authorised, shared.caller_id_declared)))
            said.append(self._said(answer, purpose))
        fields = said[0] if said else self._said(P.may_dial(P.DialFacts(now, None)), purpose)
        answers = pl.DataFrame(said, schema={key: pl.Boolean if key == "dialable"
                                             else pl.String for key in fields})
        combo_of = groups.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_c"), "_n"
                                 ).explode("_n").sort("_n")["_c"]
        return answers[combo_of.to_numpy()].with_columns(phones)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"runs": {p: (r.ref.run_id if r else None) for p, r in self.runs.items()},
                    "store_busy": self.last_error is not None}
