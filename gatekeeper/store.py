"""The store: one DuckDB file holding sources, rows, RPO evidence and run records.

`Store` accepts a path or an open DuckDB connection (":memory:" in unit tests), so the
same code runs against a real file everywhere. Every change of a source is one
transaction: a load that fails half-way leaves the store as it was. The schema carries
a version and migrations run forward on open.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from .errors import StoreBusy, StoreError

SCHEMA_VERSION = 3

# Each entry migrates from version N-1 to N; never edit a released one, append.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        """CREATE TABLE source_versions (
            source_id VARCHAR NOT NULL, version INTEGER NOT NULL, kind VARCHAR NOT NULL,
            file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, manifest_sha256 VARCHAR NOT NULL,
            manifest_json VARCHAR NOT NULL, received_on DATE, purposes VARCHAR[],
            supplier_name VARCHAR, supplier_vat VARCHAR, supplier_contact VARCHAR,
            supplier_contract_ref VARCHAR, encoding VARCHAR, delimiter VARCHAR,
            rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
            loaded_at TIMESTAMP NOT NULL, PRIMARY KEY (source_id, version))""",
        """CREATE TABLE source_rows (
            source_id VARCHAR NOT NULL, source_version INTEGER NOT NULL, "row" BIGINT NOT NULL,
            raw VARCHAR, phone VARCHAR, valid BOOLEAN, region VARCHAR, number_type VARCHAR,
            name VARCHAR, customer_id VARCHAR, contract_status VARCHAR, contract_end DATE,
            consent_marketing BOOLEAN, consent_third_party BOOLEAN, consent_date DATE,
            consent_channel VARCHAR, consent_proof VARCHAR, consent_collector VARCHAR)""",
        """CREATE TABLE source_rejects (
            source_id VARCHAR NOT NULL, source_version INTEGER NOT NULL, "row" BIGINT,
            reason VARCHAR NOT NULL)""",
        """CREATE TABLE rpo_exchanges (
            exchange_id VARCHAR PRIMARY KEY, adapter VARCHAR NOT NULL, request_file VARCHAR,
            request_sha256 VARCHAR, response_file VARCHAR, response_sha256 VARCHAR,
            checked_at TIMESTAMP NOT NULL, imported_at TIMESTAMP NOT NULL,
            numbers BIGINT, registered BIGINT)""",
        """CREATE TABLE rpo_checks (
            phone VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL, registered BOOLEAN NOT NULL,
            registered_at TIMESTAMP, exchange_id VARCHAR NOT NULL)""",
        """CREATE TABLE runs (
            run_id VARCHAR NOT NULL, campaign VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
            as_of TIMESTAMP NOT NULL, executed_at TIMESTAMP NOT NULL, policy_json VARCHAR,
            inputs_json VARCHAR, journal_position BIGINT, journal_hash VARCHAR,
            outputs_json VARCHAR, counts_json VARCHAR)""",
        """CREATE TABLE run_dialable (
            run_id VARCHAR NOT NULL, phone VARCHAR NOT NULL, source_id VARCHAR,
            source_version INTEGER, basis VARCHAR)""",
        """CREATE TABLE erasures (
            phone VARCHAR NOT NULL, erased_at TIMESTAMP NOT NULL, request_ref VARCHAR NOT NULL,
            recorded_by VARCHAR)""",
    ],
    2: [
        # An erased row keeps its non-personal facts (source, row, validity, type) so runs
        # still count it, and says under which request its personal data was removed.
        "ALTER TABLE source_rows ADD COLUMN erased_ref VARCHAR",
        # Data-subject requests and their legal deadline (GDPR art. 12(3): 30 days, +60).
        """CREATE TABLE requests (
            request_ref VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, phone VARCHAR,
            received_on DATE NOT NULL, due_on DATE NOT NULL, extension_reason VARCHAR,
            answered_at TIMESTAMP, recorded_at TIMESTAMP NOT NULL)""",
        # Web-service RPO jobs: persisted before polling so a crash resumes the same job.
        """CREATE TABLE rpo_jobs (
            batch_key VARCHAR PRIMARY KEY, base_url VARCHAR NOT NULL, job_id VARCHAR,
            state VARCHAR NOT NULL, numbers BIGINT NOT NULL, created_at TIMESTAMP NOT NULL,
            submitted_at TIMESTAMP, exchange_id VARCHAR)""",
        """CREATE TABLE rpo_job_numbers (batch_key VARCHAR NOT NULL, phone VARCHAR NOT NULL)""",
    ],
    3: [
        # Positions and hashes of the opt-out journal this store has relied on, besides
        # those of runs: a journal cut or rewritten behind them is refused.
        """CREATE TABLE journal_checkpoints (
            position BIGINT NOT NULL, hash VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL,
            recorded_by VARCHAR NOT NULL)""",
    ],
}

LOCK_WAIT_SECONDS = 30.0
# DuckDB would otherwise take up to 80% of RAM for itself; past this it spills to disk.
# Runs stream rows out in batches, so the store never needs to hold a list at once.
MEMORY_LIMIT = "1GB"


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


class Store:
    """The DuckDB store of one workspace (or an in-memory one for tests)."""

    def __init__(self, target: str | Path | duckdb.DuckDBPyConnection, *,
                 read_only: bool = False, wait: float = LOCK_WAIT_SECONDS) -> None:
        # Test switch: raise at a named point (also from GATEKEEPER_FAULT, for tests that
        # drive the CLI or a subprocess).
        self.fault: str | None = os.environ.get("GATEKEEPER_FAULT")
        if isinstance(target, duckdb.DuckDBPyConnection):
            self.con = target
            self.path: Path | None = None
        else:
            self.path = Path(target)
            if read_only and not self.path.exists():
                # Nothing loaded yet: an empty schema answers every question with "none".
                self.con = duckdb.connect(":memory:")
                read_only = False
            else:
                self.con = self._connect(self.path, read_only, wait)
        if not read_only:
            self.migrate()
        elif self.schema_version() != SCHEMA_VERSION:
            raise StoreError("the store's schema is older than this gatekeeper; run "
                             "'gatekeeper load' once to upgrade it", file=self.path)

    @staticmethod
    def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + wait
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only,
                                     config={"memory_limit": MEMORY_LIMIT})
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise StoreError(f"cannot open the store ({exc})", file=path) from None
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        "another gatekeeper process is writing the store; wait for it to "
                        "finish and try again", file=path) from None
                time.sleep(0.2)
        for file in (path, Path(f"{path}.wal")):
            if file.exists():
                os.chmod(file, 0o600)  # personal data: owner only
        return con

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        if not self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"):
            return 0
        value = self.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(value) if value else 0

    def migrate(self) -> None:
        """Bring the schema forward to SCHEMA_VERSION, one transaction per step."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema {current}, this gatekeeper knows {SCHEMA_VERSION}; "
                "upgrade gatekeeper", file=self.path)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in MIGRATIONS[version]:
                    self.con.execute(statement)
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])

    # --- helpers ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: any exception rolls back everything done inside."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def check_fault(self, point: str) -> None:
        if self.fault == point:
            raise StoreError(f"injected fault at {point}")

    def frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a query and hand back a polars frame."""
        result = pl.from_arrow(self.con.sql(sql, params=params or None).to_arrow_table())
        assert isinstance(result, pl.DataFrame)
        return result

    def batches(self, sql: str, params: list[Any] | None = None,
                size: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """A query's result as frames of at most `size` rows, without holding it all
        (at least one frame, empty when nothing matched, so callers see the columns)."""
        reader = self.con.sql(sql, params=params or None).to_arrow_reader(size)
        pending: list[pa.RecordBatch] = []  # DuckDB hands out ~100k rows at a time
        count, empty = 0, True
        for batch in itertools.chain(reader, [None]):
            if batch is not None:
                pending.append(batch)
                count += batch.num_rows
            if pending and (count >= size or batch is None):
                frame = pl.from_arrow(pa.Table.from_batches(pending))
                assert isinstance(frame, pl.DataFrame)
                pending, count, empty = [], 0, False
                yield frame
        if empty:
            frame = pl.from_arrow(reader.schema.empty_table())
            assert isinstance(frame, pl.DataFrame)
            yield frame

    @contextmanager
    def registered(self, name: str, frame: pl.DataFrame) -> Iterator[None]:
        """A frame visible to SQL as `name` for the duration (no copy)."""
        # Arrow string views as polars holds them: the default (large strings) would copy
        # every string first, 0.15-0.3 s per 3.3 million rows.
        self.con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))
        try:
            yield
        finally:
            self.con.unregister(name)

    def insert_frame(self, table: str, frame: pl.DataFrame) -> None:
        """Append a frame whose columns are named as the table's (any order)."""
        name = f"incoming_{table}"
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        with self.registered(name, frame):
            self.con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}")

    # --- the opt-out journal's checkpoints -----------------------------------------------

    def journal_checkpoints(self) -> list[tuple[int, str, str]]:
        """(position, hash, who recorded it) of every journal head this store relied on."""
        rows = self.con.execute(
            "SELECT journal_position, journal_hash, 'run ' || run_id FROM runs "
            "WHERE journal_position IS NOT NULL UNION ALL "
            "SELECT position, hash, recorded_by || ' at ' || strftime(recorded_at, "
            "'%Y-%m-%dT%H:%M:%SZ') FROM journal_checkpoints").fetchall()
        return [(int(p), str(h), str(b)) for p, h, b in rows]

    def note_journal_head(self, position: int, chain_hash: str, by: str, at: Any) -> None:
        """The store's high-water mark of the journal: a later cut behind it is caught."""
        newest = self.one("SELECT position, hash FROM journal_checkpoints "
                          "ORDER BY position DESC LIMIT 1")
        if newest != (position, chain_hash):
            self.con.execute("INSERT INTO journal_checkpoints VALUES (?, ?, ?, ?)",
                             [position, chain_hash, at, by])

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """The first row, or None; always drains the result (DuckDB 2 requires it)."""
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]


def open_store(path: Path, *, read_only: bool = False) -> Store:
    """The workspace store; read-only opens never block on each other."""
    return Store(path, read_only=read_only)
