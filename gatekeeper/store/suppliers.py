"""List suppliers as loaded: one version per change of a supplier file or of its privacy
notice (the notice itself is kept in evidence/ by its sha256), so a run years later can
say which due diligence it relied on."""

from __future__ import annotations

from typing import Any

import polars as pl

from gatekeeper.store import Store

SUPPLIER_COLUMNS = (
    "supplier_id", "version", "name", "vat", "contact", "contract_ref", "eu_establishment",
    "representative", "reviewed_on", "reviewed_by", "privacy_notice",
    "privacy_notice_sha256", "collection", "sector_choice", "outcome", "next_review", "file",
    "file_sha256", "recorded_at",
)
_NEWEST = "QUALIFY version = max(version) OVER (PARTITION BY supplier_id)"


def record_supplier(store: Store, record: dict[str, Any]) -> tuple[int, bool]:
    """Store the supplier as its file says now, unless the newest version already says the
    same (same file, same notice); returns (version, whether it is new)."""
    newest = store.one(
        "SELECT version, file_sha256, privacy_notice_sha256 IS NOT DISTINCT FROM ? "
        "FROM suppliers WHERE supplier_id = ? ORDER BY version DESC LIMIT 1",
        [record["privacy_notice_sha256"], record["supplier_id"]])
    if newest and newest[1] == record["file_sha256"] and newest[2]:
        return int(newest[0]), False
    version = int(newest[0]) + 1 if newest else 1
    values = {**record, "version": version}
    store.con.execute(
        f"INSERT INTO suppliers ({', '.join(SUPPLIER_COLUMNS)}) VALUES "
        f"({', '.join('?' for _ in SUPPLIER_COLUMNS)})", [values[c] for c in SUPPLIER_COLUMNS])
    return version, True


def newest_suppliers(store: Store) -> pl.DataFrame:
    """The newest version of every supplier, by id."""
    return store.frame(f"SELECT {', '.join(SUPPLIER_COLUMNS)} FROM suppliers {_NEWEST} "
                       "ORDER BY supplier_id")


def notices(store: Store) -> pl.DataFrame:
    """Every supplier version that kept a privacy notice, with the notice's sha256."""
    return store.frame("SELECT supplier_id, version, privacy_notice_sha256 FROM suppliers "
                       "WHERE privacy_notice_sha256 IS NOT NULL ORDER BY 1, 2")
