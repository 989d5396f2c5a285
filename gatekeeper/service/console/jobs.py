"""Long work started from the console: one at a time, each in a worker process.

Jobs run one after another (they all write the one store; the second would only wait for
the first's lock), each as `python -m gatekeeper.service.console.worker`. The page polls a
job's state; its progress lines are the same ones the CLI draws on a terminal. A job whose
key (e.g. the campaign) is already queued or running is refused with the reason, so two runs
of one campaign never race to write its folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import now_utc

KEEP = 50  # finished jobs remembered for their pages
JOB_LIMIT = 4 * 3600.0  # a 10M-row load and run take minutes; hours means it is stuck
log = logging.getLogger("gatekeeper")


class Busy(InputError):
    """The same work is already queued or running."""


@dataclass
class Job:
    id: str
    kind: str
    key: str
    label: str  # what the page calls it: "Caricamento di acme-2026-11"
    owner: str  # the signed-in name that started it
    args: dict[str, Any]
    state: str = "queued"  # queued | running | done | failed
    message: str = "in coda"
    done: int | None = None  # of total, when the step has a count
    total: int | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state,
                "message": self.message, "done": self.done, "total": self.total,
                "seconds": round(self.seconds(), 1), "error": self.error}


class Jobs:
    """The queue and its one worker thread."""

    def __init__(self, ws: Workspace, clock: dt.datetime | None = None,
                 limit_seconds: float = JOB_LIMIT) -> None:
        self.ws = ws
        self.limit_seconds = limit_seconds
        self.clock = clock  # the service's pinned "now" (demos, tests): the jobs' too
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._current: subprocess.Popen[str] | None = None

    def start(self, kind: str, key: str, label: str, owner: str,
              args: dict[str, Any]) -> Job:
        with self._lock:
            for other in self._jobs.values():
                if other.active and other.key == key:
                    raise Busy(f"{other.label}: è già {_state_words(other)}; attenda che "
                               "finisca, poi riprovi")
            job = Job(secrets.token_hex(8), kind, key, label, owner, args)
            self._jobs[job.id] = job
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="console-jobs",
                                                daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def now(self) -> dt.datetime:
        """Now, as the service answers it (naive UTC)."""
        return self.clock or now_utc()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self, kinds: tuple[str, ...] = ()) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if not kinds or j.kind in kinds]
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def wait(self, job_id: str, seconds: float) -> Job | None:
        """For tests and the CLI-less callers: until the job ends or time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or not job.active:
                return job
            time.sleep(0.05)
        return self.get(job_id)

    def stop(self) -> None:
        """At shutdown: the running job's process is ended (its work is all-or-nothing)."""
        self._queue.put(None)
        current = self._current
        if current is not None and current.poll() is None:
            current.terminate()

    def _forget_old(self) -> None:
        done = sorted((j for j in self._jobs.values() if not j.active),
                      key=lambda j: j.created)
        for job in done[:max(0, len(done) - KEEP)]:
            del self._jobs[job.id]

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception as exc:  # never leave the queue without its worker
                log.error("console job %s (%s) failed: %s", job.id, job.kind,
                          type(exc).__name__)
                self._end(job, error="errore interno del lavoro: nulla è stato scritto a "
                                     "metà; lo riavvii, e se si ripete avvisi l'assistenza")

    def _run(self, job: Job) -> None:
        job.state, job.message, job.started = "running", "avvio", time.monotonic()
        now = self.clock.replace(tzinfo=dt.UTC).isoformat() if self.clock else None
        spec = json.dumps({"home": str(self.ws.root), "kind": job.kind, "args": job.args,
                           "now": now})
        # The worker speaks UTF-8 whatever the machine's locale; its stderr goes to a file
        # (a pipe read only at the end would fill, and both processes would wait for ever).
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"}
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "gatekeeper.service.console.worker"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                    text=True, encoding="utf-8", errors="replace", cwd=self.ws.root, env=env)
            except OSError as exc:
                self._end(job, error=f"il lavoro non è partito ({exc.strerror})")
                return
            self._current = proc
            # A job that never ends would hold every later one: it is stopped at the limit.
            watchdog = threading.Timer(self.limit_seconds, proc.kill)
            watchdog.daemon = True
            watchdog.start()
            result: dict[str, Any] | None = None
            error: str | None = None
            with proc:
                assert proc.stdin is not None and proc.stdout is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(spec)
                    proc.stdin.close()
                for line in proc.stdout:
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue  # a library's stray print: not ours to show
                    if not isinstance(message, dict):
                        continue
                    if "progress" in message:
                        job.message = str(message["progress"])
                        job.done, job.total = message.get("done"), message.get("total")
                    elif "result" in message:
                        result = message["result"]
                    elif "error" in message:
                        error = str(message["error"])
                code = proc.wait()
            watchdog.cancel()
            self._current = None
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace").strip()
        if result is not None and code == 0:
            self._end(job, result=result)
            return
        if stderr:  # for whoever supports the service: the worker's own words
            log.error("console job %s (%s) ended %s: %s", job.id, job.kind, code,
                      stderr.splitlines()[-1][:500])
        if error is None and job.seconds() >= self.limit_seconds:
            error = (f"il lavoro è stato interrotto dopo {self.limit_seconds // 60:.0f} minuti; "
                     "nulla è stato scritto a metà: lo riavvii")
        self._end(job, error=error or (
            f"il lavoro si è interrotto (codice {code}); nulla è stato scritto a metà: "
            "lo riavvii"))

    def _end(self, job: Job, *, result: dict[str, Any] | None = None,
             error: str | None = None) -> None:
        job.result, job.error = result, error
        job.state = "done" if error is None else "failed"
        job.message = "fatto" if error is None else "non riuscito"
        job.finished = time.monotonic()


def _state_words(job: Job) -> str:
    return "in corso" if job.state == "running" else "in coda"
