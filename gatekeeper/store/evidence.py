"""Evidence about the evidence: files kept byte for byte, journal checkpoints, the record
of legitimate changes (erasures) and anchors handed to the DPO.

Files are kept by content (evidence/<sha256>), so the same RPO answer imported twice is
stored once, and a file is found again from the sha256 its exchange recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.store import Store

EVIDENCE_DIR = "evidence"


def keep_file(store: Store, source: Path | bytes, kind: str, digest: str | None = None
              ) -> str:
    """Keep a file (or bytes) by content; returns its sha256 (`digest`, when the caller
    has just read it: a register's answer file is 100+ MB). Call inside a transaction."""
    folder = store.folder / EVIDENCE_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = digest or (hashlib.sha256(source).hexdigest() if isinstance(source, bytes)
                        else sha256_file(source))
    target = folder / digest
    if not target.exists():
        tmp = folder / f".{digest}.tmp-{os.getpid()}"
        if isinstance(source, bytes):
            tmp.write_bytes(source)
        else:
            shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    if not store.one("SELECT 1 FROM evidence_files WHERE sha256 = ?", [digest]):
        store.con.execute("INSERT INTO evidence_files VALUES (?, ?, ?, ?, ?)",
                          [digest, f"{EVIDENCE_DIR}/{digest}", target.stat().st_size, kind,
                           now_utc()])
    return digest


def evidence_path(store: Store, sha256: str) -> Path | None:
    """Where the file with this sha256 is kept, or None if it never was."""
    row = store.one("SELECT path FROM evidence_files WHERE sha256 = ?", [sha256])
    return None if row is None else store.file_path(str(row[0]))


def all_evidence_files(store: Store) -> pl.DataFrame:
    return store.frame("SELECT sha256, path, size, kind FROM evidence_files ORDER BY sha256")


def record_change(store: Store, at: dt.datetime, kind: str, what: str, old: str | None,
                  new: str | None, ref: str | None) -> None:
    """A legitimate change of stored evidence (an erasure rewriting a file)."""
    store.con.execute("INSERT INTO evidence_changes VALUES (?, ?, ?, ?, ?, ?)",
                      [at, kind, what, old, new, ref])


def changes(store: Store) -> pl.DataFrame:
    """Every legitimate change of stored evidence (erasures), oldest first."""
    return store.frame("SELECT changed_at, kind, object, old_sha256, new_sha256, request_ref "
                       "FROM evidence_changes ORDER BY changed_at, object")


# --- the opt-out journal's checkpoints -------------------------------------------------

def journal_checkpoints(store: Store) -> list[tuple[int, str, str]]:
    """(position, hash, who recorded it) of every journal head this store relied on."""
    rows = store.con.execute(
        "SELECT journal_position, journal_hash, 'run ' || run_id, NULL FROM runs "
        "WHERE journal_position IS NOT NULL UNION ALL "
        "SELECT position, hash, recorded_by, recorded_at FROM journal_checkpoints").fetchall()
    # Who and when, in a warning: the store knows no jurisdiction, so the instant is
    # written exactly, in UTC with its Z, never in a guessed country's time.
    return [(int(p), str(h), str(b) if at is None else f"{b} at {iso(at)}")
            for p, h, b, at in rows]


def note_journal_head(store: Store, position: int, chain_hash: str, by: str,
                      at: dt.datetime) -> None:
    """The store's high-water mark of the journal: a later cut behind it is caught."""
    newest = store.one("SELECT position, hash FROM journal_checkpoints "
                       "ORDER BY position DESC LIMIT 1")
    if newest != (position, chain_hash):
        store.con.execute("INSERT INTO journal_checkpoints VALUES (?, ?, ?, ?)",
                          [position, chain_hash, at, by])


# --- anchors -----------------------------------------------------------------------------

def save_anchor(store: Store, digest: str, at: dt.datetime, components_json: str) -> None:
    if not store.one("SELECT 1 FROM anchors WHERE digest = ?", [digest]):
        store.con.execute("INSERT INTO anchors VALUES (?, ?, ?)", [digest, at, components_json])


def anchor(store: Store, digest: str) -> tuple[dt.datetime, str] | None:
    row = store.one("SELECT created_at, components_json FROM anchors WHERE digest = ?",
                    [digest])
    return None if row is None else (row[0], str(row[1]))


def anchors(store: Store) -> list[dict[str, Any]]:
    return store.frame("SELECT digest, created_at FROM anchors ORDER BY created_at").to_dicts()
