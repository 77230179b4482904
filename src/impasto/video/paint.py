"""The temporal loop of Ruder, Dosovitskiy & Brox 2016 over a clip's frames, in the work folder.

Pass 1 goes forward. A shot's first frame is painted like a picture (coarse to fine, the engine's
schedule). Every later frame t starts from the painted frame t−1 warped onto it by the flow, the
photo filling what the warp cannot know (nst/temporal.fill), and optimizes
α·content + β·style + γ·Σ_j L_temporal(x, ω_{t−j}, c_long) at the finest scale for at most
`frame_iterations` steps, stopping once the loss settles (the engine's one StopRule).

Passes 2..N (the paper's multi-pass variant) alternate directions: frame t starts from
δ·c·ω_n + (1 − δ·c)·x_t, its neighbour n in this pass's direction warped onto it blended with its
own last-pass result (δ = 0.5), and follows only that neighbour (no long-term terms; ours).
Frames already in the work folder are skipped: a rerun continues where the last one stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..api import PreparedRun, frame_schedule, render, scales
from ..nst.temporal import Anchor, fill, long_term_weights, warp
from .flow import FlowCache
from .work import WorkFolder

BLEND = 0.5  # δ of the multi-pass initialisation


@dataclass(frozen=True)
class FrameProgress:
    """One optimizer step of one frame, as reported to the callback."""

    frame: int  # 1-based, in the range painted
    frames: int
    done: int  # frames finished, over every pass (of frames · passes)
    total: int  # frames · passes
    pass_index: int  # 1-based
    passes: int
    step: int  # the frame's own
    steps: int  # its budget
    loss: float
    temporal: float  # γ·L_temporal, the part of the loss that holds the frame to the last one
    eta: float | None  # seconds left, from the frames painted by this process (None before one)


FrameCallback = Callable[[FrameProgress], None]


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).unsqueeze(0).float()


def _array(image: torch.Tensor) -> np.ndarray:
    return image[0].detach().float().cpu().numpy().transpose(1, 2, 0).astype(np.float32)


class Painter:
    """Paints the frames 0..count-1 of a work folder (inputs and flows already there)."""

    def __init__(
        self,
        run: PreparedRun,
        work: WorkFolder,
        flows: FlowCache,
        count: int,
        shots: Sequence[int],
        callback: FrameCallback | None = None,
        on_painted: Callable[[int, int, np.ndarray], None] | None = None,
    ):
        """on_painted(pass, index, image) follows each frame's save (a Ray task sends it on)."""
        self.run, self.work, self.flows, self.count = run, work, flows, count
        self.config, self.callback, self.on_painted = run.config, callback, on_painted
        self.shot = np.searchsorted(np.asarray(sorted(shots)), np.arange(count), side="right") - 1
        self.total = count * self.config.passes
        self.done = sum(work.count_painted(p, range(count)) for p in range(1, self.config.passes + 1))
        self.seconds: list[float] = []  # per frame painted by this process, shot starts excluded

    def paint(self) -> None:
        for done in range(1, self.config.passes + 1):
            order = range(self.count) if done % 2 else range(self.count - 1, -1, -1)
            for index in order:
                if not self.work.is_painted(done, index):
                    self._frame(done, index, 1 if done % 2 else -1)

    def _same_shot(self, a: int, b: int) -> bool:
        return 0 <= b < self.count and self.shot[a] == self.shot[b]

    def _anchor(self, done: int, index: int, other: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame `other` of pass `done` warped onto frame `index`, with its weights c."""
        later, distance = max(index, other), abs(index - other)
        pair = self.flows.load(later, distance)
        if other > index:  # a backward pass: the later frame onto the earlier one
            pair = pair.reversed()
        painted = _tensor(self.work.load_painted(done, other))
        # Differs from Ruder et al. (bilinear): bicubic, so that strokes carried over many frames
        # are not blurred a little more by every warp (docs/video.md).
        return warp(painted, pair.backward, "bicubic").clamp(0, 1), pair.weights()

    def _frame(self, done: int, index: int, direction: int) -> None:
        content = self.work.load_input(index)
        run = dataclasses.replace(self.run, content=Image.fromarray(content))
        photo = _tensor(content.astype(np.float32) / 255)
        distances = self.config.long_term if done == 1 else (1,)
        found = [
            self._anchor(done, index, index - j * direction)
            for j in sorted(distances)
            if self._same_shot(index, index - j * direction)
        ]
        weights = long_term_weights([c for _, c in found])
        anchors = [Anchor(w, c) for (w, _), c in zip(found, weights)]
        began = time.perf_counter()
        if done == 1 and not found:  # a shot's first frame: a picture
            schedule = scales(run)
            steps = sum(s.iterations for s, _ in schedule)
            result = render(run, schedule=schedule, callback=self._reporter(done, index, steps))
        else:
            if done == 1:
                start = fill(*found[0], photo) if self._same_shot(index, index - direction) else photo
            else:
                own = _tensor(self.work.load_painted(done - 1, index))
                if found:
                    warped, c = found[0]
                    start = BLEND * c * warped + (1 - BLEND * c) * own
                else:
                    start = own
            near = anchors if done == 1 or found else []
            iterations = self.config.frame_iterations
            result = render(
                run,
                schedule=frame_schedule(run, iterations),
                start=start,
                anchors=near,
                callback=self._reporter(done, index, iterations),
            )
        if found or done > 1:
            self.seconds.append(time.perf_counter() - began)
        image = _array(result)
        self.work.save_painted(done, index, image)
        self.done += 1
        if self.on_painted is not None:
            self.on_painted(done, index, image)

    def _reporter(self, done: int, index: int, steps: int) -> Callable:
        if self.callback is None:
            return None
        callback, passes = self.callback, self.config.passes
        eta = (self.total - self.done) * float(np.mean(self.seconds)) if self.seconds else None

        def report(p) -> None:
            callback(
                FrameProgress(
                    frame=index + 1,
                    frames=self.count,
                    done=self.done,
                    total=self.total,
                    pass_index=done,
                    passes=passes,
                    step=p.step,
                    steps=min(steps, p.total),
                    loss=p.loss,
                    temporal=p.temporal_loss,
                    eta=eta,
                )
            )

        return report
