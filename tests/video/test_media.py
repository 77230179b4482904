"""Clips in and out (impasto.video.media, .encode) on tiny real files made here with PyAV: frame
times, rotation, colour matrices and ranges, bit depth, sound, and every bad input."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from videofiles import VFR, H, W, add_tone, make_clip, pattern, rgb_frames

from impasto.video import encode
from impasto.video.encode import write_clip
from impasto.video.media import Clip, MediaError, frame_size, output_kind, probe, read_frames

# (Kr, Kb) of the luma equations: ITU-R BT.601 and BT.709
KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593)}
COLORSPACE = {"bt601": 6, "bt709": 1, "bt2020": 9}  # AVColorSpace tags (6: SMPTE 170M, BT.601's 525-line matrix)


def yuv_planes(rgb: tuple[int, int, int], matrix: str, full: bool, bits: int = 8) -> np.ndarray:
    """A flat yuv420p(10le) frame as PyAV lays it out ((H * 3/2, W)), computed by hand from the
    ITU-R equations, independently of swscale."""
    kr, kb = KR_KB[matrix]
    r, g, b = (c / 255 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    scale = 2 ** (bits - 8)
    levels = (255 * y, 128 + 255 * cb, 128 + 255 * cr) if full else (16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr)
    y_, u_, v_ = (np.clip(round(v * scale), 0, 255 * scale) for v in levels)
    dtype = np.uint8 if bits == 8 else np.uint16
    flat = np.concatenate([np.full(H * W, y_), np.full(H * W // 4, u_), np.full(H * W // 4, v_)])
    return flat.astype(dtype).reshape(H * 3 // 2, W)


@pytest.fixture
def vfr_clip(tmp_path) -> Path:
    path = tmp_path / "vfr.mp4"
    make_clip(path, rgb_frames())
    return path


@pytest.fixture
def tone_clip(tmp_path) -> Path:
    path = tmp_path / "tone.mp4"
    make_clip(path, rgb_frames(), tone=True)
    return path


# 1. round trips ---------------------------------------------------------------------------------


def test_probe_reads_a_variable_frame_rate_clip(vfr_clip):
    clip = probe(vfr_clip)
    assert (clip.width, clip.height, clip.rotation, clip.audio, clip.folder) == (W, H, 0, False, False)
    assert clip.times == tuple(VFR) and clip.frame_count == 5
    assert clip.duration() == VFR[-1] + 1 / clip.rate


@pytest.mark.parametrize("name", ["out.mp4", "out.mkv", "out.webm", "out.gif", "frames/"])
def test_round_trip_keeps_count_times_and_size(vfr_clip, tmp_path, name):
    clip = probe(vfr_clip)
    frames = list(read_frames(clip, (W, H)))
    assert [f.shape for f in frames] == [(H, W, 3)] * 5
    out = tmp_path / name
    warnings = write_clip(out, iter(frames), clip.times, source=clip)
    assert not list(tmp_path.glob(".*part*")), "the temp file was left behind"
    back = probe(out, fps=25) if name.endswith("/") else probe(out)
    assert (back.width, back.height, back.frame_count) == (W, H, 5)
    if name.endswith("/"):
        assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(1, 6)]
        assert any("frame times" in w for w in warnings)
    else:
        assert back.times == clip.times
        assert warnings == []
    again = list(read_frames(back, (W, H)))
    for before, after in zip(frames, again):  # the grey levels tell the frames apart: same order
        assert abs(int(before[-1, -1, 0]) - int(after[-1, -1, 0])) <= 8
        assert after[: H // 2, : W // 2].mean() > 200


def test_read_frames_streams_a_range(vfr_clip):
    clip = probe(vfr_clip)
    frames = list(read_frames(clip, (32, 24), start=2, stop=4))
    assert [f.shape for f in frames] == [(24, 32, 3)] * 2
    assert [abs(int(f[-1, -1, 0]) - (20 + 30 * i)) <= 3 for f, i in zip(frames, (2, 3))] == [True, True]


def test_a_frame_folder_in_natural_order_with_exif_orientation(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for number, index in ((10, 2), (2, 1), (1, 0)):  # frame_10 sorts after frame_2
        exif = Image.Exif()
        exif[0x0112] = 6  # shown turned 90 degrees clockwise
        Image.fromarray(np.rot90(pattern(index, H, W), 1)).save(folder / f"frame_{number}.png", exif=exif)
    (folder / "notes.txt").write_text("not a frame")
    clip = probe(folder, fps=10)
    assert (clip.width, clip.height, clip.frame_count, clip.folder) == (H, W, 3, True)
    assert clip.times == (0, Fraction(1, 10), Fraction(2, 10)) and clip.rate == 10
    frames = list(read_frames(clip, frame_size(clip, 1000)))
    assert [int(f[-1, -1, 0]) for f in frames] == [20, 50, 80]
    assert all(f[: W // 2, : H // 2].mean() > 200 for f in frames)


def test_non_square_pixels_are_stretched_to_the_display_size(tmp_path):
    make_clip(tmp_path / "anamorphic.mp4", rgb_frames(2), VFR[:2], tags={"sample_aspect_ratio": Fraction(2)})
    clip = probe(tmp_path / "anamorphic.mp4")
    assert (clip.width, clip.height) == (2 * W, H)
    assert frame_size(clip, 100) == (100, 38)
    frame = next(read_frames(clip, (2 * W, H)))
    assert frame.shape == (H, 2 * W, 3) and frame[: H // 2, :W].mean() > 200 and frame[H // 2 :, W:].mean() < 60


def test_frame_size_keeps_the_aspect_never_upscales_and_stays_even(vfr_clip):
    clip = probe(vfr_clip)
    assert frame_size(clip, 512) == (64, 48)
    assert frame_size(clip, 50) == (50, 38)
    assert frame_size(clip, 10) == (32, 32)


# 2. rotation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_rotated_clip_decodes_upright(tmp_path, degrees):
    path = tmp_path / "turned.mp4"
    upright = pattern(0, width=H, height=W)  # a 48x64 portrait picture, bright top-left
    coded = np.ascontiguousarray(np.rot90(upright, -degrees // 90))  # stored turned clockwise, as phones do
    make_clip(path, [av.VideoFrame.from_ndarray(coded).reformat(format="yuv420p")] * 2, VFR[:2], rotation=degrees)
    clip = probe(path)
    assert (clip.width, clip.height, clip.rotation) == (H, W, degrees)
    frame = next(read_frames(clip, (clip.width, clip.height)))
    assert frame.shape == (W, H, 3)
    assert frame[: W // 2, : H // 2].mean() > 200 and frame[W // 2 :, H // 2 :].mean() < 60
    capture = cv2.VideoCapture(str(path))  # OpenCV's own FFmpeg turns it the same way
    ok, bgr = capture.read()
    capture.release()
    assert ok and np.abs(bgr[..., ::-1].astype(int) - frame).max() <= 12


# 3. sound ---------------------------------------------------------------------------------------


def _audio(path: Path) -> tuple[str, float]:
    """(codec, seconds) of a file's first audio stream, counted in decoded samples."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.codec_context.sample_rate


