"""Errors of the `impasto` command (edge): exit codes, one-line messages, and the click group that
turns usage errors into one line on stderr and exit code 2 instead of a box or a traceback."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `impasto: error: message` on stderr and exit with `code`."""
    typer.echo(f"impasto: error: {message}", err=True)
    raise typer.Exit(code)


class OneLineErrors(TyperGroup):
    """Usage errors (bad option values, missing arguments) as one line on stderr and exit code 2."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # `impasto` alone: the help, as usual
            err.show()
            sys.exit(err.exit_code)
        except UsageError as err:
            command = err.ctx.command_path if err.ctx else "impasto"
            typer.echo(f"impasto: error: {err.format_message()} (see '{command} --help')", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except ClickException as err:
            typer.echo(f"impasto: error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        sys.exit(code if isinstance(code, int) else 0)
