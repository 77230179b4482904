"""The batch driver (edge): Ray core tasks, one per output, and nothing lost.

The driver plans (which jobs the record already holds), starts or joins Ray, checks every node's
impasto version, and keeps at most `workers` tasks in flight. It alone touches OUTDIR: it sends
each task its inputs as bytes, writes the output bytes it gets back (atomically), appends the
record line (fsynced), and stores the checkpoints the tasks send through the Monitor actor, so
that a retry on any node, or the next run, continues from the latest one. Ray retries a task
whose worker or node died (`retries`); a job's own failure is reported, not retried. Ctrl-C asks
the running jobs to checkpoint and stop, waits `grace` seconds, then cancels what is left.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import INIT_MODES
from ..io.fingerprint import plain, sha256_bytes
from ..io.write import rescue_path, write_atomic
from .cluster import Cluster
from .jobs import Job
from .record import Record, input_digests, job_key, locked

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Settings:
    """How the jobs run. Only bit_depth changes a result (the record matches on it); the rest
    says where and how fast."""

    workers: int | None = None  # jobs at once; default: the CPUs divided by cpus_per_job
    address: str | None = None  # HOST:PORT of a running cluster; None: a local Ray of our own
    cpus_per_job: int = 1
    gpus_per_job: float = 0.0
    retries: int = 3
    checkpoint_every: float = 60.0
    force: bool = False
    bit_depth: int | None = None
    allow_huge: bool = False
    grace: float = 20.0  # seconds for stopped jobs to send their checkpoint after Ctrl-C


@dataclass
class JobResult:
    job: Job
    key: str
    status: str  # done, skipped, failed, interrupted
    reason: str = ""
    seconds: float = 0.0
    steps: int = 0
    attempt: int = 0
    node: str = ""
    first_step: int = 0
    precision_changed: bool = False  # resumed a checkpoint made in another precision


@dataclass
class Status:
    """What the progress display shows: counts and the running jobs' latest reports."""

    total: int
    results: list[JobResult] = field(default_factory=list)
    running: dict[str, tuple[Job, dict[str, Any]]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C: the finished jobs are recorded; `results` says what became of each."""

    def __init__(self, results: list[JobResult]):
        super().__init__("interrupted")
        self.results = results


def plan(
    jobs: Sequence[Job], outdir: Path, *, force: bool, bit_depth: int | None = None
) -> tuple[list[tuple[Job, str]], list[JobResult], dict[str, str]]:
    """(jobs to run with their keys, jobs the record already holds, every input's SHA-256)."""
    digests = input_digests(list(jobs))
    record = Record(outdir)
    entries = record.entries()
    todo, skipped = [], []
    for job in jobs:
        key = job_key(job, digests, bit_depth)
        if not force and record.done(key, outdir / job.output, entries):
            skipped.append(JobResult(job, key, "skipped", "already done (batch.jsonl)"))
        else:
            todo.append((job, key))
    return todo, skipped, digests


def _spec(job: Job, key: str, settings: Settings, shares: dict[str, int], default_share: int) -> dict[str, Any]:
    files, roles = [(str(job.content), job.content.read_bytes())], ["content"]
    for i, path in enumerate(job.styles):
        files.append((str(path), path.read_bytes()))
        roles.append(f"style{i}")
    for i, path in enumerate(job.masks or ()):
        files.append((str(path), path.read_bytes()))
        roles.append(f"mask{i}")
    for i, path in enumerate(job.style_masks or ()):
        if path is not None:
            files.append((str(path), path.read_bytes()))
            roles.append(f"style_mask{i}")
    options = dict(job.options)
    init = options.get("init")
    if init and init not in INIT_MODES:
        files.append((str(init), Path(init).read_bytes()))
        roles.append("init")
    return {
        "key": key,
        "files": files,
        "roles": roles,
        "styles": len(job.styles),
        "style_masks": None if job.style_masks is None else len(job.style_masks),
        "options": options,
        "preset": job.preset,
        "output": str(job.output),
        "bit_depth": settings.bit_depth,
        "cpus": settings.cpus_per_job,
        "gpus": settings.gpus_per_job,
        "checkpoint_every": settings.checkpoint_every,
        "allow_huge": settings.allow_huge,
        "jobs_per_node": shares,
        "default_jobs_per_node": default_share,
    }


def run(
    jobs: Sequence[Job],
    outdir: Path,
    settings: Settings | None = None,
    *,
    callback: Callable[[Status], None] | None = None,
) -> list[JobResult]:
    """Run every job not already done; one JobResult per job, in the jobs' order.

    Raises Interrupted on Ctrl-C (finished jobs recorded), ValueError when OUTDIR is locked by
    another driver or a node runs another impasto version.
    """
    settings = settings or Settings()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with locked(outdir):
        record = Record(outdir)
        record.sweep()
        todo, skipped, digests = plan(jobs, outdir, force=settings.force, bit_depth=settings.bit_depth)
        status = Status(len(jobs), list(skipped))
        if todo:
            _Driver(record, settings, status, callback, digests).run(todo)
        order = {id(job): i for i, job in enumerate(jobs)}
        return sorted(status.results, key=lambda r: order.get(id(r.job), 0))


class _Driver:
    def __init__(self, record: Record, settings: Settings, status: Status, callback, digests: dict[str, str]):
        self.record, self.settings, self.status, self.callback = record, settings, status, callback
        self.digests = digests
        self.running: dict[Any, tuple[Job, str]] = {}
        self.finished: set[str] = set()

    def run(self, todo: list[tuple[Job, str]]) -> None:
        cluster = Cluster(self.settings)
        self.cluster, self.ray = cluster, cluster.ray
        try:
            for _, key in todo:
                if (data := self.record.load_checkpoint(key)) is not None:
                    cluster.monitor.seed.remote(key, data)
            pending = deque(todo)
            try:
                while pending or self.running:
                    while pending and len(self.running) < cluster.workers:
                        job, key = pending.popleft()
                        spec = _spec(job, key, self.settings, cluster.shares, max(cluster.shares.values(), default=1))
                        self.running[cluster.task.remote(spec, cluster.monitor, __version__)] = (job, key)
                    self._wait()
            except KeyboardInterrupt:
                self._stop(pending)
                raise Interrupted(self.status.results) from None
        finally:
            cluster.shutdown()

    def _wait(self, timeout: float = POLL_SECONDS) -> None:
        refs = list(self.running)
        ready, rest = self.ray.wait(refs, num_returns=1, timeout=timeout)  # a finished job at once
        if ready and rest:
            ready += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        for ref in ready:
            job, key = self.running.pop(ref)
            self._finish(job, key, ref)
        self._drain()

    def _drain(self) -> None:
        progress, fresh = self.ray.get(self.cluster.monitor.drain.remote())
        for key, data in fresh.items():
            if key not in self.finished:
                self.record.save_checkpoint(key, data)
        self.status.running = {key: (job, progress.get(key, {})) for job, key in self.running.values()}
        if self.callback is not None:
            self.callback(self.status)

    def _finish(self, job: Job, key: str, ref: Any) -> None:
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:
            result = {"stopped": True}
        except self.ray.exceptions.RayError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            result = {"error": f"{type(err).__name__}: {reason} (after {self.settings.retries} retries)"}
        common = {"attempt": result.get("attempt", 0), "node": result.get("node", "")}
        if "error" in result:
            self.status.results.append(JobResult(job, key, "failed", result["error"], **common))
        elif result.get("stopped"):
            self.status.results.append(JobResult(job, key, "interrupted", "stopped by Ctrl-C", **common))
        else:
            self._write(job, key, result)
        self.cluster.monitor.finish.remote(key)

    def _write(self, job: Job, key: str, result: dict[str, Any]) -> None:
        path = self.record.outdir / job.output
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, result["data"])
        except OSError as err:
            reason = f"cannot write {path} ({err.strerror or err})"
            try:  # the result is done: it must not be lost with the write
                rescued = rescue_path(path, path.suffix)
                write_atomic(rescued, result["data"])
                reason += f"; saved to {rescued}"
            except (OSError, ValueError):
                reason += "; it could not be saved elsewhere either"
            self.status.results.append(JobResult(job, key, "failed", reason, attempt=result["attempt"]))
            return
        digests = self.digests
        self.record.append(
            {
                "key": key,
                "output": str(job.output),
                "output_sha256": sha256_bytes(result["data"]),
                "inputs": [{"path": str(p), "sha256": digests.get(os.path.abspath(p))} for p in job.inputs()],
                "options_requested": plain(job.requested()),
                "options_resolved": result["resolved"],
                **{k: result[k] for k in ("seconds", "steps", "device", "node", "attempt", "first_step")},
                "precision_changed": result["precision_changed"],  # always written: true or false
                "impasto": __version__,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
        self.finished.add(key)
        self.record.drop_checkpoint(key)
        fields = {k: result[k] for k in ("seconds", "steps", "attempt", "node", "first_step", "precision_changed")}
        self.status.results.append(JobResult(job, key, "done", **fields))

    def _stop(self, pending: deque) -> None:
        """Ctrl-C: ask the running jobs to checkpoint and stop, wait `grace`, cancel the rest."""
        self.cluster.monitor.stop.remote()
        deadline = time.monotonic() + self.settings.grace
        try:
            while self.running and time.monotonic() < deadline:
                self._wait()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: cancel now
        for ref, (job, key) in list(self.running.items()):
            self.ray.cancel(ref, force=True)
            self.status.results.append(JobResult(job, key, "interrupted", "cancelled after the grace period"))
        self.running.clear()
        self._drain()
        for job, key in pending:
            self.status.results.append(JobResult(job, key, "interrupted", "not started"))
