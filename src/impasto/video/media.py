"""Clips in: probing (frame times, display size, rotation, sound, caveats) and decoding to RGB.

A clip is a video file FFmpeg can read (through PyAV) or a folder of numbered images. Frames come
out as (H, W, 3) uint8 sRGB at the size asked for, upright, one at a time, so a long clip never
sits in memory. Frame times are exact Fractions of a second from the first frame, so a variable
frame rate survives the round trip through encode.py's `write_clip`.

Colour follows the stream's tags (ITU-R BT.601 / BT.709 / BT.2020 matrix, limited or full range);
an untagged stream is taken as BT.601 below 720 lines and BT.709 from 720, as players do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".webm", ".gif")
MIN_SIDE = 32  # px; smaller frames leave VGG's deepest layers with nothing to see
DEFAULT_FPS = 25
# Demuxers that read still images: one frame from these is a picture, not a one-frame video.
_STILL_FORMATS = {"image2", "gif", "apng", "webp", "png", "mjpeg"}
# AVColorSpace values (libavutil/pixfmt.h) -> the matrix swscale knows; 6 (SMPTE 170M) is BT.601's.
_MATRICES = {
    1: Colorspace.ITU709,
    5: Colorspace.ITU601,
    6: Colorspace.ITU601,
    9: Colorspace.BT2020,
    10: Colorspace.BT2020,
}
_HDR = {16: "PQ", 18: "HLG"}  # AVColorTransferCharacteristic values of HDR transfer curves


class MediaError(ValueError):
    """A bad input or output, as one line (the CLI prints it and exits 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).splitlines()))  # one line, even from FFmpeg's text


@dataclass(frozen=True)
class Clip:
    """What `probe` learned about a clip. Sizes are the DISPLAY size (rotation and non-square
    pixels applied); `times` are every frame's presentation time in seconds from the first frame."""

    path: Path
    folder: bool  # a folder of numbered frames (0001.png, frame_0002.jpg ...), natural sort
    width: int
    height: int
    times: tuple[Fraction, ...]  # times[0] == 0; a variable frame rate stays variable
    rate: Fraction  # the average frame rate (for a folder: the fps given, default 25)
    rotation: int  # degrees counter-clockwise the coded frames turn to display upright (0, 90, 180, 270)
    audio: bool  # the file has an audio stream
    notes: tuple[str, ...]  # one-line caveats found by probe ("10-bit video converted to 8 bits per channel")

    @property
    def frame_count(self) -> int:
        return len(self.times)

    def duration(self) -> Fraction:
        """Seconds from the first frame to the end of the last (its duration taken as 1/rate)."""
        return self.times[-1] + 1 / self.rate


def output_kind(path: Path | str) -> str:
    """ "mp4" | "mkv" | "webm" | "gif" | "folder" for an output path: a folder when it ends with a
    separator, is an existing directory or has no suffix. MediaError for an unknown extension."""
    text = str(path)
    path = Path(path)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return "folder"
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise MediaError(f"{path}: unknown output extension {suffix}; use .mp4, .mkv, .webm, .gif or a folder/")
    return suffix[1:]


