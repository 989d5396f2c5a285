"""`gatekeeper load`: manifests -> read -> canonical fields -> normalise -> store.

One source is one transaction. An unchanged file (same sha256, same manifest) is a
no-op; a changed one becomes the next version of the source, and older versions stay
in the store because disclosure must answer for every list a number was ever in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.columns import PERSONAL_FIELDS, REPAIRED, ROW, SOURCE_ID, SOURCE_VERSION
from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import GatekeeperError, ManifestError
from gatekeeper.core.overlap import read_ahead
from gatekeeper.core.progress import Progress
from gatekeeper.core.spreadsheet import shown_row
from gatekeeper.core.timeutil import local_date, now_utc
from gatekeeper.intake.fields import to_canonical
from gatekeeper.intake.manifest import Manifest, discover_all
from gatekeeper.intake.normalise import normalise, phone_key
from gatekeeper.intake.readers import RawTable, data_place, read_source
from gatekeeper.jurisdictions import Jurisdiction
from gatekeeper.next_steps import after_load
from gatekeeper.privacy.optouts import open_journal
from gatekeeper.registers.adapters import configured
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import people as people_store
from gatekeeper.store import runs as run_store
from gatekeeper.store import sources as source_store
from gatekeeper.suppliers import InlineSupplier, inline_suppliers, record_suppliers
from gatekeeper.suppliers.supplier import resolve


@dataclass
class LoadResult:
    """What one source's load did, for the per-source summary."""

    source_id: str
    version: int
    unchanged: bool
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    valid: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    file_sha256: str = ""
    rows_skipped: int = 0
    rows_repaired: int = 0  # numbers read as the manifest's leading_zero = "restore" says
    # Where the rows are as the list's program shows them (RawTable): data row n is line
    # or sheet row n + lines_before of `sheet`.
    sheet: str | None = None
    lines_before: int = 0

    def shown(self, row: int) -> str:
        """A data row named as the list's program shows it, beside the data row."""
        return shown_row(row, self.lines_before, self.sheet)


