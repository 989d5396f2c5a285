"""The facts behind "may I dial?": one gatherer (`dial_facts`) for `gatekeeper check`,
GET and POST /v1/check and contract replay, for one number or 10,000; each door passes its
own sources (DialSources), the gatherer alone decides what a fact means at T.

A run's answer per number is read from one place, the store's file of the run (its
outcome per number, the basis in the words of dialable.csv), used only while its sha256
is the one recorded: the report files are for people and the campaign's next run
overwrites them. The decision itself is the table's (policy.dial_reasons): this module
only gathers facts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import polars as pl

from gatekeeper.config import Config, Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import InputError, StoreDamaged
from gatekeeper.core.timeutil import local_date, local_words, now_utc
from gatekeeper.decide import policy as P
from gatekeeper.dial.agencies import Agency, discover_agencies
from gatekeeper.dial.ledger import LEDGER_SCHEMA, abandoned_many, facts_many, open_ledger
from gatekeeper.dial.ledger.index import key_bounds
from gatekeeper.intake.normalise import key_of, normalise_one
from gatekeeper.privacy.erasure.register import erased_numbers
from gatekeeper.privacy.optouts import (
    EVENT_SCHEMA,
    open_journal,
    optouts_at,
    trusted_state,
)
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import runs as run_store

if TYPE_CHECKING:
    from gatekeeper.jurisdictions import Jurisdiction
    from gatekeeper.jurisdictions.calling_hours import CallingHours

ERASURES_SCHEMA = {"phone": pl.String(), "erased_at": pl.Datetime("us")}
OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "phone_key": pl.Int64(), "reason": pl.String(), "basis": pl.String(),
    "basis_text": pl.String(), "valid_until": pl.Datetime("us")}


@dataclass
class RunSnapshot:
    """One run's outcome per number, sorted by number for microsecond lookups."""

    ref: P.RunRef
    outcomes: pl.DataFrame  # OUTCOME_SCHEMA, sorted by phone_key, one row per number
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __post_init__(self) -> None:
        self.keys = self.outcomes["phone_key"].to_numpy()


def read_run(store_folder: Path, record: run_store.RunRecord, table: P.DecisionTable,
             limit: int | None) -> RunSnapshot:
    """A run's outcome per number, from the one place it is kept: the store's file of the
    run (store/runs.py), recorded with its sha256. The report files are for people; a
    campaign's next run overwrites them, and a replay years later must still find the run.

    Reading the file needs no connection to the catalog, so the service answers from it
    while a load or run holds the store. A file that is not the one recorded is refused
    (StoreDamaged): what it says cannot be relied on (fail closed)."""
    if not record.listed_file or not record.listed_sha256:
        raise StoreDamaged(f"run {record.run_id} of campaign '{record.campaign}' has no "
                           "outcome file recorded in the store; run the campaign again")
    path = store_folder / record.listed_file
    if not path.is_file() or sha256_file(path) != record.listed_sha256:
        raise StoreDamaged(f"run {record.run_id}'s outcome file ({path}) is missing or not "
                           "the one recorded; restore data/store/ from a backup or run the "
                           "campaign again")
    stored = pl.read_parquet(path)
    # Runs recorded before the words were kept say the basis in general words.
    texts = {code: P.generic_basis_text(code, table) for code in table.basis_rank}
    general = pl.col("basis").replace_strict(texts, default=None, return_dtype=pl.String)
    words = (pl.coalesce("basis_text", general) if "basis_text" in stored.columns
             else general).alias("basis_text")
    outcomes = stored.select("phone_key", "reason", "basis", words, "valid_until").select(
        (pl.col(c).cast(t) for c, t in OUTCOME_SCHEMA.items())).sort("phone_key")
    return RunSnapshot(P.RunRef(record.run_id, record.campaign, record.as_of),
                       _within_the_law(outcomes, record.register_days, limit))


