"""`impasto stylize` for real (cli/run.py): outputs, intermediates, formats, overwrite rules and interrupts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
import torch
from imagefiles import grey16_ramp, noise_image
from PIL import Image, JpegImagePlugin
from typer.testing import CliRunner

from impasto.cli.app import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STYLE = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"


def _stylize(*args: object) -> object:
    return runner.invoke(app, ["stylize", *map(str, args)])


@pytest.mark.slow
def test_two_styles_blended_with_intermediate_saves(tmp_path):
    second = tmp_path / "second.png"
    noise_image(80, 60).save(second)
    out = tmp_path / "blend.png"
    result = _stylize(
        CONTENT,
        STYLE,
        second,
        "--style-weights",
        "0.7,0.3",
        "-o",
        out,
        "--size",
        "64",
        "--iterations",
        "6",
        "--save-every",
        "2",
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["blend.0002.png", "blend.0004.png", "blend.png", "second.png"]
    assert all(Image.open(tmp_path / n).size == (64, 48) for n in names if n.startswith("blend"))
    assert f"wrote {out} (64x48, 8-bit PNG)" in result.stderr
    repeated = _stylize(CONTENT, STYLE, "--style-weights", "0.7", "--style-weights", "0.3", "-o", out)
    assert repeated.exit_code == 2 and "1 style images but 2" in repeated.stderr  # repeated flags also work


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "out.jpg"
    out.write_bytes(b"precious")
    refused = _stylize(CONTENT, STYLE, "-o", out, "--size", "64", "--iterations", "1")
    assert refused.exit_code == 2 and "exists; pass --force" in refused.stderr and out.read_bytes() == b"precious"
    (tmp_path / "run.0001.png").write_bytes(b"old step")
    step = _stylize(
        CONTENT, STYLE, "-o", tmp_path / "run.png", "--size", "64", "--iterations", "2", "--save-every", "1"
    )
    assert step.exit_code == 2 and "run.0001.png exists" in step.stderr and not (tmp_path / "run.png").exists()
    forced = _stylize(CONTENT, STYLE, "-o", out, "--size", "64", "--iterations", "1", "--force", "--quiet")
    assert forced.exit_code == 0 and forced.output == ""
    with Image.open(out) as image:
        assert image.format == "JPEG" and JpegImagePlugin.get_sampling(image) == 0  # 4:4:4


@pytest.mark.slow
@pytest.mark.parametrize("name, bit_depth", [("out.tif", None), ("out.png", "16")])
def test_16_bit_outputs_use_more_than_256_levels(tmp_path, name, bit_depth):
    out = tmp_path / name
    args = ["--bit-depth", bit_depth] if bit_depth else []
    result = _stylize(CONTENT, STYLE, "-o", out, "--size", "64", "--iterations", "3", *args)
    assert result.exit_code == 0, result.output
    if name.endswith(".tif"):
        array = tifffile.imread(out)
    else:
        width, height, rows, info = png.Reader(filename=str(out)).asDirect()
        assert info["bitdepth"] == 16
        array = np.array(list(rows), dtype=np.uint16).reshape(height, width, 3)
    assert array.dtype == np.uint16 and array.shape == (48, 64, 3)
    assert len(np.unique(array)) > 256 and np.any(array % 257)  # real 16-bit values, not 8-bit ones scaled


def _cmyk(path: Path) -> None:
    Image.fromarray(np.asarray(noise_image(80, 60))).convert("CMYK").save(path)


def _palette(path: Path) -> None:
    noise_image(80, 60).convert("P", palette=Image.Palette.ADAPTIVE).save(path, transparency=3)


def _rgba(path: Path) -> None:
    image = noise_image(80, 60).convert("RGBA")
    image.putalpha(128)
    image.save(path)


def _grey16(path: Path) -> None:
    grey16_ramp(80, 60).save(path)


def _exif_rotated(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 CCW to display: 80x60 stored, 60x80 shown
    noise_image(80, 60).save(path, exif=exif)


@pytest.mark.parametrize(
    "name, make, size",
    [
        ("cmyk.jpg", _cmyk, (64, 48)),
        ("palette.png", _palette, (64, 48)),
        ("rgba.png", _rgba, (64, 48)),
        ("grey16.png", _grey16, (64, 48)),
        ("rotated.jpg", _exif_rotated, (48, 64)),
    ],
)
def test_awkward_inputs_run_end_to_end(tmp_path, name, make, size):
    source = tmp_path / name
    make(source)
    out = tmp_path / "out.png"
    result = _stylize(source, source, "-o", out, "--size", "64", "--iterations", "1")
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == size and image.mode == "RGB"


def test_diverging_run_exits_1_with_one_line(tmp_path):
    out = tmp_path / "out.png"
    result = _stylize(
        CONTENT,
        STYLE,
        "-o",
        out,
        "--size",
        "64",
        "--iterations",
        "3",
        "--style-weight",
        "1e38",
        "--content-weight",
        "1e38",
        "--loss-normalization",
        "none",  # absolute losses, far above 1, overflow float32 at these weights
    )
    assert result.exit_code == 1 and "loss became inf" in result.stderr and not out.exists()
    assert "Traceback" not in result.output


def test_internal_error_exits_1_with_a_debug_hint(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something deep broke\nsecond line")

    monkeypatch.setattr("impasto.api.render", broken)  # stands in for a bug inside the engine
    result = _stylize(CONTENT, STYLE, "-o", tmp_path / "o.png", "--size", "64")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and "run with --debug" in lines[-1] and "Traceback" not in result.output
    debug = _stylize(CONTENT, STYLE, "-o", tmp_path / "o.png", "--size", "64", "--debug")
    assert debug.exit_code == 1 and isinstance(debug.exception, RuntimeError)  # the traceback is shown


def _run_and_signal(tmp_path: Path, sig: signal.Signals, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out.png"
    command = [
        sys.executable,
        "-m",
        "impasto",
        "stylize",
        str(CONTENT),
        str(STYLE),
        "-o",
        str(out),
        "--size",
        "64",
        "--iterations",
        "100000",
        "--save-every",
        "2",
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out.000002.png").exists():  # a step has run: the optimization is under way
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), out


@pytest.mark.slow  # a real run in a subprocess
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_current_image_and_exits_130(tmp_path, sig):
    result, out = _run_and_signal(tmp_path, sig)
    assert result.returncode == 130, result.stderr
    partial = tmp_path / "out.partial.png"
    assert "wrote the current image to" in result.stderr and str(partial) in result.stderr
    assert not out.exists()  # the run was not complete: the output path stays free
    with Image.open(partial) as image:
        image.load()
        assert image.size == (64, 48)
    assert not list(tmp_path.glob(".*.tmp")) and "Traceback" not in result.stderr


@pytest.mark.slow  # a real run in a subprocess
def test_an_existing_partial_is_kept(tmp_path):
    (tmp_path / "out.partial.png").write_bytes(b"earlier partial")
    result, _ = _run_and_signal(tmp_path, signal.SIGINT)
    assert result.returncode == 130 and "out.partial.1.png" in result.stderr
    assert (tmp_path / "out.partial.png").read_bytes() == b"earlier partial"
    assert Image.open(tmp_path / "out.partial.1.png").size == (64, 48)


def test_a_failed_final_write_saves_the_result_to_the_cache_folder(tmp_path, monkeypatch):
    from impasto.io import write as image_write

    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out.png"
    real = image_write.write_atomic

    def disk_full_for_the_output(path, data):
        if path == out:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(image_write, "write_atomic", disk_full_for_the_output)
    result = _stylize(CONTENT, STYLE, "-o", out, "--size", "64", "--iterations", "2", "--quiet")
    line = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(line) == 1 and "cannot write" in line[0] and "No space left" in line[0]
    (rescued,) = (tmp_path / "cache" / "rescued").glob("out-*.png")
    assert f"saved to {rescued}" in line[0] and Image.open(rescued).size == (64, 48)
    assert not out.exists()


def test_an_output_folder_that_takes_no_file_is_refused_before_the_run(tmp_path):
    """/proc passes a permission check as root, but no file can be created there."""
    result = _stylize(CONTENT, STYLE, "-o", "/proc/x.png", "--size", "64", "--iterations", "2")
    line = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(line) == 1 and "output folder /proc is not writable" in line[0]


def test_only_scheduled_intermediates_clash(tmp_path):
    from impasto.cli.run import check_outputs

    out = tmp_path / "run.png"
    for name in ("run.0050.png", "run.0500.png", "run.partial.png"):
        (tmp_path / name).write_bytes(b"old")
    outputs = check_outputs(out, [CONTENT], bit_depth=None, save_every=100, iterations=400, force=False)
    assert outputs.saves_at(300, 400) and not outputs.saves_at(400, 400) and not outputs.saves_at(50, 400)
    assert outputs.partial().name == "run.partial.1.png"  # an old partial is kept without --force
    with pytest.raises(ValueError, match="run.0500.png exists"):
        check_outputs(out, [CONTENT], bit_depth=None, save_every=100, iterations=1000, force=False)
    forced = check_outputs(out, [CONTENT], bit_depth=None, save_every=100, iterations=1000, force=True)
    assert forced.partial().name == "run.partial.png"


def test_interrupt_at_a_lower_scale_saves_at_the_output_size(tmp_path, content_path, style_path):
    from rich.console import Console

    from impasto import api
    from impasto.cli.run import EXIT_INTERRUPTED, Outputs, _save_interrupted
    from impasto.config import StyleConfig
    from impasto.engine.loop import Progress
    from impasto.io.read import load_tensor, to_tensor
    from impasto.nst.color import rgb_to_yiq

    outputs = Outputs(tmp_path / "out.png", "PNG", 8, None, (content_path, style_path))
    low = Progress(
        step=7,
        total=14,
        loss=1.0,
        content_loss=0.5,
        style_loss=0.5,
        tv_loss=0.0,
        elapsed=1.0,
        image=torch.rand(1, 3, 48, 64),
        scale=1,
        scale_count=3,
        width=64,
        height=48,
        done=0.2,
    )
    console = Console(file=open(tmp_path / "log.txt", "w"))  # noqa: SIM115
    run = api.prepare(content_path, [style_path], config=StyleConfig(size=128))
    assert _save_interrupted(low, outputs, console, (128, 96), run) == EXIT_INTERRUPTED
    assert Image.open(tmp_path / "out.partial.png").size == (128, 96)
    assert not (tmp_path / "out.png").exists()
    # In luminance mode the chroma is the photo's own at the output size, not the low scale's, upsampled.
    grey = api.prepare(content_path, [style_path], config=StyleConfig(size=128, preserve_color="luminance"))
    assert _save_interrupted(low, outputs, console, (128, 96), grey) == EXIT_INTERRUPTED
    saved = to_tensor(Image.open(tmp_path / "out.partial.1.png"))
    chroma_error = (rgb_to_yiq(saved)[:, 1:] - rgb_to_yiq(load_tensor(content_path, 128))[:, 1:]).abs().mean()
    assert float(chroma_error) < 2 / 255
