"""A checkpointer for tests: keeps the loop's checkpoint after global step `k`, as the bytes a file
or a Ray task would carry, and then interrupts the run (or lets it go on)."""

from __future__ import annotations

from impasto.engine.checkpoint import Checkpoint
from impasto.io import checkpoint as checkpoint_io


class AfterStep:
    """Saves after global step `k` (meta merged into the checkpoint's own); stop: then raise
    KeyboardInterrupt, as Ctrl-C at the edge does. `state()` gives the saved checkpoint back."""

    def __init__(self, k: int, *, stop: bool = True, meta: dict | None = None):
        self.k, self.stop, self.meta, self.steps, self.saved = k, stop, meta or {}, 0, None

    def due(self) -> bool:
        self.steps += 1
        return self.steps == self.k

    def save(self, checkpoint: Checkpoint) -> None:
        checkpoint.meta.update(self.meta)
        self.saved = checkpoint_io.dumps(checkpoint.to_state())
        if self.stop:
            raise KeyboardInterrupt

    def state(self) -> dict:
        return checkpoint_io.loads(self.saved)
