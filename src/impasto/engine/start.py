"""Where a scale starts: the first scale from the photo, noise or an image; each later one from
the last result, upsampled (Gatys et al. 2017's coarse to fine)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..config import INIT_MODES
from ..nst.vgg import white_noise


def _noise(content: torch.Tensor, seed: int) -> torch.Tensor:
    """White noise from `seed` (nst/vgg.py's white_noise: drawn on the CPU, the same on every device)."""
    return white_noise(tuple(content.shape), seed).to(content)


# Contiguous whatever the content's layout, so the image, its gradient and the optimizer state
# share one layout (the network converts to channels_last inside).
_INITS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "content": lambda content, seed: content.clone(memory_format=torch.contiguous_format),
    "noise": _noise,
}


def initial_image(content: torch.Tensor, init: str | torch.Tensor, seed: int) -> torch.Tensor:
    """The starting point: (1, C, H, W) in [0, 1], C of the content (1 in luminance mode).

    init: one of config.INIT_MODES ("content", "noise") or an image tensor, which is resized to the
    content's size if needed.
    """
    if isinstance(init, torch.Tensor):
        if init.shape[-2:] != content.shape[-2:]:
            init = torch.nn.functional.interpolate(
                init, size=content.shape[-2:], mode="bicubic", align_corners=False, antialias=True
            )
        return init.to(content).clamp(0, 1).contiguous()
    if init not in _INITS:
        raise ValueError(f"init must be {', '.join(INIT_MODES)} or an image tensor; got {init!r}")
    return _INITS[init](content, seed)


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, C, h, w) image in [0, 1] at a larger (H, W), bicubic, back in [0, 1]: the previous
    scale's result for the next scale, or an interrupted one for the output."""
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1).contiguous()
