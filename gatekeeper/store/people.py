"""What the store holds about one person: erasures, data-subject requests, and the rows,
checks and campaigns that "where did you get my number?" must name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from gatekeeper.store import Store
from gatekeeper.store.sources import rows_of_phone, versions_of

# --- erasures (GDPR art. 17): the number stays only as a suppression entry ----------------

def erased_numbers(store: Store) -> pl.DataFrame:
    """Numbers erased on request, with the request that erased them (phone, erased_ref)
    and when it first was (erased_at: a replay of an earlier call must not see it)."""
    return store.frame("SELECT phone, arg_min(request_ref, erased_at) AS erased_ref, "
                       "min(erased_at) AS erased_at FROM erasures GROUP BY phone")


def erasure_count(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM erasures"))


def erasure_of(store: Store, phone: str) -> pl.DataFrame:
    return store.frame("SELECT erased_at, request_ref, recorded_by, copies_json FROM erasures "
                       "WHERE phone = ? ORDER BY erased_at", [phone])


def set_erasure_copies(store: Store, phone: str, ref: str, copies_json: str) -> None:
    """Where the person's data was, and what the erasure did to each copy."""
    store.con.execute("UPDATE erasures SET copies_json = ? WHERE phone = ? AND "
                      "request_ref = ?", [copies_json, phone, ref])


def erasure_under(store: Store, phone: str, ref: str) -> dt.datetime | None:
    """When this number was erased under this request, if it was."""
    at: dt.datetime | None = store.scalar(
        "SELECT erased_at FROM erasures WHERE phone = ? AND request_ref = ?", [phone, ref])
    return at


def record_erasure(store: Store, phone: str, at: dt.datetime, ref: str, by: str) -> None:
    store.con.execute("INSERT INTO erasures (phone, erased_at, request_ref, recorded_by) "
                      "VALUES (?,?,?,?)", [phone, at, ref, by])


# --- disclosure ------------------------------------------------------------------------

def source_rows_of(store: Store, phone: str) -> pl.DataFrame:
    """Every stored row of the number in every version ever loaded, beside its version's
    facts (kind, file, supplier), by source, version and row."""
    rows = rows_of_phone(store, phone, newest_only=False)
    return versions_of(store, rows).sort("source_id", "source_version", "row")


# --- data-subject requests (GDPR art. 12(3)) ----------------------------------------------

def request(store: Store, ref: str) -> tuple[Any, ...] | None:
    """(kind, phone, received_on, due_on, extension_reason, answered_at) or None."""
    return store.one("SELECT kind, phone, received_on, due_on, extension_reason, answered_at "
                     "FROM requests WHERE request_ref = ?", [ref])


def add_request(store: Store, ref: str, kind: str, phone: str | None, received: dt.date,
                due: dt.date, answered_at: dt.datetime | None, at: dt.datetime) -> None:
    store.con.execute("INSERT INTO requests VALUES (?,?,?,?,?,?,?,?)",
                      [ref, kind, phone, received, due, None, answered_at, at])


def answer_request(store: Store, ref: str, at: dt.datetime) -> None:
    store.con.execute("UPDATE requests SET answered_at = coalesce(answered_at, ?) "
                      "WHERE request_ref = ?", [at, ref])


def extend_request(store: Store, ref: str, due: dt.date, reason: str) -> None:
    store.con.execute("UPDATE requests SET due_on = ?, extension_reason = ? "
                      "WHERE request_ref = ?", [due, reason, ref])


def requests_as_of(store: Store, today: dt.date) -> pl.DataFrame:
    """Every request with its status: open, overdue (past due_on, unanswered), answered."""
    return store.frame(
        """SELECT request_ref, kind, phone, received_on, due_on, extension_reason,
                  answered_at,
                  CASE WHEN answered_at IS NOT NULL THEN 'answered'
                       WHEN due_on < ? THEN 'overdue' ELSE 'open' END AS status,
                  due_on - ? AS days_left
           FROM requests ORDER BY due_on, request_ref""", [today, today])
