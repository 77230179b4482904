"""Image input at the edge: files and Pillow images -> sRGB Pillow images -> (1, 3, H, W) tensors.

Every input becomes an 8-bit RGB image in sRGB, whatever it was on disk:
- EXIF orientation is applied;
- an embedded ICC profile is converted to sRGB (LittleCMS, through Pillow's ImageCms);
- palette, grey, CMYK and 16-bit or float grey (I;16, I, F) are converted with their full range;
- alpha is composited on white; a multi-frame file gives its first frame, with a warning.
Every failure is a ValueError that names the file and says what is wrong, in one line.
Writing lives in io/write.py. Pillow stays in io/ and at the edges that pass its images on (api, cli,
web); the core (nst, engine, config, runtime) never imports it, as make lint checks.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..config import fit_long_side

log = logging.getLogger(__name__)

ImageSource = str | os.PathLike | Image.Image


@lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    """LittleCMS's built-in sRGB profile: the target of every input, embedded in every output."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def open_image(source: ImageSource, *, allow_huge: bool = False, max_pixels: int | None = None) -> Image.Image:
    """An RGB sRGB Pillow image from a path or a Pillow image (see the module docstring).

    allow_huge lifts Pillow's decompression-bomb limit (about 89 megapixels), which is otherwise an
    error. max_pixels: a lower limit of the caller's (a server's), checked on the header before
    decoding. Raises ValueError naming the file: missing, a directory, unreadable, empty, truncated,
    not an image, over a pixel limit.
    """
    image, name = _decode(source, allow_huge, max_pixels)
    return _to_srgb_rgb(image, name)


