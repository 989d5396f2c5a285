"""The shared store: what every service instance must agree on at once, in PostgreSQL.

A controller with several call centres runs several service instances; an opt-out one of
them acknowledges must block the number at every other within a second, and survive the
instance. PostgreSQL (which such a controller already runs with replication and backups)
holds those facts; each instance keeps its in-memory answers and learns of new rows by
LISTEN/NOTIFY instead of polling. The files of data/ stay the default for one host.

This module is the one seam to the server: a connection pool, the notification listener,
and the translation of "cannot reach it" into SharedUnavailable (fail closed: a check
answers not dialable, a write answers 503). What is stored is in schema.py; the opt-out
register's rows in journal.py.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from gatekeeper.core.errors import SharedUnavailable

log = logging.getLogger("gatekeeper.shared")
# The pool retries in the background and would log each attempt; the one message that
# matters (SharedUnavailable, the listener's lost/reached) is ours.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

# Waiting longer for a connection would only hold an agent's request: the answer while
# the server is away is "not dialable" / 503, and it is given at once.
CONNECT_TIMEOUT = 2
POOL_TIMEOUT = 2.0
CHANNEL_OPTOUTS = "gatekeeper_optouts"
CHANNEL_CALLS = "gatekeeper_calls"
CHANNEL_ERASURES = "gatekeeper_erasures"
CHANNEL_TOKENS = "gatekeeper_tokens"


def joined_lines(order: str) -> str:
    """SQL: the rows' `body` as one file's bytes, each followed by its newline, in `order`
    (empty bytes for no rows): how a journal's or ledger's rows are read back as lines."""
    return (f"coalesce(string_agg(body || '\\x0a'::bytea, ''::bytea ORDER BY {order}), "
            "''::bytea)")


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def unavailable(url: str, exc: BaseException) -> SharedUnavailable:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return SharedUnavailable(
        f"the shared store {redacted(url)} cannot be reached ({reason[:200]}); checks answer "
        "not dialable and writes are refused until it is back (it resumes on its own)")


class SharedStore:
    """One PostgreSQL database, reached through a small pool (one per process and URL)."""

    def __init__(self, url: str, *, max_size: int = 8) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, timeout=POOL_TIMEOUT,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            check=ConnectionPool.check_connection, reconnect_timeout=0,
            name="gatekeeper-shared")
        self._pool.open(wait=False)
        self._listener: Listener | None = None
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in autocommit mode; `with conn.transaction():` for atomic work.
        Any failure to reach the server becomes SharedUnavailable. In the service, while
        its listener has lost the server, this fails at once instead of waiting for the
        pool's timeout: a 2 s wait held the ledger's index, and with it every check."""
        listener = self._listener
        if listener is not None:
            listener.require_connected()
        try:
            with self._pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise unavailable(self.url, exc) from None

    @contextmanager
    def advisory_lock(self, key: int) -> Iterator[None]:
        """One holder at a time across every instance, for as long as the block runs: a
        session's advisory lock, so a killed instance's ends with its session."""
        with self.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def listener(self) -> Listener:
        """The process's one listener (started on first use)."""
        with self._lock:
            if self._listener is None:
                self._listener = Listener(self.url, (CHANNEL_OPTOUTS, CHANNEL_CALLS,
                                                     CHANNEL_ERASURES, CHANNEL_TOKENS))
            return self._listener

    def running_listener(self) -> Listener | None:
        """The listener if one was started (the service), else None (a command)."""
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        self._pool.close()


_STORES: dict[str, SharedStore] = {}
_STORES_LOCK = threading.Lock()


def shared_store(url: str) -> SharedStore:
    """The process's store for url: one pool, however many journals are opened."""
    with _STORES_LOCK:
        store = _STORES.get(url)
        if store is None:
            store = _STORES[url] = SharedStore(url)
        return store


@atexit.register
def _close_all() -> None:
    with _STORES_LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()


class Listener:
    """LISTEN on the shared store's channels in a thread of its own.

    `generation(channel)` changes whenever a notification arrives on the channel, and when
    the connection is lost or comes back (what was missed meanwhile must be read). While
    it is lost, `generation` raises SharedUnavailable: a copy that may lack an opt-out is
    no ground for "dialable". The connection is tested every second, so a server that
    went away without closing it is noticed too.
    """

    def __init__(self, url: str, channels: tuple[str, ...]) -> None:
        self.url = url
        self.channels = channels
        self._generations = dict.fromkeys(channels, 0)
        self._connected = False
        self._error: BaseException | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="gatekeeper-listen",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(CONNECT_TIMEOUT + 1)  # the first connection, or its failure

    def generation(self, channel: str) -> int:
        with self._cond:
            self._require_connected()
            return self._generations[channel]

    def require_connected(self) -> None:
        with self._cond:
            self._require_connected()

    def _require_connected(self) -> None:
        if not self._connected:
            raise unavailable(self.url, self._error or RuntimeError("not connected"))

    def bump(self, channel: str) -> None:
        """What this process wrote itself: read at once, not when its notification
        comes back."""
        with self._cond:
            self._generations[channel] += 1
            self._cond.notify_all()

    def wait_change(self, channel: str, seen: int, timeout: float) -> bool:
        """Block until channel's generation differs from seen (True) or timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._generations[channel] != seen, timeout)

    def _set_connected(self, connected: bool, error: BaseException | None = None) -> None:
        with self._cond:
            changed = connected != self._connected
            self._connected, self._error = connected, error
            if changed:
                for channel in self._generations:
                    self._generations[channel] += 1
                self._cond.notify_all()
        if changed:
            (log.info if connected else log.warning)(
                "shared store %s %s", redacted(self.url),
                "reached" if connected else f"lost ({error})")

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True,
                                     connect_timeout=CONNECT_TIMEOUT) as conn:
                    for channel in self.channels:
                        conn.execute(f"LISTEN {channel}")
                    self._set_connected(True)
                    self._ready.set()
                    self._listen(conn)
            except psycopg.Error as exc:
                self._set_connected(False, exc)
                self._ready.set()
                self._stopping.wait(0.2)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stopping.is_set():
            for note in conn.notifies(timeout=1.0, stop_after=64):
                if note.channel in self._generations:
                    self.bump(note.channel)
            conn.execute("SELECT 1")  # a server gone without a word is noticed here

    def stop(self) -> None:
        self._stopping.set()

