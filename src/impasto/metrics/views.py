"""The fixed views at which metrics read a picture, whatever its size. Imports torch only."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def view(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """A (1, 3, H, W) image with its long side at `long_side` (area-averaged when shrinking)."""
    height, width = image.shape[-2:]
    factor = long_side / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=factor < 1).clamp(0, 1)
