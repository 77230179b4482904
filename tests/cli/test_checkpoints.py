"""`impasto stylize --checkpoint-every S` and `--resume`: Ctrl-C saves the run's state, and the
same command with --resume ends with the picture the uninterrupted run makes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STYLE = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"
OPTIONS = ["--size", "64", "--start-size", "64", "--iterations", "120", "--stop-tolerance", "0"]
OPTIONS += ["--precision", "fp32", "--seed", "5"]


def _impasto(*args: object, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "impasto", "stylize", *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=300, **kwargs)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.mark.slow  # three real runs in subprocesses
@pytest.mark.numeric
def test_ctrl_c_saves_a_checkpoint_and_resume_ends_as_the_uninterrupted_run(tmp_path, within):
    whole = tmp_path / "whole.png"
    assert _impasto(CONTENT, STYLE, "-o", whole, *OPTIONS).returncode == 0
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "impasto", "stylize", str(CONTENT), str(STYLE), "-o", str(out), *OPTIONS]
    command += ["--checkpoint-every", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint, deadline = tmp_path / "out.png.ckpt", time.monotonic() + 120
    while not checkpoint.exists():  # the first timed checkpoint: the run is under way
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume continues it" in stderr and checkpoint.exists() and not out.exists()

    again = _impasto(CONTENT, STYLE, "-o", out, *OPTIONS)  # a new run would silently replace it
    assert again.returncode == 2 and "pass --resume to continue it" in again.stderr
    other = _impasto(CONTENT, STYLE, "-o", out, *OPTIONS[:-2], "--seed", "6", "--resume")
    assert other.returncode == 2 and "made with other inputs or options" in other.stderr

    resumed = _impasto(CONTENT, STYLE, "-o", out, *OPTIONS, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not checkpoint.exists()  # done: nothing left to resume
    # fp32 state within 1e-5 of the uninterrupted run: the same 8-bit picture (a level of rounding at most).
    # fp32 in three processes on the same thread count: one 8-bit level for the rounding of values
    # that land on a level's edge (measured: 0 under AVX2, AVX512_CORE and AVX512_CORE_BF16).
    within("max difference in 8-bit levels", np.abs(_pixels(out) - _pixels(whole)).max(), "<=", 1)


def test_resume_without_a_checkpoint_is_a_one_line_error(tmp_path):
    result = _impasto(CONTENT, STYLE, "-o", tmp_path / "out.png", "--size", "64", "--resume")
    assert result.returncode == 2 and "no checkpoint to resume" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
