"""The `impasto` command, run in-process with real files."""

import pytest
from PIL import Image
from typer.testing import CliRunner

from impasto.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_stylize_writes_the_output(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["stylize", str(content_path), str(style_path), "-o", str(out),
                                 "--size", "48", "--iterations", "3"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (48, 36)
    assert "wrote" in result.output
    again = runner.invoke(app, ["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "48"])
    assert again.exit_code == 2 and "exists; pass --force" in again.output
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_output_may_not_be_an_input(tmp_path, style_path):
    content = tmp_path / "c.png"
    Image.new("RGB", (40, 30), "white").save(content)
    result = runner.invoke(app, ["stylize", str(content), str(style_path), "-o", str(content), "--force"])
    assert result.exit_code == 2 and "is one of the inputs" in result.output


@pytest.mark.parametrize("args, message", [
    (["--size", "4"], "size must be >= 16"),
    (["--preset", "fast"], "unknown preset"),
    (["--device", "tpu"], "device must be one of"),
])
def test_bad_options_are_one_line_errors(tmp_path, content_path, style_path, args, message):
    result = runner.invoke(app, ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_missing_content_is_a_one_line_error(tmp_path, style_path):
    result = runner.invoke(app, ["stylize", str(tmp_path / "nope.jpg"), str(style_path), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "o.png").exists()


def test_layers_lists_vgg19_names():
    result = runner.invoke(app, ["layers"])
    assert result.exit_code == 0 and "relu4_2" in result.output.split()
