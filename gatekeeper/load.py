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
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .columns import NUMBER_TYPE, ROW, SOURCE_ID, SOURCE_VERSION, VALID
from .config import Workspace
from .errors import GatekeeperError, ManifestError
from .normalise import normalise, phone_key
from .optouts import Journal
from .overlap import read_ahead
from .sources.fields import to_canonical
from .sources.manifest import Manifest, discover_all
from .sources.readers import RawTable, read_source
from .store import Store
from .timeutil import now_utc


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_fingerprint(manifest: Manifest) -> tuple[str, str]:
    text = json.dumps(manifest.raw, sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def _latest(store: Store, source_id: str) -> tuple[int, str, str] | None:
    row = store.one(
        "SELECT version, file_sha256, manifest_sha256 FROM source_versions "
        "WHERE source_id = ? ORDER BY version DESC LIMIT 1", [source_id])
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def _summary_of(store: Store, source_id: str, version: int) -> LoadResult:
    counts = store.one(
        "SELECT rows_read, rows_loaded, rows_rejected, file_sha256 FROM source_versions "
        "WHERE source_id = ? AND version = ?", [source_id, version])
    assert counts is not None
    types = store.frame(
        "SELECT number_type, count(*) AS n FROM source_rows WHERE source_id = ? AND "
        "source_version = ? AND valid GROUP BY 1 ORDER BY 1", [source_id, version])
    by_type = dict(zip(types["number_type"].to_list(), types["n"].to_list(), strict=True))
    return LoadResult(source_id, version, True, counts[0], counts[1], counts[2],
                      sum(by_type.values()), by_type, [], counts[3])


PERSONAL_FIELDS = ("raw", "phone", "name", "customer_id", "contract_status", "contract_end",
                   "consent_marketing", "consent_third_party", "consent_date",
                   "consent_channel", "consent_proof", "consent_collector")


def erasures(store: Store) -> pl.DataFrame:
    """Numbers erased on request, with the request that erased them (phone, erased_ref)."""
    return store.frame("SELECT phone, min(request_ref) AS erased_ref FROM erasures "
                       "GROUP BY phone")


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
             erased: pl.DataFrame) -> _Prepared:
    """Everything a load does before the store: no connection needed, so the next source
    is prepared while this one is written."""
    file_sha = sha256_file(manifest.file) if manifest.file.is_file() else ""
    manifest_json, manifest_sha = manifest_fingerprint(manifest)
    if latest and latest[1] == file_sha and latest[2] == manifest_sha:
        return _Prepared(manifest, latest[0], file_sha, manifest_json, manifest_sha)
    table = read_source(manifest)
    rows, rejects = to_canonical(table, manifest)
    version = (latest[0] + 1) if latest else 1
    rows = pl.concat([rows, normalise(rows.get_column("raw"))], how="horizontal")
    # Stored in number order: DuckDB's per-block min/max then lets a lookup of one number
    # (disclose, check) read a block or two instead of the whole table.
    # Stable: a number's rows keep file order, so the same file is always stored the same.
    rows = suppress_erased(erased, rows).sort(
        phone_key(pl.col("phone")), nulls_last=True,
        maintain_order=True)
    rows = rows.with_columns(pl.lit(manifest.id).alias(SOURCE_ID),
                             pl.lit(version, pl.Int32).alias(SOURCE_VERSION))
    rejects = rejects.with_columns(pl.lit(manifest.id).alias(SOURCE_ID),
                                   pl.lit(version, pl.Int32).alias(SOURCE_VERSION))
    return _Prepared(manifest, version, file_sha, manifest_json, manifest_sha, table, rows,
                     rejects)


def _commit(store: Store, prepared: _Prepared) -> LoadResult:
    """Store a prepared source as one transaction."""
    manifest, version = prepared.manifest, prepared.version
    table, rows, rejects = prepared.table, prepared.rows, prepared.rejects
    if table is None or rows is None or rejects is None:  # unchanged: nothing to store
        return _summary_of(store, manifest.id, version)
    supplier = manifest.supplier
    with store.transaction():
        store.con.execute(
            "INSERT INTO source_versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [manifest.id, version, manifest.kind, str(manifest.file), prepared.file_sha,
             prepared.manifest_sha, prepared.manifest_json, manifest.received_on,
             list(manifest.purposes),
             supplier.name if supplier else None, supplier.vat if supplier else None,
             supplier.contact if supplier else None,
             supplier.contract_ref if supplier else None, table.encoding, table.delimiter,
             rows.height + rejects.height, rows.height, rejects.height, now_utc()])
        store.insert_frame("source_rows", rows)
        store.check_fault("load.after_rows")
        store.insert_frame("source_rejects", rejects)
    types = (rows.filter(pl.col(VALID)).group_by(NUMBER_TYPE).len().sort(NUMBER_TYPE))
    by_type = dict(zip(types[NUMBER_TYPE].to_list(), types["len"].to_list(), strict=True))
    return LoadResult(
        manifest.id, version, False, rows.height + rejects.height, rows.height, rejects.height,
        sum(by_type.values()), by_type,
        list(zip(rejects[ROW].to_list(), rejects["reason"].to_list(), strict=True)),
        prepared.file_sha)


def load_source(store: Store, manifest: Manifest) -> LoadResult:
    """Load one source as one transaction; unchanged input is a no-op."""
    return _commit(store, _prepare(manifest, _latest(store, manifest.id), erasures(store)))


@dataclass
class LoadReport:
    """Every source loaded (or found unchanged), and every one that could not be, each
    with its own error: one broken list never keeps the others out."""

    results: list[LoadResult]
    failures: list[GatekeeperError]


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
    return chosen, failures


def _prepare_or_fail(manifest: Manifest, latest: tuple[int, str, str] | None,
                     erased: pl.DataFrame) -> _Prepared | GatekeeperError:
    try:
        return _prepare(manifest, latest, erased)
    except GatekeeperError as exc:
        return exc


def load_sources(workspace: Workspace, ids: Sequence[str] = ()) -> LoadReport:
    """Load each valid source in its own transaction, in id order; report the rest."""
    manifests, failures = select_manifests(workspace, ids)
    results: list[LoadResult] = []
    with Store(workspace.store_path) as store:
        erased = erasures(store)
        latest = {m.id: _latest(store, m.id) for m in manifests}  # we hold the write lock
        # Source by source, in order: the next is read and normalised while this one is
        # written; a source that fails is reported and the next one still loads.
        prepared = (_prepare_or_fail(m, latest[m.id], erased) for m in manifests)
        with closing(read_ahead(prepared)) as ready:
            for item in ready:
                if isinstance(item, GatekeeperError):
                    failures.append(item)
                else:
                    results.append(_commit(store, item))
        store.note_journal_head(*Journal(workspace.journal_path).head(), "load", now_utc())
    return LoadReport(results, failures)


def loaded_sources(store: Store) -> pl.DataFrame:
    """The newest version of every loaded source, with its counts."""
    return store.frame(
        "SELECT source_id, version, kind, supplier_name, received_on, rows_read, "
        "rows_loaded, rows_rejected, file_sha256, loaded_at FROM source_versions "
        "QUALIFY version = max(version) OVER (PARTITION BY source_id) ORDER BY source_id")


def source_rejects(store: Store, source_id: str) -> pl.DataFrame:
    """Rejected rows of a source's newest version, with why."""
    return store.frame(
        'SELECT "row", reason FROM source_rejects WHERE source_id = ? AND source_version = '
        "(SELECT max(version) FROM source_versions WHERE source_id = ?) ORDER BY 1",
        [source_id, source_id])
