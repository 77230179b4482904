"""Jobs of the web server: their state, the queue, and their folder on disk.

Each job lives in `data_dir/jobs/<id>/` under a random 32-hex-digit id: `job.json` (its state,
written atomically on every change of state), the inputs under fixed names, and once done
`result.png`, `thumb.jpg` and the last preview, `preview.jpg`. Ids from requests are looked up,
never joined to a path unchecked.
On start, finished jobs come back as they were, queued ones are queued again in their order, and
one that was running when the server stopped is marked failed: it may be what stopped it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.write import write_atomic
from .settings import JobOptions

log = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{32}")
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class QueueFullError(Exception):
    """The queue holds max_queue jobs already."""


class JobStateError(Exception):
    """The job is not in a state that allows this (cancel a finished job, delete an unfinished one)."""


@dataclass
class Job:
    """One job. Mutable, guarded by its store's lock; `public()` is what clients see."""

    id: str
    options: JobOptions
    content_name: str  # as uploaded, for display only
    style_names: list[str]
    style_files: list[str]  # our own names inside the job's folder
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    result_size: tuple[int, int] | None = None
    progress: dict[str, Any] = field(default_factory=dict)  # step, total, scale, ... of the last step
    preview: bytes | None = None  # the last live preview, JPEG; kept in memory only
    preview_version: int = 0
    cancel_requested: bool = False

    def record(self) -> dict[str, Any]:
        """What job.json keeps."""
        return {
            "id": self.id,
            "options": self.options.to_json(),
            "content_name": self.content_name,
            "style_names": self.style_names,
            "style_files": self.style_files,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "result_size": self.result_size,
            "progress": self.progress,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        fields = dict(record)
        fields["options"] = JobOptions(**fields["options"])
        fields["result_size"] = tuple(fields["result_size"]) if fields.get("result_size") else None
        return cls(**fields)


class JobStore:
    """Every job of this server, and the queue. Thread-safe: the worker thread and the request
    handlers share it."""

    def __init__(self, data_dir: Path, *, max_queue: int) -> None:
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_queue = max_queue
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()
        self._changed = threading.Condition()  # notified when the queue gains a job

    # --- disk --------------------------------------------------------------------------------
    def folder(self, job_id: str) -> Path:
        if not _ID.fullmatch(job_id):
            raise KeyError(job_id)
        return self.root / job_id

    def staging(self) -> tuple[str, Path]:
        """A new id and its folder, where a request's uploads are written before they are checked."""
        job_id = secrets.token_hex(16)
        folder = self.root / f".staging-{job_id}"
        folder.mkdir()
        return job_id, folder

    def _save(self, job: Job, folder: Path | None = None) -> bool:
        """Write job.json; a failed write (a full disk) is logged, and the job goes on in memory."""
        try:
            write_atomic((folder or self.folder(job.id)) / "job.json", json.dumps(job.record(), indent=1).encode())
        except OSError as err:
            log.error("cannot save job %s: %s", job.id, err)
            return False
        return True

    def load(self) -> None:
        """Read the jobs of an earlier run of the server (see the module docstring)."""
        for stale in self.root.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a request cut off mid-upload
        jobs = []
        for path in self.root.glob("*/job.json"):
            try:
                job = Job.from_record(json.loads(path.read_text()))
                if job.id != path.parent.name or not _ID.fullmatch(job.id):
                    raise ValueError(f"its id {job.id!r} is not its folder's")
                jobs.append(job)
            except (OSError, ValueError, TypeError, KeyError) as err:
                log.warning("skipping %s: %s", path, err)
        with self._changed:
            for job in sorted(jobs, key=lambda j: j.created):
                if job.state == RUNNING:
                    step = job.progress.get("step")
                    job.state, job.finished = FAILED, time.time()
                    job.error = (
                        "the server stopped while this job ran"
                        + (f" (at step {step}/{job.progress.get('total')})" if step else "")
                        + "; start it again"
                    )
                    self._save(job)
                if (self.folder(job.id) / "preview.jpg").is_file():
                    job.preview_version = 1  # the last preview, on disk
                self._jobs[job.id] = job
                if job.state == QUEUED:
                    self._queue.append(job.id)
            self._changed.notify_all()

    # --- queue -------------------------------------------------------------------------------
    def check_room(self) -> None:
        """QueueFullError when the queue is full (checked before the uploads are decoded, and again on adding)."""
        with self._changed:
            if len(self._queue) >= self.max_queue:
                raise QueueFullError(f"the queue is full ({self.max_queue} jobs waiting); try again later")

    def add(self, job: Job, staged: Path) -> None:
        """Queue a checked job whose inputs are in `staged`. QueueFullError when the queue is full,
        OSError when its record cannot be written. The rename of the complete folder commits it."""
        if not self._save(job, staged):
            raise OSError(f"cannot write the job's record in {self.root}")
        with self._changed:
            self.check_room()
            staged.rename(self.folder(job.id))
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._changed.notify_all()

    def next(self, timeout: float) -> Job | None:
        """The next queued job, now running; None if none came within `timeout` seconds."""
        with self._changed:
            if not self._queue:
                self._changed.wait(timeout)
            if not self._queue:
                return None
            job = self._jobs[self._queue.popleft()]
            job.state, job.started = RUNNING, time.time()
            self._save(job)
            return job

    def finish(
        self, job: Job, state: str, *, error: str | None = None, result_size: tuple[int, int] | None = None
    ) -> None:
        """The job's end (or, with QUEUED, its hand-back at shutdown: it runs again first on the next
        start). The live preview leaves memory; the worker has saved the last one as preview.jpg."""
        with self._changed:
            job.state, job.finished, job.error, job.result_size = state, time.time(), error, result_size
            job.preview = None
            if state == QUEUED:
                job.started = job.finished = None
                job.progress, job.preview_version, job.cancel_requested = {}, 0, False
                if job.id not in self._queue:
                    self._queue.appendleft(job.id)
            else:
                if job.id in self._queue:  # a late end of a job handed back at shutdown
                    self._queue.remove(job.id)
                if not (self.folder(job.id) / "preview.jpg").is_file():
                    job.preview_version = 0  # no picture to show
            self._save(job)

    def hand_back_running(self) -> None:
        """At shutdown, when the worker did not stop in time: its job is queued again on disk."""
        with self._changed:
            for job in self._jobs.values():
                if job.state == RUNNING:
                    self.finish(job, CANCELLED if job.cancel_requested else QUEUED)

    def report(self, job: Job, progress: dict[str, Any], preview: bytes | None = None) -> None:
        with self._changed:
            job.progress = progress
            if preview is not None:
                job.preview, job.preview_version = preview, job.preview_version + 1

    def cancel(self, job_id: str) -> str:
        """A queued job leaves the queue, a running one stops at its next step; cancelling twice is
        harmless. Returns what happened. KeyError for an unknown id, JobStateError for a job
        that is done or failed (so that a late click never costs a result)."""
        with self._changed:
            job = self._jobs[job_id]
            if job.state == QUEUED:
                self._queue.remove(job_id)
                job.state, job.finished = CANCELLED, time.time()
                self._save(job)
                return CANCELLED
            if job.state == RUNNING:
                job.cancel_requested = True
                return "cancelling"
            if job.state == CANCELLED:
                return CANCELLED
            raise JobStateError(f"job {job_id} has already finished ({job.state}); add ?purge=1 to delete it")

    def purge(self, job_id: str) -> None:
        """Delete a finished job and its files. KeyError, or JobStateError for an unfinished job."""
        with self._changed:
            job = self._jobs[job_id]
            if job.state not in FINISHED:
                raise JobStateError(f"job {job_id} is {job.state}; cancel it before deleting it")
            del self._jobs[job_id]
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    # --- reading -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """KeyError for an unknown or malformed id."""
        with self._changed:
            return self._jobs[job_id]

    def public(self, job_id: str) -> dict[str, Any]:
        with self._changed:
            return self._public(self._jobs[job_id])

    def listing(self) -> list[dict[str, Any]]:
        with self._changed:
            return [self._public(j) for j in sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)]

    def counts(self) -> dict[str, int]:
        with self._changed:
            running = sum(j.state == RUNNING for j in self._jobs.values())
            return {"queued": len(self._queue), "running": running, "jobs": len(self._jobs)}

    def _public(self, job: Job) -> dict[str, Any]:
        position = self._queue.index(job.id) + 1 if job.id in self._queue else None
        progress = dict(job.progress)
        done, elapsed = progress.get("done"), progress.get("elapsed")
        if job.state == RUNNING and done and elapsed:
            progress["eta"] = round(elapsed * (1 - done) / done, 1)
        return {
            "id": job.id,
            "state": job.state,
            "position": position,
            "created": job.created,
            "started": job.started,
            "finished": job.finished,
            "error": job.error,
            "options": job.options.to_json(),
            "content_name": job.content_name,
            "style_names": job.style_names,
            "progress": progress,
            "preview": job.preview_version,
            "result_size": job.result_size,
            "cancelling": job.cancel_requested and job.state == RUNNING,
        }
