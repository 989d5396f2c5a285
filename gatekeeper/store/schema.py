"""The store's schema, as the migrations that build it: never edit a released step,
append one. A step is SQL, or a function of the store for what SQL alone cannot do
(moving rows into Parquet files)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gatekeeper.store import Store

Step = str | Callable[["Store"], None]
SCHEMA_VERSION = 7
CATALOG_FILE = "gatekeeper.duckdb"  # the catalog, in the store folder (data/store/)
LEGACY_FILE = CATALOG_FILE  # data/gatekeeper.duckdb: the store before it was a folder


def _rows_to_parquet(store: Store) -> None:
    """Schema 4: each source version's rows leave DuckDB for an immutable zstd Parquet
    file (reading them back for a run costs ~6x less), sorted by number as before."""
    from gatekeeper.store.sources import ROWS_DIR, write_rows

    versions = store.con.execute(
        "SELECT source_id, version FROM source_versions ORDER BY 1, 2").fetchall()
    for source_id, version in versions:
        rows = store.frame(
            'SELECT *, TRY_CAST(substr(phone, 2) AS BIGINT) AS phone_key FROM source_rows '
            'WHERE source_id = ? AND source_version = ? ORDER BY phone_key NULLS LAST, "row"',
            [source_id, version])
        relative, digest, types = write_rows(store, f"{ROWS_DIR}/{source_id}", version, rows)
        store.con.execute(
            "UPDATE source_versions SET rows_file = ?, rows_sha256 = ?, number_types = ? "
            "WHERE source_id = ? AND version = ?", [relative, digest, json.dumps(types),
                                                    source_id, version])
    store.con.execute("DROP TABLE source_rows")


def _run_lists_to_parquet(store: Store) -> None:
    """Schema 4: the numbers each run listed leave DuckDB for one Parquet file per run."""
    from gatekeeper.store.runs import write_listed

    for (run_id,) in store.con.execute("SELECT DISTINCT run_id FROM runs").fetchall():
        listed = store.frame("SELECT phone, source_id, source_version, basis FROM "
                             "run_dialable WHERE run_id = ?", [run_id])
        relative, digest = write_listed(store, run_id, listed)
        store.con.execute("UPDATE runs SET dialable_file = ?, dialable_sha256 = ? "
                          "WHERE run_id = ?", [relative, digest, run_id])
    store.con.execute("DROP TABLE run_dialable")


def _checks_to_parquet(store: Store) -> None:
    """Schema 7: each exchange's checks leave DuckDB for one Parquet file sorted by number
    (inserting 9.5M check rows cost ~5 CPU-s an import, grouping them all ~8 on every run),
    and the register status per number is kept beside them."""
    from gatekeeper.store.rpo import CHECK_COLUMNS, rebuild_status, write_checks

    for (exchange_id,) in store.con.execute(
            "SELECT exchange_id FROM rpo_exchanges ORDER BY checked_at, exchange_id"
    ).fetchall():
        checks = store.frame(
            f"SELECT {', '.join(CHECK_COLUMNS)} FROM (SELECT CAST(substr(phone, 2) AS BIGINT) "
            "AS phone_key, registered, registered_at FROM rpo_checks WHERE exchange_id = ?) "
            "ORDER BY phone_key", [exchange_id])
        write_checks(store, exchange_id, checks)
    store.con.execute("DROP TABLE rpo_checks")
    rebuild_status(store)


MIGRATIONS: dict[int, list[Step]] = {
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

    4: [
        # List rows and run lists become immutable Parquet files beside the catalog; the
        # catalog keeps each file's path and sha256 (evidence: audit verify re-hashes them).
        "ALTER TABLE source_versions ADD COLUMN rows_file VARCHAR",
        "ALTER TABLE source_versions ADD COLUMN rows_sha256 VARCHAR",
        "ALTER TABLE source_versions ADD COLUMN number_types VARCHAR",
        # Rows a reader skipped as not list rows (empty lines, a "Totale" row), counted.
        "ALTER TABLE source_versions ADD COLUMN rows_skipped BIGINT DEFAULT 0",
        # What the list file should hash to now: an erasure edits the received file too.
        "ALTER TABLE source_versions ADD COLUMN current_file_sha256 VARCHAR",
        "UPDATE source_versions SET current_file_sha256 = file_sha256",
        "ALTER TABLE runs ADD COLUMN dialable_file VARCHAR",
        "ALTER TABLE runs ADD COLUMN dialable_sha256 VARCHAR",
        _rows_to_parquet,
        _run_lists_to_parquet,
        # Files kept byte for byte as evidence (RPO exchanges), by content.
        """CREATE TABLE evidence_files (
            sha256 VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, size BIGINT NOT NULL,
            kind VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL)""",
        # Every legitimate change of stored evidence (an erasure rewriting a file), so an
        # audit tells it from tampering.
        """CREATE TABLE evidence_changes (
            changed_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, object VARCHAR NOT NULL,
            old_sha256 VARCHAR, new_sha256 VARCHAR, request_ref VARCHAR)""",
        # Where an erased person's data was, and what became of each copy (JSON).
        "ALTER TABLE erasures ADD COLUMN copies_json VARCHAR",
        # Digests of the whole evidence state handed to the DPO (audit anchor).
        """CREATE TABLE anchors (
            digest VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL,
            components_json VARCHAR NOT NULL)""",
    ],

    5: [
        # List suppliers and their due diligence (code of conduct art. 6), one version per
        # change of the supplier file or of its privacy notice (kept in evidence/).
        """CREATE TABLE suppliers (
            supplier_id VARCHAR NOT NULL, version INTEGER NOT NULL, name VARCHAR NOT NULL,
            vat VARCHAR NOT NULL, contact VARCHAR, contract_ref VARCHAR,
            eu_establishment BOOLEAN, representative VARCHAR, reviewed_on DATE,
            reviewed_by VARCHAR, privacy_notice VARCHAR, privacy_notice_sha256 VARCHAR,
            collection VARCHAR[], sector_choice BOOLEAN, outcome VARCHAR, next_review DATE,
            file VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL,
            recorded_at TIMESTAMP NOT NULL, PRIMARY KEY (supplier_id, version))""",
        # The supplier file a source names (null: an inline [supplier] table, or older).
        "ALTER TABLE source_versions ADD COLUMN supplier_id VARCHAR",
        # Consent audits: a sample of a source version's rows (or the one row a complaint
        # is about) whose proof of consent the supplier must send by due_on.
        """CREATE TABLE audits (
            audit_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, source_id VARCHAR NOT NULL,
            source_version INTEGER NOT NULL, supplier_id VARCHAR, created_at TIMESTAMP NOT NULL,
            due_on DATE NOT NULL, size BIGINT NOT NULL, population BIGINT, seed BIGINT,
            confidence DOUBLE, max_rate DOUBLE, request_ref VARCHAR,
            recorded_at TIMESTAMP NOT NULL)""",
        # The rows asked for, by row number only: the number itself stays in the list's
        # rows (an erasure blanks it there, once).
        """CREATE TABLE audit_rows (
            audit_id VARCHAR NOT NULL, "row" BIGINT NOT NULL, PRIMARY KEY (audit_id, "row"))""",
        # The supplier's replies, never changed once recorded (evidence).
        """CREATE TABLE audit_answers (
            audit_id VARCHAR NOT NULL, "row" BIGINT NOT NULL, result VARCHAR NOT NULL,
            document VARCHAR, document_sha256 VARCHAR, answered_at TIMESTAMP NOT NULL,
            reply_sha256 VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (audit_id, "row"))""",
    ],

    6: [
        # Which register an exchange asked (countries beside Italy: Bloctel, the Lista
        # Robinson, TPS/CTPS): its checks are its country's numbers, read in its national
        # format, and disclosure names it. Every older exchange was the RPO's.
        "ALTER TABLE rpo_exchanges ADD COLUMN register VARCHAR DEFAULT 'rpo'",
        # What its answer file listed: the numbers "kept" (not registered: the RPO's,
        # Bloctel's) or the numbers "registered" (Lista Robinson, TPS): audit verify
        # re-derives the checks with the same reading.
        "ALTER TABLE rpo_exchanges ADD COLUMN answer VARCHAR DEFAULT 'kept'",
    ],
    7: [
        # An exchange's checks are one immutable Parquet file (checks/), its sha256 here.
        "ALTER TABLE rpo_exchanges ADD COLUMN checks_file VARCHAR",
        "ALTER TABLE rpo_exchanges ADD COLUMN checks_sha256 VARCHAR",
        # What every check so far says per number (store/rpo.py), kept up to date at each
        # import so a run reads it instead of grouping every check ever made: one row,
        # the file and the newest check time it covers.
        """CREATE TABLE register_status (
            status_file VARCHAR NOT NULL, status_sha256 VARCHAR NOT NULL,
            through TIMESTAMP NOT NULL, exchanges BIGINT NOT NULL)""",
        _checks_to_parquet,
    ],
}
