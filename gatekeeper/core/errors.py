"""Every failure that stops Gatekeeper, in one tree.

    GatekeeperError                 cannot go on; message ends with the fix
    ├── ConfigError                 gatekeeper.toml is missing or wrong (file, key)
    ├── ManifestError               a sources/*.toml is wrong (file, key)
    ├── SourceFileError             a list file cannot be read (file, row)
    ├── StoreError                  the DuckDB store cannot be used
    │   ├── StoreBusy               another process holds it for writing
    │   └── StoreDamaged            its files cannot be read: restore from a backup
    ├── RegistryError               an RPO exchange cannot be recorded
    ├── JournalError                the opt-out journal cannot be written or read
    ├── EvidenceError               evidence was cut or rewritten: nothing is decided on it
    ├── InputError                  a value given on the command line is wrong
    └── NotFound                    nothing is held for what was asked

Blocked numbers are never exceptions: they are rows with a reason code (see policy).
The CLI turns any of these into one clean message and a non-zero exit code. The message
is always one printable line of bounded length (see _one_line): a value read from a
damaged file must not break the "file: what is wrong; the fix" shape people and scripts
rely on.
"""

from __future__ import annotations

import re
from pathlib import Path


class GatekeeperError(Exception):
    """Base of every error Gatekeeper reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | Path | None = None,
                 row: int | None = None, key: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.key = key
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.key:
            where.append(f"key '{self.key}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return _one_line(text)


MAX_MESSAGE = 600  # characters; the middle of a longer one goes, never its file or fix


def _one_line(text: str) -> str:
    """One printable line: control characters from a damaged file (a NUL, a line break
    inside a quoted value) shown escaped, and a message swollen by what it quotes (a
    5,000-digit "number", 10,000 column names) cut in the middle, so the file it starts
    with and the fix it ends with both stay."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    if len(text) > MAX_MESSAGE:
        text = f"{text[:MAX_MESSAGE // 2]} … {text[-MAX_MESSAGE // 3:]}"
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ConfigError(GatekeeperError):
    pass


class ManifestError(GatekeeperError):
    pass


class SourceFileError(GatekeeperError):
    pass


class StoreError(GatekeeperError):
    pass


class StoreBusy(StoreError):
    exit_code = 4


class StoreDamaged(StoreError):
    """The store's catalog or one of its files cannot be read: what it holds as evidence
    (RPO checks, runs, erasures) cannot be relied on, so nothing is decided (exit 5, as for
    other damaged evidence) until data/store/ is restored from a backup."""

    exit_code = 5


class SharedUnavailable(StoreError):
    """The shared PostgreSQL store cannot be reached: what every instance must agree on
    (opt-outs, calls) cannot be read or written now. Checks answer not dialable, writes
    are refused (503) and retried by the caller; nothing is decided from a stale copy
    (exit 4, as when the store is busy: try again)."""

    exit_code = 4


class RegistryError(GatekeeperError):
    pass


class JournalError(GatekeeperError):
    pass


class EvidenceError(GatekeeperError):
    """Stored evidence no longer matches what was recorded: decisions stop (exit 5)."""

    exit_code = 5


class InputError(GatekeeperError):
    pass


class NotFound(GatekeeperError):
    exit_code = 3
