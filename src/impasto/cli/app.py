"""The `impasto` command (edge): the typer app and its commands, one module each (stylize, serve,
info, layers, batch, video), and the console script. Exit codes (errors.py): 0 done, 2 bad input or options,
130 interrupted (Ctrl-C, SIGTERM), 1 internal error.
"""

from __future__ import annotations

import signal
import sys

import typer

from .batch import ContentsFirst, batch
from .errors import EXIT_INTERRUPTED, OneLineErrors
from .info import info
from .layers import layers
from .serve import serve
from .stylize import stylize
from .video import video

app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="Paint a photograph in the style of paintings (neural style transfer, Gatys et al.).",
)


app.command(no_args_is_help=True)(stylize)
app.command()(serve)
app.command(cls=ContentsFirst, no_args_is_help=True)(batch)
app.command(no_args_is_help=True)(video)


app.command()(layers)
app.command()(info)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    """The console script: SIGTERM is treated like Ctrl-C from the very start, both exit with 130."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("impasto: interrupted; nothing written", err=True)
        sys.exit(EXIT_INTERRUPTED)
