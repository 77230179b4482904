"""Clips out: painted frames and the source's sound to .mp4, .mkv, .webm, .gif or a frame folder.

| output | video | sound |
| --- | --- | --- |
| .mp4 .mkv | H.264 (libx264), yuv420p, CRF, tagged BT.709 limited range | the source's packets copied untouched; AAC when the container cannot carry the codec |
| .webm | VP9 (libvpx-vp9), yuv420p, CRF with no bit-rate cap | Opus at 48 kHz |
| .gif | a palette per frame (Pillow's median cut), per-frame delays | none |
| folder/ | 000001.png, 000002.png ... | none |

Every frame keeps its own time (pts on a 1/90000 s clock), so a variable frame rate stays
variable. Every write goes to a temp file in the destination folder that is renamed over the
destination, so a crash or Ctrl-C never leaves a half-written clip.
"""

from __future__ import annotations

import errno
import heapq
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from itertools import chain, pairwise
from operator import itemgetter
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

from .media import DEFAULT_FPS, Clip, MediaError, first_frame_time, open_source, output_kind

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: fine enough for any frame rate
GIF_TIME_BASE = Fraction(1, 100)  # GIF delays are in centiseconds
# Audio codecs an .mp4 carries in every common player; .mkv takes whatever its muxer accepts.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}
AAC_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}
_SEEK_AFTER = 2  # s; sound further into the source than this is found by seeking, not by reading up to it


def _x264(crf: int) -> tuple[str, str, dict[str, str]]:
    return "libx264", "yuv420p", {"crf": str(crf)}


