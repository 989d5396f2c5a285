"""`gatekeeper backup` and `restore`: a consistent copy of the whole workspace state.

The store is a folder (catalog, Parquet rows, kept evidence) beside the opt-out journal,
so a plain copy taken while gatekeeper works could pair a catalog with rows it no longer
points to, or lose an opt-out. A backup therefore holds the store against writers (a
read connection: loads, imports and run records wait) while it copies the catalog and
the files it points to, then the contact ledger as its own writer lock shows it (the
segment list, calls.jsonl and exactly the segments listed: a segment is written before it
is listed, so a folder walked apart from its list can name a file it lacks), then the
journal under the journal's own lock, so every objection acknowledged before that moment
is in the backup (an imported call's objection is journalled before its call is stored,
so the journal copied last holds every objection of the calls copied). Agents and dialers
keep recording throughout (they wait milliseconds for the ledger's and journal's lists).

Restore into a new folder recreates the workspace. Restored over a workspace, nothing
acknowledged since the backup may be lost either: a journal that already contains the
backup's is kept as it is; otherwise the current one is kept aside and named. Erasures
made since the backup are done again on the restored state (GDPR art. 17).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gatekeeper.config import CONFIG_FILE, Workspace
from gatekeeper.core.errors import InputError, StoreError
from gatekeeper.core.timeutil import iso, now_utc
from gatekeeper.dial.ledger import Ledger, open_ledger
from gatekeeper.privacy.optouts import Journal, open_journal
from gatekeeper.store import Store
from gatekeeper.store import people as people_store

MANIFEST = "BACKUP.json"
# What a backup leaves out: scratch of runs and writers in progress, caches.
_SKIP_PARTS = (".tmp-", ".old-", ".erasing-", "__pycache__")


@dataclass
class BackupResult:
    path: Path
    files: int
    bytes: int
    journal_position: int
    journal_hash: str
    warnings: list[str] = field(default_factory=list)


def _skipped(path: Path) -> bool:
    return any(part in path.name for part in _SKIP_PARTS)


# Folders that are no workspace state: version control and caches anywhere; a checkout's
# build output at the top only (the demo workspace is also a checkout), since a list may
# well sit in data/lists/dist/; and any Python virtualenv.
_NOT_STATE = {".git", ".hg", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
              ".hypothesis"}
_NOT_STATE_AT_TOP = {"build", "dist", "node_modules"}


def _state_files(root: Path) -> list[Path]:
    """Every file of the workspace, without the folders above."""
    found = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        top = here == root
        dirs[:] = sorted(d for d in dirs if d not in _NOT_STATE
                         and not (top and (d in _NOT_STATE_AT_TOP or d.endswith(".egg-info")))
                         and not (here / d / "pyvenv.cfg").exists())
        found += [here / name for name in names]
    return sorted(found)


def _add(tar: tarfile.TarFile, source: Path, name: str, files: dict[str, str]) -> None:
    data = source.read_bytes()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(source.stat().st_mtime)
    tar.addfile(info, io.BytesIO(data))
    files[name] = hashlib.sha256(data).hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, files: dict[str, str]) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(now_utc().timestamp())
    tar.addfile(info, io.BytesIO(data))
    files[name] = hashlib.sha256(data).hexdigest()


class _Hashing(io.RawIOBase):
    """A file read through while it is hashed: a segment streams into the backup (a
    10M-call ledger's segments need not fit in memory) and its sha256 is what was copied."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.sha = handle, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha.update(data)
        return data


def _add_open(tar: tarfile.TarFile, name: str, handle: BinaryIO,
              files: dict[str, str]) -> None:
    stat = os.fstat(handle.fileno())
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = stat.st_size, 0o600, int(stat.st_mtime)
    reader = _Hashing(handle)
    tar.addfile(info, reader)
    files[name] = reader.sha.hexdigest()


# Segments held open past the ledger's lock; a ledger listing more (years of daily imports
# before retention folds them) is read while its writers wait.
_OPEN_SEGMENTS = 256


@dataclass
class LedgerView:
    """The contact ledger at one instant: its segment list and calls.jsonl as they were
    (None: no such file), and each listed segment opened then (None: listed but missing).
    `unreadable`: a line of the list is not a segment's; every segment file there is was
    opened instead."""

    listing: bytes | None
    calls: bytes | None
    segments: Iterable[tuple[str, BinaryIO | None]]  # read once, in order
    unreadable: bool = False


def _listed(listing: bytes) -> list[str] | None:
    """The segment file names the list names, or None when a line of it is unreadable."""
    names = []
    for line in listing.splitlines():
        try:
            name = json.loads(line)["name"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(name, str) or Path(name).name != name:
            return None
        names.append(name)
    return names


@contextlib.contextmanager
def workspace_ledger_view(ws: Workspace) -> Iterator[LedgerView | None]:
    """The workspace's ledger at one instant: data/ledger/, or the shared store's as the
    same files (written to a scratch folder, removed after)."""
    ledger = open_ledger(ws)
    mirror = getattr(ledger, "mirror", None)
    if mirror is None:
        with ledger_view(ws.ledger_dir) as view:
            yield view
        return
    ws.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix=".ledger-", dir=ws.data_dir) as scratch:
        mirror(Path(scratch))
        with ledger_view(Path(scratch)) as view:
            yield view


@contextlib.contextmanager
def ledger_view(folder: Path) -> Iterator[LedgerView | None]:
    """data/ledger/ as one instant of it (None: no ledger), for a copy or an audit.

    A segment is written before it is listed, and a rewrite (erasure, retention) lists
    the new one and then deletes the old: the folder walked apart from its list can name
    a file it lacks, or lack a file it names. So the list, calls.jsonl and every listed
    segment are opened while the ledger's writers wait (milliseconds), and read after:
    an open segment deleted meanwhile is still read whole."""
    if not folder.is_dir():
        yield None
        return
    ledger = Ledger(folder)
    with contextlib.ExitStack() as held, contextlib.ExitStack() as locked:
        locked.enter_context(ledger.writing())
        listing = ledger.manifest.read_bytes() if ledger.manifest.is_file() else None
        calls = ledger.wal.read_bytes() if ledger.wal.is_file() else None
        names = _listed(listing or b"")
        unreadable = names is None
        if names is None:
            names = sorted(p.name for p in ledger.segments_dir.glob("*.parquet"))
        names = list(dict.fromkeys(names))
        if len(names) > _OPEN_SEGMENTS:  # more than a process may hold open: the writers
            # wait for the whole copy, each segment opened and closed in turn
            yield LedgerView(listing, calls, _one_at_a_time(ledger.segments_dir, names),
                             unreadable)
            return
        segments: list[tuple[str, BinaryIO | None]] = []
        for name in names:
            try:
                segments.append((name, held.enter_context(
                    open(ledger.segments_dir / name, "rb"))))
            except FileNotFoundError:
                segments.append((name, None))
        locked.close()  # the writers go on; the open files are the instant
        yield LedgerView(listing, calls, segments, unreadable)


def _one_at_a_time(folder: Path, names: list[str]) -> Iterator[tuple[str, BinaryIO | None]]:
    """Each segment opened only while it is read: a ledger of thousands of daily imports
    must not run out of file handles ("Too many open files" stopped backup and audit)."""
    for name in names:
        try:
            handle = open(folder / name, "rb")  # noqa: SIM115 (closed below, in turn)
        except FileNotFoundError:
            yield name, None
            continue
        with handle:
            yield name, handle


def _add_ledger(ws: Workspace, tar: tarfile.TarFile, files: dict[str, str]) -> list[str]:
    """data/ledger/ as `ledger_view` gives it: the segment list, calls.jsonl and exactly
    the segments listed (one left unlisted by an import killed before listing it is no
    state); returns warnings. A list that cannot be read is copied as it is, beside
    every segment there is, for `audit verify` to name after a restore."""
    top = ws.ledger_dir.relative_to(ws.root)
    warnings: list[str] = []
    with workspace_ledger_view(ws) as view:
        if view is None:
            return []
        if view.unreadable:
            warnings.append(f"{top}/segments.jsonl: a line cannot be read; copied as it is, "
                            "with every segment file (see 'gatekeeper audit verify')")
        for name, handle in view.segments:
            if handle is None:
                warnings.append(f"{top}/segments/{name}: listed in segments.jsonl but "
                                "missing; the backup lacks it too (see 'gatekeeper audit "
                                "verify')")
            else:
                _add_open(tar, str(top / "segments" / name), handle, files)
        for part, data in (("segments.jsonl", view.listing), ("calls.jsonl", view.calls)):
            if data is not None:
                _add_bytes(tar, str(top / part), data, files)
    return warnings


def backup(ws: Workspace, dest: Path) -> BackupResult:
    """Write the workspace state to `dest` (.tar, or .tar.gz to compress)."""
    if dest.exists():
        raise InputError("already exists; give a new file name", file=dest)
    if not dest.parent.is_dir():
        raise InputError("the folder does not exist; create it first", file=dest.parent)
    compress = dest.name.endswith((".gz", ".tgz"))
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    files: dict[str, str] = {}
    warnings: list[str] = []
    journal = open_journal(ws)  # the file, or the shared register's rows
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with (os.fdopen(fd, "wb") as raw,
              tarfile.open(fileobj=raw, mode="w:gz" if compress else "w") as tar):
            store_dir, ledger_dir = ws.store_dir.resolve(), ws.ledger_dir.resolve()
            for path in _state_files(ws.root):
                resolved = path.resolve()
                if (not path.is_file() or _skipped(path) or resolved == tmp.resolve()
                        or resolved.is_relative_to(store_dir)
                        or resolved.is_relative_to(ledger_dir)
                        or path in (ws.journal_path, journal.checkpoints_path)):
                    continue
                _add(tar, path, str(path.relative_to(ws.root)), files)
            if ws.store_path.exists():  # writers wait while the store is copied
                with Store(ws.store_path, read_only=True):
                    for path in sorted(ws.store_dir.rglob("*")):
                        if path.is_file() and not _skipped(path):
                            _add(tar, path, str(path.relative_to(ws.root)), files)
            warnings += _add_ledger(ws, tar, files)
            # Last: every objection acknowledged before this moment is in the backup.
            position, head, data, receipts = journal.snapshot()
            for name, content in ((ws.journal_path, data),
                                  (journal.checkpoints_path, receipts)):
                if content or name.exists():
                    relative = str(name.relative_to(ws.root))
                    info = tarfile.TarInfo(relative)
                    info.size, info.mode = len(content), 0o600
                    tar.addfile(info, io.BytesIO(content))
                    files[relative] = hashlib.sha256(content).hexdigest()
            manifest = json.dumps({"created_at": iso(now_utc()), "journal_position": position,
                                   "journal_hash": head, "files": files,
                                   **({"warnings": warnings} if warnings else {})},
                                  indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(manifest), 0o600
            tar.addfile(info, io.BytesIO(manifest))
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(dest, len(files), dest.stat().st_size, position, head, warnings)


@dataclass
class RestoreResult:
    files: int
    journal: str  # what became of the journal: restored | kept (newer) | replaced
    set_aside: Path | None = None
    erasures_redone: list[str] = field(default_factory=list)


def _read_backup(path: Path) -> tuple[tarfile.TarFile, dict[str, object]]:
    if not path.is_file():
        raise InputError("backup file not found", file=path)
    tar: tarfile.TarFile | None = None
    try:
        tar = tarfile.open(path)  # noqa: SIM115  (the caller closes it)
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise KeyError(MANIFEST)
        return tar, json.loads(member.read())
    except (tarfile.TarError, KeyError, ValueError, OSError) as exc:
        if tar is not None:
            tar.close()
        raise InputError(f"not a gatekeeper backup ({exc}); give a file made by "
                         "'gatekeeper backup'", file=path) from None


def _erasures(ws: Workspace) -> list[tuple[str, str]]:
    """(phone, request) of every erasure the workspace's store records, if it is readable
    (a damaged store is often why one restores)."""
    if not ws.store_path.exists():
        return []
    try:
        with Store(ws.store_path, read_only=True) as store:
            return [(r["phone"], r["erased_ref"]) for r in
                    people_store.erased_numbers(store).to_dicts()]
    except StoreError:
        return []


def restore(ws_root: Path, backup_file: Path, *, force: bool = False) -> RestoreResult:
    """Recreate the workspace state from a backup (see the module docstring)."""
    existing = (ws_root / CONFIG_FILE).exists()
    if existing and not force:
        raise InputError("is already a workspace; restore into a new folder, or pass --force "
                         "to restore over it (nothing acknowledged since the backup is lost)",
                         file=ws_root)
    tar, manifest = _read_backup(backup_file)
    ws = Workspace(ws_root)
    before = _erasures(ws) if existing else []
    with tempfile.TemporaryDirectory(prefix="gk-restore-", dir=ws_root.parent) as scratch:
        with tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name != MANIFEST]
            for member in members:
                if Path(member.name).is_absolute() or ".." in Path(member.name).parts:
                    raise InputError(f"unsafe path {member.name!r} in the backup",
                                     file=backup_file)
            tar.extractall(scratch, members=members, filter="data")
        staged = Workspace(Path(scratch))
        journal_state = _place_journal(ws, staged, manifest)
        _place_shared_ledger(staged)
        ws_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if ws.store_dir.exists():
            shutil.rmtree(ws.store_dir)
        for path in sorted(Path(scratch).rglob("*")):
            if path.is_file():
                target = ws_root / path.relative_to(scratch)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.replace(path, target)
    result = RestoreResult(len(members), *journal_state)
    if before:
        from gatekeeper.privacy.erasure.erase import erase

        restored = {phone for phone, _ in _erasures(ws)}
        for phone, ref in before:
            if phone not in restored:
                erase(ws, phone, ref, by="restore")
                result.erasures_redone.append(ref)
    return result


def _place_journal(ws: Workspace, staged: Workspace, manifest: dict[str, object]
                   ) -> tuple[str, Path | None]:
    """Keep the current journal when it already holds the backup's (it can only be
    newer); else put the backup's in place and keep the current one aside, named."""
    url = staged.config().shared_url if staged.config_path.exists() else None
    if url is not None:
        return _place_shared_journal(staged, manifest, url, ws.data_dir)
    current = ws.journal_path
    backup_journal = staged.journal_path
    if not current.exists() or not backup_journal.exists():
        return "restored", None
    position = int(str(manifest.get("journal_position", 0)))
    with open(current, "rb") as handle:
        prefix = handle.read(position)
    if prefix == backup_journal.read_bytes()[:position]:
        backup_journal.unlink()  # the current journal has everything the backup has
        Journal(staged.journal_path).checkpoints_path.unlink(missing_ok=True)
        return "kept (it already holds every entry of the backup, and newer ones)", None
    aside = current.with_name(f"{current.name}.before-restore-"
                              f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}")
    os.replace(current, aside)
    return "replaced", aside


def _place_shared_ledger(staged: Workspace) -> None:
    """A backup's ledger files under a shared store: put into it when it holds no ledger
    (a new database), else the store's kept (its ledger only grows and is rewritten by
    erasures, redone below); no ledger file stays beside it."""
    url = staged.config().shared_url if staged.config_path.exists() else None
    files = Ledger(staged.ledger_dir)
    if url is None or not (files.manifest.exists() or files.wal.exists()):
        return
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.ledger import SharedLedger

    shared = SharedLedger(shared_store(url), staged.ledger_dir)
    if shared.is_empty():
        shared.take_files(files)
    for path in (files.manifest, files.wal):
        path.unlink(missing_ok=True)
    shutil.rmtree(files.segments_dir, ignore_errors=True)


def _place_shared_journal(staged: Workspace, manifest: dict[str, object], url: str,
                          data_dir: Path) -> tuple[str, Path | None]:
    """The same rule for a shared register: kept when it already holds the backup's
    entries, else its rows replaced by the backup's in one transaction, what it held set
    aside as a file first (evidence). Nothing of the backup stays a file beside it."""
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.journal import SharedJournal

    shared = SharedJournal(shared_store(url), staged.journal_path)
    backup_file = staged.journal_path
    data = backup_file.read_bytes() if backup_file.exists() else b""
    receipts_file = shared.checkpoints_path
    receipts = receipts_file.read_bytes() if receipts_file.exists() else b""
    backup_file.unlink(missing_ok=True)
    receipts_file.unlink(missing_ok=True)
    position = int(str(manifest.get("journal_position", 0)))
    current, _ = shared.contents()
    if len(current) >= position and current[:position] == data[:position]:
        return ("kept (the shared register already holds every entry of the backup, and "
                "newer ones)"), None
    name = (f"{backup_file.name}.before-restore-"
            f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}")
    staged.data_dir.mkdir(parents=True, exist_ok=True)
    (staged.data_dir / name).write_bytes(current)
    shared.replace(data, receipts)
    return "replaced", data_dir / name


__all__ = ["BackupResult", "LedgerView", "RestoreResult", "backup", "ledger_view", "restore"]
