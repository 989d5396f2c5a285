"""Setting up the shared store, and moving a one-host workspace into it.

`gatekeeper shared init` creates (or brings up to date) the tables. `gatekeeper shared
migrate --from-files` moves the opt-out journal of data/ into them: the file's chain is
verified before anything moves, the rows are written in one transaction, the chain is
verified again as PostgreSQL holds it and must end at the file's very head; only then is
the file set aside (renamed, never deleted: it is evidence), so no process appends to a
journal nobody reads any more.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.config import Workspace
from gatekeeper.core.errors import ConfigError, EvidenceError, InputError
from gatekeeper.dial.ledger import Ledger
from gatekeeper.privacy.optouts.journal import Journal
from gatekeeper.shared import SharedStore, redacted, shared_store
from gatekeeper.shared.journal import SharedJournal
from gatekeeper.shared.ledger import SharedLedger
from gatekeeper.shared.schema import migrate

MOVED_SUFFIX = ".moved-to-shared"


def _store(ws: Workspace) -> SharedStore:
    url = ws.config().shared_url
    if url is None:
        raise ConfigError("no [shared] url in gatekeeper.toml; add\n\n  [shared]\n  url = "
                          "\"postgresql://USER@HOST/DATABASE\"\n\n(the password in ~/.pgpass or "
                          "PGPASSWORD, not in this file)", file=ws.config_path,
                          key="shared.url")
    return shared_store(url)


@dataclass
class InitResult:
    url: str
    before: int
    after: int


def init(ws: Workspace) -> InitResult:
    store = _store(ws)
    with store.connection() as conn:
        before, after = migrate(conn)
    return InitResult(redacted(store.url), before, after)


@dataclass
class MoveResult:
    url: str
    entries: int = 0
    position: int = 0
    head: str = ""
    receipts: int = 0
    moved_aside: list[Path] = field(default_factory=list)
    already: bool = False
    calls: int | None = None  # calls moved (None: no ledger in data/)


def moved_aside(ws: Workspace) -> list[Path]:
    """The files a migration set aside (kept as evidence; never read again)."""
    journal = Journal(ws.journal_path)
    return [Path(f"{p}{MOVED_SUFFIX}") for p in (journal.path, journal.checkpoints_path)]


def migrate_from_files(ws: Workspace) -> MoveResult:
    """Move data/optouts.jsonl (and its receipts) and data/ledger/ into the shared store,
    and copy the store's erasures there (the store keeps its own)."""
    store = _store(ws)
    with store.connection() as conn:
        migrate(conn)
    _copy_erasures(store, ws)
    _move_tokens(store, ws)
    result = MoveResult(redacted(store.url))
    _move_journal(store, ws, result)
    result.calls = _move_ledger(store, ws)
    return result


def _move_journal(store: SharedStore, ws: Workspace, result: MoveResult) -> None:
    """data/optouts.jsonl and its receipts into the shared register, the chain verified
    before and after; then the files set aside (renamed, kept as evidence)."""
    source = Journal(ws.journal_path)
    if not source.path.exists():
        return
    state, problems = source.verify()
    if problems:
        raise EvidenceError(f"{source.path}: {problems[0]}; the journal is moved only when "
                            "its chain verifies ('gatekeeper audit verify' shows every "
                            "problem): repair it or restore it from a backup first")
    data, receipts = source.contents()
    data = data[:state.position]  # a torn tail was never acknowledged
    shared = SharedJournal(store, ws.journal_path)
    if not shared.is_empty():
        if shared.contents()[0] == data:  # a migration that set nothing aside yet
            result.already = True
        else:
            raise InputError(f"the shared opt-out register at {result.url} already holds "
                             "other entries; a workspace's journal is moved only into an "
                             "empty register (use a new database, or move it back first)")
    else:
        shared.replace(data, receipts)
    after, problems = shared.verify()
    if problems or after.position != state.position or after.last_hash != state.last_hash:
        raise EvidenceError(f"the opt-out journal as {result.url} holds it does not verify "
                            f"({problems[0] if problems else 'its head differs'}); the file "
                            f"{source.path} is left in place and still authoritative")
    result.entries, result.position, result.head = state.entries, state.position, \
        state.last_hash
    result.receipts = len(shared.checkpoints())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for path, aside in zip((source.path, source.checkpoints_path), moved_aside(ws),
                           strict=True):
        if path.exists():
            target = aside if not aside.exists() else aside.with_name(f"{aside.name}-{stamp}")
            os.replace(path, target)
            result.moved_aside.append(target)


def _move_ledger(store: SharedStore, ws: Workspace) -> int | None:
    """data/ledger/ into the shared store: every segment byte for byte and calls.jsonl's
    lines, compared after; the files then set aside (renamed, kept as evidence)."""
    files = Ledger(ws.ledger_dir)
    if not files.manifest.exists() and not files.wal.exists():
        return None
    shared = SharedLedger(store, ws.ledger_dir)
    listed, lines = files.segments(), files.wal_read()[0]
    if shared.is_empty():
        moved = shared.take_files(files)
    elif shared.segments() == listed and shared.wal_read()[0] == lines:
        moved = sum(s.rows for s in listed) + lines.count(b"\n")
    else:
        raise InputError(f"the shared contact ledger at {redacted(store.url)} already holds "
                         "other calls; a workspace's ledger is moved only into an empty one")
    if shared.segments() != listed or shared.wal_read()[0] != lines:
        raise EvidenceError("the contact ledger as the shared store holds it differs from "
                            f"{files.folder}; the files are left in place")
    for path in (files.manifest, files.wal, files.segments_dir):
        if path.exists():
            os.replace(path, Path(f"{path}{MOVED_SUFFIX}"))
    return moved


def _copy_erasures(store: SharedStore, ws: Workspace) -> None:
    """Every erasure the workspace's store records, into the shared store (each number's
    first stands; running this again changes nothing)."""
    if not ws.store_path.exists():
        return
    from gatekeeper.shared import erasures
    from gatekeeper.store import Store
    from gatekeeper.store import people as people_store

    with Store(ws.store_path, read_only=True) as local:
        rows = people_store.erased_numbers(local).to_dicts()
    for row in rows:
        erasures.record(store, row["phone"], row["erased_at"], row["erased_ref"])


def _move_tokens(store: SharedStore, ws: Workspace) -> None:
    """data/tokens.json into the shared store (when it holds none), then set aside."""
    import json

    from gatekeeper.service.tokens import TokenFile
    from gatekeeper.shared.tokens import SharedTokens

    path = ws.data_dir / "tokens.json"
    if not path.exists():
        return
    data = TokenFile(path)._read()
    shared = SharedTokens(store, path)
    current = shared._read()
    if not current["tokens"]:
        shared._write(data)
    elif json.dumps(current, sort_keys=True) != json.dumps(data, sort_keys=True):
        raise InputError(f"the shared store at {redacted(store.url)} already holds other "
                         f"service tokens; {path} is left in place (make this workspace's "
                         "tokens again with 'gatekeeper token add')")
    os.replace(path, Path(f"{path}{MOVED_SUFFIX}"))
