"""What `purge` may remove: list rows no run has used for a while, evidence past its
keeping period. Opt-outs (the journal) and erasure entries are never purged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store
from gatekeeper.store.evidence import record_change
from gatekeeper.store.sources import write_rows


def versions_used_since(store: Store, cutoff: dt.datetime) -> set[tuple[str, int]]:
    """(source_id, version) of every version a run executed since cutoff relied on."""
    used: set[tuple[str, int]] = set()
    for (inputs_json,) in store.con.execute(
            "SELECT inputs_json FROM runs WHERE executed_at >= ?", [cutoff]).fetchall():
        for source in json.loads(inputs_json or "{}").get("sources", []):
            used.add((source["source_id"], int(source["version"])))
    return used


def versions_loaded_before(store: Store, cutoff: dt.datetime) -> pl.DataFrame:
    """Versions loaded before cutoff that still hold rows or rejects, with their counts."""
    return store.frame(
        """SELECT v.source_id, v.version, v.loaded_at, v.rows_file,
                  CASE WHEN v.rows_file IS NULL THEN 0 ELSE v.rows_loaded END AS rows,
                  (SELECT count(*) FROM source_rejects j WHERE j.source_id = v.source_id
                     AND j.source_version = v.version) AS rejects
           FROM source_versions v WHERE v.loaded_at < ? ORDER BY v.source_id, v.version""",
        [cutoff])


def evidence_before(store: Store, cutoff: dt.datetime) -> tuple[int, int, int]:
    """(RPO exchanges, RPO checks, runs) older than cutoff."""
    return (int(store.scalar("SELECT count(*) FROM rpo_exchanges WHERE checked_at < ?",
                             [cutoff])),
            rpo_store.checks_before(store, cutoff),
            int(store.scalar("SELECT count(*) FROM runs WHERE executed_at < ?", [cutoff])))


def purge(store: Store, versions: list[dict[str, object]], evidence_cutoff: dt.datetime,
          held: dict[tuple[str, int], pl.DataFrame] | None = None,
          at: dt.datetime | None = None) -> list[str]:
    """Delete the versions' rows and rejects (their catalog rows stay, as evidence of the
    supply chain) and evidence older than the cutoff, in one transaction; returns the
    files to delete once it commits. A version with rows `held` as evidence keeps those
    rows alone, in a new file (its change recorded)."""
    retired: list[str] = []
    held = held or {}
    with store.transaction():
        for version in versions:
            key = [version["source_id"], version["version"]]
            file, old_sha = store.con.execute(
                "SELECT rows_file, rows_sha256 FROM source_versions WHERE source_id = ? AND "
                "version = ?", key).fetchone() or (None, None)
            if file:
                retired.append(str(file))
            kept = held.get((str(version["source_id"]), int(str(version["version"]))))
            if kept is not None and file:
                relative, digest, _ = write_rows(store, str(Path(str(file)).parent),
                                                 int(str(version["version"])), kept)
                store.con.execute("UPDATE source_versions SET rows_file = ?, rows_sha256 = ? "
                                  "WHERE source_id = ? AND version = ?",
                                  [relative, digest, *key])
                record_change(store, at or dt.datetime(1970, 1, 1), "retention",
                              f"rows {version['source_id']} v{version['version']}: "
                              f"{kept.height} kept as consent evidence after a call",
                              old_sha, digest, None)
            else:
                store.con.execute("UPDATE source_versions SET rows_file = NULL WHERE "
                                  "source_id = ? AND version = ?", key)
            store.con.execute("DELETE FROM source_rejects WHERE source_id = ? AND "
                              "source_version = ?", key)
        retired += [str(r[0]) for r in store.con.execute(
            "SELECT dialable_file FROM runs WHERE executed_at < ? AND dialable_file IS NOT "
            "NULL", [evidence_cutoff]).fetchall()]
        retired += rpo_store.purge_before(store, evidence_cutoff)
        store.con.execute("DELETE FROM runs WHERE executed_at < ?", [evidence_cutoff])
        unused = ("FROM evidence_files WHERE sha256 NOT IN (SELECT request_sha256 FROM "
                  "rpo_exchanges WHERE request_sha256 IS NOT NULL UNION SELECT "
                  "response_sha256 FROM rpo_exchanges WHERE response_sha256 IS NOT NULL)")
        retired += [str(r[0]) for r in store.con.execute(f"SELECT path {unused}").fetchall()]
        store.con.execute(f"DELETE {unused}")
    return retired
