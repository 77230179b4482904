"""`impasto stylize --checkpoint-every S` and `--resume` (edge): where the checkpoint lives, whether
it belongs to this run, and Ctrl-C that saves one before stopping.

The checkpoint is `OUT.ckpt` beside the output (`out.png.ckpt`), written atomically every S
seconds and at Ctrl-C, and removed once the output is written. `--resume` continues from it when
the inputs (by content) and the options are those it was made with. The options are compared as
given: `--precision auto` that resolves to another dtype here than where the checkpoint was made
is the same option (the engine continues with one warning line); `--precision bf16` after `fp32`
is not.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import typer

from ..config import StyleConfig
from ..engine.checkpoint import Checkpoint
from ..io import checkpoint as checkpoint_io
from ..io.fingerprint import fingerprint, sha256_file

DEFAULT_EVERY = 60.0


def checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


def run_fingerprint(inputs: list[Path], config: StyleConfig) -> str:
    return fingerprint((sha256_file(p) for p in inputs), config)


@dataclass(frozen=True)
class CheckpointPlan:
    path: Path
    every: float
    resume: Checkpoint | None
    fingerprint: str

    def checkpointer(self) -> checkpoint_io.Periodic:
        return checkpoint_io.Periodic(
            self.every, lambda c: checkpoint_io.save(c.to_state(), self.path), {"fingerprint": self.fingerprint}
        )


def plan(
    output: Path, inputs: list[Path], config: StyleConfig, *, every: float | None, resume: bool, force: bool
) -> CheckpointPlan | None:
    """None when the run keeps no checkpoint. ValueError for a resume that cannot be, or a
    checkpoint that a new run would silently replace."""
    path = checkpoint_path(output.expanduser())
    if not resume:
        if path.exists() and not force:
            raise ValueError(f"{path} holds an interrupted run: pass --resume to continue it, or --force to start over")
        return None if every is None else CheckpointPlan(path, every, None, run_fingerprint(inputs, config))
    digest = run_fingerprint(inputs, config)
    if not path.exists():
        raise ValueError(f"no checkpoint to resume at {path}; run without --resume")
    saved = Checkpoint.from_state(checkpoint_io.load(path))
    if saved.meta.get("fingerprint") != digest:
        raise ValueError(f"{path} was made with other inputs or options; give the same ones, or run without --resume")
    return CheckpointPlan(path, every or DEFAULT_EVERY, saved, digest)


def stop_softly(checkpointer: checkpoint_io.Periodic):
    """A SIGINT/SIGTERM handler: the first asks the run to save a checkpoint and stop after the
    current step; a second stops at once (the current image is still saved)."""

    def handler(signum: int, frame: object) -> None:
        if checkpointer.stop_requested:
            raise KeyboardInterrupt(signal.Signals(signum).name)
        checkpointer.request_stop()
        typer.echo("impasto: stopping after this step to save a checkpoint (Ctrl-C again to stop now)", err=True)

    return handler