def load_snapshot(ws: Workspace, record: run_store.RunRecord) -> RunSnapshot:
    """read_run for the workspace's store and jurisdiction."""
    config = ws.config()
    return read_run(ws.store_dir, record, config.jurisdiction.table,
                    config.jurisdiction.register_validity_days)


def _within_the_law(outcomes: pl.DataFrame, days: Any, limit: int | None) -> pl.DataFrame:
    """A run made while the configuration allowed a longer register validity than the law
    (before it was refused) answers only as long as the law allows: its valid_until is
    brought back by the excess days."""
    if limit is None or not isinstance(days, int) or days <= limit:
        return outcomes
    return outcomes.with_columns(pl.col("valid_until") - pl.duration(days=days - limit))


# --- the one fact gatherer -----------------------------------------------------------------

# What a door asks about, one row per number: the number as normalised (phone null: the
# value is no number), the instant T, the run the answer rests on (null: none), and the
# call's campaign, agency and caller id (null: not given).
ASKED_SCHEMA: dict[str, pl.DataType] = {
    "phone": pl.String(), "region": pl.String(), "number_type": pl.String(),
    "at": pl.Datetime("us"), "run_id": pl.String(), "campaign": pl.String(),
    "agency": pl.String(), "caller_id": pl.String()}

# "now": may I dial now? (the service; `check` without --at). "at": may I have dialled at
# T? (`check --at`, PRODUCT.md: "as things stood then"). "replay": was the call at T
# lawful? The table says what each takes (policy/table.py ERASURES, OBJECTIONS).
Question = Literal["now", "at", "replay"]
# "now" counts every journal entry recorded when asked: the journal's state after its last
# entry (a service with a pinned clock still honours an objection it acknowledged).
EVERY_ENTRY = dt.datetime(9999, 12, 31)


