"""Tiny real clips for the video tests, made with PyAV: frames that tell themselves apart, any
frame times, a display rotation, colour tags and a 440 Hz tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

W, H = 64, 48
VFR = [Fraction(0), Fraction(4, 100), Fraction(1, 10), Fraction(2, 10), Fraction(22, 100)]


def pattern(index: int, width: int = W, height: int = H) -> np.ndarray:
    """A dark frame with a bright top-left quadrant and a grey level telling frames apart."""
    rgb = np.full((height, width, 3), 20 + 30 * index, np.uint8)
    rgb[: height // 2, : width // 2] = 235
    return rgb


def make_clip(path: Path, frames: list[av.VideoFrame], times=VFR, *, tone=False, rotation=0, tags=None, **options):
    """Encode `frames` at `times` with libx264 (lossless; other codecs via options), optionally with
    a display rotation, colour tags and a 440 Hz AAC tone."""
    codec = options.pop("codec", "libx264")
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=25, options=options or {"qp": "0"})
        video.width, video.height = frames[0].width, frames[0].height
        video.pix_fmt = frames[0].format.name
        video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        for name, value in (tags or {}).items():
            setattr(video.codec_context, name, value)
        if rotation:
            video.set_display_rotation(rotation)
        if tone:
            add_tone(out, float(times[-1]) + 0.1)
        for frame, time in zip(frames, times):
            frame.pts, frame.time_base = round(time * 1000), Fraction(1, 1000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def add_tone(out, seconds: float, codec: str = "aac", rate: int = 44100) -> None:
    stream = out.add_stream(codec, rate=rate, layout="mono")
    wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)
    if codec == "aac":
        frame = av.AudioFrame.from_ndarray(wave[None].astype(np.float32), format="fltp", layout="mono")
    else:
        frame = av.AudioFrame.from_ndarray((wave[None] * 32767).astype(np.int16), format="s16", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def rgb_frames(count: int = len(VFR)) -> list[av.VideoFrame]:
    return [av.VideoFrame.from_ndarray(pattern(i)).reformat(format="yuv420p") for i in range(count)]