def test_sound_is_copied_into_mp4_and_cut_to_the_span(tone_clip, tmp_path):
    clip = probe(tone_clip)
    assert clip.audio
    span = (Fraction(4, 100), Fraction(2, 10))
    frames = read_frames(clip, (W, H), 1, 4)
    times = [t - VFR[1] for t in VFR[1:4]]
    assert write_clip(tmp_path / "cut.mp4", frames, times, source=clip, span=span) == []
    codec, seconds = _audio(tmp_path / "cut.mp4")
    assert codec == "aac" and abs(seconds - 0.16) <= 1024 / 44100
    with av.open(str(tmp_path / "cut.mp4")) as out, av.open(str(tone_clip)) as source:
        copied = [bytes(p) for p in out.demux(audio=0) if p.size]
        original = [bytes(p) for p in source.demux(audio=0) if p.size]
    assert copied and all(p in original for p in copied)  # untouched packets


def test_sound_becomes_opus_in_webm_and_none_in_gif(tone_clip, tmp_path):
    clip = probe(tone_clip)
    span = (Fraction(4, 100), Fraction(2, 10))
    times = [t - VFR[1] for t in VFR[1:4]]
    assert write_clip(tmp_path / "cut.webm", read_frames(clip, (W, H), 1, 4), times, source=clip, span=span) == []
    codec, seconds = _audio(tmp_path / "cut.webm")
    assert codec in ("opus", "libopus") and abs(seconds - 0.16) <= 0.02
    warnings = write_clip(tmp_path / "cut.gif", read_frames(clip, (W, H), 1, 4), times, source=clip, span=span)
    assert warnings == [f"{tmp_path / 'cut.gif'}: .gif output carries no sound"]
    with av.open(str(tmp_path / "cut.gif")) as gif:
        assert not gif.streams.audio


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_sound_far_into_the_source_is_found_by_seeking(tmp_path, suffix):
    times = [Fraction(0), Fraction(1), Fraction(2), Fraction(5, 2), Fraction(13, 5)]
    make_clip(tmp_path / "long.mkv", rgb_frames(), times, tone=True)
    clip = probe(tmp_path / "long.mkv")
    span = (Fraction(5, 2), Fraction(27, 10))
    out = tmp_path / f"end{suffix}"
    assert write_clip(out, read_frames(clip, (W, H), 3), [Fraction(0), Fraction(1, 10)], source=clip, span=span) == []
    codec, seconds = _audio(out)
    assert codec in ("aac", "opus") and abs(seconds - 0.2) <= 1024 / 44100


