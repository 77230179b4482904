"""`impasto` with bad input: one stderr line, exit code 2, no traceback, no file, no weights loaded.

In-process with typer's CliRunner and real files. The two permission cases need a process that
cannot read everything: as root, they run the real command under setpriv without the capabilities
that let root ignore file modes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from imagefiles import png_claiming_size, truncated
from PIL import Image
from typer.testing import CliRunner

from impasto.cli.app import app
from impasto.nst.vgg import _cached_model

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STYLE = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"


def _image(path: Path, size=(64, 48)) -> Path:
    Image.new("RGB", size, "white").save(path)
    return path


# Each case: (id, builder(tmp) -> argv after "stylize", fragment of the error line).
def _files(tmp: Path) -> dict[str, Path]:
    (tmp / "folder.jpg").mkdir()
    (tmp / "empty.jpg").touch()
    (tmp / "notes.jpg").write_text("these are not pixels\n")
    (tmp / "paper.jpg").write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    _image(tmp / "ok.png")
    Image.new("RGB", (64, 64)).save(tmp / "whole.png")
    Image.new("L", (64, 48), 255).save(tmp / "mask.png")
    Image.new("L", (64, 48), 0).save(tmp / "black.png")
    return {
        "cut_jpg": truncated(CONTENT, tmp / "cut.jpg"),
        "cut_png": truncated(tmp / "whole.png", tmp / "cut.png"),
        "bomb": png_claiming_size(tmp / "bomb.png", 20000, 20000),
        "bomb_warning_zone": png_claiming_size(tmp / "big.png", 10000, 10000),
        "tiny": _image(tmp / "tiny.png", (20, 20)),
        "dot": _image(tmp / "dot.png", (1, 1)),
    }


CASES = [
    ("missing", lambda t, f: ["nope.jpg", STYLE], "nope.jpg: no such file"),
    ("missing_style", lambda t, f: [CONTENT, "gone.jpg"], "gone.jpg: no such file"),
    ("directory", lambda t, f: [t / "folder.jpg", STYLE], "is a directory"),
    ("zero_bytes", lambda t, f: [t / "empty.jpg", STYLE], "empty.jpg: the file is empty"),
    ("truncated_jpeg", lambda t, f: [f["cut_jpg"], STYLE], "cut.jpg: cannot decode the image"),
    ("truncated_png", lambda t, f: [STYLE, f["cut_png"]], "cut.png: cannot decode the image"),
    ("text_as_jpg", lambda t, f: [t / "notes.jpg", STYLE], "notes.jpg: not an image file"),
    ("pdf_as_jpg", lambda t, f: [CONTENT, t / "paper.jpg"], "paper.jpg: not an image file"),
    ("bomb", lambda t, f: [f["bomb"], STYLE], "decompression-bomb check"),
    ("bomb_warning_zone", lambda t, f: [f["bomb_warning_zone"], STYLE], "decompression-bomb check"),
    ("tiny", lambda t, f: [f["tiny"], STYLE], "tiny.png is 20x20 px; VGG19 needs at least 32"),
    ("one_pixel", lambda t, f: [CONTENT, f["dot"]], "dot.png is 1x1 px"),
    ("init_missing", lambda t, f: [CONTENT, STYLE, "--init", "start.png"], "start.png: no such file"),
    ("no_output_folder", lambda t, f: [CONTENT, STYLE, "-o", t / "no" / "o.png"], "output folder"),
    ("output_unknown_ext", lambda t, f: [CONTENT, STYLE, "-o", t / "out" / "o.xyz"], "unknown output extension"),
    ("output_is_input", lambda t, f: [t / "ok.png", STYLE, "-o", t / "ok.png", "--force"], "is one of the inputs"),
    ("output_is_dir", lambda t, f: [CONTENT, STYLE, "-o", t / "out"], "is a directory"),
    ("size_zero", lambda t, f: [CONTENT, STYLE, "--size", "0"], "size must be >= 32; got 0"),
    ("size_negative", lambda t, f: [CONTENT, STYLE, "--size", "-5"], "size must be >= 32; got -5"),
    ("size_not_a_number", lambda t, f: [CONTENT, STYLE, "--size", "big"], "'--size'"),
    ("size_huge", lambda t, f: [CONTENT, STYLE, "--size", "20000"], "pass --allow-huge"),
    ("weights_count", lambda t, f: [CONTENT, STYLE, "--style-weights", "0.7,0.3"], "1 style images but 2"),
    ("weights_negative", lambda t, f: [CONTENT, STYLE, STYLE, "--style-weights", "1,-1"], "must be >= 0; got -1"),
    ("weights_all_zero", lambda t, f: [CONTENT, STYLE, STYLE, "--style-weights", "0,0"], "positive sum"),
    ("weights_nan", lambda t, f: [CONTENT, STYLE, "--style-weights", "nan"], "finite number"),
    ("weights_empty", lambda t, f: [CONTENT, STYLE, "--style-weights", ","], "one number per style image"),
    ("seed_huge", lambda t, f: [CONTENT, STYLE, "--seed", str(10**24)], "seed must be <="),
    ("name_too_long", lambda t, f: [CONTENT, STYLE, "-o", t / "out" / ("x" * 252 + ".png")], "too long"),
    ("content_weight_nan", lambda t, f: [CONTENT, STYLE, "--content-weight", "nan"], "finite number"),
    ("style_weight_inf", lambda t, f: [CONTENT, STYLE, "--style-weight", "inf"], "finite number"),
    ("style_scale_inf", lambda t, f: [CONTENT, STYLE, "--style-scale", "-inf"], "finite number"),
    ("tv_weight_negative", lambda t, f: [CONTENT, STYLE, "--tv-weight", "-1"], "tv_weight must be >= 0"),
    ("preset", lambda t, f: [CONTENT, STYLE, "--preset", "fast"], "unknown preset 'fast'"),
    ("optimizer", lambda t, f: [CONTENT, STYLE, "--optimizer", "sgd"], "optimizer must be one of lbfgs, adam"),
    ("device", lambda t, f: [CONTENT, STYLE, "--device", "tpu"], "device must be one of"),
    ("precision", lambda t, f: [CONTENT, STYLE, "--precision", "fp8"], "precision must be one of auto, fp32, bf16"),
    ("bit_depth_jpeg", lambda t, f: [CONTENT, STYLE, "-o", t / "out" / "o.jpg", "--bit-depth", "16"], "8 bits"),
    ("bit_depth_12", lambda t, f: [CONTENT, STYLE, "--bit-depth", "12"], "bit depth must be 8 or 16"),
    ("iterations_negative", lambda t, f: [CONTENT, STYLE, "--iterations", "-1"], "iterations must be >= 0"),
    ("save_every_zero", lambda t, f: [CONTENT, STYLE, "--save-every", "0"], "'--save-every'"),
    (
        "mask_count",
        lambda t, f: [CONTENT, STYLE, "--mask", t / "mask.png", "--mask", t / "mask.png"],
        "2 --mask for 1 style images; give one --mask per style",
    ),
    (
        "style_mask_count",
        lambda t, f: [CONTENT, STYLE, STYLE, "--style-mask", t / "mask.png"],
        "1 --style-mask for 2 style images",
    ),
    ("mask_missing", lambda t, f: [CONTENT, STYLE, "--mask", "nomask.png"], "nomask.png: no such file"),
    ("mask_not_image", lambda t, f: [CONTENT, STYLE, "--mask", t / "notes.jpg"], "notes.jpg: not an image file"),
    ("mask_shape", lambda t, f: [CONTENT, STYLE, "--mask", t / "whole.png"], "is 64x64 px but the content ("),
    ("mask_black", lambda t, f: [CONTENT, STYLE, "--mask", t / "black.png"], "black everywhere"),
    (
        "style_mask_shape",
        lambda t, f: [CONTENT, STYLE, "--style-mask", t / "mask.png"],
        "a mask must have the shape of the image it covers",
    ),
    (
        "style_layer",
        lambda t, f: [CONTENT, STYLE, "--style-layers", "relu1_1,relu9_9"],
        "unknown VGG19 layer 'relu9_9'; 'impasto layers' lists them",
    ),
    ("content_layer", lambda t, f: [CONTENT, STYLE, "--content-layers", "fc7"], "unknown VGG19 layer 'fc7'"),
    (
        "layer_weights_count",
        lambda t, f: [CONTENT, STYLE, "--style-layer-weights", "1,2"],
        "style_layer_weights has 2 values for 5 style layers",
    ),
    ("layer_weights_text", lambda t, f: [CONTENT, STYLE, "--style-layer-weights", "1,x"], "'x' is not a number"),
    ("style_loss", lambda t, f: [CONTENT, STYLE, "--style-loss", "l1"], "style_loss must be one of gram, wasserstein"),
    ("preserve_color", lambda t, f: [CONTENT, STYLE, "--preserve-color", "yes"], "preserve_color must be one of"),
    ("color_transfer", lambda t, f: [CONTENT, STYLE, "--color-transfer", "lab"], "color_transfer must be one of"),
    ("pooling", lambda t, f: [CONTENT, STYLE, "--pooling", "min"], "pooling must be one of max, avg"),
    ("padding", lambda t, f: [CONTENT, STYLE, "--padding", "wrap"], "padding must be one of zeros, reflect"),
]
if not torch.cuda.is_available():
    CASES.append(("no_cuda", lambda t, f: [CONTENT, STYLE, "--device", "cuda"], "'cuda' is not available"))


def _vgg_loads() -> int:
    info = _cached_model.cache_info()
    return info.hits + info.misses


@pytest.mark.parametrize("build, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, build, fragment):
    files = _files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    argv = [str(a) for a in build(tmp_path, files)]
    if "-o" not in argv:
        argv += ["-o", str(out / "result.png")]
    before, loads = sorted(tmp_path.rglob("*")), _vgg_loads()
    result = runner.invoke(app, ["stylize", *argv])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("impasto: error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even a temp file
    assert _vgg_loads() == loads  # rejected before the network was loaded


def _without_root_file_access() -> list[str]:
    """A command prefix under which file modes apply: nothing for a normal user, setpriv for root."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: root reads every file")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", "--inh-caps", caps, "--bounding-set", caps]


def _impasto(*args: object, prefix: list[str]) -> subprocess.CompletedProcess:
    command = [*prefix, sys.executable, "-m", "impasto", "stylize", *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # the real command in a subprocess, which loads torch
@pytest.mark.parametrize("case", ["unreadable_content", "unwritable_folder"])
def test_permission_problems_are_one_line_errors(tmp_path, case):
    prefix = _without_root_file_access()
    locked = tmp_path / "locked"
    locked.mkdir()
    content = _image(tmp_path / "secret.png")
    out = tmp_path / "out.png"
    if case == "unreadable_content":
        content.chmod(0)
        fragment = "secret.png"
    else:
        locked.chmod(0o555)
        out, fragment = locked / "out.png", "is not writable"
    try:
        result = _impasto(content, STYLE, "-o", out, prefix=prefix)
    finally:
        content.chmod(0o644)
        locked.chmod(0o755)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and fragment in lines[0], result.stderr
    assert "not readable" in lines[0] or "permission denied" in lines[0] or "not writable" in lines[0]
    assert not out.exists()
