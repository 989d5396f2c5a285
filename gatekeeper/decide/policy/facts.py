"""The facts the decision table's rules test, as polars expressions over every row at once.

Each is written so that what cannot be proven is false: a missing date, RPO answer or
proof makes the check fail (Gatekeeper fails closed). Date rules count whole local
calendar days of the context's jurisdiction (its zone), because consent forms and contracts
are dated in local time.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import polars as pl

from gatekeeper.config import Policy
from gatekeeper.core.columns import EVIDENCE_FIELDS
from gatekeeper.core.timeutil import local_date, local_midnight, local_midnight_of
from gatekeeper.jurisdictions import Jurisdiction

if TYPE_CHECKING:
    from gatekeeper.decide.policy.table import DecisionTable


@dataclass(frozen=True)
class Context:
    """Everything a rule may compare with: the run's purpose, as_of, policy knobs and
    the jurisdiction whose numbers, law and table apply (required: nothing is Italian by
    default). At dial time as_of is only the moment asked: the dial rules read each row's
    own instant (`at`) through facts the gatherer took at it, never as_of."""

    purpose: str
    as_of: dt.datetime  # naive UTC
    policy: Policy
    jurisdiction: Jurisdiction
    sector: str | None = None  # the campaign's sector (exprs.sector_name form); None: unsaid
    # Every country the controller calls ([policy] jurisdictions); () : the jurisdiction
    # alone. Each number is decided in the context of its own (`countries`).
    called: tuple[Jurisdiction, ...] = ()

    @property
    def as_of_date(self) -> dt.date:
        return local_date(self.as_of, self.jurisdiction.timezone_name)

    @property
    def checks_rpo(self) -> bool:
        """Telemarketing always; surveys only when the company policy says so; and only
        while the country's register is the law (Bloctel ends on 2026-08-10)."""
        register = self.jurisdiction.register
        if register is None or (register.until is not None
                                and self.as_of_date > register.until):
            return False
        return self.purpose == "telemarketing" or self.policy.survey_checks_rpo

    @property
    def register_validity_days(self) -> int:
        """How long the country's register answer is relied on (Policy.register_days)."""
        return self.policy.register_days(self.jurisdiction.register)

    @property
    def countries(self) -> tuple[Context, ...]:
        """This context for each country called, the workspace's own first."""
        others = tuple(j for j in self.called if j != self.jurisdiction)
        return (self, *(replace(self, jurisdiction=j) for j in others))

    def parts(self) -> list[tuple[Context, pl.Expr]]:
        """Each country's context and which rows are its numbers (their region); the
        workspace's own takes every other row (no number, a country not called), whose
        table answers for them. The one split of a frame of rows by country (a run's
        decisions, its basis texts)."""
        others = [(c, (pl.col("region") == c.jurisdiction.region).fill_null(False))
                  for c in self.countries[1:]]
        rest = ~pl.any_horizontal([mine for _, mine in others]) if others else pl.lit(True)
        return [*others, (self, rest)]

    def of(self, region: str | None) -> Context:
        """The context of a number of this region: its country's, if called."""
        for ctx in self.countries:
            if ctx.jurisdiction.region == region:
                return ctx
        return self

    @property
    def table_version(self) -> str:
        """The name of the table's version in force on as_of's day (recorded per row)."""
        return self.jurisdiction.table.version_at(self.as_of_date)

    @property
    def table_ends_at(self) -> dt.datetime | None:
        """The instant (naive UTC) the version in force on as_of's day ends: the local
        midnight the next one begins (None: none known)."""
        day = self.jurisdiction.table.next_change(self.as_of_date)
        if day is None:
            return None
        return local_midnight_of(day, self.jurisdiction.timezone_name)

    @property
    def table(self) -> DecisionTable:
        """The jurisdiction's table in force on as_of's day (its dated rules)."""
        return _in_force(self.jurisdiction.table, self.as_of_date)


@functools.lru_cache(maxsize=256)
def _in_force(table: DecisionTable, day: dt.date) -> DecisionTable:
    return table.in_force(day)


def days_since(column: str, ctx: Context) -> pl.Expr:
    """Whole local calendar days (the jurisdiction's) from a date column to as_of."""
    return (pl.lit(ctx.as_of_date) - pl.col(column)).dt.total_days()


def valid_number(ctx: Context) -> pl.Expr:
    return pl.col("valid").fill_null(False)


def in_jurisdiction(ctx: Context) -> pl.Expr:
    return (pl.col("region") == ctx.jurisdiction.region).fill_null(False)


def callable_type(ctx: Context) -> pl.Expr:
    return pl.col("number_type").is_in(ctx.jurisdiction.dialable_types).fill_null(False)


def not_erased(ctx: Context) -> pl.Expr:
    return ~pl.col("erased").fill_null(False)


def optouts_readable(ctx: Context) -> pl.Expr:
    return pl.col("optouts_readable").fill_null(False)


