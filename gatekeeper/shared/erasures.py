"""Erasures in the shared store: a number erased at one host is erased at every instance.

`gatekeeper erase` runs where the workspace's store is; the service instances elsewhere
hold their own copy of the runs. The erasure is written here first (before the store's),
so a failure in between leaves the number erased everywhere rather than nowhere else.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.shared import CHANNEL_ERASURES, SharedStore

SCHEMA: dict[str, pl.DataType] = {"phone": pl.String(), "erased_ref": pl.String(),
                                   "erased_at": pl.Datetime("us")}


def record(store: SharedStore, phone: str, at: dt.datetime, ref: str) -> None:
    """The first erasure of a number stands (a later request for it changes nothing)."""
    with store.connection() as conn, conn.transaction():
        conn.execute("INSERT INTO erasures (phone, erased_at, erased_ref) VALUES (%s, %s, %s) "
                     "ON CONFLICT (phone) DO NOTHING",
                     (phone, at.replace(tzinfo=dt.UTC), ref))
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_ERASURES, ""))


def erased(store: SharedStore) -> pl.DataFrame:
    """Every erased number (phone, erased_ref, erased_at: naive UTC, as the store's)."""
    with store.connection() as conn:
        rows = conn.execute("SELECT phone, erased_ref, erased_at FROM erasures").fetchall()
    return pl.DataFrame([(p, r, a.astimezone(dt.UTC).replace(tzinfo=None)) for p, r, a in rows],
                        schema=SCHEMA, orient="row")
