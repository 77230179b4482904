"""Many pictures, one command: `impasto batch` and `impasto.batch.run(jobs, outdir, settings)`.

Jobs (jobs.py: a grid, or manifest.py: one per row) are checked all at once (check.py), then run
as Ray core tasks, one per output, locally or on a cluster (engine.py, task.py), resumably
(record.py: OUTDIR/batch.jsonl and the checkpoints the workers send). Needs `impasto[batch]`.
"""

from .check import check_jobs, check_outdir
from .engine import Interrupted, JobResult, Settings, Status, plan, run
from .jobs import Job, Source, duplicates, expand, grid
from .manifest import read_manifest

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
