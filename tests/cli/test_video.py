"""`impasto video` as a user meets it: every bad input is one line and exit 2 before any work; a
clip with sound comes out painted, with its frames, timing and sound; Ctrl-C stops with 130 and the
same command continues from the last painted frame; a full disk stops with one line, the painted
frames kept."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner
from videofiles import add_tone, make_clip, rgb_frames

from impasto.cli.app import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STYLE = str(EXAMPLES / "starry_night.jpg")
runner = CliRunner()
FAST = ["--size", "64", "--start-size", "64", "--iterations", "20", "--frame-iterations", "10", "--min-iterations", "5"]


def _invoke(*args: str):
    return runner.invoke(app, ["video", *map(str, args)])


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "clip.mp4", rgb_frames(6), [i / 25 for i in range(6)], tone=True)


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("impasto: error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_every_bad_input_is_one_line_and_exit_2(tmp_path, clip):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    sound = tmp_path / "tone.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(np.zeros(8000, dtype=np.int16).tobytes())
    still = tmp_path / "still.png"
    still.write_bytes((EXAMPLES / "tubingen.jpg").read_bytes())
    empty = tmp_path / "empty.mkv"  # a video stream that holds no frame (and some sound)
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        add_tone(container, 0.5)
        container.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    cases = {
        "zero frames": ([empty, STYLE, "-o", out], "has no frames"),
        "missing": ([tmp_path / "nope.mp4", STYLE, "-o", out], "nope.mp4"),
        "not a video": ([text, STYLE, "-o", out], "notes.mp4"),
        "audio only": ([sound, STYLE, "-o", out], "tone.wav"),
        "a still": ([still, STYLE, "-o", out], "still.png"),
        "range outside": ([clip, STYLE, "-o", out, "--frames", "2:60"], "6 frames"),
        "range syntax": ([clip, STYLE, "-o", out, "--frames", "two"], "START:END"),
        "unknown extension": ([clip, STYLE, "-o", tmp_path / "out.avi"], ".avi"),
        "output is the input": ([clip, STYLE, "-o", clip, "--force"], "is the input"),
        "no such output folder": ([clip, STYLE, "-o", tmp_path / "typo" / "out.mp4"], "does not exist"),
        "missing style": ([clip, tmp_path / "nope.jpg", "-o", out], "nope.jpg"),
        "long term without 1": ([clip, STYLE, "-o", out, "--long-term", "2,4"], "long_term"),
        "bad long term": ([clip, STYLE, "-o", out, "--long-term", "1,x"], "frame distances"),
    }
    for name, (args, needle) in cases.items():
        line = _one_line_error(_invoke(*args))
        assert needle in line, (name, line)
    out.write_bytes(b"")
    assert "--force" in _one_line_error(_invoke(clip, STYLE, "-o", out))
    assert not any(p.name.startswith("out.mp4.impasto-") for p in tmp_path.iterdir())  # no work began


def test_a_second_run_of_the_same_command_meanwhile_is_refused(tmp_path, clip):
    from impasto.config import StyleConfig
    from impasto.video import pipeline

    out = tmp_path / "out.mp4"
    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], out, StyleConfig.preset("default", size=384))
    with job.work.locked():
        result = _invoke(clip, STYLE, "-o", out)
    assert result.exit_code == 1 and "another impasto video is working in" in result.output


def _streams(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [f for f in container.decode(video)]
        info = {"frames": len(frames), "size": (frames[0].width, frames[0].height)}
        info["times"] = [float(f.time) for f in frames]
    with av.open(str(path)) as container:
        audio = container.streams.audio
        info["audio"] = audio[0].codec_context.name if audio else None
        if audio:
            packets = [p for p in container.demux(audio[0]) if p.pts is not None]
            info["audio_seconds"] = float(sum(p.duration for p in packets) * audio[0].time_base)
    return info


def _pixels(path: Path) -> np.ndarray:
    """Every frame of the clip's picture: (N, H, W, 3) float32, 8-bit levels."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
    return np.stack(frames).astype(np.float32)


