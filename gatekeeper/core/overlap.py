"""Two cores, two kinds of work: read the next piece while this one is decided.

Much of a run or a load is single-threaded at any moment (DuckDB handing rows out, a
Parquet or CSV writer, the phone-number library), so the second core idles unless the
next piece of input is prepared beside the current one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T]) -> Generator[T, None, None]:
    """The items of `items`, each produced in a worker thread while the caller works on
    the one before. Order, exceptions and laziness are as without it; one item more is
    held in memory. The source is only ever advanced by one thread at a time, so a DuckDB
    connection may be read in it as long as the caller leaves that connection alone."""
    source = iter(items)
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(next, source, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, source, _END)
            yield item  # type: ignore[misc]


class WriteBehind:
    """Writes done in a worker thread while the caller prepares the next piece.

    At most one write is pending (memory: one piece more), writes happen in the order
    given, and a failed write raises in the caller at the next `write` or on leaving
    the block, so nothing is silently lost."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="write-behind")
        self._pending: Future[None] | None = None

    def write(self, fn: Callable[..., None], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()
