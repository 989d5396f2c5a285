"""Sign-in for the console: a token typed once, then a session cookie.

A person signs in with the token their responsible made (`gatekeeper token add NAME --role
manager`); the service keeps, per session, only the token's digest, a CSRF token and when it
was last used. The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other site's
page sends it); every form and every script's write carries the session's CSRF token, checked
with a constant-time compare. Sessions live in memory: a restart signs everyone out, which is
the safe way round. Each request asks the token file again, so a revoked token ends its
sessions at once.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from gatekeeper.service.tokens import Caller, TokenFile

COOKIE = "gk_session"
SIGNIN_COOKIE = "gk_signin"  # the sign-in form's own CSRF token, before any session exists
IDLE_SECONDS = 8 * 3600  # a working day; an unattended tablet signs itself out overnight
MAX_SESSIONS = 10_000  # a flood of sign-ins cannot grow memory without bound

# Which console pages each role sees (the API's rights are in tokens.RIGHTS). A dialer is
# a machine: it has no pages.
PAGES: dict[str, tuple[str, ...]] = {
    "manager": ("liste", "registro", "campagne"),
    "privacy": ("privacy",),
    "agent": ("agente",),
    "dialer": (),
}
TITLES = {"liste": "Liste", "registro": "Registro", "campagne": "Campagne",
          "privacy": "Privacy", "agente": "Agente"}


@dataclass
class Session:
    digest: str  # sha256 of the token signed in with
    csrf: str
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """The signed-in sessions of one service process."""

    def __init__(self, tokens: TokenFile, idle_seconds: float = IDLE_SECONDS) -> None:
        self.tokens = tokens
        self.idle_seconds = idle_seconds
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, digest: str) -> tuple[str, Session]:
        """A new session for a valid token's digest: its id (the cookie) and the session."""
        with self._lock:
            self._expire()
            if len(self._by_id) >= MAX_SESSIONS:  # the oldest goes first
                oldest = min(self._by_id, key=lambda k: self._by_id[k].seen)
                del self._by_id[oldest]
            sid = secrets.token_urlsafe(32)
            session = Session(digest, secrets.token_urlsafe(32))
            self._by_id[sid] = session
            return sid, session

    def find(self, sid: str | None) -> tuple[Session, Caller] | None:
        """The session and who holds it, or None (unknown, idle too long, token revoked)."""
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            now = time.monotonic()
            if session is None or now - session.seen > self.idle_seconds:
                self._by_id.pop(sid, None)
                return None
            caller = self.tokens.holder(session.digest)
            if caller is None:
                del self._by_id[sid]
                return None
            session.seen = now
            return session, caller

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [k for k, s in self._by_id.items() if now - s.seen > self.idle_seconds]:
            del self._by_id[sid]


def same_token(expected: str, given: str | None) -> bool:
    """A CSRF token compared in constant time; missing is never equal."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