@pytest.mark.slow
def test_a_clip_with_sound_comes_out_with_its_frames_timing_and_sound(tmp_path, clip):
    out = tmp_path / "painted.mp4"
    result = _invoke(clip, STYLE, "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    source, painted = _streams(clip), _streams(out)
    assert painted["frames"] == source["frames"] == 6
    assert painted["size"] == (64, 48)
    assert np.allclose(painted["times"], source["times"], atol=1e-3)
    assert painted["audio"] == source["audio"] == "aac"
    # Painted: every frame is far from its input frame. Measured (mean absolute difference, 8-bit
    # RGB): 38 to 53 levels; the input frames handed back unpainted come out 1.4 to 3 off (the
    # encoder's error on flat frames), and the encoder's error on painted frames is 8 to 10 (crf 18,
    # 4:2:0 chroma on brush strokes).
    difference = np.abs(_pixels(out) - _pixels(clip)).mean(axis=(1, 2, 3))
    assert (difference > 20).all(), difference
    # The tone outlasts the picture; the sound is cut to the picture's span (6 frames at 25 fps),
    # to within one AAC frame (1024 samples at 44.1 kHz).
    assert source["audio_seconds"] > 0.3 and abs(painted["audio_seconds"] - 6 / 25) < 1024 / 44100 + 1e-3
    assert not any(".impasto-" in p.name for p in tmp_path.iterdir())  # the work folder is gone


def _ctrl_c_reaches_it() -> None:
    """A background shell starts its jobs with SIGINT ignored, and Python then keeps it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_halfway_exits_130_and_the_same_command_continues(tmp_path, clip):
    # Ctrl-C goes as soon as the first frame is painted, with 5 frames to go: each takes at least 5
    # steps of its own (3 to 20 s here, on 2 busy cores), and Python handles the signal between two
    # operations of a step (the signal went 0.08 s after the frame), so the run is still painting.
    count = 6
    out = tmp_path / "painted.mp4"
    command = [sys.executable, "-m", "impasto", "video", str(clip), STYLE, "-o", str(out), *FAST, "--keep-work"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def painted() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in tmp_path.glob("painted.mp4.impasto-*/pass1/*.npy")}

    first = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ctrl_c_reaches_it,  # noqa: PLW1509 - as from a terminal, even from a background shell
    )
    deadline = time.monotonic() + 240
    seen: dict[Path, int] = {}
    while not seen and first.poll() is None and time.monotonic() < deadline:
        seen = painted()
        time.sleep(0.05)
    if not seen:
        first.kill()
        pytest.fail(f"no frame was painted in time: {first.communicate()[0]}")
    first.send_signal(signal.SIGINT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 130, output
    assert "run the same command to continue" in output and "Traceback" not in output
    assert not out.exists()
    kept = painted()
    assert seen.items() <= kept.items()  # what was painted stays, unchanged
    assert len(kept) < count
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert second.returncode == 0, second.stderr
    now = painted()
    assert len(now) == count
    assert kept.items() <= now.items()  # the rerun painted the rest, and none of the kept again
    assert _streams(out)["frames"] == count


def test_an_output_ending_with_a_slash_is_a_folder_whatever_its_name(tmp_path, clip):
    from impasto.config import StyleConfig
    from impasto.video import pipeline

    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], f"{tmp_path}/frames.v2/", StyleConfig())
    assert job.kind == "folder" and job.output.name == "frames.v2"


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_keeps_the_finished_frames(tmp_path, clip, monkeypatch):
    from impasto.video import work

    # The disk fills up once two frames are painted: from then on every fsync fails, as on a full
    # disk, so the third frame's first file fails inside write_atomic, after its temp file is written.
    finished = 2
    painted: list[int] = []
    save_painted, fsync = work.WorkFolder.save_painted, os.fsync

    def counted(self, done: int, index: int, image: np.ndarray) -> None:
        save_painted(self, done, index, image)
        painted.append(index)

    def full_after_two(fd: int) -> None:
        if len(painted) >= finished:
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(work.WorkFolder, "save_painted", counted)
    monkeypatch.setattr(work.os, "fsync", full_after_two)
    out = tmp_path / "painted.mp4"
    result = _invoke(clip, STYLE, "-o", out, *FAST)
    assert result.exit_code == 1, result.output  # EXIT_INTERNAL, as every failure after the work began
    assert not out.exists()
    (root,) = tmp_path.glob("painted.mp4.impasto-*")
    lines = result.stderr.splitlines()  # the progress bar's last state, then the error
    assert [line for line in lines if line.startswith("impasto:")] == lines[-1:], result.stderr
    kept = f"the painted frames are kept in {root}"
    assert lines[-1] == f"impasto: error: no space left on the device writing {root / 'pass1'}; {kept}"
    assert "Traceback" not in result.output
    folder = work.WorkFolder(root)
    assert painted == [0, 1] and [folder.is_painted(1, i) for i in range(6)] == [True, True] + [False] * 4
    assert not [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_a_full_disk_in_the_work_folder_is_a_disk_full_error_and_leaves_no_part_file(tmp_path, monkeypatch):
    from impasto.video import work

    folder = work.WorkFolder(tmp_path / "w")
    folder.create({})
    folder.save_painted(1, 0, np.zeros((4, 4, 3), np.float32))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(work.os, "fsync", full)
    with pytest.raises(work.DiskFullError, match="no space left on the device writing"):
        folder.save_painted(1, 1, np.ones((4, 4, 3), np.float32))
    assert folder.is_painted(1, 0) and not folder.is_painted(1, 1)
    assert not [p for p in (tmp_path / "w" / "pass1").iterdir() if p.name.endswith(".part")]
