"""Shots over the batch engine's Ray (edge): independent shots paint at once, locally or on a cluster.

A clip is cut at its shots (where the flow is unreliable over most of the frame: pipeline.analyse);
each shot that is not fully painted becomes one Ray task (shot_task.py), its frames in order. The
driver alone touches the work folder: it sends each task its input frames, flows and the frames
already painted as bytes, writes every painted frame it receives through the Monitor actor (the
batch engine's, batch/monitor.py) atomically, and resubmits a shot whose worker or node died
(up to `retries` times), which then continues from the frames the driver holds. Ctrl-C asks the
tasks to stop, waits `grace` seconds for their last frames, cancels the rest and re-raises.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import __version__
from ..batch.cluster import Cluster
from ..batch.engine import Settings
from ..io.fingerprint import plain
from .flow import FlowCache
from .paint import FrameCallback, FrameProgress
from .shot_task import paint_shot, parse_key

POLL_SECONDS = 1.0


class ShotError(RuntimeError):
    """A shot failed by itself (not a dead worker): its one line; the painted frames are kept."""


def shot_ranges(shots: Sequence[int], count: int) -> list[tuple[int, int]]:
    """[start, stop) of every shot, from the shots' first frames."""
    starts = sorted(set(shots))
    return list(zip(starts, [*starts[1:], count]))


class _Driver:
    def __init__(self, video, settings: Settings, callback: FrameCallback | None):
        self.video, self.work, self.settings, self.callback = video, video.work, settings, callback
        self.passes, self.total = video.config.passes, video.count * video.config.passes
        self.began, self.painted_here = time.monotonic(), 0
        self.progress: dict[str, dict[str, Any]] = {}

    def complete(self, shot: tuple[int, int]) -> bool:
        return all(self.work.is_painted(p, i) for p in range(1, self.passes + 1) for i in range(*shot))

    def spec(self, shot: tuple[int, int], key: str) -> dict[str, Any]:
        start, stop = shot
        video, work = self.video, self.work
        cache = FlowCache(work.flows, video.config.flow)
        flows = {
            (t - start, j): cache.path(t, j).read_bytes()
            for t in range(start, stop)
            for j in sorted(set(video.config.long_term))
            if t - j >= start
        }
        painted = {
            (p, i - start): work.painted_state(p, i).read_bytes()
            for p in range(1, self.passes + 1)
            for i in range(start, stop)
            if work.is_painted(p, i)
        }
        return {
            "key": key,
            "first": start,
            "count": stop - start,
            "inputs": [work.input_path(i).read_bytes() for i in range(start, stop)],
            "flows": flows,
            "painted": painted,
            "styles": [(str(path), path.read_bytes()) for path in video.styles],
            "options": plain(video.config),
            "size": list(video.size),
            "cpus": self.settings.cpus_per_job,
            "gpus": self.settings.gpus_per_job,
        }

    def drain(self, monitor, ray) -> None:
        progress, fresh = ray.get(monitor.drain.remote())
        for key, data in fresh.items():
            _, done, index = parse_key(key)
            if not self.work.is_painted(done, index):
                self.work.save_painted(done, index, np.load(io.BytesIO(data)))
                self.painted_here += 1
            monitor.finish.remote(key)
        self.progress = progress
        self.report()

    def report(self) -> None:
        if self.callback is None or not self.progress:
            return
        latest = max(self.progress.values(), key=lambda info: info.get("frame", 0))
        done = sum(self.work.count_painted(p, range(self.video.count)) for p in range(1, self.passes + 1))
        rate = (time.monotonic() - self.began) / self.painted_here if self.painted_here else None
        self.callback(
            FrameProgress(
                frame=latest.get("frame", 0),
                frames=self.video.count,
                done=done,
                total=self.total,
                pass_index=1,
                passes=self.passes,
                step=latest.get("step", 0),
                steps=latest.get("steps", 0),
                loss=latest.get("loss", 0.0),
                temporal=0.0,
                eta=None if rate is None else rate * (self.total - done),
            )
        )


def paint_on_ray(video, shots: Sequence[int], settings: Settings, callback: FrameCallback | None = None) -> None:
    """Paint every unfinished shot as a Ray task (see the module docstring). Raises ShotError when a
    shot fails by itself or its workers keep dying; KeyboardInterrupt after Ctrl-C."""
    driver = _Driver(video, settings, callback)
    todo = [s for s in shot_ranges(shots, video.count) if not driver.complete(s)]
    if not todo:
        return
    cluster = Cluster(settings)
    ray, monitor = cluster.ray, cluster.monitor
    task = ray.remote(num_cpus=settings.cpus_per_job, num_gpus=settings.gpus_per_job, max_retries=0, max_calls=0)(
        paint_shot
    )
    attempts: dict[tuple[int, int], int] = {}
    pending, running = deque(todo), {}
    try:
        try:
            while pending or running:
                while pending and len(running) < cluster.workers:
                    shot = pending.popleft()
                    attempts[shot] = attempts.get(shot, 0) + 1
                    key = f"shot{shot[0]}"
                    running[task.remote(driver.spec(shot, key), monitor, __version__)] = shot
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                driver.drain(monitor, ray)
                for ref in ready:
                    shot = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as err:  # the worker or its node died
                        result = {"died": str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}
                    driver.drain(monitor, ray)
                    if "error" in result:
                        raise ShotError(f"frames {shot[0]}..{shot[1] - 1}: {result['error']}")
                    if not driver.complete(shot):
                        if attempts[shot] > settings.retries:
                            reason = result.get("died", "it stopped early")
                            raise ShotError(f"frames {shot[0]}..{shot[1] - 1} failed {attempts[shot]} times: {reason}")
                        pending.appendleft(shot)  # continues from the frames the driver holds
        except KeyboardInterrupt:
            monitor.stop.remote()
            deadline = time.monotonic() + settings.grace
            while running and time.monotonic() < deadline:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    running.pop(ref)
                driver.drain(monitor, ray)
            for ref in running:
                ray.cancel(ref, force=True)
            driver.drain(monitor, ray)
            raise
    finally:
        cluster.shutdown()
