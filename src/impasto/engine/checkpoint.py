"""A run's whole state between two steps, so that an interrupted run continues where it stopped.

A checkpoint holds what the next step depends on: the scale and the step within it, the live
iterate, the iterate average, the optimizer's state (L-BFGS's curvature pairs and last point, or
Adam's moments, which also carry the earlier scales' hand-over), the losses the stopping rule reads,
the tile cuts' random generator, and the run's clock. Restored into the same inputs and options, the
next step is the step the uninterrupted run would have taken, so a seeded fp32 run on the CPU ends
where it would have ended (tests/engine/test_checkpoint.py).

The checkpoint also records the precision its steps ran in (`dtype`). Precision "auto" resolves per
machine (runtime.resolve_precision), so a retry elsewhere may continue a bf16 run in fp32 or the
reverse: it goes on, with one warning line, and ends near, not on, the uninterrupted run's pixels.

When L-BFGS's pairs (2·history image copies) exceed `max_history_bytes`, the checkpoint is compact:
the pairs are left out and the resumed optimizer rebuilds them over its next `history` steps, from
a steepest-descent step (docs/batch.md says what that costs). Everything else is kept.

No I/O here: `to_state` gives plain tensors, numbers and lists (io/checkpoint.py writes them);
`Checkpointer` is what the edge passes to the loop to decide when to save and where.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ..runtime import precision_name
from .lbfgs import LBFGS
from .optimizers import ClampedAdam, IterateAverage

log = logging.getLogger(__name__)

MAX_HISTORY_BYTES = 256 << 20  # L-BFGS pairs beyond this are rebuilt after a resume, not shipped


@dataclass
class Checkpoint:
    """The loop's state after `step` steps of scale `scale` (0-based index; steps 1-based)."""

    scale: int
    step: int
    image: torch.Tensor  # the live iterate, (1, C, h, w) in [0, 1], on the CPU
    optimizer: dict[str, Any]
    losses: list[float]
    clock: dict[str, float]  # steps, work, total_steps, total_work, elapsed
    average: torch.Tensor | None = None
    average_count: int = 0
    generator: torch.Tensor | None = None  # the tile cuts' generator state
    compact: bool = False  # L-BFGS pairs left out
    dtype: str | None = None  # the precision its steps ran in ("fp32", "bf16"); None: not recorded (older)
    meta: dict[str, Any] = field(default_factory=dict)  # the edge's own (fingerprint, job, ...)

    def to_state(self) -> dict[str, Any]:
        """Plain values for torch.save(weights_only=True)."""
        return {
            "scale": self.scale,
            "step": self.step,
            "image": self.image,
            "optimizer": self.optimizer,
            "losses": list(self.losses),
            "clock": dict(self.clock),
            "average": self.average,
            "average_count": self.average_count,
            "generator": self.generator,
            "compact": self.compact,
            "dtype": self.dtype,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Checkpoint:
        return cls(**state)  # a state from before `dtype` was recorded loads with dtype None

    def check_precision(self, dtype: torch.dtype) -> bool:
        """Whether a resume in `dtype` changes the precision this checkpoint's steps ran in, with one
        warning line logged when it does. A checkpoint that does not record it counts as unchanged."""
        now = precision_name(dtype)
        if self.dtype is None or self.dtype == now:
            return False
        log.warning(
            "resuming in %s from a checkpoint made in %s: the result will not be pixel-identical to an "
            "uninterrupted run",
            now,
            self.dtype,
        )
        return True


class Checkpointer(Protocol):
    """The edge's side: the loop asks `due()` after every step and, when it says so, hands over a
    checkpoint to `save`, which may raise KeyboardInterrupt to stop the run once it is saved."""

    def due(self) -> bool: ...

    def save(self, checkpoint: Checkpoint) -> None: ...


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True)


def optimizer_state(optimizer: Any, max_history_bytes: int = MAX_HISTORY_BYTES) -> tuple[dict[str, Any], bool]:
    """The optimizer's state as CPU copies, and whether L-BFGS's pairs were left out."""
    if isinstance(optimizer, ClampedAdam):
        state = optimizer.adam.state.get(optimizer.image) or {}
        return {"kind": "adam", **{k: _cpu(v) for k, v in state.items()}}, False
    if not isinstance(optimizer, LBFGS):
        raise TypeError(f"cannot checkpoint {type(optimizer).__name__}")
    size = sum(s.numel() * s.element_size() * 2 for s, _, _ in optimizer.pairs)
    compact = size > max_history_bytes
    pairs = [] if compact else [[_cpu(s), _cpu(y), float(rho)] for s, y, rho in optimizer.pairs]
    prev = None if optimizer.prev is None else [_cpu(optimizer.prev[0]), _cpu(optimizer.prev[1]), optimizer.prev[2]]
    return {
        "kind": "lbfgs",
        "pairs": pairs,
        "prev": prev,
        "rejected": optimizer.rejected,
        "rejected_in_a_row": optimizer._rejected_in_a_row,
        "uphill": _cpu(optimizer._uphill),
    }, compact


def restore_optimizer(optimizer: Any, state: dict[str, Any]) -> None:
    """Put a state from `optimizer_state` back into a fresh optimizer on the resumed image."""
    device = optimizer.image.device
    if state["kind"] == "adam":
        if not isinstance(optimizer, ClampedAdam):
            raise ValueError("the checkpoint was made with another optimizer")
        moments = {k: v.to(device) for k, v in state.items() if k != "kind"}
        if moments:
            moments["step"] = moments["step"].cpu()  # torch's Adam keeps its step count on the CPU
            optimizer.adam.state[optimizer.image] = moments
        return
    if not isinstance(optimizer, LBFGS):
        raise ValueError("the checkpoint was made with another optimizer")
    optimizer.pairs = [(s.to(device), y.to(device), rho) for s, y, rho in state["pairs"]]
    prev = state["prev"]
    optimizer.prev = None if prev is None else (prev[0].to(device), prev[1].to(device), prev[2])
    optimizer.rejected = state["rejected"]
    optimizer._rejected_in_a_row = state["rejected_in_a_row"]
    optimizer._uphill = state["uphill"].to(device)


def capture(
    scale: int,
    step: int,
    image: torch.Tensor,
    optimizer: Any,
    losses: list[float],
    clock: dict[str, float],
    average: IterateAverage | None,
    generator: torch.Generator,
    dtype: torch.dtype,
    max_history_bytes: int = MAX_HISTORY_BYTES,
) -> Checkpoint:
    """The loop's state after `step` steps of scale `scale`, as CPU copies; dtype: the run's conv
    precision (runtime.resolve_precision)."""
    state, compact = optimizer_state(optimizer, max_history_bytes)
    has_average = average is not None and average.average is not None
    return Checkpoint(
        scale=scale,
        step=step,
        image=_cpu(image),
        optimizer=state,
        losses=list(losses),
        clock=dict(clock),
        average=_cpu(average.average) if has_average else None,
        average_count=average.count if has_average else 0,
        generator=generator.get_state(),
        compact=compact,
        dtype=precision_name(dtype),
    )


def restore_average(average: IterateAverage | None, checkpoint: Checkpoint, device: torch.device) -> None:
    if average is not None and checkpoint.average is not None:
        average.average = checkpoint.average.to(device)
        average.count = checkpoint.average_count
