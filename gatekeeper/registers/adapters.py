"""The ways to obtain register answers: implementations of one interface, registered by name.

`[registry] adapter` in gatekeeper.toml names one, and the jurisdiction's register says
which names it accepts (jurisdictions/: `Register.adapters`). An adapter either checks
through the register's web service by itself (`gatekeeper rpo check`), or is a round trip
of files a person carries (`rpo request`, then `rpo import`); every adapter can derive its
checks again from the files it kept (`audit verify`), and every one lands its answers
through `record_checks`, so they produce the same rows. The CLI, the console's jobs and
the audit ask this table, never an adapter's module: adding a register's web service
(another country's, a provider's) is one class here and its module beside http.py.

The emulator (`rpo emulator`) is the register's side of the web service, not a way to
obtain answers: it is what the "http" adapter talks to in tests and demos.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from gatekeeper.core.errors import ConfigError

if TYPE_CHECKING:
    from gatekeeper.config import Config, Workspace
    from gatekeeper.core.progress import Progress
    from gatekeeper.jurisdictions import Jurisdiction, Register
    from gatekeeper.registers import ImportResult
    from gatekeeper.registers.http import CheckReport
    from gatekeeper.store import Store


@dataclass(frozen=True)
class CheckOptions:
    """What `rpo check` may override of [registry] for one round trip (None: the file's)."""

    base_url: str | None = None
    tls_dir: Path | None = None
    batch_size: int | None = None
    poll_timeout: float = 600.0
    # Whose register is checked (None: the workspace's own country, as `rpo check` means).
    jurisdiction: Jurisdiction | None = None


class RegistryAdapter(Protocol):
    """One way to obtain a register's answers, and to prove them again later."""

    name: str
    automatic: bool  # `check` runs it by itself; otherwise files go through a person
    files: bool  # `request` and `record` exchange files with the register
    how: str  # what a user does with it, for messages

    def request(self, store: Store, out: Path, as_of: dt.datetime, validity_days: int,
                jurisdiction: Jurisdiction) -> int:
        """Write the numbers that need an answer to `out`; how many."""
        ...

    def record(self, store: Store, request: Path, response: Path,
               jurisdiction: Jurisdiction, *, checked_at: dt.datetime | None,
               progress: Progress | None, same_as_request: bool,
               register: Register | None = None, answer: str | None = None
               ) -> ImportResult:
        """Record the register's answer to a request, both files kept as evidence
        (register: which of the country's registers, default its first; answer: what its
        answer file lists, "kept" or "registered", default the register's)."""
        ...

    def check(self, ws: Workspace, as_of: dt.datetime, options: CheckOptions, *,
              dry_run: bool, progress: Progress | None) -> CheckReport:
        """Ask the register for every number that needs it and record the answers."""
        ...

    def rederive(self, request: bytes, response: bytes, jurisdiction: Jurisdiction, *,
                 answer: str = "kept") -> pl.DataFrame:
        """The checks (phone, registered) an exchange's kept files prove, its answer file
        read as recorded ("kept" or "registered")."""
        ...


class FileExchange:
    """The register's own round trip: a request file uploaded, its cleansed answer
    downloaded; numbers missing from the answer are registered (registry/__init__.py)."""

    name: str = "file"
    automatic: bool = False
    files: bool = True
    how: str = ("exchange files with 'gatekeeper rpo request' and 'gatekeeper rpo import'")

    def request(self, store: Store, out: Path, as_of: dt.datetime, validity_days: int,
                jurisdiction: Jurisdiction) -> int:
        from gatekeeper.registers import write_request

        return write_request(store, out, as_of, validity_days, jurisdiction)

    def record(self, store: Store, request: Path, response: Path,
               jurisdiction: Jurisdiction, *, checked_at: dt.datetime | None,
               progress: Progress | None, same_as_request: bool,
               register: Register | None = None, answer: str | None = None
               ) -> ImportResult:
        from gatekeeper.registers import import_exchange

        return import_exchange(store, request, response, jurisdiction,
                               checked_at=checked_at, progress=progress,
                               same_as_request=same_as_request, register=register,
                               answer=answer)

    def check(self, ws: Workspace, as_of: dt.datetime, options: CheckOptions, *,
              dry_run: bool, progress: Progress | None) -> CheckReport:
        raise ConfigError(f"[registry] adapter is '{self.name}': {self.how}; or set "
                          "adapter = \"http\" (or pass --base-url)",
                          file=ws.config_path, key="registry.adapter")

    def rederive(self, request: bytes, response: bytes, jurisdiction: Jurisdiction, *,
                 answer: str = "kept") -> pl.DataFrame:
        from gatekeeper.registers import rederive_files

        return rederive_files(request, response, jurisdiction, answer)


class WebService:
    """The register's web service (docs/registry-protocol.md): jobs submitted, polled and
    fetched over mutual TLS, resumed after a crash, never bought twice (http.py)."""

    name: str = "http"
    automatic: bool = True
    files: bool = False
    how: str = ("'gatekeeper rpo check' submits, polls and records through the register's "
                "web service (base_url, client certificate)")

    def request(self, store: Store, out: Path, as_of: dt.datetime, validity_days: int,
                jurisdiction: Jurisdiction) -> int:
        raise ConfigError(f"adapter '{self.name}' exchanges no files: {self.how}",
                          key="registry.adapter")

    def record(self, store: Store, request: Path, response: Path,
               jurisdiction: Jurisdiction, *, checked_at: dt.datetime | None,
               progress: Progress | None, same_as_request: bool,
               register: Register | None = None, answer: str | None = None
               ) -> ImportResult:
        raise ConfigError(f"adapter '{self.name}' exchanges no files: {self.how}",
                          key="registry.adapter")

    def check(self, ws: Workspace, as_of: dt.datetime, options: CheckOptions, *,
              dry_run: bool, progress: Progress | None) -> CheckReport:
        from gatekeeper.registers.http import HttpSettings, rpo_check

        settings = HttpSettings.from_config(ws, ws.config(), base_url=options.base_url,
                                            tls_dir=options.tls_dir,
                                            batch_size=options.batch_size,
                                            poll_timeout=options.poll_timeout)
        return rpo_check(ws, settings, as_of, dry_run=dry_run, progress=progress,
                         jurisdiction=options.jurisdiction)

    def rederive(self, request: bytes, response: bytes, jurisdiction: Jurisdiction, *,
                 answer: str = "kept") -> pl.DataFrame:
        from gatekeeper.registers.http import rederive

        return rederive(request, response, jurisdiction)


ADAPTERS: dict[str, RegistryAdapter] = {a.name: a for a in (FileExchange(), WebService())}


def adapter(name: str) -> RegistryAdapter:
    """The adapter of this name (an exchange records which adapter made it)."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown adapter '{name}'; accepted: {', '.join(ADAPTERS)}",
                          key="registry.adapter") from None


def configured(config: Config) -> RegistryAdapter:
    """The adapter [registry] names (parse_config has checked the register accepts it)."""
    return adapter(config.registry.adapter)


def for_check(config: Config, *, base_url: str | None) -> RegistryAdapter:
    """The adapter `rpo check` runs: the configured one, or the web service when a
    --base-url names one although the configuration exchanges files."""
    chosen = configured(config)
    if not chosen.automatic and base_url:
        return ADAPTERS[WebService.name]
    return chosen


def for_files(config: Config) -> RegistryAdapter:
    """The adapter `rpo request` and `rpo import` run: the configured one when it exchanges
    files, else the file exchange (any register takes an uploaded list, so a workspace
    set up for the web service can still carry files by hand)."""
    chosen = configured(config)
    return chosen if chosen.files else ADAPTERS[FileExchange.name]
