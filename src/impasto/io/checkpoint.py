"""Checkpoints as bytes and files (edge): engine/checkpoint.py's state (`Checkpoint.to_state()`,
back with `Checkpoint.from_state`), with torch.save.

Loading uses `weights_only=True`: a checkpoint holds tensors, numbers, strings and lists only, and
a file that claims to be one cannot run code. A file that is not a checkpoint is a ValueError.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from .write import write_atomic

_FORMAT = "impasto-checkpoint/1"


def dumps(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": _FORMAT, **state}, buffer)
    return buffer.getvalue()


def loads(data: bytes, what: str = "checkpoint") -> dict[str, Any]:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        raise ValueError(f"{what} is not a readable impasto checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.pop("format", None) != _FORMAT:
        raise ValueError(f"{what} is not an impasto checkpoint of this version")
    return state


def save(state: dict[str, Any], path: Path) -> None:
    """Write atomically: a crash while saving leaves the previous checkpoint whole."""
    write_atomic(path, dumps(state))


def load(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read checkpoint {path} ({err.strerror or err})") from None
    return loads(data, f"checkpoint {path}")


class Periodic:
    """A Checkpointer (engine/checkpoint.py) that saves every `every` seconds through `sink`, and at
    once when a stop was requested (`request_stop`), after which it raises KeyboardInterrupt: the
    run stops with its state saved. `meta` is stamped on every checkpoint (what it belongs to)."""

    def __init__(self, every: float, sink, meta: dict | None = None, clock=None):
        import time

        self.every, self.sink, self.meta = every, sink, dict(meta or {})
        self.clock = clock or time.monotonic
        self.last = self.clock()
        self.stop_requested = False
        self.saved = 0

    def request_stop(self) -> None:
        self.stop_requested = True

    def due(self) -> bool:
        return self.stop_requested or self.clock() - self.last >= self.every

    def save(self, checkpoint) -> None:  # an engine Checkpoint
        checkpoint.meta.update(self.meta)
        self.sink(checkpoint)
        self.last, self.saved = self.clock(), self.saved + 1
        if self.stop_requested:
            raise KeyboardInterrupt("stopped at a checkpoint")
