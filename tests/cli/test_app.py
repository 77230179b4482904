"""The `impasto` command itself and its small commands: help, layers, info."""

from __future__ import annotations

import platform

import PIL
import torch
import typer
from typer.testing import CliRunner

import impasto
from impasto.cli.app import app
from impasto.nst.layers import LAYER_NAMES
from impasto.nst.vgg import WEIGHTS_SHA256, default_weights_path

runner = CliRunner()


def test_top_level_help_lists_the_commands():
    commands = typer.main.get_command(app).commands
    assert {"stylize", "serve", "layers", "info"} <= set(commands)
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert top.exit_code == 0
    words = top.output.replace("│", " ").split()
    assert all(name in words for name in commands), (sorted(commands), top.output)


def test_unknown_command_is_one_line():
    result = runner.invoke(app, ["paint"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "paint" in lines[0], result.stderr


def test_layers_lists_vgg19_names():
    result = runner.invoke(app, ["layers"])
    assert result.exit_code == 0
    words = result.output.replace(",", " ").split()
    assert [w for w in words if w in LAYER_NAMES] == list(LAYER_NAMES)  # all 37, in the network's order


def test_info_reports_versions_devices_weights_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["info"], env={"COLUMNS": "250"}, terminal_width=250)
    assert result.exit_code == 0, result.output
    text = result.output
    for version in (impasto.__version__, platform.python_version(), torch.__version__, PIL.__version__):
        assert version in text, version
    assert all(f"{device}:" in text for device in ("cpu", "cuda", "mps"))
    assert str(default_weights_path()) in text and f"{WEIGHTS_SHA256} (verified)" in text
    assert str(tmp_path / "cache") in text and not (tmp_path / "cache").exists()
