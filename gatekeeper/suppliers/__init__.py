"""List suppliers (code of conduct, G.U. 27 March 2024, art. 6): a list is used only after
due diligence on its supplier, and its consents are checked on a sample and whenever a
complaint or a rights request arrives.

    (here)             suppliers recorded at load, listed with their status, the facts a run needs
    supplier.py        the supplier files (suppliers/<id>.toml) and their checks
    consent_audits.py  audit sample / answer / list; proof requests opened by complaints
    bounds.py          Clopper–Pearson: the default sample size, the upper bound, the verdict

The rules that use these
facts are rows of the policy table (SUPPLIER_NOT_APPROVED … CONSENT_SECTOR).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import ManifestError
from gatekeeper.core.timeutil import now_utc
from gatekeeper.decide.policy.facts import diligence_status
from gatekeeper.intake.manifest import Manifest, discover_all
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import suppliers as supplier_store
from gatekeeper.suppliers.consent_audits import latest_verdicts
from gatekeeper.suppliers.supplier import (
    SUPPLIERS_DIR,
    SupplierFile,
    discover_suppliers,
    inline_fix,
)

# What the policy reads of a row's supplier and audit, beside each row of a run.
ROW_FACTS: dict[str, pl.DataType] = {
    "supplier_outcome": pl.String(), "supplier_reviewed_on": pl.Date(),
    "supplier_next_review": pl.Date(), "supplier_sector_choice": pl.Boolean(),
    "audit_verdict": pl.String(),
}
INLINE = "inline"  # status of a supplier named only by an inline [supplier] table


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _record(supplier: SupplierFile, root: Path, notice_sha: str | None) -> dict[str, Any]:
    dd = supplier.due_diligence
    return {
        "supplier_id": supplier.id, "name": supplier.identity.name,
        "vat": supplier.identity.vat, "contact": supplier.identity.contact,
        "contract_ref": supplier.identity.contract_ref,
        "eu_establishment": supplier.eu_establishment,
        "representative": supplier.representative,
        "reviewed_on": dd.reviewed_on if dd else None,
        "reviewed_by": dd.reviewed_by if dd else None,
        "privacy_notice": (_relative(root, dd.privacy_notice)
                           if dd and dd.privacy_notice else None),
        "privacy_notice_sha256": notice_sha,
        "collection": list(dd.collection) if dd else None,
        "sector_choice": dd.sector_choice if dd else None,
        "outcome": dd.outcome if dd else None,
        "next_review": dd.next_review if dd else None,
        "file": _relative(root, supplier.path), "file_sha256": sha256_file(supplier.path),
        "recorded_at": now_utc(),
    }


def record_suppliers(store: Store, root: Path) -> tuple[list[str], list[ManifestError]]:
    """Store every valid supplier file as it is now (a new version only when it or its
    privacy notice changed; the notice kept by its sha256); returns (ids newly recorded,
    errors of the files that are not valid)."""
    found, errors = discover_suppliers(root)
    recorded = []
    for supplier in found.values():
        with store.transaction():
            notice = supplier.due_diligence.privacy_notice if supplier.due_diligence else None
            sha = evidence_store.keep_file(store, notice, "privacy_notice") if notice else None
            _, new = supplier_store.record_supplier(store, _record(supplier, root, sha))
        if new:
            recorded.append(supplier.id)
    return recorded, errors


def _facts_of(records: pl.DataFrame) -> pl.DataFrame:
    """Stored supplier records under the names the policy reads."""
    return records.select(
        "supplier_id", pl.col("version").alias("supplier_version"),
        pl.col("outcome").alias("supplier_outcome"),
        pl.col("reviewed_on").alias("supplier_reviewed_on"),
        pl.col("reviewed_by").alias("supplier_reviewed_by"),
        pl.col("next_review").alias("supplier_next_review"),
        pl.col("sector_choice").alias("supplier_sector_choice"),
        pl.col("collection").alias("supplier_collection"),
        pl.col("privacy_notice_sha256").alias("supplier_notice_sha256"),
        pl.col("file_sha256").alias("supplier_file_sha256"))


def with_diligence(store: Store, versions: pl.DataFrame, at: dt.datetime,
                   day: dt.date, zone: str) -> pl.DataFrame:
    """The source versions with their supplier's due diligence (newest record), its status
    on `day`, and their latest sample audit as of `at`: one row each, ready to stand
    beside every row of the version (ROW_FACTS)."""
    suppliers = _facts_of(supplier_store.newest_suppliers(store))
    verdicts = latest_verdicts(store, at, zone).rename({"source_version": "version"})
    joined = (versions.join(suppliers, on="supplier_id", how="left", maintain_order="left")
              .join(verdicts, on=["source_id", "version"], how="left", maintain_order="left"))
    inline = pl.col("supplier_id").is_null() & pl.col("supplier_name").is_not_null()
    return joined.with_columns(
        pl.when(inline).then(pl.lit(INLINE)).when(pl.col("supplier_name").is_not_null())
        .then(diligence_status(day)).alias("supplier_status"))


def run_inputs(versions: pl.DataFrame) -> list[dict[str, Any]]:
    """What a run relied on of suppliers and audits, for its id and record."""
    return versions.select("source_id", "supplier_id", "supplier_version",
                           "supplier_file_sha256", "audit_id", "audit_verdict").to_dicts()


def stale(ws: Workspace, versions: pl.DataFrame) -> list[str]:
    """Supplier files changed (or gone) since the load that recorded them: a run decides on
    what was loaded, so the privacy officer is told to load again."""
    notes = []
    for record in versions.drop_nulls("supplier_id").unique("supplier_id").sort(
            "supplier_id").to_dicts():
        path = ws.root / SUPPLIERS_DIR / f"{record['supplier_id']}.toml"
        if not path.is_file():
            notes.append(f"{SUPPLIERS_DIR}/{path.name} is gone; the run used the supplier as "
                         "last loaded")
        elif sha256_file(path) != record["supplier_file_sha256"]:
            notes.append(f"{SUPPLIERS_DIR}/{path.name} changed since the last load; run "
                         "'gatekeeper load' so runs use it")
    return notes


@dataclass(frozen=True)
class InlineSupplier:
    """A list whose supplier is an inline [supplier] table, and the file to write instead."""

    manifest: Path
    source_id: str
    supplier_id: str
    text: str

    def advice(self) -> str:
        """One line: what is wrong and the fix (the file's text is printed beside it)."""
        return (f"{self.manifest}: the inline [supplier] table has no due diligence, so every "
                f"row of {self.source_id} is SUPPLIER_NOT_APPROVED; write "
                f"{SUPPLIERS_DIR}/{self.supplier_id}.toml (its text is printed with the "
                f'lists) and replace the table with supplier = "{self.supplier_id}"')

    def listing(self) -> str:
        """The supplier file to write, indented, under a line saying where it goes."""
        return (f"{self.source_id}: write {SUPPLIERS_DIR}/{self.supplier_id}.toml, then in "
                f'{self.manifest} replace the [supplier] table with supplier = '
                f'"{self.supplier_id}":\n    ' + self.text.rstrip().replace("\n", "\n    "))


def inline_suppliers(manifests: list[Manifest], root: Path,
                     day: dt.date) -> list[InlineSupplier]:
    """The third_party lists still naming their supplier inline, with the exact fix."""
    found = []
    for m in manifests:
        if m.kind == "third_party" and m.supplier_id is None and m.supplier is not None:
            supplier_id, text = inline_fix(m.supplier, day)
            found.append(InlineSupplier(Path(_relative(root, m.path)), m.id, supplier_id,
                                        text))
    return found


def listing(ws: Workspace, day: dt.date) -> tuple[pl.DataFrame, list[ManifestError],
                                                  list[InlineSupplier]]:
    """Every supplier file with its due-diligence status on `day`, next review, the lists
    that name it and whether the store holds it as it is now; the files that are not
    valid; and the lists whose supplier is still inline."""
    found, errors = discover_suppliers(ws.root)
    manifests = (list(discover_all(ws.sources_dir, ws.root)[0].values())
                 if ws.sources_dir.is_dir() else [])
    with Store(ws.store_path, read_only=True) as store:
        held = supplier_store.newest_suppliers(store).select("supplier_id", "file_sha256")
    rows = [{**_record(s, ws.root, _notice_sha(s)),
             "sources": sorted(m.id for m in manifests if m.supplier_id == s.id)}
            for s in found.values()]
    if not rows:
        return pl.DataFrame(schema={"supplier_id": pl.String}), errors, inline_suppliers(
            manifests, ws.root, day)
    frame = pl.DataFrame(rows, schema_overrides={"collection": pl.List(pl.String)},
                         infer_schema_length=None)
    status = frame.select(pl.col("outcome").alias("supplier_outcome"),
                          pl.col("reviewed_on").alias("supplier_reviewed_on"),
                          pl.col("next_review").alias("supplier_next_review")
                          ).select(diligence_status(day).alias("status"))
    loaded = frame.join(held, on=["supplier_id", "file_sha256"], how="semi")["supplier_id"]
    frame = frame.hstack(status).with_columns(
        pl.col("supplier_id").is_in(loaded.implode()).alias("loaded"),
        (pl.col("next_review") - pl.lit(day)).dt.total_days().alias("days_to_review"))
    return frame.drop("recorded_at"), errors, inline_suppliers(manifests, ws.root, day)


def _notice_sha(supplier: SupplierFile) -> str | None:
    dd = supplier.due_diligence
    return sha256_file(dd.privacy_notice) if dd and dd.privacy_notice else None
