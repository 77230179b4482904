"""The driver's mailbox for the tasks (a Ray actor on the driver's node).

It imports nothing but the standard library, so the actor's process stays small (no torch): the
package's __init__ is lazy for the same reason.
"""

from __future__ import annotations

from typing import Any


class Monitor:
    """The driver's mailbox (a Ray actor on the driver's node): checkpoints and progress in, the
    latest checkpoint out to a (re)started task, and the driver's request to stop."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, bytes] = {}
        self.fresh: dict[str, bytes] = {}
        self.progress_of: dict[str, dict[str, Any]] = {}
        self.attempts: dict[str, int] = {}
        self.stopping = False

    def seed(self, key: str, data: bytes) -> None:
        self.checkpoints[key] = data

    def start(self, key: str, where: dict[str, Any]) -> tuple[int, bytes | None]:
        """A task (re)starts on `where` (node, node_id, pid): its attempt number and the checkpoint."""
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.progress_of[key] = {**where, "attempt": self.attempts[key], "step": 0}
        return self.attempts[key], self.checkpoints.get(key)

    def checkpoint(self, key: str, attempt: int, data: bytes) -> None:
        self.checkpoints[key] = self.fresh[key] = data

    def progress(self, key: str, info: dict[str, Any]) -> bool:
        self.progress_of.setdefault(key, {}).update(info)
        return self.stopping

    def drain(self) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
        fresh, self.fresh = self.fresh, {}
        return dict(self.progress_of), fresh

    def finish(self, key: str) -> None:
        self.checkpoints.pop(key, None)
        self.progress_of.pop(key, None)

    def stop(self) -> None:
        self.stopping = True
