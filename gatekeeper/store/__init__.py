"""The store: the only package that speaks DuckDB (PostgreSQL, when shared, is shared/'s).

A store is a folder (data/store/): a DuckDB catalog (gatekeeper.duckdb) of sources, RPO
evidence, runs, requests and erasures, beside immutable zstd Parquet files of list rows,
one per source version (rows/), and of the numbers each run listed (runs/), and the RPO
exchange files kept byte for byte (evidence/). The rest of Gatekeeper asks questions in
the domain's words, through the modules here, grouped by subject:

    sources    source versions and their rows       rpo        exchanges, checks, jobs
    runs       run records and what they listed     people     erasures, requests, lookups
    retention  what purge removes                    evidence   files, checkpoints, anchors

`Store` accepts a path or an open DuckDB connection (":memory:" in unit tests, with a
throwaway folder for the Parquet files). Every change is one transaction: a load that
fails half-way leaves the catalog as it was, and a Parquet file no version points to is
removed by the next writer. The schema carries a version; migrations run forward on open.
Everything is owner-only: the store holds personal data.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import GatekeeperError, StoreBusy, StoreDamaged, StoreError
from gatekeeper.core.faults import fail_point
from gatekeeper.store.schema import LEGACY_FILE, MIGRATIONS, SCHEMA_VERSION

LOCK_WAIT_SECONDS = 30.0
# DuckDB would otherwise take up to 80% of RAM for itself; past this it spills to disk.
MEMORY_LIMIT = "1GB"


# DuckDB's words when another process holds the file. Only those: "lock" alone also
# matches "block", and a damaged file says "... checksum ... in block at location N".
_LOCK_WORDS = re.compile(r"could not set lock on file|conflicting lock is held", re.I)
# What DuckDB says when the catalog file itself is damaged (cut short, overwritten, bits
# flipped): its IOException, or these words in a plain duckdb.Error.
_DAMAGE_WORDS = re.compile(r"corrupt database file|checksum|not a valid duckdb database|"
                           r"could not read enough bytes|replaying wal", re.I)
_NOT_DAMAGE_WORDS = re.compile(r"permission denied|no space left|read-only file system", re.I)
RESTORE_HINT = ("restore the whole data/store/ folder from a backup, then run 'gatekeeper "
                "load' and import again the RPO answers received since that backup")


def _is_lock_error(exc: Exception) -> bool:
    return _LOCK_WORDS.search(str(exc)) is not None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _catalog_damage(exc: BaseException) -> str | None:
    """What a DuckDB error says when it means the catalog file is damaged, else None."""
    if not isinstance(exc, duckdb.Error) or _is_lock_error(exc):
        return None
    text = _first_line(exc)
    if _NOT_DAMAGE_WORDS.search(text):
        return None
    if isinstance(exc, duckdb.IOException | duckdb.SerializationException
                  | duckdb.FatalException) or _DAMAGE_WORDS.search(text):
        return text
    return None


def damaged(file: Path | None, detail: str) -> StoreDamaged:
    """The one error for a store that cannot be read: which file, what was seen, and how
    to recover (never "busy": waiting would not help)."""
    return StoreDamaged(f"the store is damaged and cannot be read ({detail}); "
                        f"{RESTORE_HINT}", file=file)


def _owner_only(path: Path) -> None:
    if path.exists():
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


class Store:
    """The store of one workspace (or an in-memory one for tests)."""

    def __init__(self, target: str | Path | duckdb.DuckDBPyConnection, *,
                 read_only: bool = False, wait: float = LOCK_WAIT_SECONDS) -> None:
        self._scratch: weakref.finalize[Any, Any] | None = None
        self.read_only = read_only
        self._folder: Path | None = None
        if isinstance(target, duckdb.DuckDBPyConnection):
            self.con = target
            self.path: Path | None = None
        else:
            self.path = Path(target)
            self._folder = self.path.parent
            if self._folder.exists() and not self._folder.is_dir():  # never "nothing held"
                raise StoreError("is not a folder; the store lives in data/store/ (move the "
                                 f"file away; if it replaced the store, {RESTORE_HINT})",
                                 file=self._folder)
            legacy = self.path.parent.parent / LEGACY_FILE
            if not self.path.exists() and legacy.is_file():
                if read_only:
                    raise StoreError("this store was made by an older gatekeeper; run "
                                     "'gatekeeper load' once to upgrade it", file=legacy)
                _adopt_legacy(self.path, legacy)
            if read_only and not self.path.exists():
                # Nothing loaded yet: an empty schema answers every question with "none".
                self.con = duckdb.connect(":memory:")
                read_only = False
            else:
                self.con = self._connect(self.path, read_only, wait)
        try:
            if not read_only:
                self.migrate()
                self.sweep()
            elif self.schema_version() != SCHEMA_VERSION:
                raise StoreError("the store's schema is older than this gatekeeper; run "
                                 "'gatekeeper load' once to upgrade it", file=self.path)
        except BaseException as exc:
            diagnosis = self.diagnose(exc)
            self._close_quietly()
            if diagnosis is not None:
                raise diagnosis from exc
            raise

    @staticmethod
    def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
        if path.is_dir():
            raise StoreError("is a folder, not the store's catalog; move it away (and, if "
                             f"the catalog is lost, {RESTORE_HINT})", file=path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + wait
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only,
                                     config={"memory_limit": MEMORY_LIMIT})
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    detail = _catalog_damage(exc)
                    if detail is not None:
                        raise damaged(path, detail) from None
                    raise StoreError(
                        f"cannot open the store ({_first_line(exc)}); check the disk and "
                        f"the file's permissions; if it is damaged, {RESTORE_HINT}",
                        file=path) from None
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        "another gatekeeper process is writing the store; wait for it to "
                        "finish and try again", file=path) from None
                time.sleep(0.2)
        for file in (path.parent, path, Path(f"{path}.wal")):
            if not read_only:
                _owner_only(file)  # personal data: owner only
        return con

    @property
    def folder(self) -> Path:
        """Where the store's files live; an in-memory store gets a throwaway folder."""
        if self._folder is None:
            # Removed with the store, closed or not (an in-memory store in a test that
            # records a check writes a file): no warning about an implicit clean-up.
            self._folder = Path(tempfile.mkdtemp(prefix="gk-store-"))
            self._scratch = weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def close(self) -> None:
        self.con.close()
        if self._scratch is not None:
            self._scratch()
            self._scratch = None

    def _close_quietly(self) -> None:
        """Close after a failure: a damaged database may fail to close too, and that
        must not hide the failure that is being reported."""
        with contextlib.suppress(duckdb.Error):
            self.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        """Close; a failure the store's damage explains leaves as StoreDamaged naming the
        damaged file (this is the store's I/O boundary: every use of a store is inside
        `with Store(...)`), any other failure unchanged."""
        if exc is None:
            self.close()
            return
        diagnosis = self.diagnose(exc)
        self._close_quietly()
        if diagnosis is not None:
            raise diagnosis from exc

    def diagnose(self, exc: BaseException) -> StoreDamaged | None:
        """Whether a failure while using the store is the store's damage: a Parquet file
        the catalog points to is missing or no longer has the sha256 recorded when it was
        written, or the catalog itself said so. A damaged Parquet file makes DuckDB,
        pyarrow and polars fail in a dozen ways, none of which names the file; checking
        the files against the catalog does, and an error neither explains stays what it
        is (a bug, reported as one). Only runs on the way out of a failure."""
        if not isinstance(exc, Exception) or isinstance(exc, GatekeeperError):
            return None
        if self.path is not None:  # an in-memory store (tests) has no files to damage
            culprit = self._damaged_file(exc)
            if culprit is not None:
                return culprit
        detail = _catalog_damage(exc)
        return damaged(self.path, detail) if detail is not None else None

    def _damaged_file(self, exc: BaseException) -> StoreDamaged | None:
        try:
            with contextlib.suppress(duckdb.Error):  # after a failed statement, if needed
                self.con.execute("ROLLBACK")
            files = self.con.execute(
                "SELECT rows_file, rows_sha256 FROM source_versions WHERE rows_file IS NOT "
                "NULL UNION ALL SELECT dialable_file, dialable_sha256 FROM runs WHERE "
                "dialable_file IS NOT NULL").fetchall()
        except (duckdb.CatalogException, duckdb.BinderException):
            return None  # a schema before Parquet files (a migration failed): no evidence
        except duckdb.Error as again:  # the catalog cannot even list its files
            return damaged(self.path, _catalog_damage(exc) or _first_line(again))
        for relative, recorded in files:
            path = self.folder / relative
            if not path.is_file():
                return damaged(path, "the file is missing")
            if recorded and sha256_file(path) != recorded:
                return damaged(path, "the file is not the one written: its sha256 differs")
        return None

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
                for step in MIGRATIONS[version]:
                    if callable(step):
                        step(self)
                    else:
                        self.con.execute(step)
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])

    def sweep(self) -> None:
        """Remove Parquet files no catalog row points to: what a writer killed between
        writing a file and committing its record left behind (we hold the write lock)."""
        if self._folder is None:
            return  # an in-memory store that has written no file yet
        referenced = {str(p) for p in self.files_in_use()}
        for kind in ("rows", "runs", "checks", "status"):
            for file in (self.folder / kind).rglob("*"):
                if file.is_file() and str(file.relative_to(self.folder)) not in referenced:
                    file.unlink()

    def files_in_use(self) -> list[str]:
        rows = self.con.execute(
            "SELECT rows_file FROM source_versions WHERE rows_file IS NOT NULL UNION ALL "
            "SELECT dialable_file FROM runs WHERE dialable_file IS NOT NULL UNION ALL "
            "SELECT checks_file FROM rpo_exchanges WHERE checks_file IS NOT NULL UNION ALL "
            "SELECT status_file FROM register_status").fetchall()
        return [r[0] for r in rows]

    # --- helpers ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: any exception rolls back everything done inside."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            # A damaged database can refuse the rollback too; the first error is the news
            # (and nothing uncommitted survives the connection closing).
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def fault(self, point: str) -> None:
        """A failure injected at a named point (tests): the transaction must roll back."""
        fail_point(point, StoreError(f"injected fault at {point}"))

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

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """The first row, or None; always drains the result (DuckDB 2 requires it)."""
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    # --- immutable Parquet files beside the catalog ---------------------------------------

    def file_path(self, relative: str) -> Path:
        return self.folder / relative

    def write_file(self, relative_dir: str, stem: str, write: Callable[[Path], None],
                   suffix: str = ".parquet") -> tuple[str, str]:
        """Write a file with `write` (to a temp name, fsynced, then renamed) under
        relative_dir; returns (relative path, sha256). Call inside the transaction that
        records it: if that rolls back, `sweep` removes the file."""
        folder = self.folder / relative_dir
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{stem}.tmp-{os.getpid()}"
        write(tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        digest = sha256_file(tmp)
        final = folder / f"{stem}-{digest[:12]}{suffix}"
        os.replace(tmp, final)
        _fsync_dir(folder)
        return str(final.relative_to(self.folder)), digest

    def remove_file(self, relative: str | None) -> None:
        """Delete a file the catalog no longer points to (call after the commit)."""
        if relative:
            (self.folder / relative).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _adopt_legacy(path: Path, legacy: Path) -> None:
    """Stores before schema 4 were one file, data/gatekeeper.duckdb: move it into the
    store folder (its rows move into Parquet files when the schema is migrated)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for suffix in ("", ".wal"):
        old = Path(f"{legacy}{suffix}")
        if old.exists():
            shutil.move(old, f"{path}{suffix}")


def open_store(path: Path, *, read_only: bool = False) -> Store:
    """The workspace store; read-only opens never block on each other."""
    return Store(path, read_only=read_only)
