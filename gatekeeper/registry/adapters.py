"""The ways to obtain register answers, registered by name in one place (like READERS).

`[registry] adapter` in gatekeeper.toml names one. An adapter either checks through the
register's web service by itself (`gatekeeper rpo check`), or is a round trip of files
a person carries (`rpo request`, then `rpo import`). Adding a register's web service
(another country's, a provider's) is one entry here and its module beside http.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Adapter:
    name: str
    automatic: bool  # `rpo check` can run it; otherwise files go through a person
    how: str  # what a user does with it, for messages


ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    Adapter("file", False, "exchange files with 'gatekeeper rpo request' and "
            "'gatekeeper rpo import'"),
    Adapter("http", True, "'gatekeeper rpo check' submits, polls and records through the "
            "register's web service (base_url, client certificate)"),
)}
