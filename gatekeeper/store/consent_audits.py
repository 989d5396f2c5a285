"""Consent audits: what was asked of a supplier (a sample of a source version's rows, or
the one row a complaint is about), by when, and every reply, never changed once recorded.
Rows are named by number only: the phone number stays in the list's rows."""

from __future__ import annotations

from typing import Any

import polars as pl

from gatekeeper.store import Store

AUDIT_COLUMNS = ("audit_id", "kind", "source_id", "source_version", "supplier_id",
                 "created_at", "due_on", "size", "population", "seed", "confidence",
                 "max_rate", "request_ref", "recorded_at")
ANSWER_COLUMNS = ("audit_id", "row", "result", "document", "document_sha256", "answered_at",
                  "reply_sha256", "recorded_at")
_ANSWER_SELECT = ", ".join(f'"{c}"' for c in ANSWER_COLUMNS)  # "row" is a keyword


def next_audit_id(store: Store) -> str:
    """A1, A2, …: short enough to type in `audit answer`."""
    last = store.scalar("SELECT max(TRY_CAST(substr(audit_id, 2) AS BIGINT)) FROM audits "
                        "WHERE audit_id LIKE 'A%'")
    return f"A{int(last or 0) + 1}"


def add_audit(store: Store, record: dict[str, Any], rows: pl.Series) -> None:
    """An audit and the rows it asks for, in one transaction."""
    with store.transaction():
        store.con.execute(
            f"INSERT INTO audits ({', '.join(AUDIT_COLUMNS)}) VALUES "
            f"({', '.join('?' for _ in AUDIT_COLUMNS)})", [record.get(c) for c in AUDIT_COLUMNS])
        store.insert_frame("audit_rows", pl.DataFrame({
            "audit_id": pl.Series([record["audit_id"]] * rows.len(), dtype=pl.String),
            "row": rows.cast(pl.Int64)}))


def audit(store: Store, audit_id: str) -> dict[str, Any] | None:
    """One audit's record, or None."""
    frame = store.frame(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audits WHERE audit_id = ?",
                        [audit_id])
    return frame.to_dicts()[0] if frame.height else None


def audit_rows(store: Store, audit_id: str) -> pl.Series:
    """The row numbers an audit asks for, in order."""
    return store.frame('SELECT "row" FROM audit_rows WHERE audit_id = ? ORDER BY "row"',
                       [audit_id])["row"]


def answers_of(store: Store, audit_id: str) -> pl.DataFrame:
    return store.frame(f"SELECT {_ANSWER_SELECT} FROM audit_answers WHERE audit_id = ? "
                       'ORDER BY "row"', [audit_id])


def add_answers(store: Store, answers: pl.DataFrame) -> None:
    """Replies, all in one transaction (a reply file is recorded whole or not at all)."""
    with store.transaction():
        store.insert_frame("audit_answers", answers.select(ANSWER_COLUMNS))


def audits_until(store: Store, at: Any) -> pl.DataFrame:
    """Every audit created at or before `at`, with the number of rows it asks for (n)."""
    return store.frame(
        f"SELECT {', '.join(f'a.{c}' for c in AUDIT_COLUMNS)}, "
        "(SELECT count(*) FROM audit_rows r WHERE r.audit_id = a.audit_id) AS n "
        "FROM audits a WHERE a.created_at <= ? ORDER BY a.created_at, "
        "TRY_CAST(substr(a.audit_id, 2) AS BIGINT)", [at])


def answers_until(store: Store, at: Any) -> pl.DataFrame:
    """Every reply recorded as received at or before `at` (audit_id, row, result,
    answered_at)."""
    return store.frame('SELECT audit_id, "row", result, answered_at FROM audit_answers '
                       "WHERE answered_at <= ?", [at])


def requests_of(store: Store, request_ref: str) -> pl.DataFrame:
    """The proof requests a data-subject request or complaint opened."""
    return store.frame("SELECT audit_id, source_id, source_version, due_on FROM audits "
                       "WHERE request_ref = ? ORDER BY audit_id", [request_ref])