def test_pcm_sound_is_re_encoded_to_aac_for_mp4(tmp_path):
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as out:
        video = out.add_stream("libx264", rate=25, options={"qp": "0"})
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        add_tone(out, 0.3, codec="pcm_s16le", rate=48000)
        for i, frame in enumerate(rgb_frames()):
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    clip = probe(source)
    warnings = write_clip(tmp_path / "out.mp4", read_frames(clip, (W, H)), clip.times, source=clip)
    assert len(warnings) == 1 and "AAC" in warnings[0] and "pcm_s16le" in warnings[0]
    codec, seconds = _audio(tmp_path / "out.mp4")
    assert codec == "aac" and abs(seconds - float(clip.duration())) <= 2 * 1024 / 48000


# 4. colour and bit depth ------------------------------------------------------------------------


@pytest.mark.parametrize(("matrix", "full"), [("bt709", False), ("bt601", False), ("bt709", True)])
@pytest.mark.parametrize("rgb", [(200, 60, 30), (40, 180, 220)])
def test_tagged_colour_decodes_within_3_levels(tmp_path, matrix, full, rgb):
    frame = av.VideoFrame.from_ndarray(yuv_planes(rgb, matrix, full), format="yuv420p")
    tags = {"colorspace": COLORSPACE[matrix], "color_range": 2 if full else 1}
    make_clip(tmp_path / "flat.mp4", [frame, frame], VFR[:2], tags=tags)
    clip = probe(tmp_path / "flat.mp4")
    decoded = next(read_frames(clip, (W, H)))
    assert np.abs(decoded.astype(int) - rgb).max() <= 3


def test_a_10_bit_clip_decodes_to_8_bits_with_a_note(tmp_path):
    frame = av.VideoFrame.from_ndarray(yuv_planes((200, 60, 30), "bt709", False, bits=10), format="yuv420p10le")
    make_clip(tmp_path / "deep.mkv", [frame, frame], VFR[:2], tags={"colorspace": 1, "color_range": 1})
    clip = probe(tmp_path / "deep.mkv")
    assert "10-bit video converted to 8 bits per channel" in clip.notes
    decoded = next(read_frames(clip, (W, H)))
    assert decoded.dtype == np.uint8 and np.abs(decoded.astype(int) - (200, 60, 30)).max() <= 3


