"""The shared store's tables, and the steps that bring an older database up to date.

Each step runs once, in order, in one transaction with the others' writers locked out;
`gatekeeper_schema` holds how far a database is. An instance refuses a database newer
than it knows (an older gatekeeper would misread it), and `gatekeeper shared init`
brings an older one up to date.

The opt-out register keeps the journal's lines byte for byte (`body`: the line without
its newline), so the one parser and the one chain check read the file and the rows
alike, `audit verify` finds the same damage, and a line's end position is the file's
byte offset: checkpoints recorded by runs mean the same in both.
"""

from __future__ import annotations

from typing import Any

import psycopg

from gatekeeper.core.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: the opt-out register (its hash chain as rows) and the receipts of its appends.
    """
    CREATE TABLE optout_lines (
        line         bigint PRIMARY KEY,           -- 1-based, as in the file
        end_position bigint NOT NULL UNIQUE,       -- bytes up to and with its newline
        body         bytea  NOT NULL,              -- the line, without its newline
        link         text   NOT NULL,              -- what the next line chains to
        seq          bigint                        -- the entry's seq (null: no entry)
    );
    CREATE TABLE optout_receipts (
        id          bigserial PRIMARY KEY,
        position    bigint NOT NULL,
        hash        text   NOT NULL,
        seq         bigint NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
    );
    -- The contact ledger: the service's calls.jsonl as rows (positions only grow; a
    -- compaction folds them into a segment and deletes them), and the immutable Parquet
    -- segments as blobs each instance keeps a copy of (verified by sha256).
    CREATE TABLE ledger_wal (
        n              bigserial PRIMARY KEY,
        end_position   bigint NOT NULL UNIQUE,
        body           bytea  NOT NULL
    );
    CREATE TABLE ledger_segments (
        n      bigserial PRIMARY KEY,
        name   text   NOT NULL UNIQUE,
        sha256 text   NOT NULL,
        rows   bigint NOT NULL,
        source text   NOT NULL,
        data   bytea  NOT NULL
    );
    CREATE TABLE ledger_state (
        one       boolean PRIMARY KEY DEFAULT true CHECK (one),
        wal_start bigint NOT NULL DEFAULT 0,   -- where the calls not yet folded begin
        wal_end   bigint NOT NULL DEFAULT 0    -- where they end
    );
    INSERT INTO ledger_state DEFAULT VALUES;
    -- The service tokens (their sha256 only), as data/tokens.json holds them: one
    -- document, changed under a lock, so every instance accepts the same tokens.
    CREATE TABLE tokens (
        one  boolean PRIMARY KEY DEFAULT true CHECK (one),
        body text NOT NULL
    );
    -- Erasures (art. 17 GDPR): a number erased at any host is erased at every instance.
    CREATE TABLE erasures (
        phone      text PRIMARY KEY,
        erased_at  timestamptz NOT NULL,
        erased_ref text NOT NULL
    );
    """,
)
VERSION = len(MIGRATIONS)
_LOCK_KEY = 0x6761_7465  # "gate": one schema change at a time, whoever starts it


def version(conn: psycopg.Connection[Any]) -> int:
    """How far the database is (0: no gatekeeper tables)."""
    found = conn.execute("SELECT to_regclass('gatekeeper_schema') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM gatekeeper_schema").fetchone()
    return int(row[0] or 0) if row else 0


def migrate(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Apply the steps the database lacks: (version before, version after)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS gatekeeper_schema ("
                     "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                     "DEFAULT now())")
        before = version(conn)
        refuse_newer(before)
        for number, step in enumerate(MIGRATIONS[before:], before + 1):
            conn.execute(step)
            conn.execute("INSERT INTO gatekeeper_schema (version) VALUES (%s)", (number,))
    return before, VERSION


def refuse_newer(found: int) -> None:
    if found > VERSION:
        raise StoreError(f"the shared store is at schema version {found}, newer than this "
                         f"gatekeeper knows ({VERSION}); upgrade gatekeeper on this machine")


def require_current(conn: psycopg.Connection[Any]) -> None:
    """Before reading or writing: the tables must be there, as this version knows them."""
    found = version(conn)
    refuse_newer(found)
    if found < VERSION:
        raise StoreError("the shared store has no gatekeeper tables yet (or older ones); "
                         "create them with 'gatekeeper shared init'")
