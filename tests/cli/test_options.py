"""StyleConfig's fields are the options of `impasto stylize`: one declaration (config.py) gives the
option, its validation and its line in docs/cli.md. A new field that is neither an option nor
listed as API-only with a reason fails here."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from impasto.cli.app import app
from impasto.cli.options import API_ONLY, SPELLINGS, option_table
from impasto.config import StyleConfig
from impasto.fields import choices, is_tuple, number_kind

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
VIDEO_DOCS = DOCS.with_name("video.md")
FIELDS = {f.name: f for f in dataclasses.fields(StyleConfig)}
runner = CliRunner()


def _command(name: str = "stylize"):
    return typer.main.get_command(app).commands[name]


def _options(name: str = "stylize"):
    return {p.name: p for p in _command(name).params if p.param_type_name == "option"}


def _documented_table(path: Path = DOCS) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split("<!-- options:begin -->\n", 1)[1].split("<!-- options:end -->", 1)[0]


def test_every_field_is_an_option_or_api_only_with_a_reason():
    options, video = _options(), _options("video")
    for name, field in FIELDS.items():
        if name in API_ONLY:
            assert len(API_ONLY[name]) > 20, f"{name}: say why it is API-only"
            assert name not in options, f"{name} is listed as API-only but is an option"
            continue
        if field.metadata["group"] == "Video":  # impasto video's own: not offered by stylize or batch
            assert name not in options and name in video, name
            assert video[name].rich_help_panel == "Video"
            continue
        assert name in video, f"{name} is a stylize option but not a video one"
        assert name in options, f"{name} is neither an `impasto stylize` option nor in API_ONLY"
        assert options[name].rich_help_panel == field.metadata["group"]
        assert field.metadata["help"] in options[name].help or SPELLINGS[name].help in options[name].help
    assert set(API_ONLY) <= set(FIELDS) and set(SPELLINGS) <= set(FIELDS)


def test_the_help_lists_every_option_and_its_default():
    result = runner.invoke(app, ["stylize", "--help"], env={"COLUMNS": "250"}, terminal_width=250)
    assert result.exit_code == 0
    for param in _options().values():
        for flag in param.opts:
            assert re.search(rf"{re.escape(flag)}\b", result.output), flag
    assert "[default: 512]" in result.output and "[default: lbfgs]" in result.output


def test_docs_option_table_is_the_generated_one():
    # Refresh with: python docs/options.py
    assert _documented_table() == option_table(_command())
    for name, field in FIELDS.items():
        if name not in API_ONLY and field.metadata["group"] != "Video":
            assert _options()[name].opts[0] in _documented_table(), name
    video = _documented_table(VIDEO_DOCS)
    assert video == option_table(_command("video"), ("Output", "Video"))
    for name, field in FIELDS.items():
        if field.metadata["group"] == "Video":
            assert _options("video")[name].opts[0] in video, name


def _below_minimum(name: str):
    meta, kind = FIELDS[name].metadata, number_kind(StyleConfig, name)
    low = meta["minimum"] if meta["strict"] else (meta["minimum"] - 1 if kind is int else meta["minimum"] - 1e-3)
    # a tuple as long as the style layers, so that only its items are wrong
    return (low,) * len(StyleConfig().style_layers) if is_tuple(StyleConfig, name) else low


@pytest.mark.parametrize("name", [n for n, f in FIELDS.items() if f.metadata["minimum"] is not None])
def test_validation_reads_each_fields_bounds(name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        StyleConfig(**{name: _below_minimum(name)})
    if FIELDS[name].metadata["maximum"] < math.inf:
        above = FIELDS[name].metadata["maximum"] + 1
        with pytest.raises(ValueError, match=rf"^{name} must be <="):
            StyleConfig(**{name: above})


@pytest.mark.parametrize("name", [n for n in FIELDS if choices(StyleConfig, n)])
def test_validation_reads_each_fields_choices(name):
    with pytest.raises(ValueError, match=rf"^{name} must be one of {', '.join(choices(StyleConfig, name))}; got"):
        StyleConfig(**{name: "bogus"})
    for value in choices(StyleConfig, name):
        if name == "style_layer_weighting" and value == "paper":
            continue  # valid only with the Gram loss, checked across fields
        assert getattr(StyleConfig(**{name: value}), name) == value


@pytest.mark.parametrize("name", [n for n in FIELDS if choices(StyleConfig, n) and n not in API_ONLY])
def test_the_command_line_refuses_a_bad_choice_in_one_line(name, tmp_path):
    command = "video" if FIELDS[name].metadata["group"] == "Video" else "stylize"
    flag = _options(command)[name].opts[0]
    result = runner.invoke(app, [command, "a.jpg", "b.jpg", "-o", str(tmp_path / "o.mp4"), flag, "bogus"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and f"{name} must be one of" in lines[0], result.stderr
