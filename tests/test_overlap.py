"""Reading ahead and writing behind keep what a sequential loop promises: order, one
piece in hand, and every failure raised where the caller sees it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gatekeeper.core.overlap import WriteBehind, read_ahead


def test_read_ahead_keeps_order_and_runs_one_ahead() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i

    seen = []
    for item in read_ahead(items()):
        seen.append(item)
        assert len(produced) <= item + 2  # never more than one item ahead of the caller
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_raises_at_the_item_that_failed() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("row 2 of b.csv is unreadable")

    got = []
    with pytest.raises(ValueError, match=r"b\.csv"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1]


def test_write_behind_keeps_order_and_raises_a_failed_write() -> None:
    written: list[int] = []
    threads = set()

    def write(value: int) -> None:
        threads.add(threading.current_thread().name)
        if value == 3:
            raise OSError("disk full")
        written.append(value)

    with pytest.raises(OSError, match="disk full"), WriteBehind() as behind:
        for value in range(5):
            behind.write(write, value)
    assert written == [0, 1, 2]  # nothing after the failure was written
    assert threads and threading.current_thread().name not in threads


def test_write_behind_waits_for_the_last_write_on_leaving() -> None:
    done = threading.Event()
    with WriteBehind() as behind:
        behind.write(lambda: (threading.Event().wait(0.05), done.set()))
    assert done.is_set()