class DialSources(Protocol):
    """Where a door finds the facts of its numbers: the command line and replay read the
    store, the journal and the ledger's files; the service what it holds in memory. The
    meaning of each fact at T is the gatherer's, never a source's. Plain lists in and out:
    a GET asks one number, and a polars call per fact would cost more than the answer."""

    @property
    def agencies(self) -> Mapping[str, Agency]: ...

    def run(self, run_id: str) -> RunSnapshot | None:
        """A run's outcome per number, by id."""

    def erased_at(self, phones: list[str | None]) -> list[dt.datetime | None]:
        """When each number was first erased (None: never), in order."""

    def objected(self, phones: list[str | None], at: list[dt.datetime], purpose: str
                 ) -> list[bool | None]:
        """Whether an objection covering the purpose stood at each (phone, instant); None
        where it cannot be known (a shared register out of reach): never dialable."""

    def call_counts(self, keys: np.ndarray, at: list[dt.datetime], window_days: int,
                    cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        """Per (phone_key, instant): outbound attempts in the window before it, and
        whether a refusal falls within the cooldown (ledger/index.py counts)."""

    def abandoned(self, keys: np.ndarray, at: list[dt.datetime], hours: int) -> np.ndarray:
        """Per (phone_key, instant): an abandoned call in the `hours` before it."""


def asked_one(phone: str | None, region: str | None, number_type: str | None,
              at: dt.datetime, run_id: str | None, campaign: str | None,
              agency: str | None, caller_id: str | None) -> dict[str, list[Any]]:
    """One number asked, as the gatherer takes it (columns of one value each)."""
    return {"phone": [phone], "region": [region], "number_type": [number_type], "at": [at],
            "run_id": [run_id], "campaign": [campaign], "agency": [agency],
            "caller_id": [caller_id]}


def asked_columns(asked: pl.DataFrame) -> dict[str, list[Any]]:
    """Many numbers asked (a frame with ASKED_SCHEMA's columns) as the gatherer takes them."""
    return asked.select(*ASKED_SCHEMA).to_dict(as_series=False)


def dial_facts(asked: Mapping[str, Sequence[Any]], sources: DialSources, config: Config,
               purpose: str, question: Question) -> pl.DataFrame:
    """The frame of dial facts (policy.DIAL_SCHEMA) for the numbers asked (ASKED_SCHEMA's
    columns, as lists: `asked_columns`), one row each, in order: the one gatherer of
    `check`, GET and POST /v1/check and the replay of contracts, whatever the number of
    numbers and wherever the facts are kept.

    Erasures and objections are taken as the table says for the question (policy/table.py
    ERASURES, OBJECTIONS): "now" counts everything recorded when asked; "at" every erasure
    and the objections standing at T; "replay" what stood at T. Everything else is taken
    at T for all three.

    Built column by column in plain lists and arrays, made a frame once: one number costs
    a fraction of a millisecond (a GET), 10,000 a few dozen (a POST)."""
    return _frame(_fact_columns(asked, sources, config, purpose, question),
                  len(asked["phone"]))


def dial_row(asked: Mapping[str, Sequence[Any]], sources: DialSources, config: Config,
             purpose: str, question: Question) -> dict[str, Any]:
    """One number's facts as `dial_facts(...).row(0, named=True)` gives them, without the
    frame: a GET asks one number, and the frame cost more than gathering its facts. The
    values are the frame's (naive UTC instants, Python ints and bools);
    tests/test_one_answer.py holds the two to the same answers."""
    columns = _fact_columns(asked, sources, config, purpose, question)
    return {name: _plain(columns[name][0]) for name in P.DIAL_SCHEMA}


def _plain(value: Any) -> Any:
    """A value as a polars row gives it back."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _fact_columns(asked: Mapping[str, Sequence[Any]], sources: DialSources, config: Config,
                  purpose: str, question: Question) -> dict[str, Sequence[Any]]:
    q = {c: list(asked[c]) for c in ASKED_SCHEMA}
    phones, at = q["phone"], q["at"]
    keys = np.array([key_of(p) if p else -1 for p in phones], np.int64)
    erased_at = sources.erased_at(phones)
    if question == "replay":
        erased = [e is not None and e <= t for e, t in zip(erased_at, at, strict=True)]
    else:
        erased = [e is not None for e in erased_at]
    objected = sources.objected(
        phones, [EVERY_ENTRY] * len(phones) if question == "now" else at, purpose)
    run = _run_facts(q["run_id"], keys, sources)
    valid_until = run["valid_until"]
    given = {c: [v or None for v in q[c]] for c in ("agency", "caller_id")}
    columns: dict[str, Sequence[Any]] = {
        "phone": phones, "at": at, "valid": [p is not None for p in phones],
        "region": q["region"], "number_type": q["number_type"], "erased": erased,
        "opted_out": [bool(o) for o in objected],
        "optouts_readable": [o is not None for o in objected], **run,
        "rpo_valid_at": [u is None or u > t for u, t in zip(valid_until, at, strict=True)],
        **_country_facts(q["region"], phones, keys, at, run["run_as_of"], sources, config),
        **given,
        **_agency_facts(given["agency"], given["caller_id"], q["campaign"], at,
                        sources.agencies, config),
        "caller_id_allowed": _caller_ids_allowed(given["caller_id"], q["region"], config)}
    return columns


def _caller_ids_allowed(caller_ids: list[str | None], regions: list[str | None],
                        config: Config) -> list[bool | None]:
    """Per row: the caller id shown is not a mobile number of the callee's country (Spain
    refuses those: Orden TDF/149/2025); no caller id given: nothing to refuse."""
    said: dict[tuple[str | None, str | None], bool | None] = {}
    for pair in set(zip(caller_ids, regions, strict=True)):
        shown, region = pair
        if not shown:
            said[pair] = None
            continue
        j = config.jurisdiction_of(region)
        _, valid, where, kind = normalise_one(shown, j)
        said[pair] = not (valid and where == region and kind == "mobile")
    return [said[p] for p in zip(caller_ids, regions, strict=True)]


def _country_facts(regions: list[str | None], phones: list[str | None], keys: np.ndarray,
                   at: list[dt.datetime], run_as_of: list[dt.datetime | None],
                   sources: DialSources, config: Config) -> dict[str, list[Any]]:
    """The facts that depend on the callee's country: its calling hours in its zone, its
    contact limits (the company's, never looser than its law's), an abandoned call within
    its law's rest, and whether the run decided by the version of its rules in force at T.
    Rows are grouped by country: one country (the common case) is one group."""
    n = len(keys)
    out: dict[str, list[Any]] = {c: [None] * n for c in (
        "open", "next_open", "attempts", "max_attempts", "refused_recently", "limits_ok",
        "abandoned_recently", "rules_current")}
    groups: dict[Jurisdiction, list[int]] = {}
    for i, region in enumerate(regions):
        groups.setdefault(config.jurisdiction_of(region), []).append(i)
    for j, rows in groups.items():
        every = len(rows) == n
        mine_keys = keys if every else keys[rows]
        mine_at = at if every else [at[i] for i in rows]
        knobs = config.contact_of(j)
        attempts, refused = sources.call_counts(mine_keys, mine_at, knobs.attempt_window_days,
                                                knobs.refusal_cooldown_days)
        law = j.contact_law
        ok = np.ones(len(rows), np.bool_)
        for limit, days in (law.limits if law else ()):
            counted, _ = sources.call_counts(mine_keys, mine_at, days, 0)
            ok &= counted < limit
        rest = law.abandoned_rest_hours if law else 0
        abandoned = (sources.abandoned(mine_keys, mine_at, rest) if rest
                     else np.zeros(len(rows), np.bool_))
        hours = config.calling_hours_of(j)
        zones = ([j.zone_of(phones[i]) for i in rows] if j.zones_by_prefix
                 else [j.timezone_name] * len(rows))
        opened = _hours_facts(mine_at, zones, hours)
        current = _rules_current([run_as_of[i] for i in rows], mine_at, j)
        values = {"open": opened["open"], "next_open": opened["next_open"],
                  "attempts": attempts.tolist(), "max_attempts": [knobs.max_attempts] * len(rows),
                  "refused_recently": refused.tolist(), "limits_ok": ok.tolist(),
                  "abandoned_recently": abandoned.tolist(), "rules_current": current}
        for name, column in values.items():
            if every:
                out[name] = list(column)
            else:
                target = out[name]
                for i, value in zip(rows, column, strict=True):
                    target[i] = value
    return out


def _frame(columns: Mapping[str, Sequence[Any]], n: int) -> pl.DataFrame:
    """The columns as a DIAL_SCHEMA frame: a few rows row by row (~0.05 ms; column by
    column costs ~25 µs a column), many column by column."""
    schema = P.DIAL_SCHEMA
    if n <= 16:
        names = list(schema)
        return pl.from_dicts([dict(zip(names, row, strict=True)) for row in zip(
            *(columns[c] for c in names), strict=True)], schema=schema)
    return pl.DataFrame([_series(c, columns[c], t) for c, t in schema.items()])


def _series(name: str, values: Sequence[Any], dtype: pl.DataType) -> pl.Series:
    """A column of many values. Instants are converted once per distinct value (10,000
    converted one by one cost ~7 ms a column, ~2 ms so); text, flags and counts convert
    fast as they are."""
    if not isinstance(dtype, pl.Datetime):
        return pl.Series(name, values, dtype)
    distinct = list(dict.fromkeys(values))
    where = {v: i for i, v in enumerate(distinct)}
    return pl.Series(name, distinct, dtype).gather([where[v] for v in values])


def _run_facts(run_ids: list[str | None], keys: np.ndarray, sources: DialSources
               ) -> dict[str, list[Any]]:
    """Per number, the run valid at its instant (run_id, run_campaign, run_as_of: None
    when none) and what it decided (listed, run_reason, basis, basis_text, valid_until)."""
    n = len(keys)
    columns: dict[str, list[Any]] = {c: [None] * n for c in (
        "run_id", "run_campaign", "run_as_of", "run_reason", "basis", "basis_text",
        "valid_until")}
    columns["listed"] = [False] * n
    for run_id in dict.fromkeys(r for r in run_ids if r is not None):
        snapshot = sources.run(run_id)
        if snapshot is None:  # a run that cannot be read proves nothing: NO_RUN
            continue
        rows = [i for i, r in enumerate(run_ids) if r == run_id]
        found = outcomes_of(snapshot, keys[rows])
        ref = snapshot.ref
        found.update(run_id=[ref.run_id] * len(rows), run_campaign=[ref.campaign] * len(rows),
                     run_as_of=[ref.as_of] * len(rows))
        found["run_reason"] = found.pop("reason")
        if len(rows) == n:  # one run for every number (check, GET, POST)
            columns.update(found)
            continue
        for name, values in found.items():
            column = columns[name]
            for i, value in zip(rows, values, strict=True):
                column[i] = value
    return columns


def outcomes_of(run: RunSnapshot, keys: np.ndarray) -> dict[str, list[Any]]:
    """The run's outcome for each number (`listed`: the run decided it at all), by one
    sorted search (10,000 numbers at once)."""
    columns = ("reason", "basis", "basis_text", "valid_until")
    if not len(run.keys):
        return {"listed": [False] * len(keys), **{c: [None] * len(keys) for c in columns}}
    at = np.minimum(key_bounds(run.keys, keys)[0], len(run.keys) - 1)
    listed = (run.keys[at] == keys).tolist()
    # A GET's one row by position (~10 µs; a select alone costs ~0.7 ms); a gather pays
    # off for many.
    got = (dict(zip(run.outcomes.columns, zip(*(run.outcomes.row(i) for i in at.tolist()),
                                              strict=True), strict=True)) if len(at) <= 16
           else run.outcomes[at].to_dict(as_series=False))
    return {"listed": listed, **{c: [v if ok else None for v, ok in
                                     zip(got[c], listed, strict=True)] for c in columns}}


def _rules_current(run_as_of: list[dt.datetime | None], at: list[dt.datetime],
                   j: Jurisdiction) -> list[bool | None]:
    """Per row: the run decided by the version of j's rules in force at T (its local
    days); no run: nothing to say (NO_RUN answers first)."""
    table = j.table
    if not table.changes:
        return [True] * len(at)
    versions: dict[dt.datetime, str] = {}

    def version(when: dt.datetime) -> str:
        if when not in versions:
            versions[when] = table.version_at(local_date(when, j.timezone_name))
        return versions[when]

    return [None if ran is None else version(ran) == version(t)
            for ran, t in zip(run_as_of, at, strict=True)]


def _hours_facts(at: list[dt.datetime], zones: list[str], hours: CallingHours
                 ) -> dict[str, list[Any]]:
    """open and next_open at each instant on each callee's wall clock (asked once per
    distinct instant and zone)."""
    pairs = list(zip(at, zones, strict=True))
    opened = {p: hours.in_zone(p[1]).is_open(p[0]) for p in dict.fromkeys(pairs)
              if p[0] is not None}
    following = {p: None if is_open else hours.in_zone(p[1]).next_open(p[0])
                 for p, is_open in opened.items()}
    return {"open": [opened.get(p) for p in pairs],
            "next_open": [following.get(p) for p in pairs]}


def _agency_facts(agency: list[str | None], caller_id: list[str | None],
                  campaign: list[str | None], at: list[dt.datetime],
                  agencies: Mapping[str, Agency], config: Config) -> dict[str, list[Any]]:
    """agency_authorised (the agency named is authorised at T for the campaign: one
    without a manifest is not) and caller_id_declared (one the agency declared; without an
    agency, one some agency declared), per distinct question."""
    where = config.jurisdiction

    def answer(name: str | None, shown: str | None, campaign_of: str | None,
               when: dt.datetime) -> tuple[bool | None, bool | None]:
        known = agencies.get(name) if name else None
        if not shown:
            declared = None
        elif name:
            declared = known is not None and known.declared(shown, where)
        else:
            declared = any(a.declared(shown, where) for a in agencies.values())
        return ((known is not None and known.authorised(when, campaign_of)) if name else None,
                declared)

    questions = (agency, caller_id, campaign, at)
    if all(len(set(q)) <= 1 for q in questions):  # one question for every number
        authorised, declared = (answer(agency[0], caller_id[0], campaign[0], at[0]) if at
                                else (None, None))
        return {"agency_authorised": [authorised] * len(at),
                "caller_id_declared": [declared] * len(at)}
    said = {r: answer(*r) for r in set(zip(agency, caller_id, campaign, at, strict=True))}
    rows = [said[r] for r in zip(agency, caller_id, campaign, at, strict=True)]
    return {"agency_authorised": [r[0] for r in rows],
            "caller_id_declared": [r[1] for r in rows]}


@dataclass
class RecordedSources:
    """The facts as the files hold them when asked: the store's erasures, the journal's
    events, the ledger's calls of the numbers asked and the runs read (the command line's
    `check` and contract replay)."""

    agencies: Mapping[str, Agency]
    snapshots: Mapping[str, RunSnapshot]
    erasures: pl.DataFrame  # phone, erased_at (people_store.erased_numbers)
    events: pl.DataFrame  # the journal's events (optouts.EVENT_SCHEMA)
    calls: pl.DataFrame  # the ledger's calls of the numbers asked (Ledger.calls_of)

    def run(self, run_id: str) -> RunSnapshot | None:
        return self.snapshots.get(run_id)

    def erased_at(self, phones: list[str | None]) -> list[dt.datetime | None]:
        first = dict(zip(self.erasures["phone"].to_list(),
                         self.erasures["erased_at"].to_list(), strict=True))
        return [first.get(p) if p else None for p in phones]

    def objected(self, phones: list[str | None], at: list[dt.datetime], purpose: str
                 ) -> list[bool | None]:
        asked = pl.DataFrame({"phone": phones, "at": at},
                             schema={"phone": pl.String, "at": pl.Datetime("us")})
        return optouts_at(self.events, purpose, asked)["optout_at"].is_not_null().to_list()

    def call_counts(self, keys: np.ndarray, at: list[dt.datetime], window_days: int,
                    cooldown_days: int) -> tuple[np.ndarray, np.ndarray]:
        asked = pl.DataFrame({"phone_key": keys, "at": at},
                             schema={"phone_key": pl.Int64, "at": pl.Datetime("us")})
        counted = facts_many(self.calls, asked, window_days, cooldown_days)
        return (np.array([c.attempts for c in counted], np.int64),
                np.array([c.last_refusal is not None for c in counted], np.bool_))

    def abandoned(self, keys: np.ndarray, at: list[dt.datetime], hours: int) -> np.ndarray:
        asked = pl.DataFrame({"phone_key": keys, "at": at},
                             schema={"phone_key": pl.Int64, "at": pl.Datetime("us")})
        return abandoned_many(self.calls, asked, hours)


def dial_context(config: Config, purpose: str, asked_at: dt.datetime) -> P.Context:
    """The context of a dial-time question: the workspace's policy and jurisdiction (the
    dial rules read each row's instant, not as_of)."""
    return P.Context(purpose, asked_at, config.policy, config.jurisdiction,
                     called=config.jurisdictions)


