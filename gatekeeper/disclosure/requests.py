"""The request log: data-subject requests and their legal deadline.

GDPR art. 12(3) (and seed 004): answer within 30 days, extendable by 60 more when the
request is complex, telling the person why. `disclose --ref` and `erase --ref` close a
request; `gatekeeper requests` shows what is still open and what is overdue.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ..errors import InputError, NotFound
from ..store import Store
from ..timeutil import now_utc, rome_date

ANSWER_DAYS = 30
EXTENSION_DAYS = 60
REQUEST_KINDS = ("access", "erasure")


def record_request(store: Store, ref: str, kind: str, phone: str | None,
                   received_on: dt.date | None = None, *, answered: bool = False) -> dt.date:
    """Log a request (or close one already logged); returns its deadline."""
    if kind not in REQUEST_KINDS:
        raise InputError(f"unknown request kind '{kind}'; accepted: {', '.join(REQUEST_KINDS)}")
    now = now_utc()
    answered_at = now if answered else None
    existing = store.one("SELECT kind, phone, due_on FROM requests WHERE request_ref = ?",
                         [ref])
    if existing:
        if existing[1] and phone and existing[1] != phone:
            raise InputError(f"request {ref} was logged for another number; use its own "
                             "reference")
        if answered:
            store.con.execute("UPDATE requests SET answered_at = coalesce(answered_at, ?) "
                              "WHERE request_ref = ?", [answered_at, ref])
        return existing[2]
    received = received_on or rome_date(now)
    if received > rome_date(now):
        raise InputError(f"received date {received} is in the future")
    due = received + dt.timedelta(days=ANSWER_DAYS)
    store.con.execute("INSERT INTO requests VALUES (?,?,?,?,?,?,?,?)",
                      [ref, kind, phone, received, due, None, answered_at, now])
    return due


def extend_request(store: Store, ref: str, reason: str) -> dt.date:
    """Extend an open request's deadline by 60 days; the reason is told to the person."""
    row = store.one("SELECT received_on, extension_reason, answered_at FROM requests "
                    "WHERE request_ref = ?", [ref])
    if row is None:
        raise NotFound(f"no request with reference {ref}; see 'gatekeeper requests --all'")
    if row[1]:
        raise InputError(f"request {ref} was already extended ({row[1]})")
    if row[2]:
        raise InputError(f"request {ref} is already answered")
    if not reason.strip():
        raise InputError("--reason is required: the person must be told why")
    due = row[0] + dt.timedelta(days=ANSWER_DAYS + EXTENSION_DAYS)
    store.con.execute("UPDATE requests SET due_on = ?, extension_reason = ? "
                      "WHERE request_ref = ?", [due, reason, ref])
    return due


def list_requests(store: Store, today: dt.date, *, include_answered: bool = False
                  ) -> pl.DataFrame:
    """Requests with their status: open, overdue (past due_on, unanswered) or answered."""
    frame = store.frame(
        """SELECT request_ref, kind, phone, received_on, due_on, extension_reason,
                  answered_at,
                  CASE WHEN answered_at IS NOT NULL THEN 'answered'
                       WHEN due_on < ? THEN 'overdue' ELSE 'open' END AS status,
                  due_on - ? AS days_left
           FROM requests ORDER BY due_on, request_ref""", [today, today])
    return frame if include_answered else frame.filter(pl.col("status") != "answered")
