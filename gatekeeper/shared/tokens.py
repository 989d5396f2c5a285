"""The service tokens in the shared store: a token made or revoked at one host holds at
every instance at once (revocation above all).

The document is data/tokens.json's, kept as one row and changed under an advisory lock
(two hosts adding a token at the same moment both keep theirs). An instance re-reads it
when notified; a command reads it every time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gatekeeper.core.errors import SharedUnavailable
from gatekeeper.service.tokens import Caller, TokenFile
from gatekeeper.shared import CHANNEL_TOKENS, SharedStore

_LOCK_KEY = 0x746F_6B6E  # "tokn"


class SharedTokens(TokenFile):
    def __init__(self, store: SharedStore, path: Path) -> None:
        super().__init__(path)  # the file it replaces: named in messages, never written
        self.store = store
        self._seen: object = None

    def _read(self) -> dict[str, Any]:
        with self.store.connection() as conn:
            row = conn.execute("SELECT body FROM tokens").fetchone()
        data: dict[str, Any] = json.loads(row[0]) if row else {"tokens": []}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        with self.store.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO tokens (one, body) VALUES (true, %s) ON CONFLICT (one) "
                         "DO UPDATE SET body = excluded.body", (json.dumps(data, indent=2),))
            conn.execute("SELECT pg_notify(%s, '')", (CHANNEL_TOKENS,))
        listener = self.store.running_listener()
        if listener is not None:
            listener.bump(CHANNEL_TOKENS)

    def add(self, name: str, role: str, agency: str | None = None) -> str:
        with self.store.advisory_lock(_LOCK_KEY):
            return super().add(name, role, agency)

    def revoke(self, name: str) -> int:
        with self.store.advisory_lock(_LOCK_KEY):
            return super().revoke(name)

    def holder(self, digest: str) -> Caller | None:
        """As the file's, re-read when another instance changed the tokens (a command,
        with no listener, reads them every time)."""
        listener = self.store.running_listener()
        try:
            stamp = listener.generation(CHANNEL_TOKENS) if listener is not None else object()
        except SharedUnavailable:
            # Nobody can make or revoke a token while it is away: the tokens last read
            # still hold, so a check is answered (OPTOUTS_UNAVAILABLE), not refused.
            return self._by_hash.get(digest)
        if stamp != self._seen:
            self._by_hash = {t["sha256"]: Caller(t["name"], t["role"], t.get("agency"))
                             for t in self._read()["tokens"] if not t.get("revoked_at")}
            self._seen = stamp
        return self._by_hash.get(digest)

    def is_empty(self) -> bool:
        return not self._read()["tokens"]
