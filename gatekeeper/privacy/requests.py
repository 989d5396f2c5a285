"""The request log: data-subject requests and their legal deadline.

GDPR art. 12(3) (and seed 004): answer within 30 days, extendable by 60 more when the
request is complex, telling the person why. `disclose --ref` and `erase --ref` close a
request; `gatekeeper requests` shows what is still open and what is overdue. A complaint
or request about a number from a bought list also asks its supplier for the proof of that
consent (code of conduct art. 6), as a one-row consent audit.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.core.errors import InputError, NotFound
from gatekeeper.core.timeutil import Zone, local_date, now_utc
from gatekeeper.store import Store
from gatekeeper.store import people as people_store
from gatekeeper.suppliers.consent_audits import open_proof_requests

ANSWER_DAYS = 30
EXTENSION_DAYS = 60
REQUEST_KINDS = ("access", "erasure", "complaint")


def record_request(store: Store, ref: str, kind: str, phone: str | None,
                   received_on: dt.date | None, zone: Zone, *, answered: bool = False
                   ) -> dt.date:
    """Log a request (or close one already logged); returns its deadline."""
    if kind not in REQUEST_KINDS:
        raise InputError(f"unknown request kind '{kind}'; accepted: {', '.join(REQUEST_KINDS)}")
    now = now_utc()
    answered_at = now if answered else None
    existing = people_store.request(store, ref)
    if existing:
        if existing[1] and phone and existing[1] != phone:
            raise InputError(f"request {ref} was logged for another number; use its own "
                             "reference")
        if answered:
            people_store.answer_request(store, ref, now)
        due_on: dt.date = existing[3]
        return due_on
    received = received_on or local_date(now, zone)
    if received > local_date(now, zone):
        raise InputError(f"received date {received} is in the future")
    due = received + dt.timedelta(days=ANSWER_DAYS)
    people_store.add_request(store, ref, kind, phone, received, due, answered_at, now)
    return due


def log_request(store: Store, ref: str, kind: str, phone: str | None,
                received_on: dt.date | None, zone: Zone, *, audit_days: int = 15
                ) -> tuple[dt.date, pl.DataFrame]:
    """Log a request as it arrives (`requests add`); returns its deadline and the proof
    requests it opened to the suppliers of the bought lists holding the number (due
    audit_days after the request was received)."""
    due = record_request(store, ref, kind, phone, received_on, zone)
    logged = people_store.request(store, ref)
    assert logged is not None
    if not phone:
        return due, pl.DataFrame()
    return due, open_proof_requests(store, phone, ref, logged[2], audit_days, zone)


def extend_request(store: Store, ref: str, reason: str) -> dt.date:
    """Extend an open request's deadline by 60 days; the reason is told to the person."""
    row = people_store.request(store, ref)
    if row is None:
        raise NotFound(f"no request with reference {ref}; see 'gatekeeper requests --all'")
    _, _, received_on, _, extension, answered_at = row
    if extension:
        raise InputError(f"request {ref} was already extended ({extension})")
    if answered_at:
        raise InputError(f"request {ref} is already answered")
    if not reason.strip():
        raise InputError("--reason is required: the person must be told why")
    due: dt.date = received_on + dt.timedelta(days=ANSWER_DAYS + EXTENSION_DAYS)
    people_store.extend_request(store, ref, due, reason)
    return due


def list_requests(store: Store, today: dt.date, *, include_answered: bool = False
                  ) -> pl.DataFrame:
    """Requests with their status: open, overdue (past due_on, unanswered) or answered."""
    frame = people_store.requests_as_of(store, today)
    return frame if include_answered else frame.filter(pl.col("status") != "answered")
