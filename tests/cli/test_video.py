"""`impasto video` as a user meets it: every bad input is one line and exit 2 before any work; a
clip with sound comes out with its frames, timing and sound; Ctrl-C stops with 130 and the same
command continues from the last painted frame."""

from __future__ import annotations

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
    # The tone outlasts the picture; the sound is cut to the picture's span (6 frames at 25 fps),
    # to within one AAC frame (1024 samples at 44.1 kHz).
    assert source["audio_seconds"] > 0.3 and abs(painted["audio_seconds"] - 6 / 25) < 1024 / 44100 + 1e-3
    assert not any(".impasto-" in p.name for p in tmp_path.iterdir())  # the work folder is gone


def _ctrl_c_reaches_it() -> None:
    """A background shell starts its jobs with SIGINT ignored, and Python then keeps it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_halfway_exits_130_and_the_same_command_continues(tmp_path, clip):
    out = tmp_path / "painted.mp4"
    command = [sys.executable, "-m", "impasto", "video", str(clip), STYLE, "-o", str(out), *FAST, "--keep-work"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ctrl_c_reaches_it,  # noqa: PLW1509 - as from a terminal, even from a background shell
    )
    deadline = time.monotonic() + 240
    painted: list[Path] = []
    while time.monotonic() < deadline and len(painted) < 2:
        painted = sorted(tmp_path.glob("painted.mp4.impasto-*/pass1/*.npy"))
        time.sleep(0.2)
    assert len(painted) >= 2, "no frame was painted in time"
    first.send_signal(signal.SIGINT)
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 130, output
    assert "run the same command to continue" in output and "Traceback" not in output
    assert not out.exists()
    kept = {p: p.stat().st_mtime_ns for p in tmp_path.glob("painted.mp4.impasto-*/pass1/*.npy")}
    assert 2 <= len(kept) < 6
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert second.returncode == 0, second.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # not painted again
    assert len(list(tmp_path.glob("painted.mp4.impasto-*/pass1/*.npy"))) == 6
    assert _streams(out)["frames"] == 6


def test_an_output_ending_with_a_slash_is_a_folder_whatever_its_name(tmp_path, clip):
    from impasto.config import StyleConfig
    from impasto.video import pipeline

    job = pipeline.plan(clip, [EXAMPLES / "starry_night.jpg"], f"{tmp_path}/frames.v2/", StyleConfig())
    assert job.kind == "folder" and job.output.name == "frames.v2"


def test_a_full_disk_stops_with_one_line_and_keeps_the_finished_frames(tmp_path, monkeypatch):
    import errno

    from impasto.video import work as work_module

    folder = work_module.WorkFolder(tmp_path / "w")
    folder.create({})
    folder.save_painted(1, 0, np.zeros((4, 4, 3), np.float32))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(work_module.os, "fsync", full)
    with pytest.raises(work_module.DiskFullError, match="no space left on the device writing"):
        folder.save_painted(1, 1, np.ones((4, 4, 3), np.float32))
    assert folder.is_painted(1, 0) and not folder.is_painted(1, 1)
    assert not [p for p in (tmp_path / "w" / "pass1").iterdir() if p.name.endswith(".part")]