def _vp9(crf: int) -> tuple[str, str, dict[str, str]]:
    return "libvpx-vp9", "yuv420p", {"crf": str(crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}


def _gif(crf: int) -> tuple[str, str, dict[str, str]]:
    return "gif", "pal8", {}  # a palette has no quality setting


_VIDEO = {"mp4": _x264, "mkv": _x264, "webm": _vp9, "gif": _gif}


def write_clip(
    out: Path | str,
    frames: Iterable[np.ndarray],
    times: Sequence[Fraction],
    *,
    source: Clip | None = None,
    span: tuple[Fraction, Fraction] | None = None,
    crf: int = 18,
) -> list[str]:
    """Encode `frames` ((H, W, 3) uint8 RGB, one size, even sides for video) shown at `times`
    (seconds from 0) to `out`, atomically. With a `source` that has sound, its sound over `span`
    (seconds in the source's clock from its first frame; default: the whole clip) goes along.
    Returns one-line warnings; MediaError for bad frames or a full disk (the temp file removed)."""
    kind = output_kind(out)
    out, times = Path(out), list(times)
    sound = source is not None and source.audio
    if not times:
        raise MediaError(f"no frames to write to {out}")
    if kind == "folder":
        return _write_folder(out, frames, times, sound)
    if sound and span is None:
        span = (Fraction(0), source.duration())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part{out.suffix}")  # the muxer picks the format by the extension
    try:
        pairs = _frames_at(frames, times, out, even=True)
        rate = source.rate if source is not None else _mean_rate(times)
        warnings = _write_video(tmp, pairs, kind, rate, source if sound else None, span, crf)
        os.replace(tmp, out)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        _raise_if_full(err, out)
        raise
    if sound and kind == "gif":
        warnings.append(".gif output carries no sound")
    return [f"{out}: {warning}" for warning in warnings]


def _raise_if_full(err: BaseException, out: Path) -> None:
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        raise MediaError(f"no space left on the device writing {out}") from err


def _frames_at(frames: Iterable[np.ndarray], times: Sequence[Fraction], out: Path, even: bool) -> Iterator:
    """(time, frame) pairs, each frame checked against the first; MediaError when the counts differ."""
    frames = iter(frames)
    shape = None
    for index, time in enumerate(times):
        frame = next(frames, None)
        if frame is None:
            raise MediaError(f"got {index} frames for {len(times)} times writing {out}")
        shape = shape or frame.shape
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or frame.shape != shape:
            raise MediaError(f"frame {index} for {out} is {frame.dtype} {frame.shape}, not uint8 {shape} RGB")
        if even and (shape[0] % 2 or shape[1] % 2):
            raise MediaError(f"frames for {out} are {shape[1]}x{shape[0]}; video needs even sides")
        yield time, frame
    if next(frames, None) is not None:
        raise MediaError(f"got more frames than the {len(times)} times writing {out}")


def _write_video(
    tmp: Path, pairs: Iterator, kind: str, rate: Fraction, source: Clip | None, span, crf: int
) -> list[str]:
    """Encode the (time, frame) pairs, and the source's sound over `span`, to `tmp`."""
    first = next(pairs)
    last = max(1, round(100 / rate))  # the last frame's delay (cs); the muxer cannot know it otherwise
    options = {"final_delay": str(last)} if kind == "gif" else {}
    with av.open(str(tmp), "w", options=options) as container:
        stream = _add_video(container, kind, first[1].shape, rate, crf)
        packets = _video_packets(stream, chain([first], pairs), kind)
        warnings = []
        if source is not None and kind != "gif":
            sound, warnings = _add_sound(container, kind, source, span)
            packets = heapq.merge(packets, sound, key=itemgetter(0))  # interleave by time
        for _, packet in packets:
            container.mux(packet)
    return warnings


def _mean_rate(times: Sequence[Fraction]) -> Fraction:
    return Fraction(len(times) - 1) / times[-1] if len(times) > 1 and times[-1] > 0 else Fraction(DEFAULT_FPS)


def _add_video(container, kind: str, shape: tuple[int, ...], rate: Fraction, crf: int):
    codec, pix_fmt, options = _VIDEO[kind](crf)
    stream = container.add_stream(codec, rate=rate, options=options)
    ctx = stream.codec_context
    ctx.width, ctx.height, ctx.pix_fmt, ctx.bit_rate = shape[1], shape[0], pix_fmt, 0
    stream.time_base = ctx.time_base = GIF_TIME_BASE if kind == "gif" else TIME_BASE
    if kind != "gif":  # say what reformat below writes: BT.709 matrix, primaries and curve, limited range
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, ColorRange.MPEG
    return stream


def _video_packets(stream, pairs: Iterable[tuple[Fraction, np.ndarray]], kind: str) -> Iterator:
    """(seconds, packet) from encoding the frames, pts strictly increasing on the stream's clock."""
    base = stream.codec_context.time_base
    previous = -1
    for time, rgb in pairs:
        frame = _gif_frame(rgb) if kind == "gif" else _yuv_frame(rgb)
        frame.pts = previous = max(round(time / base), previous + 1)
        frame.time_base = base
        yield from _timed(stream.encode(frame))
    yield from _timed(stream.encode(None))


def _timed(packets) -> Iterator:
    for packet in packets:
        yield (packet.dts if packet.dts is not None else packet.pts) * packet.time_base, packet


def _yuv_frame(rgb: np.ndarray) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return frame.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)