def test_bt2020_pq_decodes_with_its_matrix_and_an_hdr_note(tmp_path):
    frame = av.VideoFrame.from_ndarray(yuv_planes((200, 60, 30), "bt2020", False, bits=10), format="yuv420p10le")
    tags = {"colorspace": 9, "color_primaries": 9, "color_trc": 16, "color_range": 1}
    make_clip(tmp_path / "hdr.mp4", [frame, frame], VFR[:2], tags=tags)
    clip = probe(tmp_path / "hdr.mp4")
    assert "HDR (PQ) video shown as SDR without tone mapping" in clip.notes
    assert np.abs(next(read_frames(clip, (W, H))).astype(int) - (200, 60, 30)).max() <= 3


# 5. bad inputs and outputs ----------------------------------------------------------------------


def _bad_inputs(tmp_path: Path, vfr_clip: Path) -> list[tuple]:
    (tmp_path / "text.mp4").write_text("hello, not a video\n")
    Image.fromarray(pattern(0)).save(tmp_path / "still.png")
    Image.fromarray(pattern(0)).save(tmp_path / "still.gif")
    (tmp_path / "empty").mkdir()
    for name, codec in (("sound.m4a", "aac"), ("sound.wav", "pcm_s16le")):
        with av.open(str(tmp_path / name), "w") as out:
            add_tone(out, 0.1, codec=codec, rate=48000)
    return [
        ("does not exist", tmp_path / "missing.mp4", None),
        ("is not a video", tmp_path / "text.mp4", None),
        ("has no video stream (audio only)", tmp_path / "sound.m4a", None),
        ("has no video stream (audio only)", tmp_path / "sound.wav", None),
        ("is a still image, not a video", tmp_path / "still.png", None),
        ("is a still image, not a video", tmp_path / "still.gif", None),
        ("holds no numbered images", tmp_path / "empty", None),
        ("fps applies to a folder", vfr_clip, 30),
        ("is not a positive frame rate", tmp_path / "empty", 0),
    ]


def test_every_bad_input_is_one_line_naming_the_file(tmp_path, vfr_clip):
    for expected, path, fps in _bad_inputs(tmp_path, vfr_clip):
        with pytest.raises(MediaError) as caught:
            probe(path, fps=fps)
        message = str(caught.value)
        assert expected in message and str(path) in message and "\n" not in message, message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_named(vfr_clip):
    vfr_clip.chmod(0)
    with pytest.raises(MediaError, match="cannot be read"):
        probe(vfr_clip)


def test_bad_outputs_and_sizes_are_one_line(tmp_path):
    with pytest.raises(MediaError, match=r"unknown output extension \.xyz; use \.mp4") as caught:
        output_kind(tmp_path / "out.xyz")
    assert "\n" not in str(caught.value)
    assert [output_kind(p) for p in ("a.MP4", "a.mkv", "a.webm", "a.gif", "a/", "frames", tmp_path)] == [
        "mp4", "mkv", "webm", "gif", "folder", "folder", "folder",
    ]  # fmt: skip
    with pytest.raises(MediaError, match="got 2 frames for 3 times"):
        write_clip(tmp_path / "short.mp4", [pattern(0), pattern(1)], VFR[:3])
    assert not list(tmp_path.iterdir())
    tiny = Clip(tmp_path / "tiny.mp4", False, 16, 16, (Fraction(0),), Fraction(25), 0, False, ())
    with pytest.raises(MediaError, match="smaller than 32 px") as caught:
        frame_size(tiny, 512)
    assert "\n" not in str(caught.value)


def test_a_full_disk_is_a_media_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    frames = [pattern(i) for i in range(3)]
    monkeypatch.setattr(encode, "_yuv_frame", full)
    with pytest.raises(MediaError, match="no space left on the device writing"):
        write_clip(tmp_path / "out.mp4", frames, VFR[:3])
    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(MediaError, match="no space left on the device writing"):
        write_clip(tmp_path / "frames/", frames, VFR[:3])
    assert not list(tmp_path.rglob(".*part*")) and not (tmp_path / "out.mp4").exists()
