"""The contact ledger as rows of the shared store: every instance records into one ledger.

The file ledger's two kinds of file become two tables: calls.jsonl's lines (`ledger_wal`,
with the byte positions the file would give them, which here only grow) and the immutable
Parquet segments (`ledger_segments`, as blobs: each instance keeps a copy under
data/ledger/shared-cache/, checked against its sha256 before it is read). The one writer
at a time of the file ledger is PostgreSQL's advisory lock, held by a session, so a
killed instance releases it; under it a writer first reads what the others wrote, so a
call retried at another instance is found and stored once. Everything else (group
commit, the journal first for an `optout` outcome, repeats and clashes) is the file
ledger's own code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.errors import JournalError
from gatekeeper.dial.ledger import KEY, Ledger, Segment, segment_file, wal_lines
from gatekeeper.shared import CHANNEL_CALLS, SharedStore, joined_lines
from gatekeeper.shared.schema import require_current

_LOCK_KEY = 0x6C65_6467  # "ledg": the ledger's one writer at a time, across instances
CACHE = "shared-cache"


class SharedLedger(Ledger):
    """The contact ledger of a workspace whose [shared] url names PostgreSQL."""

    def __init__(self, store: SharedStore, folder: Path) -> None:
        super().__init__(folder)
        self.store = store
        self.cache = folder / CACHE
        self._checked = False

    def _ready(self) -> None:
        if not self._checked:
            with self.store.connection() as conn:
                require_current(conn)
            self._checked = True

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One writer at a time across every instance: a session's advisory lock (a
        killed instance's session ends, and its lock with it)."""
        self._ready()
        with self.store.advisory_lock(_LOCK_KEY):
            yield

    # --- reading -----------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        self._ready()
        with self.store.connection() as conn:
            rows = conn.execute("SELECT name, sha256, rows, source FROM ledger_segments "
                                "ORDER BY n").fetchall()
        return [Segment(str(n), str(s), int(r), str(src)) for n, s, r, src in rows]

    def segment_path(self, segment: Segment) -> Path:
        """The instance's copy of a segment, fetched once and checked by its sha256."""
        path = self.cache / segment.name
        if path.is_file():
            return path
        with self.store.connection() as conn:
            row = conn.execute("SELECT data FROM ledger_segments WHERE name = %s",
                               (segment.name,)).fetchone()
        if row is None:
            raise JournalError(f"the shared ledger lists segment {segment.name} but does not "
                               "hold it; restore the database from a backup")
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != segment.sha256:
            raise JournalError(f"the shared ledger's segment {segment.name} does not match "
                               "its sha256 (altered after it was written); restore the "
                               "database from a backup")
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.cache / f".incoming-{os.getpid()}-{segment.name}"
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def wal_start(self) -> int:
        return self._state()[0]

    def wal_size(self) -> int:
        return self._state()[1]

    def _state(self) -> tuple[int, int]:
        self._ready()
        with self.store.connection() as conn:
            row = conn.execute("SELECT wal_start, wal_end FROM ledger_state").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def wal_read(self, start: int = 0) -> tuple[bytes, int]:
        self._ready()
        with self.store.connection() as conn:
            row = conn.execute(
                f"SELECT {joined_lines('n')}, greatest(%s, coalesce(max(end_position), 0), "
                "(SELECT wal_start FROM ledger_state)) FROM ledger_wal "
                "WHERE end_position > %s", (start, start)).fetchone()
        assert row is not None
        return bytes(row[0]), int(row[1])

    # --- writing (inside `_lock`) -------------------------------------------------------

    def write_wal(self, calls: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """The calls as rows, committed (durable) when this returns; the other instances
        are told."""
        with self.store.connection() as conn, conn.transaction():
            row = conn.execute("SELECT wal_end FROM ledger_state FOR UPDATE").fetchone()
            assert row is not None
            start = end = int(row[0])
            with conn.cursor() as cur, cur.copy(
                    "COPY ledger_wal (end_position, body) FROM STDIN") as copy:
                for line in wal_lines(calls):
                    data = line.encode()
                    end += len(data) + 1
                    copy.write_row((end, data))
            conn.execute("UPDATE ledger_state SET wal_end = %s", (end,))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_CALLS, str(end)))
        return start, end

    def _segment_bytes(self, calls: pl.DataFrame, source: str) -> tuple[Segment, bytes]:
        """A segment written to this instance's cache, and its bytes for the database."""
        segment = segment_file(calls, source, self.cache, durable=False)
        return segment, (self.cache / segment.name).read_bytes()

    def _write_segment(self, calls: pl.DataFrame, source: str) -> Segment:
        segment, data = self._segment_bytes(calls, source)
        with self.store.connection() as conn, conn.transaction():
            self._insert_segment(conn, segment, data)
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_CALLS, segment.name))
        return segment

    @staticmethod
    def _insert_segment(conn: Any, segment: Segment, data: bytes) -> None:
        conn.execute("INSERT INTO ledger_segments (name, sha256, rows, source, data) "
                     "VALUES (%s, %s, %s, %s, %s)",
                     (segment.name, segment.sha256, segment.rows, segment.source, data))

    def compact(self) -> int:
        """Fold the calls rows into one segment: the segment and the deletion of the rows
        it holds commit together (nothing twice, nothing lost)."""
        with self._lock():
            data, end = self.wal_read()
            if not data:
                return 0
            from gatekeeper.dial.ledger import wal_calls

            calls = wal_calls(data)
            if (calls["via"] == "damaged").any():
                return 0  # a damaged row stays where it is, as evidence (audit names it)
            segment, blob = self._segment_bytes(
                calls.unique(KEY, keep="first", maintain_order=True), "service")
            with self.store.connection() as conn, conn.transaction():
                self._insert_segment(conn, segment, blob)
                conn.execute("DELETE FROM ledger_wal WHERE end_position <= %s", (end,))
                conn.execute("UPDATE ledger_state SET wal_start = greatest(wal_start, %s)",
                             (end,))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_CALLS, segment.name))
        return calls.height

    def rewrite(self, change: Callable[[pl.DataFrame], pl.DataFrame], source: str) -> int:
        """Every segment and call row through `change` (erasure, retention), replaced by
        one segment in one transaction; the instances' copies of the old ones removed."""
        with self._lock():
            everything = self.calls()
            kept: pl.DataFrame = change(everything)
            old = self.segments()
            new = self._segment_bytes(kept, source) if kept.height else None
            with self.store.connection() as conn, conn.transaction():
                conn.execute("DELETE FROM ledger_segments")
                if new is not None:
                    self._insert_segment(conn, *new)
                conn.execute("DELETE FROM ledger_wal")
                conn.execute("UPDATE ledger_state SET wal_start = wal_end")
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_CALLS, "rewrite"))
            for segment in old:
                (self.cache / segment.name).unlink(missing_ok=True)
        return kept.height

    def mirror(self, folder: Path) -> None:
        """The ledger as the files of a file ledger, at one instant (its writers wait):
        what a backup copies and the audit checks, with the file ledger's own code."""
        import json

        with self._lock():
            segments = self.segments()
            data, _ = self.wal_read()
            (folder / "segments").mkdir(parents=True, exist_ok=True, mode=0o700)
            for segment in segments:
                source = self.segment_path(segment)
                target = folder / "segments" / segment.name
                try:
                    os.link(source, target)
                except OSError:
                    target.write_bytes(source.read_bytes())
            (folder / "segments.jsonl").write_text(
                "".join(json.dumps(s.__dict__) + "\n" for s in segments))
            (folder / "calls.jsonl").write_bytes(data)

    # --- moving a workspace's files in --------------------------------------------------

    def is_empty(self) -> bool:
        with self.store.connection() as conn:
            found = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM ledger_segments) AND NOT "
                                 "EXISTS (SELECT 1 FROM ledger_wal)").fetchone()
        return found == (True,)

    def take_files(self, source: Ledger) -> int:
        """Copy a file ledger in, whole, in one transaction: its segments byte for byte
        (same names, same sha256) and calls.jsonl's lines. Returns the calls moved."""
        segments = source.segments()
        data, _ = source.wal_read()
        with self._lock(), self.store.connection() as conn, conn.transaction():
            for segment in segments:
                path = source.segment_path(segment)
                if sha256_file(path) != segment.sha256:
                    raise JournalError(f"{path}: does not match the sha256 its list gives; "
                                       "restore data/ledger/ from a backup before moving it")
                self._insert_segment(conn, segment, path.read_bytes())
            end = 0
            with conn.cursor() as cur, cur.copy(
                    "COPY ledger_wal (end_position, body) FROM STDIN") as copy:
                for line in data.split(b"\n")[:-1]:
                    end += len(line) + 1
                    copy.write_row((end, line))
            conn.execute("UPDATE ledger_state SET wal_start = 0, wal_end = %s", (end,))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL_CALLS, "migrate"))
        return sum(s.rows for s in segments) + len(data.split(b"\n")) - 1