def _decode(source: ImageSource, allow_huge: bool, max_pixels: int | None = None) -> tuple[Image.Image, str]:
    """A decoded Pillow image and its name for messages; ValueError for every file problem."""
    if isinstance(source, Image.Image):
        _check_pixels(source, "image", max_pixels)
        return source, "image"
    path = Path(source)
    name = str(path)
    check_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; both are refused unless allowed.
            warnings.simplefilter("error" if not allow_huge else "ignore", Image.DecompressionBombWarning)
            # Pillow reads its limit from a module global; it is restored at once (not thread-safe,
            # and only the CLI's --allow-huge ever lifts it).
            limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None if allow_huge else limit
            try:
                image = Image.open(path)
                _check_pixels(image, name, max_pixels)  # on the header: nothing decoded yet
                image.load()  # decode now: a truncated file fails here, not halfway through a run
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        hint = "" if max_pixels else "; pass --allow-huge if you trust the file"  # a server has no such option
        raise ValueError(f"{name}: refused by Pillow's decompression-bomb check ({_first_line(err)}){hint}") from None
    except _OverLimitError:
        raise
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image file that Pillow can read") from None
    except PermissionError:
        raise ValueError(f"{name}: permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # Pillow's ways of saying "broken"
        raise ValueError(
            f"{name}: cannot decode the image, the file may be truncated or corrupt ({_first_line(err)})"
        ) from None
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        log.warning("%s has %d frames; using the first", name, frames)
    return image, name


class _OverLimitError(ValueError):
    pass


def _check_pixels(image: Image.Image, name: str, max_pixels: int | None) -> None:
    if max_pixels is not None and image.width * image.height > max_pixels:
        raise _OverLimitError(f"{name}: {image.width}x{image.height} px is over the limit of {max_pixels:,} pixels")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def check_file(path: Path) -> None:
    """The common file problems, each with its own message, before Pillow sees the file
    (ValueError "path: reason")."""
    try:
        _check_path(path)
    except OSError as err:  # a name too long, a loop of links, ...
        raise ValueError(f"{path}: {err.strerror or err}") from None


def _check_path(path: Path) -> None:
    name = str(path)
    if not path.exists():
        raise ValueError(f"{name}: no such file")
    if path.is_dir():
        raise ValueError(f"{name}: is a directory, not an image file")
    if not path.is_file():
        raise ValueError(f"{name}: not a regular file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{name}: permission denied")
    if path.stat().st_size == 0:
        raise ValueError(f"{name}: the file is empty (0 bytes)")


def _to_srgb_rgb(image: Image.Image, name: str) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile")
    image = _flatten_alpha(_widen_to_8bit(image))
    if icc:
        converted = _convert_icc(image, icc, name)
        if converted is not None:
            return converted
    try:
        return image.convert("RGB")
    except ValueError as err:
        raise ValueError(f"{name}: colour mode {image.mode} is not supported ({err})") from None


def _is_deep_grey(image: Image.Image) -> bool:
    """16-bit, 32-bit or float grey: more than 8 bits that Pillow's convert would clip at 255."""
    return image.mode.startswith("I") or image.mode == "F"


def _deep_grey_unit(image: Image.Image) -> np.ndarray:
    """A deep grey image (_is_deep_grey) as (H, W) float64 in [0, 1], with its full range."""
    array = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        scale = 65535.0
    elif image.mode == "F" and array.size and np.nanmax(array) <= 1.0:
        scale = 1.0  # float images in [0, 1]
    else:  # 32-bit int or float: a 16-bit range when it exceeds 8 bits, else already 8-bit values
        scale = 65535.0 if array.size and np.nanmax(array) > 255 else 255.0
    return np.nan_to_num(array / scale, nan=0.0).clip(0.0, 1.0)


def _widen_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float grey to 8-bit grey with the full range (Pillow's convert would clip at 255)."""
    if image.mode == "1":
        return image.convert("L")
    if not _is_deep_grey(image):
        return image
    widened = Image.fromarray((_deep_grey_unit(image) * 255.0).round().astype(np.uint8), "L")
    widened.info = dict(image.info)
    return widened


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite any transparency on white, in the image's own colour space (white stays white)."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("PA", "RGBa", "La") or (image.mode == "RGB" and "transparency" in image.info):
        image = image.convert("RGBA")
    elif image.mode == "L" and "transparency" in image.info:
        image = image.convert("LA")
    if image.mode not in ("RGBA", "LA"):
        return image
    base = image.mode[:-1]
    flat = Image.new(base, image.size, "white")
    flat.paste(image.convert(base), mask=image.getchannel("A"))
    flat.info = {k: v for k, v in image.info.items() if k != "transparency"}
    return flat


def _convert_icc(image: Image.Image, icc: bytes, name: str) -> Image.Image | None:
    """The image converted from its embedded profile to sRGB; None (with a warning) if that fails."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, srgb_profile(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as err:
        log.warning("%s: ignoring its colour profile, which cannot be applied (%s)", name, _first_line(err))
        return None


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    """Resize with Lanczos (antialiased) so the longer side is `long_side` pixels.

    reducing_gap: a big downscale first reduces by an integer factor (box filter), which Pillow
    documents as indistinguishable from a full Lanczos pass while being many times faster.
    """
    return resize_exact(image, fit_long_side(image.width, image.height, long_side))


def resize_exact(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize with Lanczos to exactly (width, height), whatever the aspect ratio."""
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB Pillow image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float().div_(255.0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> 8-bit RGB Pillow image (rounded, clamped)."""
    return Image.fromarray(to_array(image, 8), "RGB")


def to_array(image: torch.Tensor, bit_depth: int) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> (H, W, 3) uint8 or uint16 array, rounded."""
    if image.dim() == 4:
        image = image[0]
    top, dtype = {8: (255, torch.uint8), 16: (65535, torch.int32)}[bit_depth]
    array = image.detach().float().clamp(0, 1).mul(top).round().to(dtype).permute(1, 2, 0).cpu().numpy()
    return array.astype(np.uint16) if bit_depth == 16 else array


def load_tensor(source: ImageSource, long_side: int) -> torch.Tensor:
    """Open, resize to `long_side`, and convert: (1, 3, H, W) float32 sRGB in [0, 1]."""
    return to_tensor(resize_long_side(open_image(source), long_side))


MaskSource = ImageSource | torch.Tensor


def open_mask(source: MaskSource, *, allow_huge: bool = False) -> torch.Tensor:
    """A region mask as (1, 1, H, W) float32 in [0, 1] (1: paint here), at its own size.

    source: an image file or Pillow image (grey; colour is read as its brightness; a transparent
    pixel is 0), or a tensor (H, W), (1, H, W) or (1, 1, H, W) in [0, 1].
    """
    if isinstance(source, torch.Tensor):
        mask = source.detach()
        if mask.dim() not in (2, 3, 4) or mask.shape[:-2].numel() != 1 or not mask.is_floating_point():
            raise ValueError(
                f"a mask tensor must be float (H, W), (1, H, W) or (1, 1, H, W); got {mask.dtype} {tuple(mask.shape)}"
            )
        mask = mask.reshape(1, 1, *mask.shape[-2:]).float().cpu()
        if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ValueError("a mask tensor must hold finite values in [0, 1]")
        return mask.contiguous()
    image, name = _decode(source, allow_huge)
    image = ImageOps.exif_transpose(image)
    if _is_deep_grey(image):  # keep every level of a deep mask
        return torch.from_numpy(_deep_grey_unit(image).astype(np.float32))[None, None].contiguous()
    return torch.from_numpy(_mask_values(_widen_to_8bit(image), name))[None, None].contiguous()


def _mask_values(image: Image.Image, name: str) -> np.ndarray:
    """(H, W) float32 in [0, 1]. A mask is data, not colour: no ICC conversion. Transparent pixels
    are 0 (a mask drawn on a transparent layer paints where it is drawn); colour is read as its
    luminance, with a warning."""
    if image.mode == "P" or "transparency" in image.info:  # a palette or a colour key: to real alpha
        image = image.convert("LA" if image.mode in ("L", "LA") else "RGBA")
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0 if "A" in image.getbands() else None
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    if (rgb.max(axis=-1) - rgb.min(axis=-1)).max() > 8:
        log.warning("%s is a colour image; its brightness is used as the mask", name)
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return grey * alpha if alpha is not None else grey
