"""Ray for one batch (edge): started locally or joined, the job task and the Monitor actor
declared, every node's impasto version checked."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:
    from .engine import Settings

OBJECT_STORE_BYTES = 256 << 20  # small: jobs pass images and checkpoints, not data sets


def _node_version() -> str:
    return __version__


class Cluster:
    """Ray started (or joined) for one batch, with the task, the Monitor and the version check."""

    def __init__(self, settings: Settings):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from .monitor import Monitor
        from .task import run_job

        self.ray, self.settings = ray, settings
        common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        if settings.address:
            try:
                ray.init(address=settings.address, **common)
            except (ConnectionError, RuntimeError, ValueError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ValueError(f"cannot join the Ray cluster at {settings.address}: {first}") from None
        else:
            workers = settings.workers or max(1, (os.cpu_count() or 1) // settings.cpus_per_job)
            ray.init(
                address="local",
                num_cpus=workers * settings.cpus_per_job,
                object_store_memory=OBJECT_STORE_BYTES,
                **common,
            )
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
        self.workers = settings.workers or max(1, int(cpus // settings.cpus_per_job))
        self.shares = {
            n["NodeID"]: max(1, min(self.workers, int(n["Resources"].get("CPU", 1) // settings.cpus_per_job)))
            for n in nodes
        }
        here = ray.get_runtime_context().get_node_id()
        pinned = NodeAffinitySchedulingStrategy(node_id=here, soft=False)
        self.monitor = ray.remote(num_cpus=0)(Monitor).options(scheduling_strategy=pinned).remote()
        self._check_versions(nodes, NodeAffinitySchedulingStrategy)
        self.task = ray.remote(
            num_cpus=settings.cpus_per_job,
            num_gpus=settings.gpus_per_job,
            max_retries=settings.retries,
            retry_exceptions=False,
            max_calls=0,  # workers are reused, so VGG19 loads once per worker process
        )(run_job)

    def _check_versions(self, nodes: list[dict[str, Any]], strategy: Any) -> None:
        probe = self.ray.remote(num_cpus=0)(_node_version)
        refs = {
            n["NodeManagerAddress"]: probe.options(
                scheduling_strategy=strategy(node_id=n["NodeID"], soft=False)
            ).remote()
            for n in nodes
        }
        for address, ref in refs.items():
            try:
                version = self.ray.get(ref, timeout=120)
            except self.ray.exceptions.RayError as err:
                self.shutdown()
                raise ValueError(f"node {address} did not answer the version check ({type(err).__name__})") from None
            if version != __version__:
                self.shutdown()
                raise ValueError(
                    f"node {address} runs impasto {version}, this driver {__version__}; install one version"
                )

    def shutdown(self) -> None:
        self.ray.shutdown()