def _gif_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A pal8 frame with its own 256-colour palette (median cut, Floyd-Steinberg dithering)."""
    image = Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    palette = np.asarray(image.getpalette(), np.uint8).reshape(-1, 3)
    argb = np.zeros((256, 4), np.uint8)
    argb[:, 0] = 255  # opaque
    argb[: len(palette), 1:] = palette
    return av.VideoFrame.from_ndarray((np.asarray(image), argb), format="pal8")


def _add_sound(container, kind: str, source: Clip, span: tuple[Fraction, Fraction]) -> tuple[Iterator, list[str]]:
    """An output audio stream and its (seconds, packet) feed: the source's packets copied where the
    container takes the codec, else decoded and encoded (Opus for .webm, AAC otherwise)."""
    with open_source(source.path) as src:
        start = first_frame_time(src, source.path) + span[0]
        end = start + (span[1] - span[0])
        audio = src.streams.audio[0]
        name, rate, channels = audio.codec_context.name, audio.rate, audio.codec_context.channels
        if kind != "webm" and name in (MP4_AUDIO if kind == "mp4" else container.supported_codecs):
            stream = container.add_stream_from_template(audio)
            return _copied(source.path, stream, start, end), []
    layout = "mono" if channels == 1 else "stereo"
    if kind == "webm":
        stream = container.add_stream("libopus", rate=48000, layout=layout)
        return _transcoded(source.path, stream, start, end), []
    stream = container.add_stream("aac", rate=rate if rate in AAC_RATES else 48000, layout=layout)
    return _transcoded(source.path, stream, start, end), [f"{name} sound re-encoded to AAC ({kind} cannot carry it)"]


def _source_packets(path: Path, start: Fraction) -> Iterator[tuple[Fraction, av.Packet]]:
    """(seconds, packet) of the source's first audio stream from the packet at or before `start`:
    by seeking when it lies far in, by reading from the top when the seek overshoots."""
    for seek in (start > _SEEK_AFTER, False):
        with open_source(path) as src:
            stream = src.streams.audio[0]
            base = Fraction(stream.time_base)
            if seek:
                src.seek(int((start - 1) / base), stream=stream)
            packets = ((p.pts * base, p) for p in src.demux(stream) if p.pts is not None)
            head = next(packets, None)
            if seek and (head is None or head[0] > start):
                continue
            if head is not None:
                yield head
                yield from packets
            return


def _copied(path: Path, stream, start: Fraction, end: Fraction) -> Iterator:
    """The packets that start within [start, end), untouched but for timestamps moved back by `start`."""
    for seconds, packet in _source_packets(path, start):
        if seconds >= end:
            break
        if seconds < start:
            continue
        shift = round(start / packet.time_base)
        dts = packet.dts if packet.dts is not None else packet.pts
        packet.pts, packet.dts = packet.pts - shift, dts - shift
        packet.stream = stream
        yield seconds - start, packet


def _transcoded(path: Path, stream, start: Fraction, end: Fraction) -> Iterator:
    """Decoded, resampled to the encoder's format and rate, cut to [start, end) to the sample, encoded."""
    ctx = stream.codec_context
    rate = ctx.sample_rate
    resampler = av.AudioResampler(format=ctx.format.name, layout=ctx.layout.name, rate=rate)
    written = 0
    for frame in _resampled(_source_packets(path, start), resampler):
        seconds = frame.pts * Fraction(frame.time_base)
        if seconds >= end:
            break
        piece = _cut(frame, round((start - seconds) * rate), round((end - seconds) * rate))
        if piece is None:
            continue
        piece.pts, piece.time_base, piece.sample_rate = written, Fraction(1, rate), rate
        written += piece.samples
        yield from ((p.pts * p.time_base, p) for p in stream.encode(piece))
    yield from ((p.pts * p.time_base, p) for p in stream.encode(None))


def _resampled(packets: Iterator, resampler: av.AudioResampler) -> Iterator[av.AudioFrame]:
    for _, packet in packets:
        for frame in packet.decode():
            yield from resampler.resample(frame)
    yield from resampler.resample(None)


def _cut(frame: av.AudioFrame, first: int, last: int) -> av.AudioFrame | None:
    """Samples [first, last) of `frame` (clipped to it), or None when that is empty."""
    first, last = max(0, first), min(frame.samples, last)
    if last <= first:
        return None
    if (first, last) == (0, frame.samples):
        return frame
    array = frame.to_ndarray()  # planar: (channels, samples); packed: (1, samples * channels)
    step = 1 if frame.format.is_planar else len(frame.layout.channels)
    piece = np.ascontiguousarray(array[:, first * step : last * step])
    return av.AudioFrame.from_ndarray(piece, format=frame.format.name, layout=frame.layout.name)


def _write_folder(folder: Path, frames: Iterable[np.ndarray], times: Sequence[Fraction], sound: bool) -> list[str]:
    """000001.png, 000002.png ... in `folder` (made if needed), each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, (_, rgb) in enumerate(_frames_at(frames, times, folder, even=False), 1):
        path = folder / f"{count:06d}.png"
        tmp = folder / f".{path.name}.part.png"
        try:
            Image.fromarray(rgb).save(tmp, format="PNG")
            os.replace(tmp, path)
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            _raise_if_full(err, path)
            raise
    warnings = []
    if sound:
        warnings.append("a frame folder carries no sound")
    if len({b - a for a, b in pairwise(times)}) > 1:
        warnings.append("a frame folder keeps no frame times; the variable frame rate is lost")
    stale = [p for p in folder.glob("*.png") if re.fullmatch(r"\d{6}\.png", p.name) and int(p.stem) > count]
    if stale:
        warnings.append(f"{len(stale)} older frames after {count:06d}.png are still in the folder")
    return [f"{folder}: {warning}" for warning in warnings]
