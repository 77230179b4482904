"""One shot of a clip inside a Ray worker (edge): bytes in, frames out as they are painted.

The task receives the shot's input frames (PNG), its flows (.npy) and the frames already painted
(exact float32 .npy), all as bytes: no shared file system. It lays them out in a private work
folder, runs the temporal loop (paint.py) over the shot, frames in order, and sends every painted
frame to the driver's Monitor actor (batch/monitor.py) as soon as it is saved, so that the driver,
which owns the real work folder, loses nothing when the worker dies: the next attempt starts from
the frames the driver has. It stops at the next step when the driver asks (Ctrl-C).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

PROGRESS_EVERY = 2.0  # seconds between progress reports


def frame_key(shot: str, done: int, index: int) -> str:
    """The Monitor key of one painted frame: `index` counts from the clip range's first frame."""
    return f"{shot}:{done}:{index}"


def parse_key(key: str) -> tuple[str, int, int]:
    shot, done, index = key.rsplit(":", 2)
    return shot, int(done), int(index)


def paint_shot(spec: dict[str, Any], monitor: Any, version: str) -> dict[str, Any]:
    """Ray's entry point (spec: video/shots.py's `_spec`). Returns {"frames": n} or {"error": line}
    or {"stopped": True}."""
    import dataclasses

    import numpy as np
    import ray
    import torch
    from PIL import Image

    from .. import __version__
    from ..api import prepare
    from ..config import StyleConfig
    from .flow import FlowCache
    from .paint import Painter
    from .work import WorkFolder

    node = ray.util.get_node_ip_address()
    if version != __version__:
        return {"error": f"node {node} runs impasto {__version__}, the driver {version}; install one version"}
    torch.set_num_threads(spec["cpus"])
    shot, first = spec["key"], spec["first"]
    ray.get(monitor.start.remote(shot, {"node": node, "pid": os.getpid()}))
    with tempfile.TemporaryDirectory(prefix="impasto-shot-") as folder:
        try:
            work = WorkFolder(Path(folder) / "work")
            work.create({})
            for local, data in enumerate(spec["inputs"]):
                work.input_path(local).write_bytes(data)
            config = StyleConfig(**spec["options"])
            cache = FlowCache(work.flows, config.flow)
            for (local, distance), data in spec["flows"].items():
                cache.path(local, distance).write_bytes(data)
            for (done, local), data in spec["painted"].items():
                work.save_painted(done, local, np.load(io.BytesIO(data)))
            styles = []
            for i, (name, data) in enumerate(spec["styles"]):
                path = Path(folder) / f"{i}-{Path(name).name}"
                path.write_bytes(data)
                styles.append(path)
            if spec["gpus"] and ray.get_gpu_ids():
                config = dataclasses.replace(config, device="cuda")
            run = prepare(Image.new("RGB", tuple(spec["size"])), styles, config=config)
            seen = {"reported": 0.0}

            def on_step(p) -> None:
                now = time.monotonic()
                if now - seen["reported"] >= PROGRESS_EVERY:
                    seen["reported"] = now
                    info = {"frame": first + p.frame, "step": p.step, "steps": p.steps, "loss": p.loss}
                    if ray.get(monitor.progress.remote(shot, info)):
                        raise KeyboardInterrupt

            def send(done: int, local: int, image: np.ndarray) -> None:
                buffer = io.BytesIO()
                np.save(buffer, image)
                ray.get(monitor.checkpoint.remote(frame_key(shot, done, first + local), 0, buffer.getvalue()))

            Painter(run, work, cache, spec["count"], [0], on_step, send).paint()
        except KeyboardInterrupt:
            return {"stopped": True, "node": node}
        except Exception as err:  # noqa: BLE001 - the shot's own failure is one line, never a retry
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return {"error": text if isinstance(err, ValueError) else f"{type(err).__name__}: {text}", "node": node}
    return {"frames": spec["count"], "node": node, "pid": os.getpid()}