def not_opted_out(ctx: Context) -> pl.Expr:
    return ~pl.col("opted_out").fill_null(False)


def purpose_allowed(ctx: Context) -> pl.Expr:
    return pl.col("purposes").list.contains(pl.lit(ctx.purpose)).fill_null(False)


def own_archive(ctx: Context) -> pl.Expr:
    return (pl.col("kind") == "internal_archive").fill_null(False)


def registered() -> pl.Expr:
    return pl.col("registered").fill_null(True)  # no answer proves nothing: fail closed


def rpo_valid(ctx: Context) -> pl.Expr:
    age = pl.lit(ctx.as_of) - pl.col("rpo_checked_at")
    limit = pl.duration(days=ctx.register_validity_days)
    return pl.col("rpo_checked_at").is_not_null() & (age >= pl.duration()) & (age < limit)


def not_registered(ctx: Context) -> pl.Expr:
    return ~registered()


def in_relationship(ctx: Context) -> pl.Expr:
    """Contract in force, or ended no more than contract_grace_days ago."""
    ended = pl.col("contract_end")
    in_force = (pl.col("contract_status") == "active") & (
        ended.is_null() | (ended >= pl.lit(ctx.as_of_date)))
    grace = ended.is_not_null() & (days_since("contract_end", ctx)
                                   <= ctx.policy.contract_grace_days)
    return (in_force | grace).fill_null(False)


def contract_consent(ctx: Context) -> pl.Expr:
    """Internal archive: consent within a contract in force or just ended."""
    return pl.col("consent_marketing").fill_null(False) & in_relationship(ctx)


def consent_dated(flag: str, ctx: Context) -> pl.Expr:
    """Consent given (true), dated, and not dated in the future."""
    return (pl.col(flag).fill_null(False) & pl.col("consent_date").is_not_null()
            & (pl.col("consent_date") <= pl.lit(ctx.as_of_date))).fill_null(False)


def third_party_consent(ctx: Context) -> pl.Expr:
    return consent_dated("consent_third_party", ctx)


def own_consent(ctx: Context) -> pl.Expr:
    return consent_dated("consent_marketing", ctx)


def consent_fresh(ctx: Context) -> pl.Expr:
    return (days_since("consent_date", ctx) < ctx.policy.consent_max_age_days).fill_null(False)


def consent_after_registration(ctx: Context) -> pl.Expr:
    """Not registered, or consent provably given after the registration."""
    later = (local_midnight("consent_date", ctx.jurisdiction.timezone_name)
             > pl.col("registration_bound"))
    return (~registered() | later).fill_null(False)


def collected_by_supplier(ctx: Context) -> pl.Expr:
    collector = pl.col("consent_collector").str.strip_chars().str.to_lowercase()
    own = (collector == pl.col("supplier_name").str.strip_chars().str.to_lowercase()) | (
        collector == pl.col("supplier_vat").str.strip_chars().str.to_lowercase())
    return (collector.is_null() | (collector == "") | own).fill_null(False)


# --- suppliers and consent evidence (code of conduct art. 6) ------------------------------

REVIEW_NOTICE_DAYS = 30  # an approval this close to next_review shows as due_for_review
APPROVED = ("approved", "due_for_review")


def diligence_status(day: dt.date) -> pl.Expr:
    """A supplier's due-diligence status on a day, from supplier_outcome, _reviewed_on and
    _next_review: approved (or due_for_review, still approved) only when the outcome is
    approved, the review was on or before the day and next_review is not past. The one
    definition `gatekeeper suppliers`, the reports and the rule all use."""
    outcome, on = pl.col("supplier_outcome"), pl.lit(day)
    reviewed, following = pl.col("supplier_reviewed_on"), pl.col("supplier_next_review")
    return (pl.when(outcome.is_null() | (reviewed > on) | following.is_null())
            .then(pl.lit("not_reviewed"))
            .when(outcome != "approved").then(outcome)
            .when(following < on).then(pl.lit("review_overdue"))
            .when(following <= on + pl.duration(days=REVIEW_NOTICE_DAYS))
            .then(pl.lit("due_for_review"))
            .otherwise(pl.lit("approved")))


def supplier_approved(ctx: Context) -> pl.Expr:
    return diligence_status(ctx.as_of_date).is_in(APPROVED).fill_null(False)


def audit_not_failed(ctx: Context) -> pl.Expr:
    """The version's latest consent audit as of as_of did not fail (none yet: it did not)."""
    return (pl.col("audit_verdict") != "failed").fill_null(True)


def consent_evidenced(ctx: Context) -> pl.Expr:
    """Every evidence field [policy] consent_evidence and the country's law ask for is
    there; an instant after as_of proves nothing yet."""
    return _evidenced((*ctx.policy.consent_evidence, *ctx.jurisdiction.consent_evidence),
                      ctx)


def consent_evidenced_by_law(ctx: Context) -> pl.Expr:
    """Every evidence field the country's law asks of any consent (the company's own
    archive too) is there."""
    return _evidenced(ctx.jurisdiction.consent_evidence, ctx)


