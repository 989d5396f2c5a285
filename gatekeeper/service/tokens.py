"""Service tokens: who may call the service, with which role. Only hashes are stored.

Tokens live in data/tokens.json (owner-only), not in DuckDB, so the service can check
them while a load or run holds the store. A token is shown once, when it is made.

A dialer's token is bound to its agency (the entry's "agency" key): a call reported with
it is evidence of that agency's calls only, so one call centre's system cannot write the
calls that clear another's contracts. Files written before the key existed still read;
their dialer tokens keep the check right and are refused calls until re-made.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError, NotFound
from gatekeeper.core.timeutil import iso, now_utc

ROLES = ("agent", "dialer", "privacy", "manager")
# What each role may do through the API (privacy: everything the API offers). A manager
# works in the console on lists, the register and campaigns; through the API it may only
# check a number, as its campaign's dialer would.
RIGHTS = {"agent": {"check", "optout", "calls"}, "dialer": {"check", "calls"},
          "privacy": {"check", "optout", "disclosure", "calls"},
          "manager": {"check"}}
# Roles whose token names an agency: a dialer always (its calls are that agency's
# evidence), an agent when it works for one call centre (optional: the controller's own
# agents may report for any). A privacy officer acts for the controller, never one agency.
BOUND_ROLES = ("agent", "dialer")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    agency: str | None = None  # the agency whose calls it reports; None: bound to none

    def may(self, right: str) -> bool:
        return right in RIGHTS[self.role]


def token_digest(token: str) -> str:
    """What is stored of a token, and what a console session remembers of it."""
    return _hash(token)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    """data/tokens.json; re-read when it changes, so revocation takes effect at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Caller] = {}

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"tokens": []}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            return data
        except json.JSONDecodeError:
            raise InputError("not valid JSON; restore it from backup or recreate tokens",
                             file=self.path) from None

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def add(self, name: str, role: str, agency: str | None = None) -> str:
        """Make a token for name with role (and agency); returns it (the only time it is
        visible). Whether the agency has a manifest is the caller's to check: the token
        file knows no workspace."""
        if role not in ROLES:
            raise InputError(f"unknown role '{role}'; accepted: {', '.join(ROLES)}")
        if not name.strip():
            raise InputError("a token needs a name (the agent or system using it)")
        if role == "dialer" and not agency:
            raise InputError("a dialer token reports calls of one agency: add --agency ID "
                             "(its agencies/<ID>.toml)")
        if agency and role not in BOUND_ROLES:
            raise InputError(f"a {role} token acts for the controller, not one agency: "
                             "leave out --agency")
        data = self._read()
        if any(t["name"] == name and not t.get("revoked_at") for t in data["tokens"]):
            raise InputError(f"an active token named '{name}' exists; revoke it first")
        token = "gk_" + secrets.token_urlsafe(32)
        data["tokens"].append({"name": name, "role": role, "agency": agency or None,
                               "sha256": _hash(token), "created_at": iso(now_utc()),
                               "revoked_at": None})
        self._write(data)
        return token

    def revoke(self, name: str) -> int:
        data = self._read()
        active = [t for t in data["tokens"] if t["name"] == name and not t.get("revoked_at")]
        if not active:
            raise NotFound(f"no active token named '{name}'; see 'gatekeeper token list'")
        for t in active:
            t["revoked_at"] = iso(now_utc())
        self._write(data)
        return len(active)

    def listing(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in t.items() if k != "sha256"} for t in self._read()["tokens"]]

    def caller(self, token: str) -> Caller | None:
        """Who holds this token, or None (unknown or revoked)."""
        return self.holder(_hash(token))

    def holder(self, digest: str) -> Caller | None:
        """Who holds the token with this sha256, or None (unknown or revoked): a console
        session keeps only the digest and asks again at each request, so a revoked token
        ends its sessions at once."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            self._by_hash = {t["sha256"]: Caller(t["name"], t["role"], t.get("agency"))
                             for t in self._read()["tokens"] if not t.get("revoked_at")}
            self._stamp = stamp
        return self._by_hash.get(digest)


def open_tokens(ws: Workspace) -> TokenFile:
    """The workspace's tokens: data/tokens.json, or the shared store's ([shared] url)."""
    path = ws.data_dir / "tokens.json"
    url = ws.config().shared_url
    if url is None:
        return TokenFile(path)
    from gatekeeper.shared import shared_store
    from gatekeeper.shared.tokens import SharedTokens

    return SharedTokens(shared_store(url), path)
