"""Regenerate the option tables of docs/cli.md (`impasto stylize`, whose options come from
StyleConfig's fields) and docs/video.md (`impasto video`'s own and its Video group):
python docs/options.py. tests/cli/test_options.py checks they are current."""

from pathlib import Path

import typer

from impasto.cli.app import app
from impasto.cli.options import option_table

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- options:begin -->\n", "<!-- options:end -->"
VIDEO_GROUPS = ("Output", "Video")
commands = typer.main.get_command(app).commands
for name, table in (
    ("cli.md", option_table(commands["stylize"])),
    ("video.md", option_table(commands["video"], VIDEO_GROUPS)),
):
    path = HERE / name
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    path.write_text(head + BEGIN + table + END + rest.split(END, 1)[1], encoding="utf-8")
    print(f"wrote the option table of {path}")
