"""Test files made on the fly: awkward image modes, broken files and colour profiles."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

D50 = (0.9642, 1.0, 0.8249)
# sRGB's primaries adapted to D50, as ICC profiles store them (IEC 61966-2-1 / ICC sRGB v2).
SRGB_COLORANTS = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))


def _xyz(values) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def linear_srgb_icc() -> bytes:
    """An ICC v2 matrix/TRC RGB profile: sRGB primaries with a *linear* tone curve (gamma 1.0).

    A pixel value v in this space is linear light, so in sRGB it must become sRGB_encode(v):
    128 -> about 188. Built by hand because LittleCMS only creates sRGB, Lab and XYZ.
    """
    text = b"linear sRGB (impasto test)"
    desc = (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(text) + 1)
        + text
        + b"\0"
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + b"\0" * 67
    )
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0100) + b"\0\0"  # gamma 1.0 in u8Fixed8
    tags = [(b"desc", desc), (b"wtpt", _xyz(D50)), (b"cprt", b"text\0\0\0\0public domain\0")]
    tags += [(name, _xyz(c)) for name, c in zip((b"rXYZ", b"gXYZ", b"bXYZ"), SRGB_COLORANTS)]
    tags += [(name, curve) for name in (b"rTRC", b"gTRC", b"bTRC")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = [], b""
    for name, body in tags:
        body += b"\0" * (-len(body) % 4)
        table.append(struct.pack(">4sII", name, offset + len(data), len(body)))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
    header += b"".join(struct.pack(">i", round(v * 65536)) for v in D50)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


def srgb_encode(linear: float) -> float:
    return 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A tiny valid PNG whose header claims width x height (for the decompression-bomb check)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def truncated(source: Path, path: Path) -> Path:
    raw = source.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def grey16_ramp(width: int = 64, height: int = 48) -> Image.Image:
    """I;16 image whose values run from 0 to 65535 across the width."""
    ramp = np.linspace(0, 65535, width).round().astype(np.uint16)
    return Image.fromarray(np.tile(ramp, (height, 1)))  # uint16 -> mode I;16
