"""Long work started from the console: one at a time, each in a worker process.

Jobs run one after another (they all write the one store; the second would only wait for
the first's lock), each as `python -m gatekeeper.service.console.worker`. The page polls a
job's state; its progress lines are the same ones the CLI draws on a terminal. A job whose
key (e.g. the campaign) is already queued or running is refused with the reason, so two runs
of one campaign never race to write its folder.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...config import Workspace
from ...errors import InputError
from ...timeutil import now_utc

KEEP = 50  # finished jobs remembered for their pages


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

    def __init__(self, ws: Workspace, clock: dt.datetime | None = None) -> None:
        self.ws = ws
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
            self._run(job)

    def _run(self, job: Job) -> None:
        job.state, job.message, job.started = "running", "avvio", time.monotonic()
        now = self.clock.replace(tzinfo=dt.UTC).isoformat() if self.clock else None
        spec = json.dumps({"home": str(self.ws.root), "kind": job.kind, "args": job.args,
                           "now": now})
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gatekeeper.service.console.worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", cwd=self.ws.root)
        except OSError as exc:
            self._end(job, error=f"il lavoro non è partito ({exc.strerror})")
            return
        self._current = proc
        with proc:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(spec)
            proc.stdin.close()
            result: dict[str, Any] | None = None
            error: str | None = None
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # a library's stray print: not ours to show
                if "progress" in message:
                    job.message = str(message["progress"])
                    job.done, job.total = message.get("done"), message.get("total")
                elif "result" in message:
                    result = message["result"]
                elif "error" in message:
                    error = str(message["error"])
            stderr = proc.stderr.read() if proc.stderr else ""
            code = proc.wait()
        self._current = None
        if result is not None and code == 0:
            self._end(job, result=result)
        else:
            tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
            self._end(job, error=error or (
                f"il lavoro si è interrotto (codice {code}); nulla è stato scritto a metà: "
                "lo riavvii" + (f" — {tail[0][:300]}" if tail else "")))

    def _end(self, job: Job, *, result: dict[str, Any] | None = None,
             error: str | None = None) -> None:
        job.result, job.error = result, error
        job.state = "done" if error is None else "failed"
        job.message = "fatto" if error is None else "non riuscito"
        job.finished = time.monotonic()


def _state_words(job: Job) -> str:
    return "in corso" if job.state == "running" else "in coda"
