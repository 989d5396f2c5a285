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
from gatekeeper.privacy.optouts.journal import Journal
from gatekeeper.shared import SharedStore, redacted, shared_store
from gatekeeper.shared.journal import SharedJournal
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


def moved_aside(ws: Workspace) -> list[Path]:
    """The files a migration set aside (kept as evidence; never read again)."""
    journal = Journal(ws.journal_path)
    return [Path(f"{p}{MOVED_SUFFIX}") for p in (journal.path, journal.checkpoints_path)]


def migrate_from_files(ws: Workspace) -> MoveResult:
    """Move data/optouts.jsonl (and its receipts) into the shared register."""
    store = _store(ws)
    with store.connection() as conn:
        migrate(conn)
    shared = SharedJournal(store, ws.journal_path)
    result = MoveResult(redacted(store.url))
    source = Journal(ws.journal_path)
    if not source.path.exists():
        return result
    state, problems = source.verify()
    if problems:
        raise EvidenceError(f"{source.path}: {problems[0]}; the journal is moved only when "
                            "its chain verifies ('gatekeeper audit verify' shows every "
                            "problem): repair it or restore it from a backup first")
    data, receipts = source.contents()
    data = data[:state.position]  # a torn tail was never acknowledged
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
    return result
