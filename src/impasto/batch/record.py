"""The batch's record and its folder (edge): OUTDIR/batch.jsonl, the lock, checkpoints, temp files.

- `batch.jsonl`: one JSON line per finished job, appended and fsynced by the driver. A job is
  done when a line has its key (the SHA-256 of its inputs' bytes, its options as requested and its
  output name) and its output still has the recorded SHA-256. `precision_changed` (true or false,
  on every line) says whether the job went on from a checkpoint made in another precision, as a
  retry may on a node where "auto" resolves otherwise: its pixels are then not an uninterrupted run's.
- `.impasto-batch.lock`: one driver per OUTDIR (an flock, released when the driver dies).
- `.impasto-checkpoints/KEY.ckpt`: the latest checkpoint of each unfinished job, as the workers
  sent it, for a retry or the next run.
- Temp files `.impasto-*.tmp` of killed writes are swept at start (the lock makes them ours).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..io.fingerprint import fingerprint, sha256_file
from ..io.write import write_atomic
from .jobs import Job

RECORD = "batch.jsonl"
LOCK = ".impasto-batch.lock"
CHECKPOINTS = ".impasto-checkpoints"


def job_key(job: Job, digests: dict[str, str], bit_depth: int | None = None) -> str:
    """What the result depends on: the inputs by content, the options as requested, the output
    name and bit depth."""
    inputs = [digests[os.path.abspath(p)] for p in job.inputs()]
    return fingerprint(inputs, {"options": job.requested(), "output": str(job.output), "bit_depth": bit_depth})


def input_digests(jobs: list[Job]) -> dict[str, str]:
    """SHA-256 of every input file, each read once."""
    digests: dict[str, str] = {}
    for job in jobs:
        for path in job.inputs():
            key = os.path.abspath(path)
            if key not in digests:
                digests[key] = sha256_file(path)
    return digests


class Record:
    def __init__(self, outdir: Path):
        self.outdir, self.path = outdir, outdir / RECORD
        self.checkpoints = outdir / CHECKPOINTS

    def entries(self) -> dict[str, dict[str, Any]]:
        """The last line of each key; a torn last line (a killed append) is ignored."""
        found: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return found
        for line in self.path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                entry = json.loads(line)
                if isinstance(entry, dict) and "key" in entry:
                    found[entry["key"]] = entry
        return found

    def done(self, key: str, output: Path, entries: dict[str, dict[str, Any]]) -> bool:
        entry = entries.get(key)
        return entry is not None and output.is_file() and sha256_file(output) == entry.get("output_sha256")

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def checkpoint_path(self, key: str) -> Path:
        return self.checkpoints / f"{key}.ckpt"

    def load_checkpoint(self, key: str) -> bytes | None:
        with contextlib.suppress(OSError):
            return self.checkpoint_path(key).read_bytes()
        return None

    def save_checkpoint(self, key: str, data: bytes) -> None:
        self.checkpoints.mkdir(exist_ok=True)
        write_atomic(self.checkpoint_path(key), data)

    def drop_checkpoint(self, key: str) -> None:
        self.checkpoint_path(key).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove the temp files of killed writes under OUTDIR; returns how many."""
        swept = 0
        for tmp in self.outdir.rglob(".impasto-*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                swept += 1
        return swept


@contextlib.contextmanager
def locked(outdir: Path) -> Iterator[None]:
    """Hold OUTDIR's lock for the block; ValueError when another driver holds it."""
    path = outdir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            raise ValueError(
                f"another impasto batch (pid {holder}) is writing to {outdir}; wait for it or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
