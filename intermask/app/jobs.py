"""Generation requests answered one at a time, in the order they came: a FIFO queue and one worker thread.

A request is a job the server keeps by id; the page asks for its state (waiting with its place in line,
running with its stage and step, done with its results, failed with a message). A job runs to its end once
submitted, whether or not anyone is still asking, so a client that goes away cancels nothing another waits for.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import UsageError, user_facing_errors

log = logging.getLogger(__name__)

# what a job runs: (its request, progress(stage, done, total)) -> its results as plain data
Runner = Callable[[Any, Callable[[str, int, int], None]], list]


@dataclass
class Job:
    id: str
    request: Any
    submitted: float
    state: str = "queued"   # queued -> running -> done | failed
    stage: str = ""         # while running: "decoding" or "writing"
    done: int = 0
    total: int = 0
    started: float | None = None
    finished: float | None = None
    results: list = field(default_factory=list)
    error: str | None = None


class GenerationQueue:
    """Jobs run by ``runner`` on one worker thread, first come first served.

    keep: how many finished jobs stay answerable (the oldest are forgotten first; their files stay on disk).
    """

    def __init__(self, runner: Runner, keep: int = 200):
        self._runner = runner
        self._keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._worker = threading.Thread(target=self._work, name="generation", daemon=True)
        self._worker.start()

    def submit(self, request) -> Job:
        with self._lock:
            job = Job(id=f"j{next(self._numbers)}", request=request, submitted=time.monotonic())
            self._jobs[job.id] = job
        self._waiting.put(job)
        return job

    def state(self, job_id: str) -> dict | None:
        """A job's state as plain data: id, state, ahead (jobs before it while it waits), stage, done, total,
        waited and took (seconds), results, error; None for an unknown or forgotten id."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            ahead = sum(1 for other in self._jobs.values()
                        if other.state in ("queued", "running") and other.submitted < job.submitted) \
                if job.state == "queued" else 0
            now = time.monotonic()
            return {"id": job.id, "state": job.state, "ahead": ahead, "stage": job.stage, "done": job.done,
                    "total": job.total, "waited": (job.started or now) - job.submitted,
                    "took": None if job.finished is None else job.finished - job.submitted,
                    "results": list(job.results), "error": job.error}

    def close(self, timeout: float | None = None) -> None:
        """Let the running job finish, drop the waiting ones, stop the worker."""
        while True:
            try:
                self._waiting.get_nowait()
            except queue.Empty:
                break
        self._waiting.put(None)
        self._worker.join(timeout)

    def _work(self) -> None:
        while (job := self._waiting.get()) is not None:
            self._update(job, state="running", started=time.monotonic())
            try:
                results = self._runner(job.request, lambda stage, done, total: self._update(
                    job, stage=stage, done=done, total=total))
                self._update(job, state="done", results=results)
            except (*user_facing_errors(), UsageError) as error:
                self._update(job, state="failed", error=str(error))
            except Exception as error:  # a bug: report it on the page and keep serving the others
                log.exception("job %s failed", job.id)
                self._update(job, state="failed", error=f"generation failed ({type(error).__name__}: {error})")
            finally:
                self._update(job, finished=time.monotonic(), request=None)
                self._forget_old()

    def _update(self, job: Job, **changes) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(job, name, value)

    def _forget_old(self) -> None:
        with self._lock:
            finished = [job_id for job_id, job in self._jobs.items() if job.finished is not None]
            for job_id in finished[: max(0, len(finished) - self._keep)]:
                del self._jobs[job_id]
