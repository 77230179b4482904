"""`impasto video` without the command line: check everything, then three phases over the work folder.

1. `plan`: every input and option checked before any work (bad input: MediaError or ValueError,
   one line); the working size, the frame range and the work folder's key.
2. `analyse`: the frames decoded once at the working size into the work folder, the flows
   computed (cached) and the shots found: cheap beside the painting.
3. `paint` (video/paint.py), then `encode`: the painted frames with their timestamps and the
   original sound, written to a temp file and renamed.
Each phase skips what the work folder already holds, so a rerun continues.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ..api import PreparedRun, prepare, scales
from ..config import INIT_MODES, StyleConfig
from ..io.fingerprint import fingerprint, sha256_bytes, sha256_file
from .encode import write_clip
from .flow import CUT_BELOW, FlowCache, grey, reliability
from .media import Clip, MediaError, frame_size, output_kind, probe, read_frames
from .paint import FrameCallback, Painter
from .work import WorkFolder, folder_for

FORMAT = 1  # of the work folder: a change here starts new folders


@dataclass(frozen=True)
class VideoRun:
    """A checked `impasto video` run."""

    clip: Clip
    output: Path
    kind: str  # of the output: mp4, mkv, webm, gif or folder (media.output_kind)
    styles: tuple[Path, ...]
    run: PreparedRun  # the styles and config, the content a stand-in of the working size
    start: int  # the frame range [start, stop) of the clip
    stop: int
    size: tuple[int, int]  # working (width, height), even
    crf: int
    work: WorkFolder

    @property
    def count(self) -> int:
        return self.stop - self.start

    @property
    def config(self) -> StyleConfig:
        return self.run.config


def frame_range(text: str | None, count: int) -> tuple[int, int]:
    """`--frames START:END` (0-based, END excluded; either side may be left out) within a clip of
    `count` frames; ValueError when it is not one or leaves the clip."""
    if not text:
        return 0, count
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, stop = (int(p) if p.strip() else d for p, d in zip(parts, (0, count)))
    except ValueError:
        raise ValueError(f"--frames {text!r} is not a range such as 0:48 (START:END, END excluded)") from None
    if not 0 <= start < stop <= count:
        raise ValueError(f"--frames {text} is outside the clip, which has {count} frames (0:{count})")
    return start, stop


def _digest(clip: Clip) -> str:
    if not clip.folder:
        return sha256_file(clip.path)
    files = sorted(p for p in clip.path.iterdir() if p.is_file())
    return sha256_bytes("".join(f"{p.name}:{sha256_file(p)}" for p in files).encode())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def plan(
    source: Path,
    styles: Sequence[Path],
    output: Path | str,
    config: StyleConfig,
    *,
    frames: str | None = None,
    crf: int = 18,
    fps: float | None = None,
    force: bool = False,
) -> VideoRun:
    """Check every input and option and find the run's work folder (made by `analyse`). output:
    a string ending with a separator is a folder whatever its name (`-o frames.v2/`)."""
    kind = output_kind(output)
    output = Path(output)
    if _same_file(source, output):
        raise ValueError(f"the output {output} is the input; choose another -o")
    if kind != "folder" and output.exists() and not force:
        raise ValueError(f"{output} exists; pass --force to overwrite it")
    if not output.parent.is_dir():
        raise ValueError(f"the folder of {output} does not exist")
    clip = probe(source, fps=fps)
    start, stop = frame_range(frames, clip.frame_count)
    size = frame_size(clip, config.size)
    config = dataclasses.replace(config, size=max(size))
    run = prepare(Image.new("RGB", size), list(styles), config=config)
    scales(run)  # a size that fits no memory budget fails here, before any work
    digests = [_digest(clip), *(sha256_file(s) for s in styles)]
    if config.init not in INIT_MODES:
        digests.append(sha256_file(config.init))
    # Where and in what memory it runs does not change a frame: a run may continue elsewhere.
    looks = dataclasses.replace(config, device="auto", max_memory=None, tile_size=None)
    key = fingerprint(digests, {"config": looks, "range": [start, stop], "size": size, "fps": fps, "v": FORMAT})
    work = WorkFolder(folder_for(output, key))
    return VideoRun(clip, output, kind, tuple(Path(s) for s in styles), run, start, stop, size, crf, work)


def analyse(video: VideoRun, *, restart: bool = False, callback: Callable[[int, int], None] | None = None) -> list[int]:
    """Decode the range's frames into the work folder and compute the flows of every pair the run
    needs (cached); return the shots' first frames (indices in the range). restart: drop what the
    work folder holds first. callback(done, count)."""
    work = video.work
    if restart and work.root.exists():
        for part in work.root.iterdir():
            if part.name != "lock":  # held by this run
                shutil.rmtree(part) if part.is_dir() else part.unlink()
    work.create({"input": str(video.clip.path), "range": [video.start, video.stop], "size": list(video.size)})
    cache = FlowCache(work.flows, video.config.flow)
    distances = sorted(set(video.config.long_term))
    recent: dict[int, np.ndarray] = {}
    decoded = None
    starts = []
    for index in range(video.count):
        if work.has_input(index):
            frame = work.load_input(index)
        else:
            if decoded is None:  # decode from here on
                decoded = read_frames(video.clip, video.size, video.start + index, video.stop)
            frame = next(decoded, None)
            if frame is None:
                raise MediaError(f"{video.clip.path}: frame {video.start + index} could not be decoded")
            work.save_input(index, frame)
        recent[index] = grey(frame)
        recent.pop(index - distances[-1] - 1, None)
        for j in distances:
            if index - j >= 0:
                cache.compute(index, j, recent[index], recent[index - j])
        if index and reliability(cache.load(index, 1)) < CUT_BELOW:
            starts.append(index)
        if callback is not None:
            callback(index + 1, video.count)
    return [0, *starts]


def paint(video: VideoRun, shots: Sequence[int], callback: FrameCallback | None = None, *, settings=None) -> None:
    """Paint every frame not yet in the work folder: in this process, or with `settings` (the
    batch engine's Settings: --workers, --address) one shot per Ray task (video/shots.py)."""
    if settings is not None:
        from .shots import paint_on_ray

        paint_on_ray(video, shots, settings, callback)
        return
    Painter(video.run, video.work, FlowCache(video.work.flows, video.config.flow), video.count, shots, callback).paint()


def times(video: VideoRun) -> tuple[list[Fraction], tuple[Fraction, Fraction]]:
    """The output frames' times (from 0) and the span of the source's sound they cover."""
    clip_times = video.clip.times
    first = clip_times[video.start]
    end = clip_times[video.stop] if video.stop < len(clip_times) else video.clip.duration()
    return [t - first for t in clip_times[video.start : video.stop]], (first, end)


def encode(video: VideoRun, *, keep: bool = False) -> list[str]:
    """Write OUT from the last pass's frames (atomically); the work folder is removed after,
    unless `keep`. Returns the encoder's warning lines."""
    last = video.config.passes
    frames = (np.asarray(Image.open(video.work.painted_png(last, i)).convert("RGB")) for i in range(video.count))
    stamps, span = times(video)
    target = f"{video.output}{os.sep}" if video.kind == "folder" else video.output
    notes = write_clip(target, frames, stamps, source=video.clip, span=span, crf=video.crf)
    if not keep:
        shutil.rmtree(video.work.root, ignore_errors=True)
    return notes


__all__ = ["MediaError", "VideoRun", "analyse", "encode", "frame_range", "paint", "plan", "times"]
