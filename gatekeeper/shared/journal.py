"""The opt-out journal as rows of the shared store: the same lines, the same chain.

Each line the file would hold is one row (its bytes, its end position, the link the next
line chains to), so everything that reads a journal (decisions, the audit, disclosure,
backups) reads these rows exactly as the file, through the same parser. An append is one
transaction under a table lock: the chain cannot fork between two instances, and the
rows, their receipt and the notification to the other instances commit together or not
at all. Acknowledged means committed (PostgreSQL's durable commit, and its replication
where the controller runs it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from gatekeeper.privacy.optouts.journal import (
    GENESIS,
    AppendResult,
    Journal,
    chain_lines,
)
from gatekeeper.shared import CHANNEL_OPTOUTS, SharedStore, joined_lines
from gatekeeper.shared.schema import require_current

_LINES = f"SELECT {joined_lines('line')} FROM optout_lines"


class SharedJournal(Journal):
    """The opt-out journal of a workspace whose [shared] url names PostgreSQL."""

    def __init__(self, store: SharedStore, path: Path) -> None:
        super().__init__(path)  # the file it replaces: named in hints, never written
        self.store = store
        self._checked = False

    def _ready(self, conn: psycopg.Connection[Any]) -> None:
        if not self._checked:
            require_current(conn)
            self._checked = True

    # --- writing ---------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        with self.store.connection() as conn:
            self._ready(conn)
            row = conn.execute("SELECT end_position, link FROM optout_lines "
                               "ORDER BY line DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def append(self, events: Sequence[dict[str, Any]]) -> AppendResult:
        """Append events in one transaction: when this returns they are committed."""
        with self.store.connection() as conn:
            self._ready(conn)
            with conn.transaction():
                conn.execute("LOCK TABLE optout_lines IN EXCLUSIVE MODE")
                last = conn.execute("SELECT line, end_position, link FROM optout_lines "
                                    "ORDER BY line DESC LIMIT 1").fetchone()
                line, end, prev = (int(last[0]), int(last[1]), str(last[2])) if last \
                    else (0, 0, GENESIS)
                found = conn.execute("SELECT seq FROM optout_lines WHERE seq IS NOT NULL "
                                     "ORDER BY line DESC LIMIT 1").fetchone()
                seq = int(found[0]) if found else 0
                written, lines = chain_lines(events, prev, seq)
                with conn.cursor() as cur, cur.copy(
                        "COPY optout_lines (line, end_position, body, link, seq) "
                        "FROM STDIN") as copy:
                    for entry, text in zip(written, lines, strict=True):
                        data = text.encode()
                        line, end = line + 1, end + len(data) + 1
                        copy.write_row((line, end, data, entry["hash"], entry["seq"]))
                if written:
                    prev, seq = str(written[-1]["hash"]), int(written[-1]["seq"])
                conn.execute("INSERT INTO optout_receipts (position, hash, seq) "
                             "VALUES (%s, %s, %s)", (end, prev, seq))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_OPTOUTS, str(end)))
        self._bump()
        return AppendResult(written, [], end, prev)

    def _bump(self) -> None:
        """This process's own follower reads the append at once (its notification comes
        back a moment later)."""
        listener = self.store.running_listener()
        if listener is not None:
            listener.bump(CHANNEL_OPTOUTS)

    # --- reading ---------------------------------------------------------------------

    def _bytes(self) -> bytes:
        with self.store.connection() as conn:
            self._ready(conn)
            row = conn.execute(_LINES).fetchone()
        return bytes(row[0]) if row else b""

    def _bytes_and_receipts(self) -> tuple[bytes, bytes | OSError]:
        """Lines and receipts from one snapshot (an append writes both in one
        transaction, so they always agree)."""
        with self.store.connection() as conn:
            self._ready(conn)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = conn.execute(_LINES).fetchone()
                receipts = self._receipt_lines(conn)
        return (bytes(row[0]) if row else b""), receipts

    def _read_receipts(self) -> bytes | OSError:
        with self.store.connection() as conn:
            self._ready(conn)
            return self._receipt_lines(conn)

    @staticmethod
    def _receipt_lines(conn: psycopg.Connection[Any]) -> bytes:
        """The receipts as the file's lines, for the one reader of receipts."""
        rows = conn.execute("SELECT position, hash, seq FROM optout_receipts "
                            "ORDER BY id").fetchall()
        return "".join(json.dumps({"position": int(p), "hash": h, "seq": int(s)}) + "\n"
                       for p, h, s in rows).encode()

    def snapshot(self) -> tuple[int, str, bytes, bytes]:
        data, receipts = self._bytes_and_receipts()
        assert not isinstance(receipts, OSError)
        position = len(data)
        if not position:
            return 0, GENESIS, b"", receipts
        with self.store.connection() as conn:
            row = conn.execute("SELECT link FROM optout_lines WHERE end_position = %s",
                               (position,)).fetchone()
        return position, str(row[0]) if row else GENESIS, data, receipts

    # --- following -------------------------------------------------------------------

    def start_following(self) -> None:
        """Listen for the other instances' appends from now (the service, at start)."""
        self.store.listener()

    def follow_token(self) -> object:
        """The listener's count of notifications (raises while the server is away)."""
        return self.store.listener().generation(CHANNEL_OPTOUTS)

    def tail_from(self, position: int) -> bytes | None:
        with self.store.connection() as conn:
            self._ready(conn)
            row = conn.execute(
                "SELECT (SELECT coalesce(max(end_position), 0) FROM optout_lines), "
                f"{joined_lines('line')} FROM optout_lines WHERE end_position > %s",
                (position,)).fetchone()
        assert row is not None
        if int(row[0]) < position:
            return None
        return bytes(row[1])

    # --- moving a workspace's file in, and restoring a backup ----------------------

    def is_empty(self) -> bool:
        with self.store.connection() as conn:
            self._ready(conn)
            return conn.execute("SELECT NOT EXISTS (SELECT 1 FROM optout_lines)"
                                ).fetchone() == (True,)

    def replace(self, data: bytes, receipts: bytes) -> None:
        """Make the register hold exactly these lines and receipts (a migration from the
        file, a restore), in one transaction; the other instances are told."""
        from gatekeeper.privacy.optouts.journal import chain_link, journal_entry

        complete = data[:data.rfind(b"\n") + 1]
        with self.store.connection() as conn:
            self._ready(conn)
            with conn.transaction():
                conn.execute("LOCK TABLE optout_lines, optout_receipts IN EXCLUSIVE MODE")
                conn.execute("DELETE FROM optout_lines")
                conn.execute("DELETE FROM optout_receipts")
                end = 0
                with conn.cursor() as cur, cur.copy(
                        "COPY optout_lines (line, end_position, body, link, seq) "
                        "FROM STDIN") as copy:
                    for number, raw in enumerate(complete.split(b"\n")[:-1], 1):
                        entry = journal_entry(raw)
                        end += len(raw) + 1
                        copy.write_row((number, end, raw, chain_link(raw, entry),
                                        entry["seq"] if entry is not None else None))
                conn.cursor().executemany(
                    "INSERT INTO optout_receipts (position, hash, seq) VALUES (%s, %s, %s)",
                    _receipt_rows(receipts))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_OPTOUTS, str(end)))
        self._bump()


def _receipt_rows(receipts: bytes) -> list[tuple[int, str, int]]:
    """The file's receipts as rows; a damaged one is skipped, as the file's reader does
    (each is a copy of what the chain itself proves)."""
    rows = []
    for raw in receipts.split(b"\n"):
        try:
            item = json.loads(raw)
            rows.append((int(item["position"]), str(item["hash"]), int(item.get("seq") or 0)))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return rows
