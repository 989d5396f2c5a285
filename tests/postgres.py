"""A real PostgreSQL server for the tests: initdb and pg_ctl on a temporary folder, reached
by a unix socket (nothing listens on the network), one database per test.

PostgreSQL refuses to run as root, so under root (CI's container) the server runs as the
unprivileged user `nobody`, owning its folder. Without PostgreSQL installed the tests that
need it are skipped on a developer's machine and fail in CI (GATEKEEPER_REQUIRE_POSTGRES,
set by .ci/run, which installs Debian's postgresql package).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class Postgres:
    """One server for the test session; `database()` gives each test its own database."""

    def __init__(self, folder: Path) -> None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            message = ("PostgreSQL is not installed (initdb, pg_ctl): apt-get install "
                       "postgresql")
            if os.environ.get("GATEKEEPER_REQUIRE_POSTGRES"):
                pytest.fail(message)
            pytest.skip(message)
        self.pg_ctl = pg_ctl
        self.folder = folder
        self.data = folder / "data"
        self.socket = folder / "socket"
        self.log = folder / "server.log"
        self.user = None if os.geteuid() else pwd.getpwnam("nobody")
        self.socket.mkdir(parents=True)
        if self.user is not None:
            for path in (folder, self.socket):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            os.chmod(folder, 0o755)
        self._as_server([initdb, "-D", str(self.data), "-U", "gatekeeper", "--auth=trust",
                         "-E", "UTF8", "--locale=C", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{self.socket}'\n"
                       "max_connections = 200\nfsync = on\nshared_buffers = 32MB\n")
        self._names = itertools.count(1)
        self.start()

    def _as_server(self, command: list[str]) -> None:
        user = self.user

        def drop() -> None:
            if user is not None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

        subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, preexec_fn=drop, cwd="/")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://gatekeeper@/{database}?host={self.socket}"

    def start(self) -> None:
        self._as_server([self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w",
                         "-t", "30", "start"])

    def stop(self) -> None:
        """As an administrator would (fast shutdown: sessions are ended)."""
        self._as_server([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{next(self._names)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {name}")
                return self.url(name)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_server([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w",
                             "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
