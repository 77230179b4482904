"""Image I/O at the edge: Pillow images and files <-> (1, 3, H, W) float32 sRGB tensors in [0, 1].

This is the only module of the core that imports Pillow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

ImageSource = str | os.PathLike | Image.Image


def open_image(source: ImageSource) -> Image.Image:
    """An RGB Pillow image from a path or an image: EXIF orientation applied, alpha composited on white.

    Raises ValueError naming the file when it is missing or cannot be read as an image.
    """
    if isinstance(source, Image.Image):
        image = source
        name = "image"
    else:
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise ValueError(f"{name}: no such file")
        try:
            image = Image.open(path)
            image.load()
        except Exception as err:  # Pillow raises many kinds for broken files
            raise ValueError(f"{name}: cannot read as an image ({err})") from err
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.width < 1 or image.height < 1:
        raise ValueError(f"{name}: image is empty")
    return image.convert("RGB")


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is `long_side`, keeping the aspect ratio."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    """Resize (Lanczos, antialiased) so the longer side is `long_side` pixels."""
    size = fit_long_side(image.width, image.height, long_side)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB Pillow image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float().div_(255.0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB Pillow image (rounded, clamped)."""
    if image.dim() == 4:
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def load_tensor(source: ImageSource, long_side: int) -> torch.Tensor:
    """Open, resize to `long_side`, and convert: (1, 3, H, W) float32 sRGB in [0, 1]."""
    return to_tensor(resize_long_side(open_image(source), long_side))


def save_image(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write atomically: a temp file in the same folder, then a rename. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {path.suffix!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
