"""Regenerate the option table of docs/cli.md from `impasto stylize` (whose options come from
StyleConfig's fields): python docs/options.py. tests/cli/test_options.py checks it is current."""

from pathlib import Path

import typer

from impasto.cli.app import app
from impasto.cli.options import option_table

DOCS = Path(__file__).resolve().parent / "cli.md"
BEGIN, END = "<!-- options:begin -->\n", "<!-- options:end -->"

text = DOCS.read_text(encoding="utf-8")
head, rest = text.split(BEGIN, 1)
table = option_table(typer.main.get_command(app).commands["stylize"])
DOCS.write_text(head + BEGIN + table + END + rest.split(END, 1)[1], encoding="utf-8")
print(f"wrote the option table of {DOCS}")
