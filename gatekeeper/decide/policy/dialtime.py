""""May I dial this number at T?": the one answer, for every door.

`gatekeeper check`, the service's GET/POST /v1/check and the replay of a contract's call
gather the facts of their numbers with one function (dialing.dial_facts: one row per
number, DIAL_SCHEMA) and ask `dial_reasons`: the jurisdiction's DIAL_RULES evaluated by
the batch's own evaluator (decide.first_failure), steps 1-5 being the very rules a run
applies to every row. None of the doors decides anything itself.

A one-row polars evaluation costs ~1-2 ms, several times a dialer's budget per GET; the
answer depends on a number only through the facts the rules read, so the table is
evaluated once per distinct combination of them (POST's 10,000 numbers: a few dozen) and
remembered (a GET finds the combination already evaluated). The instant enters only
through facts taken at it (open, attempts, refused_recently, rpo_valid_at), never the
combination: the cache stays exact at every instant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gatekeeper.core.timeutil import Zone, local_iso
from gatekeeper.decide.policy.decide import first_failure
from gatekeeper.decide.policy.facts import Context
from gatekeeper.decide.policy.table import OUTSIDE_CALLING_HOURS, DecisionTable

# The frame of dial facts: what the gatherer builds and the dial rules read, one row per
# number (and instant: a replay asks each call at its own).
DIAL_SCHEMA: dict[str, pl.DataType] = {
    "phone": pl.String(),  # E.164; null: the value is no number
    "at": pl.Datetime("us"),  # T, naive UTC
    "valid": pl.Boolean(), "region": pl.String(), "number_type": pl.String(),
    "erased": pl.Boolean(), "opted_out": pl.Boolean(),
    "optouts_readable": pl.Boolean(),  # false: a shared register that cannot be reached
    # The run valid at T (null: none) and what it decided for the number.
    "run_id": pl.String(), "run_campaign": pl.String(), "run_as_of": pl.Datetime("us"),
    "listed": pl.Boolean(), "run_reason": pl.String(), "basis": pl.String(),
    "basis_text": pl.String(), "valid_until": pl.Datetime("us"),
    "rpo_valid_at": pl.Boolean(),  # valid_until is null (no RPO check needed) or after T
    # The call itself at T.
    "open": pl.Boolean(), "next_open": pl.Datetime("us"),
    "attempts": pl.Int64(), "max_attempts": pl.Int64(), "refused_recently": pl.Boolean(),
    # Every attempt limit of the callee's law holds (FR 4 in 30 days; DE 3 a day, 15 a
    # week); an abandoned call within its law's rest (UK: 72 hours).
    "limits_ok": pl.Boolean(), "abandoned_recently": pl.Boolean(),
    # The run decided by the version of the country's rules in force at T.
    "rules_current": pl.Boolean(),
    "agency": pl.String(), "agency_authorised": pl.Boolean(),
    "caller_id": pl.String(), "caller_id_declared": pl.Boolean(),
    "caller_id_allowed": pl.Boolean(),  # not a mobile of the callee's country (ES)
}


@dataclass(frozen=True)
class RunRef:
    """The run an answer rests on."""

    run_id: str
    campaign: str
    as_of: dt.datetime


@dataclass(frozen=True)
class DialAnswer:
    """The answer, as every door gives it (service JSON keys, CLI lines)."""

    phone: str | None
    at: dt.datetime
    dialable: bool
    reason: str | None = None
    basis: str | None = None
    basis_text: str | None = None
    valid_until: dt.datetime | None = None
    run: RunRef | None = None
    next_allowed_at: dt.datetime | None = None
    # The reason in the words of the table that gave it (the jurisdiction's).
    reason_text: str | None = None

    @property
    def decision(self) -> str:
        return "dialable" if self.dialable else "suppressed"

    def as_json(self, zone: Zone) -> dict[str, Any]:
        """Instants in the jurisdiction's local time with their offset (zone)."""
        return {"phone": self.phone, "dialable": self.dialable, "decision": self.decision,
                "reason": self.reason, "reason_text": self.reason_text, "basis": self.basis,
                "basis_text": self.basis_text, "valid_until": local_iso(self.valid_until, zone),
                "next_allowed_at": local_iso(self.next_allowed_at, zone),
                "run_id": self.run.run_id if self.run else None,
                "campaign": self.run.campaign if self.run else None, "at": local_iso(self.at, zone)}


_ANY_INSTANT = dt.datetime(1970, 1, 1)


@functools.lru_cache(maxsize=64)
def _compiled(ctx: Context) -> tuple[pl.Expr, tuple[str, ...]]:
    """The dial rules as one when-chain, and the columns it reads (polars says which)."""
    reason = first_failure(ctx.jurisdiction.table.dial_rules, ctx)
    return reason, tuple(dict.fromkeys(reason.meta.root_names()))


def dial_key(ctx: Context) -> Context:
    """What a dial-time answer may depend on besides the facts: the context without its
    instant (tests/test_one_answer.py holds the dial rules to never reading as_of)."""
    return dataclasses.replace(ctx, as_of=_ANY_INSTANT)


