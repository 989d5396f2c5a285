"""The law in one package.

    table.py     every reason and basis code, its requirement, its law and its words;
                 the rules in the order a row is decided (policy IT)
    facts.py     what the rules test, as expressions over every row at once
    registration.py  registered, and since when at the latest: the named fact read from
                 the store's summary of the register's answers
    decide.py    the table applied to rows: reason, basis, basis in words
    select.py    one number, several rows: the strongest basis, or the first reason
    dialtime.py  "may I dial this number now?": the one answer every door gives

Rows that are not dialable are rows with a reason code, never exceptions.
"""

from __future__ import annotations

from .decide import (
    basis_text,
    decide,
    first_failure,
    generic_basis_text,
    with_basis_text,
)
from .dialtime import ContactFacts, DialAnswer, DialFacts, RunOutcome, RunRef, may_dial
from .facts import Context
from .select import (
    basis_order,
    dialable_rows,
    first_reasons,
    pick_strongest,
    row_order,
    strongest_mask,
    strongest_per_number,
)
from .table import (
    AGENCY_NOT_AUTHORISED,
    ATTEMPT_LIMIT,
    BASES,
    BASIS_RANK,
    CALLER_ID_UNDECLARED,
    CODES,
    CONSENT_AUDIT_FAILED,
    CONSENT_BEFORE_RPO,
    CONSENT_EXPIRED,
    CONSENT_MISSING,
    CONSENT_OMNIBUS,
    CONSENT_RESOLD,
    CONSENT_SECTOR,
    CONSENT_UNPROVEN,
    CONTACT_RULES,
    CONTRACT_CONSENT,
    COOLDOWN,
    ERASED,
    INVALID_NUMBER,
    LEGITIMATE_INTEREST,
    NO_RELATIONSHIP,
    NO_RUN,
    NO_SOURCE,
    NUMBER_TYPE,
    OPTED_OUT,
    OUT_OF_JURISDICTION,
    OUTSIDE_CALLING_HOURS,
    OWN_CONSENT,
    PUBLIC_DIRECTORY,
    PURPOSE_NOT_ALLOWED,
    REASON_TEXT,
    RPO_NOT_CHECKED,
    RPO_REGISTERED,
    STEPS,
    SUPPLIER_NOT_APPROVED,
    THIRD_PARTY_CONSENT,
    Basis,
    Code,
    Rule,
    reason_text,
)

__all__ = [
    "AGENCY_NOT_AUTHORISED",
    "ATTEMPT_LIMIT",
    "BASES",
    "BASIS_RANK",
    "CALLER_ID_UNDECLARED",
    "CODES",
    "CONSENT_AUDIT_FAILED",
    "CONSENT_BEFORE_RPO",
    "CONSENT_EXPIRED",
    "CONSENT_MISSING",
    "CONSENT_OMNIBUS",
    "CONSENT_RESOLD",
    "CONSENT_SECTOR",
    "CONSENT_UNPROVEN",
    "CONTACT_RULES",
    "CONTRACT_CONSENT",
    "COOLDOWN",
    "ERASED",
    "INVALID_NUMBER",
    "LEGITIMATE_INTEREST",
    "NO_RELATIONSHIP",
    "NO_RUN",
    "NO_SOURCE",
    "NUMBER_TYPE",
    "OPTED_OUT",
    "OUTSIDE_CALLING_HOURS",
    "OUT_OF_JURISDICTION",
    "OWN_CONSENT",
    "PUBLIC_DIRECTORY",
    "PURPOSE_NOT_ALLOWED",
    "REASON_TEXT",
    "RPO_NOT_CHECKED",
    "RPO_REGISTERED",
    "STEPS",
    "SUPPLIER_NOT_APPROVED",
    "THIRD_PARTY_CONSENT",
    "Basis",
    "Code",
    "ContactFacts",
    "Context",
    "DialAnswer",
    "DialFacts",
    "Rule",
    "RunOutcome",
    "RunRef",
    "basis_order",
    "basis_text",
    "decide",
    "dialable_rows",
    "first_failure",
    "first_reasons",
    "generic_basis_text",
    "may_dial",
    "pick_strongest",
    "reason_text",
    "row_order",
    "strongest_mask",
    "strongest_per_number",
    "with_basis_text",
]
