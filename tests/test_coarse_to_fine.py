"""Real coarse-to-fine runs: the ladder, progress across scales, the average, Adam's warm start."""

import pytest
import torch
from typer.testing import CliRunner

from impasto import api
from impasto.cli.app import app
from impasto.config import StyleConfig
from impasto.engine.loop import Progress

pytestmark = pytest.mark.slow


def _render(content_path, style_path, **options):
    seen: list[Progress] = []
    config = StyleConfig(size=128, start_size=64, iterations=6, scale_iterations=4, **options)
    image = api.render(api.prepare(content_path, [style_path], config=config), callback=seen.append)
    return image, seen


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.02)])
def test_ladder_run_reports_every_scale_and_ends_at_the_target(content_path, style_path, optimizer, lr):
    image, seen = _render(content_path, style_path, optimizer=optimizer, learning_rate=lr, ema_decay=0.8)
    assert image.shape == (1, 3, 96, 128) and 0 <= image.min() and image.max() <= 1
    assert [p.step for p in seen] == list(range(1, 6 + 4 + 4 + 1)) and {p.total for p in seen} == {14}
    assert [(p.scale, p.width, p.height) for p in seen] == [(1, 64, 48)] * 6 + [(2, 91, 68)] * 4 + [(3, 128, 96)] * 4
    assert {p.scale_count for p in seen} == {3}
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(1.0)
    assert all(p.image.shape[-2:] == (p.height, p.width) for p in seen)
    torch.testing.assert_close(seen[-1].image, image)  # the average is the result


def test_average_off_returns_the_last_iterate(content_path, style_path):
    image, seen = _render(content_path, style_path, ema_decay=0.0)
    torch.testing.assert_close(seen[-1].image, image)
    averaged, _ = _render(content_path, style_path, ema_decay=0.9)
    assert float((averaged - image).abs().mean()) > 1e-4  # the average is another image


def test_loss_falls_at_each_scale(content_path, style_path):
    _, seen = _render(content_path, style_path)
    for scale in (1, 2, 3):
        losses = [p.loss for p in seen if p.scale == scale]
        assert losses[-1] < losses[0]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, content_path, style_path):
    out = tmp_path / "big.png"
    result = CliRunner().invoke(
        app,
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(out),
            "--size",
            "4096",
            "--max-memory",
            "6G",
            "--dry-run",
        ],
        env={"COLUMNS": "140"},
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    for rung in ("512x384", "724x543", "1024x768", "1448x1086", "2048x1536", "2896x2172", "4096x3072"):
        assert rung in text
    assert "7/7" in text and "tiles of" in text and "GiB" in text and "min" in text
    assert "budget 6.00 GiB" in text and "µs per pixel-step" in text
    assert not out.exists()
    too_small = CliRunner().invoke(
        app,
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(out),
            "--size",
            "8192",
            "--max-memory",
            "300M",
            "--dry-run",
        ],
    )
    assert too_small.exit_code == 2 and "even in 256-px tiles" in too_small.stderr
    assert len(too_small.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6G", 6 << 30),
        ("6GiB", 6 << 30),
        ("6gb", 6 << 30),
        ("512M", 512 << 20),
        ("6.5g", int(6.5 * (1 << 30))),
        ("6", 6 << 30),
        (" 2 t", 2 << 40),
    ],
)
def test_max_memory_sizes(text, expected):
    from impasto.cli.options import memory_size

    assert memory_size(text) == expected


@pytest.mark.parametrize("text", ["6ib", "lots", "-1G", "0", "6X", "1e400G"])
def test_bad_max_memory_is_one_line(tmp_path, content_path, style_path, text):
    result = CliRunner().invoke(
        app, ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--max-memory", text]
    )
    assert result.exit_code == 2 and "--max-memory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_interrupt_at_a_lower_scale_saves_at_the_output_size(tmp_path, content_path, style_path):
    from PIL import Image
    from rich.console import Console

    from impasto import api
    from impasto.cli.run import EXIT_INTERRUPTED, Outputs, _save_interrupted
    from impasto.io.read import load_tensor, to_tensor
    from impasto.nst.color import rgb_to_yiq

    plan = Outputs(tmp_path / "out.png", "PNG", 8, None, (content_path, style_path))
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
    assert _save_interrupted(low, plan, console, (128, 96), run) == EXIT_INTERRUPTED
    assert Image.open(tmp_path / "out.partial.png").size == (128, 96)
    assert not (tmp_path / "out.png").exists()
    # In luminance mode the chroma is the photo's own at the output size, not the low scale's, upsampled.
    grey = api.prepare(content_path, [style_path], config=StyleConfig(size=128, preserve_color="luminance"))
    assert _save_interrupted(low, plan, console, (128, 96), grey) == EXIT_INTERRUPTED
    saved = to_tensor(Image.open(tmp_path / "out.partial.1.png"))
    chroma_error = (rgb_to_yiq(saved)[:, 1:] - rgb_to_yiq(load_tensor(content_path, 128))[:, 1:]).abs().mean()
    assert float(chroma_error) < 2 / 255
