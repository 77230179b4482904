"""The Python API: `stylize(content, styles, config=..., callback=...) -> PIL.Image.Image`.

Glue between the edge (paths, Pillow images) and the silent core (tensors): it resolves the
device, loads images at their sizes, loads the cached VGG19 and runs the optimizer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from PIL import Image

from .config import MIN_SIZE, StyleConfig
from .image import ImageSource, fit_long_side, load_tensor, open_image, resize_long_side, to_pil, to_tensor
from .optimize import ProgressCallback, optimize_image
from .vgg import load_vgg19

log = logging.getLogger(__name__)

Styles = ImageSource | Sequence[ImageSource]


def resolve_device(device: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must be available."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if device == "auto":
        return torch.device(next(name for name, ok in available.items() if ok))
    if not available.get(device, False):
        raise ValueError(f"device {device!r} is not available on this machine")
    return torch.device(device)


def _as_list(styles: Styles) -> list[ImageSource]:
    if isinstance(styles, (str, Image.Image)) or not isinstance(styles, Sequence):
        return [styles]  # one path, PathLike or image
    return list(styles)


def _name(source: ImageSource) -> str:
    return "(in memory)" if isinstance(source, Image.Image) else str(source)


def _check_short_side(image: Image.Image, long_side: int, what: str, option: str) -> None:
    """VGG19 pools 4 times before relu5_1: below 16 px on a side the deepest features vanish."""
    short = min(fit_long_side(image.width, image.height, long_side))
    if short < MIN_SIZE:
        raise ValueError(f"{what} would be {short} px on its short side at this size; "
                         f"at least {MIN_SIZE} px is needed (raise {option})")


def stylize(
    content: ImageSource,
    styles: Styles,
    *,
    config: StyleConfig | None = None,
    callback: ProgressCallback | None = None,
) -> Image.Image:
    """Paint `content` in the style of `styles`. Returns an RGB Pillow image.

    content: a path or a Pillow image. styles: one, or a list, of paths or Pillow images; blend
    them with `config.style_blend_weights`. The output's long side is `config.size`; each style is
    resized so its long side is `config.size * config.style_scale`.
    callback receives an `impasto.Progress` after every step.
    Raises ValueError (bad image, option or device) and NonFiniteLossError (diverged run).
    """
    config = config or StyleConfig()
    style_list = _as_list(styles)
    config.blend_weights(len(style_list))  # fail on a count mismatch before any heavy work
    device = resolve_device(config.device)
    # Open everything first, so that a bad file fails before any heavy work.
    content_image = open_image(content)
    style_images = [open_image(s) for s in style_list]
    init: str | torch.Tensor = config.init
    if init not in ("content", "noise"):
        init = load_tensor(init, config.size).to(device)
    style_size = round(config.size * config.style_scale)
    _check_short_side(content_image, config.size, "content image", "size")
    for source, image in zip(style_list, style_images):
        _check_short_side(image, style_size, f"style image {_name(source)}", "style_scale")

    content_tensor = to_tensor(resize_long_side(content_image, config.size)).to(device)
    style_tensors = [to_tensor(resize_long_side(s, style_size)).to(device) for s in style_images]
    model = load_vgg19(config.weights, pooling=config.pooling, device=device)
    log.info("stylizing %dx%d on %s", content_tensor.shape[-1], content_tensor.shape[-2], device)
    result = optimize_image(content_tensor, style_tensors, model, config, init=init, callback=callback)
    return to_pil(result)