def manifest_fingerprint(manifest: Manifest) -> tuple[str, str]:
    text = json.dumps(manifest.raw, sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def suppress_erased(erased: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows of numbers erased on request arrive without personal data (GDPR art. 17).

    The row stays (so counts add up and the run decides it ERASED) but only its
    non-personal facts remain, with the reference of the erasure request.
    """
    if not erased.height:  # the usual case: no join, no blanking pass
        return rows.with_columns(pl.lit(None, pl.String).alias("erased_ref"))
    rows = rows.join(erased, on="phone", how="left", maintain_order="left")
    hit = pl.col("erased_ref").is_not_null()
    return rows.with_columns(
        pl.when(~hit).then(pl.col(c)).alias(c) for c in PERSONAL_FIELDS if c in rows.columns)


@dataclass
class _Prepared:
    """A source read, checked and normalised, ready to be stored (or found unchanged)."""

    manifest: Manifest
    version: int
    file_sha: str
    manifest_json: str
    manifest_sha: str
    table: RawTable | None = None  # these three are None when the source is unchanged
    rows: pl.DataFrame | None = None
    rejects: pl.DataFrame | None = None


def _prepare(manifest: Manifest, latest: tuple[int, str, str] | None,
             erased: pl.DataFrame, called: tuple[Jurisdiction, ...]) -> _Prepared:
    """Everything a load does before the store: no connection needed, so the next source
    is prepared while this one is written. `called`: the countries called, the
    workspace's own first; the manifest's `country` picks the one its list is read as."""
    jurisdiction = manifest.country_in(called)
    file_sha = sha256_file(manifest.file) if manifest.file.is_file() else ""
    manifest_json, manifest_sha = manifest_fingerprint(manifest)
    if latest and latest[1] == file_sha and latest[2] == manifest_sha:
        return _Prepared(manifest, latest[0], file_sha, manifest_json, manifest_sha)
    table = read_source(manifest)
    phone = manifest.columns["phone"]  # missing from the file: to_canonical says so
    numbers = (normalise(table.frame.get_column(phone), jurisdiction)
               if phone in table.frame.columns else None)
    rows, rejects = to_canonical(table, manifest, jurisdiction, numbers)
    version = (latest[0] + 1) if latest else 1
    # The store writes them in number order (write_rows): the Parquet file's row-group
    # statistics then let a lookup of one number read a row group or two, and the sort
    # happens while the next source is prepared.
    rows = suppress_erased(erased, rows).with_columns(
        phone_key(pl.col("phone")).alias("phone_key"))
    rows = rows.with_columns(pl.lit(manifest.id).alias(SOURCE_ID),
                             pl.lit(version, pl.Int32).alias(SOURCE_VERSION))
    rejects = rejects.with_columns(pl.lit(manifest.id).alias(SOURCE_ID),
                                   pl.lit(version, pl.Int32).alias(SOURCE_VERSION))
    # The text columns read are not needed past here: 160 MB of a 3.3M-row list, no
    # longer held while it waits to be written and while it is.
    table = replace(table, frame=table.frame.clear())
    return _Prepared(manifest, version, file_sha, manifest_json, manifest_sha, table, rows,
                     rejects)


def _commit(store: Store, prepared: _Prepared) -> LoadResult:
    """Store a prepared source as one transaction."""
    manifest, version = prepared.manifest, prepared.version
    table, rows, rejects = prepared.table, prepared.rows, prepared.rejects
    if table is None or rows is None or rejects is None:  # unchanged: nothing to store
        held = source_store.version_summary(store, manifest.id, version)
        return LoadResult(manifest.id, version, True, held["rows_read"], held["rows_loaded"],
                          held["rows_rejected"], sum(held["by_type"].values()),
                          held["by_type"], [], held["file_sha256"], held["rows_skipped"],
                          held["rows_repaired"])
    supplier = manifest.supplier
    skipped = table.skipped.height  # empty and total rows: not list rows, but counted
    record = {
        "source_id": manifest.id, "version": version, "kind": manifest.kind,
        "file": str(manifest.file), "file_sha256": prepared.file_sha,
        "manifest_sha256": prepared.manifest_sha, "manifest_json": prepared.manifest_json,
        "received_on": manifest.received_on, "purposes": list(manifest.purposes),
        "supplier_name": supplier.name if supplier else None,
        "supplier_vat": supplier.vat if supplier else None,
        "supplier_contact": supplier.contact if supplier else None,
        "supplier_contract_ref": supplier.contract_ref if supplier else None,
        "supplier_id": manifest.supplier_id,
        "encoding": table.encoding, "delimiter": table.delimiter,
        "rows_read": rows.height + rejects.height + skipped, "rows_loaded": rows.height,
        "rows_rejected": rejects.height, "rows_skipped": skipped, "loaded_at": now_utc(),
    }
    by_type = source_store.add_version(store, record, rows, rejects)
    return LoadResult(
        manifest.id, version, False, rows.height + rejects.height + skipped, rows.height,
        rejects.height,
        sum(by_type.values()), by_type,
        list(zip(rejects[ROW].to_list(), rejects["reason"].to_list(), strict=True)),
        prepared.file_sha, skipped, rows.get_column(REPAIRED).count(), table.sheet,
        table.lines_before)


def load_source(store: Store, manifest: Manifest, *called: Jurisdiction) -> LoadResult:
    """Load one source as one transaction; unchanged input is a no-op. `called`: the
    countries called, the workspace's own first."""
    return _commit(store, _prepare(manifest, source_store.latest_version(store, manifest.id),
                                   people_store.erased_numbers(store), called))


@dataclass
class LoadReport:
    """Every source loaded (or found unchanged), and every one that could not be, each
    with its own error: one broken list never keeps the others out."""

    results: list[LoadResult]
    failures: list[GatekeeperError]
    suppliers: list[str] = field(default_factory=list)  # supplier files newly recorded
    inline: list[InlineSupplier] = field(default_factory=list)  # lists to move to a file
    next_steps: list[str] = field(default_factory=list)  # what to do now (next_steps.py)


def select_manifests(workspace: Workspace, ids: Sequence[str] = ()
                     ) -> tuple[list[Manifest], list[GatekeeperError]]:
    """The manifests named (default: all) that are valid, and an error for each that is
    not (or is named but unknown)."""
    if not workspace.sources_dir.is_dir():
        raise ManifestError("no sources/ folder; add sources/<id>.toml (see README)",
                            file=workspace.sources_dir)
    manifests, errors = discover_all(workspace.sources_dir, workspace.root)
    if not manifests and not errors:
        raise ManifestError("no source manifests; add sources/<id>.toml (see README)",
                            file=workspace.sources_dir)
    failures: list[GatekeeperError] = list(errors) if not ids else []
    unknown = [i for i in ids if i not in manifests]
    if unknown:
        hint = f" ({len(errors)} manifest(s) could not be read)" if errors else ""
        failures.append(ManifestError(
            f"no source with id {', '.join(unknown)}{hint}; known: "
            + (", ".join(sorted(manifests)) or "none"), file=workspace.sources_dir))
    chosen = [manifests[i] for i in dict.fromkeys(ids) if i in manifests] if ids else [
        manifests[i] for i in sorted(manifests)]
    chosen, unnamed = resolve(chosen, workspace.root)  # supplier = "<id>": its file
    called = workspace.config().jurisdictions
    readable: list[Manifest] = []
    for manifest in chosen:  # country = "XX" of a country not called: that list fails
        try:
            manifest.country_in(called)
        except ManifestError as exc:
            unnamed.append(exc)
            continue
        readable.append(manifest)
    return readable, failures + unnamed


def _prepare_or_fail(manifest: Manifest, latest: tuple[int, str, str] | None,
                     erased: pl.DataFrame, progress: Progress | None,
                     called: tuple[Jurisdiction, ...]) -> _Prepared | GatekeeperError:
    if progress:
        progress(f"{manifest.id}: reading {manifest.file.name}")
    try:
        return _prepare(manifest, latest, erased, called)
    except GatekeeperError as exc:
        return exc


def load_sources(workspace: Workspace, ids: Sequence[str] = (),
                 progress: Progress | None = None) -> LoadReport:
    """Load each valid source in its own transaction, in id order; report the rest.
    `progress` hears a line per step (for a person watching a terminal)."""
    manifests, failures = select_manifests(workspace, ids)
    results: list[LoadResult] = []
    with Store(workspace.store_path) as store:
        # Suppliers first: their due diligence is what runs decide bought lists on.
        recorded, bad_suppliers = record_suppliers(store, workspace.root)
        failures = list(bad_suppliers) + failures
        erased = people_store.erased_numbers(store)
        latest = {m.id: source_store.latest_version(store, m.id) for m in manifests}
        # Source by source, in order: the next is read and normalised while this one is
        # written; a source that fails is reported and the next one still loads.
        called = workspace.config().jurisdictions
        prepared = (_prepare_or_fail(m, latest[m.id], erased, progress, called)
                    for m in manifests)
        with closing(read_ahead(prepared)) as ready:
            for done, item in enumerate(ready, 1):
                if isinstance(item, GatekeeperError):
                    failures.append(item)
                    continue
                if progress and item.rows is not None:
                    progress(f"{item.manifest.id}: storing {item.rows.height:,} rows "
                             f"(source {done} of {len(manifests)})", done, len(manifests))
                results.append(_commit(store, item))
        evidence_store.note_journal_head(store, *open_journal(workspace).head(),
                                         "load", now_utc())
    inline = inline_suppliers(manifests, workspace.root,
                              local_date(now_utc(), workspace.config().jurisdiction.timezone_name))
    steps = after_load(len(results), sum(not r.unchanged for r in results), len(failures),
                       configured(workspace.config()).automatic)
    return LoadReport(results, failures, recorded, inline, steps)


def loaded_sources(store: Store) -> pl.DataFrame:
    """The newest version of every loaded source, with its counts."""
    versions = source_store.newest_versions(store)
    repaired = [source_store.repaired_rows(store, f) for f in versions["rows_file"]]
    return versions.with_columns(pl.Series("rows_repaired", repaired, pl.Int64)).select(
        "source_id", "version", "kind", "supplier_id", "supplier_name", "received_on",
        "rows_read", "rows_loaded", "rows_rejected", "rows_skipped", "rows_repaired",
        "file_sha256", "loaded_at")


def source_rejects(store: Store, source_id: str) -> pl.DataFrame:
    """Rejected rows of a source's newest version, with why, each named as the list's
    program shows it beside its data row: `line` is Excel's row number in `sheet` for an
    .xlsx, the file's line for a CSV."""
    rejects = source_store.rejects_of(store, source_id)
    version = source_store.newest_versions(store, [source_id])
    sheet, before = None, 0
    if not rejects.is_empty() and not version.is_empty():  # else no workbook to open
        manifest_json = run_store.manifests_of(store, version)["manifest_json"].item()
        sheet, before = data_place(Path(version["file"].item()), json.loads(manifest_json))
    return rejects.select(ROW, pl.lit(sheet, pl.String).alias("sheet"),
                          (pl.col(ROW) + before).alias("line"), "reason")