@dataclass
class CheckResult:
    """The answer, the purpose asked about, and the run's rows for the number (detail)."""

    answer: P.DialAnswer
    purpose: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_number(ws: Workspace, value: str, purpose: str, *, campaign: str | None = None,
                 at: dt.datetime | None = None, agency: str | None = None,
                 caller_id: str | None = None) -> CheckResult:
    """May this number be dialled at `at` (default now), for a purpose or a campaign, by
    an agency showing a caller id?

    The latest run of the campaign (or purpose) whose as_of is at or before `at`, the
    calls made before it, the calling hours and the agencies' manifests at it; erasures
    and objections as the table takes them for the question (policy/table.py): without
    `at`, everything recorded when asked; at a given instant, the objections standing then
    ("as things stood", PRODUCT.md) and every erasure (the rows an answer rested on are
    gone)."""
    config = ws.config()
    if purpose not in ("telemarketing", "survey"):
        raise InputError(f"unknown purpose '{purpose}'; accepted: telemarketing, survey")
    when = at or now_utc()
    jurisdiction = config.jurisdiction
    phone, valid, region, number_type = normalise_one(value, jurisdiction)
    agencies, broken = discover_agencies(ws.root / "agencies", config.jurisdiction)
    record = None
    if not valid or phone is None:  # nothing to look up: the table answers INVALID_NUMBER
        phone = region = number_type = None
        sources = RecordedSources(agencies, {}, pl.DataFrame(schema=ERASURES_SCHEMA),
                                  pl.DataFrame(schema=EVENT_SCHEMA),
                                  pl.DataFrame(schema=LEDGER_SCHEMA))
    else:
        with Store(ws.store_path, read_only=True) as store:
            journal = trusted_state(open_journal(ws),
                                    evidence_store.journal_checkpoints(store))
            record = run_store.run_for(store, purpose, campaign, when)
            snapshot = load_snapshot(ws, record) if record else None
            erasures = erased_numbers(ws, store)
        sources = RecordedSources(
            agencies, {record.run_id: snapshot} if record and snapshot else {}, erasures,
            journal.events, open_ledger(ws).calls(key_of(phone)))
    asked = asked_one(phone, region, number_type, when, record.run_id if record else None,
                      campaign, agency, caller_id)
    facts = dial_facts(asked, sources, config, purpose, "now" if at is None else "at")
    answer = P.may_dial(facts, dial_context(config, purpose, when))
    rows: list[dict[str, Any]] = []
    if record and phone:
        rows = _rows_of(ws, record, phone)
    warnings = _unknown_agency(agency, agencies, broken)
    if phone and campaign and record is None:  # NO_RUN speaks of the purpose: name it
        when_words = local_words(when, jurisdiction.timezone_name)
        warnings.append(f"no run of campaign '{campaign}' for {purpose} as of {when_words} "
                        f"{jurisdiction.time_words} or earlier (check the name, or run it)")
    return CheckResult(answer, purpose, rows, warnings)


def _unknown_agency(agency: str | None, agencies: Mapping[str, Agency],
                    broken: list[Any]) -> list[str]:
    """Why an agency the dialer named is unknown: the answer stays AGENCY_NOT_AUTHORISED
    (fail closed), but a typo in its name or its manifest should not look like a lapsed
    contract."""
    if not agency or agency in agencies:
        return []
    if broken:
        return [f"agency '{agency}' has no readable manifest; {len(broken)} manifest(s) in "
                f"agencies/ could not be read: {broken[0]}"]
    return [f"no agency '{agency}' in agencies/; known: "
            + (", ".join(sorted(agencies)) or "none")]


def _rows_of(ws: Workspace, record: run_store.RunRecord, phone: str) -> list[dict[str, Any]]:
    """The run's decision per row of the number (detail for a person), when its file is
    still the run's own."""
    path = ws.report_dir(record.campaign) / "decisions.parquet"
    if not path.is_file() or sha256_file(path) != json.loads(
            record.outputs_json or "{}").get(path.name):
        return []
    return (pl.scan_parquet(path).filter(pl.col("phone") == phone)
            .select("source_id", "row", "reason", "basis").sort("source_id", "row")
            .collect().to_dicts())