def _evidenced(names: tuple[str, ...], ctx: Context) -> pl.Expr:
    names = tuple(dict.fromkeys(n for n in names if n != "date"))  # dated: CONSENT_MISSING
    present = [pl.col(EVIDENCE_FIELDS[name]).is_not_null() for name in names]
    if "at" in names:
        present.append(pl.col("consent_at") <= pl.lit(ctx.as_of))
    return pl.all_horizontal(present).fill_null(False) if present else pl.lit(True)


def sectors_chosen(ctx: Context) -> pl.Expr:
    """The supplier lets people choose the sectors they consent to (not "omnibus")."""
    return pl.col("supplier_sector_choice").fill_null(False)


def sector_consented(ctx: Context) -> pl.Expr:
    """Where the row names the consent's sectors, the campaign's is one of them; a campaign
    whose sector is not said cannot be shown to be (fail closed)."""
    named = pl.col("consent_sectors").list.len().fill_null(0) > 0
    if ctx.sector is None:
        return ~named
    return (~named | pl.col("consent_sectors").list.contains(pl.lit(ctx.sector))
            ).fill_null(False)


def contract_in_force(ctx: Context) -> pl.Expr:
    """A contract in force at as_of (no grace after it ends)."""
    ended = pl.col("contract_end")
    return ((pl.col("contract_status") == "active")
            & (ended.is_null() | (ended >= pl.lit(ctx.as_of_date)))).fill_null(False)


def a_customer(ctx: Context) -> pl.Expr:
    """The row is of a customer (a contract's status or end is known), whose legitimate
    interest Spain's law may allow."""
    return (pl.col("contract_status").is_not_null() | pl.col("contract_end").is_not_null()
            ).fill_null(False)


INTERACTION_DAYS = 365  # Spain: AEPD Circular 1/2023


def recent_interaction(ctx: Context) -> pl.Expr:
    """A customer with a contract in force or one that ended in the last 365 days (Spain's
    legitimate interest: an interaction in the last year)."""
    ended = pl.col("contract_end")
    recent = ended.is_not_null() & (days_since("contract_end", ctx) <= INTERACTION_DAYS)
    return (contract_in_force(ctx) | recent).fill_null(False)


BANNED_SECTORS = ("renovation_energetique",)  # France: L. 2020-901, Code conso L. 223-1


def sector_allowed(ctx: Context) -> pl.Expr:
    """The campaign's sector is not one the law bans from calls, or the person has a
    contract in force (France: energy renovation)."""
    if ctx.sector not in BANNED_SECTORS:
        return pl.lit(True)
    return contract_in_force(ctx)


def always(ctx: Context) -> pl.Expr:
    return pl.lit(True)


def date_text(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%d/%m/%Y")


# --- at dial time: facts gathered per number at its instant T (dialing.dial_facts) -------

def has_run(ctx: Context) -> pl.Expr:
    return pl.col("run_id").is_not_null()


def listed(ctx: Context) -> pl.Expr:
    return pl.col("listed").fill_null(False)


def run_dialable(ctx: Context) -> pl.Expr:
    return pl.col("basis").is_not_null()


def rpo_still_valid(ctx: Context) -> pl.Expr:
    """The run's RPO checks for the number are still valid at T (taken by the gatherer,
    as the calling hours are, so that one answer per combination of facts serves every
    instant)."""
    return pl.col("rpo_valid_at").fill_null(False)


def calling_hours_open(ctx: Context) -> pl.Expr:
    return pl.col("open").fill_null(False)  # hours not asked: no call (fail closed)


def under_attempt_limit(ctx: Context) -> pl.Expr:
    """Under the company's limit and every limit of the country's law (counted by the
    gatherer: limits_ok)."""
    return ((pl.col("attempts") < pl.col("max_attempts"))
            & pl.col("limits_ok")).fill_null(False)


def no_recent_abandoned(ctx: Context) -> pl.Expr:
    return ~pl.col("abandoned_recently").fill_null(True)


def caller_id_allowed(ctx: Context) -> pl.Expr:
    """No caller id given (nothing to refuse), or one the callee's law allows."""
    return (pl.col("caller_id").is_null() | pl.col("caller_id_allowed")).fill_null(False)


def rules_current(ctx: Context) -> pl.Expr:
    """The run decided by the version of the country's rules in force at T."""
    return pl.col("rules_current").fill_null(False)


def no_recent_refusal(ctx: Context) -> pl.Expr:
    return ~pl.col("refused_recently").fill_null(True)


def agency_authorised(ctx: Context) -> pl.Expr:
    """No agency named, or the one named is authorised (an unknown one is not)."""
    return (pl.col("agency").is_null() | pl.col("agency_authorised")).fill_null(False)


def caller_id_declared(ctx: Context) -> pl.Expr:
    return (pl.col("caller_id").is_null() | pl.col("caller_id_declared")).fill_null(False)
