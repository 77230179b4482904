"""`impasto stylize --dry-run` and --max-memory: the plan of scales, tiles and time, and what it may use."""

import pytest
from typer.testing import CliRunner

from impasto.cli.app import app


@pytest.mark.slow  # the time per scale comes from a real calibration run (api.calibrate)
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
    for scale in ("256x192", "362x272", "512x384", "724x543", "1024x768", "1448x1086", "2048x1536", "4096x3072"):
        assert scale in text
    assert "9/9" in text and "tiles of" in text and "GiB" in text and "min" in text
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


def test_dry_run_shows_the_default_plan_its_budgets_and_stopping_rule(tmp_path, content_path, style_path, monkeypatch):
    """The plan alone, fast: the calibration (a real run, timed in the slow test above) is fixed."""
    import impasto.api
    from impasto.config import StyleConfig
    from impasto.engine.schedule import scales_for

    monkeypatch.setattr(impasto.api, "calibrate", lambda run, **_: 1e-6)
    out = tmp_path / "print.png"
    args = ["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "2048", "--dry-run"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    expected = scales_for(1024, 768, StyleConfig(size=2048))
    assert len(expected) == 7 and f"{len(expected)}/{len(expected)}" in text
    for scale in expected:
        row = next(line for line in text.splitlines() if f"{scale.width}x{scale.height}" in line)
        assert f" {scale.iterations} " in row
    assert "steps, at most" in text and "stops early once its loss improves by less than 0.001" in text
    total = sum(s.iterations for s in expected)
    assert f"total: {total} steps, at most" in text
    assert not out.exists()
    # A preset without the rule shows plain step counts and an estimate, not a bound.
    fixed = CliRunner().invoke(app, [*args, "--preset", "subtle"], env={"COLUMNS": "160"})
    assert fixed.exit_code == 0 and "at most" not in fixed.stdout and "total: 390 steps, about" in fixed.stdout
