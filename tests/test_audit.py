"""audit verify and audit anchor: edited evidence is found, whoever edited it and however."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import duckdb
import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store.sources import all_versions

from .conftest import AS_OF, gk


def _sql(ws: Workspace, statement: str) -> None:
    """What someone with a DuckDB shell on the server can do."""
    with duckdb.connect(str(ws.store_path)) as con:
        con.execute(statement)


def _edit_checks(ws: Workspace, edit: Callable[[pl.DataFrame], pl.DataFrame], *,
                 status: bool = False) -> None:
    """What someone with a shell and polars can do to the checks: rewrite each exchange's
    checks file and record its new sha256 (and, careful, sum the status up again)."""
    with Store(ws.store_path) as store:
        for exchange_id, file in store.con.execute(
                "SELECT exchange_id, checks_file FROM rpo_exchanges").fetchall():
            path = store.file_path(file)
            edit(pl.read_parquet(path)).write_parquet(path)
            store.con.execute("UPDATE rpo_exchanges SET checks_sha256 = ? WHERE "
                              "exchange_id = ?", [sha256_file(path), exchange_id])
        if status:
            rpo_store.rebuild_status(store)


def _flip(checks: pl.DataFrame) -> pl.DataFrame:
    return checks.with_columns(pl.lit(False).alias("registered"))


def test_an_intact_workspace_verifies(scrubbed: Workspace) -> None:
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "1 RPO exchanges" in verified.output and "evidence intact" in verified.output


def test_a_check_flipped_in_the_store_is_found_from_the_exchange_files(
        scrubbed: Workspace) -> None:
    """Every check rewritten "not registered", its file's sha256 recorded again: an
    RPO-registered number would turn dialable; the checks derived again from the kept
    files say otherwise, and so does the status summed up again."""
    _edit_checks(scrubbed, _flip)
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1
    assert "differ from the exchange files" in verified.output
    assert "the files say registered" in verified.output
    assert "register status is not what the exchanges' checks say" in verified.output


def test_an_edited_checks_file_or_status_is_found(scrubbed: Workspace) -> None:
    """A checks file edited without its sha256, and the status a run reads rewritten to
    "nobody registered" with its sha256: both found."""
    with Store(scrubbed.store_path, read_only=True) as store:
        checks = store.file_path(store.one("SELECT checks_file FROM rpo_exchanges")[0])
        status = store.file_path(store.one("SELECT status_file FROM register_status")[0])
    _flip(pl.read_parquet(checks)).write_parquet(checks)
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1 and "its checks file is missing or was altered" in (
        verified.output)
    _edit_checks(scrubbed, lambda c: c)  # the checks back as they were, sha256 recorded
    pl.read_parquet(status).with_columns(pl.lit(None, pl.Datetime("us")).alias(
        "newest_registered")).write_parquet(status)
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1
    assert "the register status file is missing or was altered" in verified.output
    _sql(scrubbed, f"UPDATE register_status SET status_sha256 = '{sha256_file(status)}'")
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1
    assert "register status is not what the exchanges' checks say" in verified.output


def test_checks_added_or_removed_in_the_store_are_found(scrubbed: Workspace) -> None:
    _edit_checks(scrubbed, lambda checks: checks.slice(3), status=True)
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1 and "3 check(s) the files prove are missing" in (
        verified.output)


def test_edited_rows_a_missing_evidence_file_and_an_edited_report_are_found(
        scrubbed: Workspace) -> None:
    with Store(scrubbed.store_path, read_only=True) as store:
        acme = all_versions(store).filter(pl.col("source_id") == "acme-2026-11").row(
            0, named=True)
        rows_file = store.file_path(acme["rows_file"])
        kept = evidence_store.all_evidence_files(store).filter(  # an RPO file, not a notice
            pl.col("kind") != "privacy_notice")["path"][0]
    rows = pl.read_parquet(rows_file)
    rows.with_columns(pl.lit(True).alias("consent_third_party")).write_parquet(rows_file)
    evidence = scrubbed.store_dir / kept
    evidence.unlink()
    report = scrubbed.report_dir("demo") / "dialable.csv"
    report.write_text(report.read_text() + "+393330000000,x,acme-2026-11,X,x,x,x\n")
    verified = gk(scrubbed, "audit", "verify")
    assert verified.exit_code == 1
    assert "sources: acme-2026-11 v1" in verified.output
    assert "an exchange file is missing or was altered" in verified.output
    assert "reports/demo/dialable.csv: differs from what run" in verified.output


def test_an_anchor_catches_a_consistent_rewrite_that_verify_alone_cannot(
        scrubbed: Workspace) -> None:
    """A careful forger replaces an exchange's response file, its checks and the recorded
    sha256 together: everything here agrees again, but not with the anchor the DPO has."""
    made = gk(scrubbed, "audit", "anchor")
    assert made.exit_code == 0, made.output
    digest = made.stdout.strip()
    assert len(digest) == 64
    verified = gk(scrubbed, "audit", "verify", "--anchor", digest)
    assert verified.exit_code == 0 and "warning" not in verified.output  # a pass is no warning
    assert f"compared with the anchor {digest[:16]}" in verified.stdout
    for typo in (digest[:8], "3f5c…", digest + "0"):  # a typo is no proof of tampering
        wrong = gk(scrubbed, "audit", "verify", "--anchor", typo)
        assert wrong.exit_code == 2 and "is not a digest" in wrong.output

    request = (scrubbed.root / "data/rpo/2026-11-20-request.txt").read_bytes()
    forged = request + b"\n"  # "nobody is registered": the request comes back cleansed
    sha = hashlib.sha256(forged).hexdigest()
    (scrubbed.store_dir / "evidence" / sha).write_bytes(forged)
    _sql(scrubbed, f"INSERT INTO evidence_files VALUES ('{sha}', 'evidence/{sha}', "
                   f"{len(forged)}, 'rpo response', now())")
    _sql(scrubbed, f"UPDATE rpo_exchanges SET response_sha256 = '{sha}', registered = 0")
    _edit_checks(scrubbed, _flip, status=True)
    assert gk(scrubbed, "audit", "verify").exit_code == 0  # consistent: verify alone agrees
    anchored = gk(scrubbed, "audit", "verify", "--anchor", digest)
    assert anchored.exit_code == 1
    assert "rewritten since the anchor" in anchored.output


def test_an_anchor_holds_across_an_erasure_and_catches_a_cut_journal(
        scrubbed: Workspace) -> None:
    digest = gk(scrubbed, "audit", "anchor").stdout.strip()
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    assert gk(scrubbed, "erase", phone, "--ref", "E-5").exit_code == 0  # a legitimate change
    assert gk(scrubbed, "audit", "verify", "--anchor", digest).exit_code == 0
    lines = scrubbed.journal_path.read_text().splitlines(keepends=True)
    scrubbed.journal_path.write_text("".join(lines[:-1]))
    scrubbed.journal_path.with_name("optouts.checkpoints").unlink()
    _sql(scrubbed, "DELETE FROM journal_checkpoints")
    _sql(scrubbed, "DELETE FROM runs")  # no checkpoint is left here...
    anchored = gk(scrubbed, "audit", "verify", "--anchor", digest)
    assert anchored.exit_code == 1  # ...but the anchor's is
    assert f"anchor {digest[:16]}" in anchored.output


def test_an_unknown_or_altered_anchor_is_a_problem(scrubbed: Workspace) -> None:
    digest = gk(scrubbed, "audit", "anchor").stdout.strip()
    unknown = gk(scrubbed, "audit", "verify", "--anchor", "0" * 64)
    assert unknown.exit_code == 1 and "no anchor with this digest" in unknown.output
    with duckdb.connect(str(scrubbed.store_path)) as con:
        components = json.loads(con.execute("SELECT components_json FROM anchors").fetchone()[0])
        components["journal"]["position"] = 0
        con.execute("UPDATE anchors SET components_json = ?",
                    [json.dumps(components, sort_keys=True, separators=(",", ":"))])
    altered = gk(scrubbed, "audit", "verify", "--anchor", digest)
    assert altered.exit_code == 1 and "record of this anchor was altered" in altered.output


def test_no_anchor_over_tampered_evidence(scrubbed: Workspace) -> None:
    _edit_checks(scrubbed, _flip)
    made = gk(scrubbed, "audit", "anchor")
    assert made.exit_code == 1 and made.stdout == ""
    assert gk(scrubbed, "run", "--campaign", "x", "--purpose", "telemarketing",
              "--as-of", AS_OF).exit_code == 0  # runs do not re-derive: audit does