class _Remembered:
    """Reasons already evaluated, per context and combination of facts (bounded)."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.reasons: dict[tuple[Context, tuple[Any, ...]], str | None] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[Context, tuple[Any, ...]]) -> tuple[bool, str | None]:
        with self.lock:
            if key in self.reasons:
                return True, self.reasons[key]
        return False, None

    def put(self, keys: list[tuple[Context, tuple[Any, ...]]], reasons: list[str | None]
            ) -> None:
        with self.lock:
            if len(self.reasons) + len(keys) > self.LIMIT:
                self.reasons.clear()
            self.reasons.update(zip(keys, reasons, strict=True))


_REMEMBERED = _Remembered()


def dial_reasons(facts: pl.DataFrame, ctx: Context) -> list[str | None]:
    """The first dial rule each row of facts (DIAL_SCHEMA) fails, in order (None: it may be
    dialled): each row by its own country's table (ctx.of its region), the table evaluated
    once per distinct combination of the facts its rules read, each remembered."""
    if len(ctx.countries) == 1:
        return _reasons(facts, ctx)
    rows_of: dict[Context, list[int]] = {}
    for i, region in enumerate(facts.get_column("region").to_list()):
        rows_of.setdefault(ctx.of(region), []).append(i)
    said: list[str | None] = [None] * facts.height
    for country, rows in rows_of.items():
        for i, reason in zip(rows, _reasons(facts[rows], country), strict=True):
            said[i] = reason
    return said


def _reasons(facts: pl.DataFrame, ctx: Context) -> list[str | None]:
    key_ctx = dial_key(ctx)
    reason, inputs = _compiled(key_ctx)
    groups = (facts.select(inputs).with_row_index("_n")
              .group_by(inputs, maintain_order=True).agg("_n"))
    combos = groups.drop("_n")
    keys = [(key_ctx, combo) for combo in combos.iter_rows()]
    said = combos.select(reason)[:, 0].to_list()
    _REMEMBERED.put(keys, said)
    combo_of = np.empty(facts.height, np.int64)
    for c, rows in enumerate(groups["_n"].to_list()):
        combo_of[rows] = c
    return [said[c] for c in combo_of.tolist()]


def answer_of(row: Mapping[str, Any], reason: str | None, table: DecisionTable
              ) -> DialAnswer:
    """A row of facts and its reason as the answer every door gives: the basis and its
    validity only when dialable, the next opening only when the hours are the reason, the
    reason in the words of `table` (the jurisdiction's)."""
    dialable = reason is None
    words = None if reason is None else (
        table.words(reason) or f"non chiamabile: motivo {reason}")
    run = (RunRef(row["run_id"], row["run_campaign"], row["run_as_of"])
           if row["run_id"] is not None else None)
    return DialAnswer(row["phone"], row["at"], dialable, reason,
                      row["basis"] if dialable else None,
                      row["basis_text"] if dialable else None,
                      row["valid_until"] if dialable else None, run,
                      row["next_open"] if reason == OUTSIDE_CALLING_HOURS else None, words)


def dial_answers(facts: pl.DataFrame, ctx: Context) -> list[DialAnswer]:
    """The answer for every row of facts, in order (the reason in its country's words)."""
    return [answer_of(row, reason, ctx.of(row["region"]).jurisdiction.table)
            for row, reason in zip(facts.iter_rows(named=True), dial_reasons(facts, ctx),
                                   strict=True)]


def may_dial(facts: pl.DataFrame, ctx: Context) -> DialAnswer:
    """The answer for one number: the evaluator on a one-row frame of facts, unless its
    combination of facts was evaluated before (a GET, most of the time)."""
    if facts.height != 1:
        raise ValueError(f"may_dial answers one number, not {facts.height}")
    row = facts.row(0, named=True)
    ctx = ctx.of(row["region"])
    key_ctx = dial_key(ctx)
    found, reason = _REMEMBERED.get((key_ctx, tuple(row[c] for c in _compiled(key_ctx)[1])))
    if not found:
        reason = dial_reasons(facts, ctx)[0]
    return answer_of(row, reason, ctx.jurisdiction.table)


def may_dial_row(row: Mapping[str, Any], ctx: Context) -> DialAnswer:
    """`may_dial` for one number's facts as a row (check.dial_row): the remembered answer
    for its combination of facts, the one-row frame evaluated only the first time."""
    ctx = ctx.of(row["region"])
    key_ctx = dial_key(ctx)
    found, reason = _REMEMBERED.get((key_ctx, tuple(row[c] for c in _compiled(key_ctx)[1])))
    if not found:
        frame = pl.from_dicts([dict(row)], schema=DIAL_SCHEMA)
        reason = dial_reasons(frame, ctx)[0]
    return answer_of(row, reason, ctx.jurisdiction.table)


def answers_by_combination(facts: pl.DataFrame, ctx: Context
                           ) -> tuple[list[DialAnswer], np.ndarray]:
    """The answers for many numbers at one instant (POST /v1/check): one per distinct
    combination of every fact but the phone (its `phone` that of the first number with
    it), and each row's combination. An answer depends on the number only through its
    facts and the phone it echoes, so each number gets exactly the answer a GET gives it,
    without building 10,000 answers one by one."""
    facts_but_phone = [c for c in facts.columns if c != "phone"]
    groups = (facts.with_row_index("_n").group_by(facts_but_phone, maintain_order=True)
              .agg(pl.col("_n"), pl.col("phone").first()))
    answers = dial_answers(groups.drop("_n").select(facts.columns), ctx)
    combo_of = np.empty(facts.height, np.int64)
    for c, rows in enumerate(groups["_n"].to_list()):
        combo_of[rows] = c
    return answers, combo_of
