"""One batch job inside a Ray worker (edge): bytes in, bytes out, no shared file system.

The task receives every input as bytes, writes them to a private temp folder (so that they are
read exactly as `impasto stylize` reads files), runs the job, and returns the encoded output as
bytes for the driver to write. It asks the driver's Monitor actor for the job's latest checkpoint
when it starts (a retry continues from it), sends a checkpoint every `checkpoint_every` seconds,
reports its step every 2 s (PROGRESS_EVERY), and stops at the next step with a checkpoint when the driver asks.

A job that fails by itself (an image that only breaks when decoded, a diverged loss, a bug)
returns {"error": one line}: that is not retried. Only a dead worker or node makes Ray retry.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

PROGRESS_EVERY = 2.0  # seconds between progress reports (each wakes the driver's side)


def _one_line(err: BaseException, names: dict[str, str]) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for private, public in names.items():
        text = text.replace(private, public)
    if isinstance(err, (ValueError, FloatingPointError)):
        return text
    if isinstance(err, MemoryError) or "out of memory" in text.lower():
        return f"out of memory ({type(err).__name__}); try a smaller size or fewer --workers"
    return f"internal error: {type(err).__name__}: {text}"


def _node() -> tuple[str, str]:
    import ray

    context = ray.get_runtime_context()
    return context.get_node_id(), ray.util.get_node_ip_address()


def _device_and_budget(config, spec: dict[str, Any], node_id: str):
    """The device Ray assigned (a GPU when the job asked for one) and this job's share of the
    machine's memory: the budget divided among the jobs that run on this node at once."""
    import ray

    from ..runtime import memory_budget, resolve_device

    if spec["gpus"]:
        ids = ray.get_gpu_ids()
        config = dataclasses.replace(config, device="cuda" if ids else config.device)
    device = resolve_device(config.device)
    if spec["gpus"] and device.type == "cuda":  # jobs that share one GPU share its memory
        share = max(1, int(1 / spec["gpus"]))
    else:
        share = max(1, spec["jobs_per_node"].get(node_id, spec["default_jobs_per_node"]))
    if config.max_memory is None:
        config = dataclasses.replace(config, max_memory=max(1 << 28, memory_budget(device) // share))
    return config, device


def run_job(spec: dict[str, Any], monitor: Any, version: str) -> dict[str, Any]:
    """Ray's entry point for one job (see the module docstring). spec: see engine.py's _spec."""
    import ray
    import torch

    from .. import __version__
    from ..api import prepare, render, scales
    from ..engine.checkpoint import Checkpoint
    from ..io import checkpoint as checkpoint_io
    from ..io.fingerprint import plain
    from ..io.write import encode_image, output_format
    from ..runtime import precision_name, resolve_precision, tune_allocator

    node_id, node_ip = _node()
    if version != __version__:
        return {"error": f"node {node_ip} runs impasto {__version__}, the driver {version}; install one version"}
    torch.set_num_threads(spec["cpus"])  # a reused worker keeps its last task's count otherwise
    tune_allocator()  # as the CLI does: 1.1-1.2x per iteration on glibc (docs/benchmarks.md)
    key = spec["key"]
    attempt, saved = ray.get(monitor.start.remote(key, {"node": node_ip, "node_id": node_id, "pid": os.getpid()}))
    started, names = time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="impasto-job-") as folder:
        paths = []
        for i, (name, data) in enumerate(spec["files"]):
            path = Path(folder) / f"{i}-{Path(name).name}"
            path.write_bytes(data)
            paths.append(path)
            names[str(path)] = name
        where = dict(zip(spec["roles"], paths))
        try:
            from ..config import StyleConfig

            options = dict(spec["options"])
            if "init" in where:
                options["init"] = str(where["init"])
            config = StyleConfig.preset(spec["preset"], **options)
            config, device = _device_and_budget(config, spec, node_id)
            styles = [where[f"style{i}"] for i in range(spec["styles"])]
            masks = [where[f"mask{i}"] for i in range(spec["styles"])] if "mask0" in where else None
            style_masks = None
            if spec["style_masks"] is not None:
                style_masks = [where.get(f"style_mask{i}") for i in range(spec["styles"])]
            run = prepare(
                where["content"],
                styles,
                config=config,
                masks=masks,
                style_masks=style_masks,
                allow_huge=spec["allow_huge"],
            )
            resume = None
            if saved is not None:
                candidate = Checkpoint.from_state(checkpoint_io.loads(saved))
                resume = candidate if candidate.meta.get("fingerprint") == key else None

            def sink(checkpoint: Checkpoint) -> None:
                ray.get(monitor.checkpoint.remote(key, attempt, checkpoint_io.dumps(checkpoint.to_state())))

            checkpointer = checkpoint_io.Periodic(spec["checkpoint_every"], sink, {"fingerprint": key})
            seen = {"first": None, "last": None, "reported": 0.0}

            def on_step(p) -> None:
                seen["first"] = seen["first"] or p.step
                seen["last"] = p
                now = time.monotonic()
                if now - seen["reported"] >= PROGRESS_EVERY or p.step == p.total:
                    seen["reported"] = now
                    info = {"step": p.step, "total": p.total, "scale": p.scale, "scales": p.scale_count}
                    if ray.get(monitor.progress.remote(key, info | {"done": p.done})):
                        checkpointer.request_stop()

            image = render(run, callback=on_step, schedule=scales(run), checkpointer=checkpointer, resume=resume)
            fmt, depth = output_format(spec["output"], spec["bit_depth"])
            data = encode_image(image, fmt, depth)
        except KeyboardInterrupt:
            return {"stopped": True, "attempt": attempt, "node": node_ip}
        except Exception as err:  # noqa: BLE001 - a job's own failure is its one line, never a retry
            return {"error": _one_line(err, names), "attempt": attempt, "node": node_ip}
    resolved = dataclasses.replace(
        config,
        device=str(device),
        precision=precision_name(resolve_precision(config.precision, device)),
    )
    last = seen["last"]
    return {
        "data": data,
        "seconds": time.perf_counter() - started,
        "steps": last.step if last else 0,
        "first_step": seen["first"] or 0,
        "resumed_from": int(resume.clock["steps"]) if resume is not None else 0,
        # The checkpoint's steps ran in another precision ("auto" resolves per node): the engine
        # warned, and the picture is near, not on, an uninterrupted run's.
        "precision_changed": bool(last and last.precision_changed),
        "device": str(device),
        "node": node_ip,
        "attempt": attempt,
        "pid": os.getpid(),
        "resolved": {k: v for k, v in plain(resolved).items() if k != "init"},
    }
