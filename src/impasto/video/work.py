"""The work folder of one `impasto video` run: everything needed to continue it, beside OUT.

    OUT.impasto-<key>/        key: a digest of the input's and styles' bytes and every option
        meta.json             what the run is (for a person reading the folder)
        input/000001.png      the input frames at the working size (decoded once, read at random)
        flows/000002-1.npy    backward and forward flows of frames 2 and 1 (video/flow.py)
        pass1/000001.npy      painted frame 1, float32 sRGB (H, W, 3): what the next frame warps
        pass1/000001.png      the same, 8-bit, for the encoder

Every file is written atomically (temp file, then rename): a run stopped at any point leaves only
whole files, and a frame counts as painted once its .npy exists. Changed inputs or options give
another key, so another folder; the old one is left for the user to delete.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image


class DiskFullError(OSError):
    """The disk filled up while writing the work folder or the output (one line for the CLI)."""


def folder_for(output: Path, key: str) -> Path:
    """The work folder of a run writing `output`, keyed by its fingerprint."""
    return output.parent / f"{output.name.rstrip('/') or 'frames'}.impasto-{key[:16]}"


def write_atomic(path: Path, data: bytes) -> None:
    """`data` to `path` through a temp file and a rename; a full disk is a DiskFullError."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # a renamed file is a whole one, even after a power cut
        os.replace(temp, path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(err.errno, f"no space left on the device writing {path.parent}") from None
        raise
    finally:
        temp.unlink(missing_ok=True)


def png_bytes(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class WorkFolder:
    """One run's folder (see the module's docstring); frames are numbered from 1 in the range."""

    def __init__(self, root: Path):
        self.root = root

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a process works in the folder: a second run of the same command fails at
        once (ValueError) instead of writing the same frames."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError(f"another impasto video is working in {self.root}") from None
            yield

    def create(self, meta: dict) -> None:
        for part in ("input", "flows"):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        if not (self.root / "meta.json").exists():
            write_atomic(self.root / "meta.json", json.dumps(meta, indent=1, sort_keys=True).encode())

    @property
    def flows(self) -> Path:
        return self.root / "flows"

    def input_path(self, index: int) -> Path:
        return self.root / "input" / f"{index + 1:06d}.png"

    def has_input(self, index: int) -> bool:
        return self.input_path(index).exists()

    def save_input(self, index: int, frame: np.ndarray) -> None:
        write_atomic(self.input_path(index), png_bytes(frame))

    def load_input(self, index: int) -> np.ndarray:
        with Image.open(self.input_path(index)) as image:
            return np.asarray(image.convert("RGB"))

    def _painted(self, done: int, index: int, suffix: str) -> Path:
        folder = self.root / f"pass{done}"
        folder.mkdir(exist_ok=True)
        return folder / f"{index + 1:06d}{suffix}"

    def is_painted(self, done: int, index: int) -> bool:
        return self._painted(done, index, ".npy").exists()

    def save_painted(self, done: int, index: int, image: np.ndarray) -> None:
        """Pass `done`'s frame `index`: (H, W, 3) float32 in [0, 1]. The 8-bit PNG first, then the
        exact state, whose presence marks the frame painted."""
        write_atomic(self._painted(done, index, ".png"), png_bytes(to_uint8(image)))
        buffer = io.BytesIO()
        np.save(buffer, image.astype(np.float32))
        write_atomic(self._painted(done, index, ".npy"), buffer.getvalue())

    def load_painted(self, done: int, index: int) -> np.ndarray:
        return np.load(self.painted_state(done, index))

    def painted_state(self, done: int, index: int) -> Path:
        return self._painted(done, index, ".npy")

    def painted_png(self, done: int, index: int) -> Path:
        return self._painted(done, index, ".png")

    def count_painted(self, done: int, indices: Sequence[int]) -> int:
        return sum(self.is_painted(done, i) for i in indices)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8, rounded."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
