"""Named fault points for tests: GATEKEEPER_FAULT=<point>:kill makes the process die there
with SIGKILL, exactly as a power cut or an OOM kill would, so resume paths are tested on
real crashes; GATEKEEPER_FAULT=<point> makes a failure point raise the error the real
world would (a full disk), so clean-up paths are tested on real errors."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("GATEKEEPER_FAULT") == f"{name}:kill":
        os.kill(os.getpid(), signal.SIGKILL)


def fail_point(name: str, error: Exception) -> None:
    if os.environ.get("GATEKEEPER_FAULT") == name:
        raise error
