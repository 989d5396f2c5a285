""""May I dial this number now?": the one answer, for every door.

`gatekeeper check`, the service's GET/POST /v1/check, and (later) the call ledger and the
replay of a contract's call all gather the facts as they stood at an instant and call
`may_dial`; none decides anything itself. The checks run in the table's order: the
number itself (steps 1-3), erasure and objection as known at the instant (4-5: they
are absolute, and an erasure takes the number out of every run by design), then the
decision of the latest run of the campaign (or purpose) whose as_of is at or before the
instant (none: NO_RUN; the number not in it: NO_SOURCE; suppressed: the run's reason),
as long as the RPO checks it relied on are still valid; then the contact rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..jurisdictions import DEFAULT, Jurisdiction
from ..timeutil import Zone, local_iso
from .table import (
    AGENCY_NOT_AUTHORISED,
    ATTEMPT_LIMIT,
    CALLER_ID_UNDECLARED,
    COOLDOWN,
    ERASED,
    INVALID_NUMBER,
    NO_RUN,
    NO_SOURCE,
    NUMBER_TYPE,
    OPTED_OUT,
    OUT_OF_JURISDICTION,
    OUTSIDE_CALLING_HOURS,
    RPO_NOT_CHECKED,
    reason_text,
)


@dataclass(frozen=True)
class RunOutcome:
    """What a run decided for one number: a basis (dialable) or a reason."""

    reason: str | None = None
    basis: str | None = None
    basis_text: str | None = None
    valid_until: dt.datetime | None = None  # naive UTC; None: no RPO check was needed


@dataclass(frozen=True)
class RunRef:
    """The run an answer rests on."""

    run_id: str
    campaign: str
    as_of: dt.datetime


@dataclass(frozen=True)
class ContactFacts:
    """What the contact rules (steps 9-13) need, as things stood at the instant."""

    open: bool  # inside the calling hours
    next_open: dt.datetime | None  # when the hours open next (naive UTC)
    attempts: int  # outbound, not failed, within the attempt window
    max_attempts: int
    refused_recently: bool  # a refusal within the cooldown
    agency_authorised: bool | None = None  # None: no agency given
    caller_id_declared: bool | None = None  # None: no caller id given


@dataclass(frozen=True)
class DialFacts:
    """Everything known about a number at one instant, however the door learnt it."""

    at: dt.datetime  # naive UTC
    phone: str | None  # E.164, None when the value is no valid number
    region: str | None = None
    number_type: str | None = None
    erased: bool = False
    opted_out: bool = False
    run: RunRef | None = None
    outcome: RunOutcome | None = None  # None: the run did not list the number at all
    jurisdiction: Jurisdiction = field(default=DEFAULT)
    # Required for a dialable answer: without them no call is allowed (fail closed).
    contact: ContactFacts | None = None


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

    @property
    def decision(self) -> str:
        return "dialable" if self.dialable else "suppressed"

    @property
    def reason_text(self) -> str | None:
        if self.reason is None:
            return None
        return reason_text(self.reason) or f"non chiamabile: motivo {self.reason}"

    def as_json(self, zone: Zone = None) -> dict[str, Any]:
        """Instants in the jurisdiction's local time with their offset (zone)."""
        return {"phone": self.phone, "dialable": self.dialable, "decision": self.decision,
                "reason": self.reason, "reason_text": self.reason_text, "basis": self.basis,
                "basis_text": self.basis_text, "valid_until": local_iso(self.valid_until, zone),
                "next_allowed_at": local_iso(self.next_allowed_at, zone),
                "run_id": self.run.run_id if self.run else None,
                "campaign": self.run.campaign if self.run else None, "at": local_iso(self.at, zone)}


def may_dial(facts: DialFacts) -> DialAnswer:
    """The one dial-time decision; the first check that fails gives the reason."""
    outcome = facts.outcome

    def no(reason: str) -> DialAnswer:
        return DialAnswer(facts.phone, facts.at, False, reason, run=facts.run)

    if facts.phone is None:
        return no(INVALID_NUMBER)
    if facts.region != facts.jurisdiction.region:
        return no(OUT_OF_JURISDICTION)
    if facts.number_type not in facts.jurisdiction.dialable_types:
        return no(NUMBER_TYPE)
    if facts.erased:
        return no(ERASED)
    if facts.opted_out:
        return no(OPTED_OUT)
    if facts.run is None:
        return no(NO_RUN)
    if outcome is None:
        return no(NO_SOURCE)
    if outcome.basis is None:
        return no(outcome.reason or NO_SOURCE)
    if outcome.valid_until is not None and outcome.valid_until <= facts.at:
        return no(RPO_NOT_CHECKED)  # the run's RPO checks have expired
    contact = facts.contact
    if contact is None:
        return no(OUTSIDE_CALLING_HOURS)  # the contact rules were not asked: fail closed
    if not contact.open:
        return DialAnswer(facts.phone, facts.at, False, OUTSIDE_CALLING_HOURS,
                          run=facts.run, next_allowed_at=contact.next_open)
    for code, fails in ((ATTEMPT_LIMIT, contact.attempts >= contact.max_attempts),
                        (COOLDOWN, contact.refused_recently),
                        (AGENCY_NOT_AUTHORISED, contact.agency_authorised is False),
                        (CALLER_ID_UNDECLARED, contact.caller_id_declared is False)):
        if fails:
            return no(code)
    return DialAnswer(facts.phone, facts.at, True, None, outcome.basis, outcome.basis_text,
                      outcome.valid_until, facts.run)
