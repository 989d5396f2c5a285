"""How long work says where it is: one call per step, with a count when there is one.

The CLI draws it as a bar on a terminal (cli.TerminalProgress), the console shows it in the
page (service/console/jobs.py). A step without a count (reading a file, waiting for the
register) is a message alone; a step with one (rows decided, numbers submitted) gives
`done` of `total`, so the bar can move.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, message: str, done: int | None = None,
                 total: int | None = None) -> None: ...


def bar(done: int, total: int, width: int = 24) -> str:
    """`[#########---------------]  38%` for a terminal."""
    share = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
    filled = round(share * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {share * 100:3.0f}%"