def probe(path: Path | str, *, fps: float | None = None) -> Clip:
    """Learn a clip's frame count, frame times, display size, rotation and sound by demuxing it
    (decoding only its first frame). `fps` is the rate of a frame folder (default 25) and an error
    for a file. MediaError, one line naming the file, for anything that is not a readable video."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path} does not exist")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path} cannot be read (permission denied)")
    if path.is_dir():
        return _probe_folder(path, DEFAULT_FPS if fps is None else fps)
    if fps is not None:
        raise MediaError(f"fps applies to a folder of frames, not to the file {path}")
    return _probe_file(path)


def frame_size(clip: Clip, long_side: int) -> tuple[int, int]:
    """(width, height) to paint at: the display aspect kept, the long side min(long_side, the
    clip's own) so never upscaled, both even (yuv420p needs it) and at least 32 px."""
    if min(clip.width, clip.height) < MIN_SIDE:
        raise MediaError(f"{clip.path} is {clip.width}x{clip.height}, smaller than {MIN_SIDE} px")
    scale = min(long_side, max(clip.width, clip.height)) / max(clip.width, clip.height)
    return _even(clip.width * scale, clip.width), _even(clip.height * scale, clip.height)


def read_frames(clip: Clip, size: tuple[int, int], start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Frames [start, stop) as (H, W, 3) uint8 sRGB at `size` (width, height), upright, in order,
    one at a time. Frames before `start` are decoded and dropped (exact whatever the keyframes)."""
    stop = clip.frame_count if stop is None else min(stop, clip.frame_count)
    if clip.folder:
        for image in _numbered_images(clip.path)[start:stop]:
            yield _load_image(image, size)
        return
    with open_source(clip.path) as container:
        stream = _video_stream(container, clip.path)
        stream.codec_context.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index >= stop:
                break
            if index >= start:
                yield _to_rgb(frame, size, clip.rotation)


def first_frame_time(container: av.container.InputContainer, path: Path) -> Fraction:
    """The first shown frame's time in the file's own clock (seconds), from which Clip.times count."""
    frame = next(container.decode(_video_stream(container, path)), None)
    if frame is None or frame.pts is None:
        return Fraction(0)
    return frame.pts * Fraction(frame.time_base)


def _even(value: float, limit: int) -> int:
    even = min(2 * round(value / 2), limit - limit % 2)  # never past the clip's own (even) size
    return max(MIN_SIDE, even)


def open_source(path: Path) -> av.container.InputContainer:
    """Open a media file with PyAV; MediaError naming it when FFmpeg cannot read it."""
    try:
        return av.open(str(path))
    except PermissionError:
        raise MediaError(f"{path} cannot be read (permission denied)") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        raise MediaError(f"{path} is not a video (FFmpeg cannot read it)") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:  # not an album cover
            return stream
    if container.streams.audio:
        raise MediaError(f"{path} has no video stream (audio only)")
    raise MediaError(f"{path} has no video stream")


def _probe_file(path: Path) -> Clip:
    with open_source(path) as container:
        stream = _video_stream(container, path)
        stamps, first = _packet_times(container, stream)
        if first is None:
            raise MediaError(f"{path} has no frames")
        if None in stamps:  # a raw stream without timestamps: ask the decoder
            container.seek(0)
            stamps = [frame.pts for frame in container.decode(stream)]
        formats = set(container.format.name.split(","))
        if len(stamps) == 1 and (formats & _STILL_FORMATS or any(f.endswith("_pipe") for f in formats)):
            raise MediaError(f"{path} is a still image, not a video")
        times = _relative_times(stamps, stream)
        rate = stream.average_rate or _mean_rate(times)
        sar = stream.sample_aspect_ratio
        audio = bool(container.streams.audio)
    width = round(first.width * sar) if sar and sar != 1 else first.width  # non-square pixels: stretch the width
    height = first.height
    rotation = round(first.rotation / 90) * 90 % 360
    if rotation in (90, 270):
        width, height = height, width
    return Clip(path, False, width, height, times, Fraction(rate), rotation, audio, _notes(first))


def _mean_rate(times: tuple[Fraction, ...]) -> Fraction:
    return (len(times) - 1) / times[-1] if times[-1] else Fraction(DEFAULT_FPS)


def _packet_times(container, stream) -> tuple[list[int | None], av.VideoFrame | None]:
    """Every shown frame's pts from the packets, and the first decoded frame (for its rotation,
    format and colour tags)."""
    stamps, first = [], None
    for packet in container.demux(stream):
        if (packet.pts is None and packet.size == 0) or packet.is_discard:  # the flush packet, or edited out
            continue
        stamps.append(packet.pts)
        if first is None:
            first = next(iter(packet.decode()), None)
    if first is None and stamps:  # a decoder that holds frames back until the end
        first = next(iter(stream.codec_context.decode(None)), None)
    return stamps, first


def _relative_times(stamps: list[int | None], stream) -> tuple[Fraction, ...]:
    if None in stamps:  # no timestamps at all: evenly spaced at the stream's rate
        rate = Fraction(stream.guessed_rate or DEFAULT_FPS)
        return tuple(i / rate for i in range(len(stamps)))
    stamps = sorted(stamps)  # packets come in decoding order; B-frames show later
    base = Fraction(stream.time_base)
    return tuple((s - stamps[0]) * base for s in stamps)


def _notes(frame: av.VideoFrame) -> tuple[str, ...]:
    notes = []
    bits = max(c.bits for c in frame.format.components)
    if bits > 8:
        notes.append(f"{bits}-bit video converted to 8 bits per channel")
    if frame.color_trc in _HDR:
        notes.append(f"HDR ({_HDR[frame.color_trc]}) video shown as SDR without tone mapping")
    if frame.interlaced_frame:
        notes.append("interlaced video painted without deinterlacing")
    return tuple(notes)


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int], rotation: int) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8 RGB at `size` (display orientation), upright."""
    width, height = size[::-1] if rotation in (90, 270) else size  # scale in the coded orientation
    shrink = width * height < frame.width * frame.height
    flags = (Interpolation.AREA if shrink else Interpolation.LANCZOS) | Interpolation.ACCURATE_RND
    fmt = frame.format
    colour = {}
    if not (fmt.is_rgb or fmt.has_palette or fmt.name.startswith(("gray", "ya"))):  # YUV: matrix and range matter
        matrix = _MATRICES.get(frame.colorspace, Colorspace.ITU709 if frame.height >= 720 else Colorspace.ITU601)
        full = frame.color_range == 2 or (frame.color_range == 0 and fmt.name.startswith("yuvj"))
        colour = {"src_colorspace": matrix, "src_color_range": ColorRange.JPEG if full else ColorRange.MPEG}
    rgb = frame.reformat(width, height, "rgb24", interpolation=flags, dst_color_range=ColorRange.JPEG, **colour)
    return np.ascontiguousarray(np.rot90(rgb.to_ndarray(), k=rotation // 90))  # rot90 turns counter-clockwise


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _numbered_images(folder: Path) -> list[Path]:
    """The folder's images with a number in their name, in natural order (hidden files left out)."""
    images = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and re.search(r"\d", p.stem)
    ]
    return sorted(images, key=_natural_key)


def _display_size(image: Path) -> tuple[int, int]:
    try:
        with Image.open(image) as im:
            turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientations that swap the sides
            return (im.height, im.width) if turned else im.size
    except OSError:
        raise MediaError(f"{image} is not a readable image") from None


def _probe_folder(folder: Path, fps: float) -> Clip:
    if not fps > 0 or fps == float("inf"):
        raise MediaError(f"fps {fps} for {folder} is not a positive frame rate")
    images = _numbered_images(folder)
    if not images:
        raise MediaError(f"{folder} holds no numbered images (0001.png, frame_0002.jpg ...)")
    width, height = _display_size(images[0])
    for image in images[1:]:
        if (size := _display_size(image)) != (width, height):
            raise MediaError(f"{image} is {size[0]}x{size[1]}, not {width}x{height} like {images[0].name}")
    rate = Fraction(fps).limit_denominator(1001)
    times = tuple(i / rate for i in range(len(images)))
    return Clip(folder, True, width, height, times, rate, 0, False, ())


def _load_image(image: Path, size: tuple[int, int]) -> np.ndarray:
    with Image.open(image) as im:
        upright = ImageOps.exif_transpose(im).convert("RGB")
    if upright.size != size:
        upright = upright.resize(size, Image.Resampling.LANCZOS)  # antialiased when shrinking
    return np.asarray(upright)
