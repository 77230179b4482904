"""Many pictures, one command: `impasto batch` and `impasto.batch.run(jobs, outdir, settings)`.

Jobs (jobs.py: a grid, or manifest.py: one per row) are checked all at once (check.py), then run
as Ray core tasks, one per output, locally or on a cluster (engine.py, cluster.py, task.py),
resumably (record.py: OUTDIR/batch.jsonl and the checkpoints the workers send through the
Monitor actor, monitor.py). Needs `impasto[batch]`.

The names below load on first use: the Monitor actor's process imports this package and must not
pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "check_jobs": "check",
    "check_outdir": "check",
    "Interrupted": "engine",
    "JobResult": "engine",
    "Settings": "engine",
    "Status": "engine",
    "plan": "engine",
    "run": "engine",
    "Job": "jobs",
    "Source": "jobs",
    "duplicates": "jobs",
    "expand": "jobs",
    "grid": "jobs",
    "read_manifest": "manifest",
}

__all__ = [
    "Interrupted",
    "Job",
    "JobResult",
    "Settings",
    "Source",
    "Status",
    "check_jobs",
    "check_outdir",
    "duplicates",
    "expand",
    "grid",
    "plan",
    "read_manifest",
    "run",
]

if TYPE_CHECKING:
    from .check import check_jobs, check_outdir
    from .engine import Interrupted, JobResult, Settings, Status, plan, run
    from .jobs import Job, Source, duplicates, expand, grid
    from .manifest import read_manifest


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'impasto.batch' has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
