"""Image output at the edge: the format comes from the extension, and every write is atomic.

| extension | format | bits per channel | written by |
| --- | --- | --- | --- |
| .png | PNG | 8 (default) or 16 | Pillow; 16-bit by `encode_png16` here (Pillow has no 16-bit RGB) |
| .jpg .jpeg | JPEG | 8, quality 95, no chroma subsampling (4:4:4) | Pillow |
| .tif .tiff | TIFF | 16 (default) or 8, deflate with a predictor | tifffile |
| .webp | WebP | 8, quality 95 | Pillow |

Every file carries an sRGB ICC profile, the colour space of all of impasto's pixels.
A write goes to a temp file in the destination folder, then is renamed over the destination, so
a crash or Ctrl-C never leaves a half-written image.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .read import srgb_profile, to_array

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
_BIT_DEPTHS = {"PNG": (8, 16), "JPEG": (8,), "TIFF": (16, 8), "WEBP": (8,)}  # the first is the default


def output_format(path: str | os.PathLike, bit_depth: int | None = None) -> tuple[str, int]:
    """(format, bits per channel) for an output path; ValueError naming the path if unsupported."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"{path}: unknown output extension {path.suffix or '(none)'!r}; use one of {known}")
    if bit_depth is None:
        return fmt, _BIT_DEPTHS[fmt][0]
    if bit_depth not in (8, 16):
        raise ValueError(f"bit depth must be 8 or 16; got {bit_depth}")
    if bit_depth not in _BIT_DEPTHS[fmt]:
        raise ValueError(f"{path}: {fmt} holds 8 bits per channel; use .png or .tif for 16 bits")
    return fmt, bit_depth


# The ICC header's creation date (bytes 24-35: year, month, day, hours, minutes, seconds, big-endian
# uint16). LittleCMS stamps the current time on the profile it creates; a fixed date makes the same
# image give the same file bytes on every run. The profile ID (bytes 84-99) is zero: no checksum.
_ICC_DATE = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)


@lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """The sRGB profile embedded in every output, with a fixed creation date."""
    icc = srgb_profile().tobytes()
    return icc[:24] + _ICC_DATE + icc[36:]


def encode_image(image: torch.Tensor | Image.Image, fmt: str, bit_depth: int) -> bytes:
    """The file's bytes. image: a (1, 3, H, W) tensor in [0, 1] (keeps its precision at 16 bits) or RGB PIL."""
    icc = srgb_icc()
    if isinstance(image, Image.Image):
        array = np.asarray(image.convert("RGB"))
        if bit_depth == 16:
            array = array.astype(np.uint16) * 257  # 8-bit values spread over the 16-bit range exactly
    else:
        array = to_array(image, bit_depth)
    if fmt == "PNG" and bit_depth == 16:
        return encode_png16(array, icc)
    if fmt == "TIFF":
        import tifffile

        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array, photometric="rgb", compression="zlib", predictor=True, iccprofile=icc)
        return buffer.getvalue()
    options = {
        "PNG": {},
        "JPEG": {"quality": 95, "subsampling": 0},  # 4:4:4: no chroma subsampling, fine strokes keep their colour
        "WEBP": {"quality": 95},
    }[fmt]
    buffer = io.BytesIO()
    Image.fromarray(array, "RGB").save(buffer, format=fmt, icc_profile=icc, **options)
    return buffer.getvalue()


def encode_preview(image: torch.Tensor | Image.Image, long_side: int, *, quality: int = 85) -> bytes:
    """A small JPEG to look at (live previews, thumbnails): at most `long_side` px, 8 bits, sRGB.
    image: (1, 3, H, W) in [0, 1], or a Pillow image."""
    picture = image.convert("RGB") if isinstance(image, Image.Image) else Image.fromarray(to_array(image, 8), "RGB")
    picture.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)  # never enlarges
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, icc_profile=srgb_icc())
    return buffer.getvalue()


def encode_png16(array: np.ndarray, icc: bytes | None = None, *, level: int = 6) -> bytes:
    """A 16-bit RGB PNG (PNG spec, ISO/IEC 15948) from an (H, W, 3) uint16 array.

    Rows use filter 1 (Sub: each byte minus the byte one pixel to the left), which suits smooth
    photographs; an iCCP chunk embeds `icc` when given.
    """
    if array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"encode_png16 takes an (H, W, 3) uint16 array; got {array.dtype} {array.shape}")
    height, width, _ = array.shape
    raw = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(height, width * 6)
    filtered = raw.copy()
    filtered[:, 6:] -= raw[:, :-6]  # uint8 arithmetic wraps modulo 256, as the filter requires
    rows = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)  # filter byte 1 per row
    data = zlib.compress(rows.tobytes(), level)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))]
    if icc:
        parts.append(chunk(b"iCCP", b"sRGB\0\0" + zlib.compress(icc)))  # name, NUL, method 0 (deflate)
    step = 1 << 23  # several IDAT chunks keep each well under the 2 GiB chunk limit
    parts += [chunk(b"IDAT", data[i : i + step]) for i in range(0, max(len(data), 1), step)]
    parts.append(chunk(b"IEND", b""))
    return b"".join(parts)


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike, *, bit_depth: int | None = None) -> Path:
    """Encode by extension (see the module table) and write atomically. Returns the path.

    The folder must exist. ValueError for an unknown extension or an unsupported bit depth.
    """
    path = Path(path)
    fmt, depth = output_format(path, bit_depth)
    write_atomic(path, encode_image(image, fmt, depth))
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, flush it to disk, then rename it over `path`."""
    # A short fixed prefix: a temp name never runs past the file-name limit that the final one meets.
    fd, tmp = tempfile.mkstemp(prefix=".impasto-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def probe_writable(folder: Path) -> None:
    """Prove that results can be written in `folder` by creating and removing the very temp file
    write_atomic makes there (permission bits alone miss read-only mounts, /proc and full quotas).
    ValueError names the reason."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".impasto-", suffix=".tmp", dir=folder)
    except OSError as err:
        raise ValueError(f"output folder {folder} is not writable ({err.strerror or err})") from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)


def rescue_path(output: Path, suffix: str = ".png") -> Path:
    """Where a result goes when its output cannot be written at the end: the cache folder's
    rescued/, as `name-YYYYmmdd-HHMMSS.png` (or `suffix`; the folder is created here)."""
    import time

    from ..runtime import cache_dir

    folder = cache_dir() / "rescued"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = folder / f"{output.stem}-{stamp}{f'-{i}' if i else ''}{suffix}"
        if not path.exists():
            return path
    raise ValueError(f"no free name in {folder}")


@lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
