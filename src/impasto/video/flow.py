"""Optical flow between the input frames (OpenCV's DIS, Kroeger et al. 2016), cached in the work
folder, and the consistency weights and shot cuts derived from it (nst/temporal.py has the math).

Differs from Ruder et al. 2016, who use DeepFlow or EpicFlow (minutes per frame pair at their
size): DIS runs in milliseconds at our working sizes, which keeps the flow pass cheap beside the
painting; docs/video.md has the presets measured against the synthetic clips' true motion.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..nst.temporal import consistency
from .work import write_atomic

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# A cut between shots: the flow is reliable over less than this share of the frame.
CUT_BELOW = 0.4


def grey(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint8 luminance, what DIS reads."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def dis_flow(source: np.ndarray, target: np.ndarray, preset: str) -> np.ndarray:
    """(H, W, 2) float32: for each pixel p of `source` (a grey frame), where it is in `target`:
    target(p + flow(p)) ≈ source(p). DIS with the preset's parameters and its variational
    refinement; one engine per call (OpenCV's is not thread-safe and costs nothing to create)."""
    engine = cv2.DISOpticalFlow_create(PRESETS[preset])
    return engine.calc(source, target, None)


def as_tensor(flow: np.ndarray) -> torch.Tensor:
    """(H, W, 2) -> (1, 2, H, W) float32, nst/temporal.py's layout."""
    return torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1))).unsqueeze(0).float()


@dataclass(frozen=True)
class FlowPair:
    """The flows between frame t and the earlier frame s = t − distance: backward (on frame t,
    to frame s) and forward (on frame s, to frame t), (1, 2, H, W) each."""

    backward: torch.Tensor
    forward: torch.Tensor

    def weights(self) -> torch.Tensor:
        """c(s, t): where frame s, warped onto frame t, is to be followed (1, 1, H, W)."""
        return consistency(self.forward, self.backward)

    def reversed(self) -> FlowPair:
        """The pair seen from frame s: warping frame t onto s (a backward pass of multi-pass)."""
        return FlowPair(self.forward, self.backward)


class FlowCache:
    """Flows of one clip at one size and preset, in `folder` (the work folder's flows/), as
    float16 .npy pairs written atomically: computed once, read by every pass and every resume."""

    def __init__(self, folder: Path, preset: str):
        self.folder, self.preset = folder, preset
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, t: int, distance: int) -> Path:
        return self.folder / f"{t:06d}-{distance}.npy"

    def has(self, t: int, distance: int) -> bool:
        return self.path(t, distance).exists()

    def compute(self, t: int, distance: int, frame_t: np.ndarray, frame_s: np.ndarray) -> None:
        """Flows of frames t and s = t − distance (grey uint8), unless cached already."""
        if self.has(t, distance):
            return
        backward = dis_flow(frame_t, frame_s, self.preset)
        forward = dis_flow(frame_s, frame_t, self.preset)
        buffer = io.BytesIO()
        np.save(buffer, np.stack([backward, forward]).astype(np.float16))
        write_atomic(self.path(t, distance), buffer.getvalue())

    def load(self, t: int, distance: int) -> FlowPair:
        both = np.load(self.path(t, distance)).astype(np.float32)
        return FlowPair(as_tensor(both[0]), as_tensor(both[1]))


def reliability(pair: FlowPair) -> float:
    """The share of frame t where frame s's flow holds (mean of the consistency weights)."""
    return float(pair.weights().mean())
