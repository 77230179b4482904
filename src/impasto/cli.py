"""The `impasto` command (edge): typer for the options, rich for progress, one-line errors.

It builds a `StyleConfig` from the options it was given and calls the API; defaults live only in
config.py (an option left out is not passed on).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Neural style transfer at print resolution.")

EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    typer.echo(f"impasto: error: {message}", err=True)
    raise typer.Exit(code)


def _overrides(**options: object) -> dict[str, object]:
    """Only the options the user gave: the config's own defaults stay the single source."""
    return {k: v for k, v in options.items() if v is not None}


@app.command()
def stylize(
    content: Path = typer.Argument(..., help="The photograph to paint."),
    styles: list[Path] = typer.Argument(..., help="One or more style images (paintings)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the result (.png, .jpg, ...)."),
    preset: str = typer.Option("default", help="Starting point for every option: default or gatys2015."),
    size: int | None = typer.Option(None, help="Longest side of the output, in pixels."),
    iterations: int | None = typer.Option(None, help="Loss evaluations (forward + backward passes)."),
    seed: int | None = typer.Option(None, help="Seed for noise init."),
    init: str | None = typer.Option(None, help="content, noise, or an image path."),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or mps."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
) -> None:
    """Paint CONTENT in the style of STYLE... and write the result to -o OUTPUT."""
    from .config import StyleConfig

    output = output.expanduser()
    if output.exists() and not force:
        _fail(f"{output} exists; pass --force to overwrite it")
    if any(output.resolve() == p.expanduser().resolve() for p in (content, *styles)):
        _fail(f"{output} is one of the inputs; choose another output path")
    try:
        config = StyleConfig.preset(preset, **_overrides(size=size, iterations=iterations, seed=seed, init=init,
                                                         device=device))
    except (TypeError, ValueError) as err:
        _fail(str(err))
    _run(content, styles, output, config, quiet=quiet)


def _run(content: Path, styles: list[Path], output: Path, config, *, quiet: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .api import stylize as run_stylize
    from .image import save_image
    from .optimize import NonFiniteLossError

    console = Console(stderr=True, quiet=quiet)
    start = time.perf_counter()
    columns = (TextColumn("[bold]stylizing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[terms]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("stylize", total=config.iterations, terms="")

        def on_step(p) -> None:
            rate = p.step / p.elapsed if p.elapsed else 0.0
            bar.update(task, completed=p.step, terms=f"loss {p.loss:.4g} (content {p.content_loss:.3g}, "
                                                      f"style {p.style_loss:.3g}) {rate:.2f} it/s")

        try:
            image = run_stylize(content, [*styles], config=config, callback=on_step)
        except ValueError as err:
            _fail(str(err))
        except NonFiniteLossError as err:
            _fail(str(err), code=1)
    save_image(image, output)
    console.print(f"wrote {output} ({image.width}x{image.height}) in {time.perf_counter() - start:.1f} s")


@app.command()
def layers() -> None:
    """List the VGG19 layer names that losses can use."""
    from .vgg import LAYER_NAMES

    typer.echo("\n".join(LAYER_NAMES))


def main() -> None:
    app()
