"""Running one `impasto stylize` job (edge): output checks, the progress bar, saves and interrupts.

Nothing is lost:
- every file is written atomically (io/write.py's write_atomic);
- an existing output or intermediate is never replaced without --force, and an input never is;
- Ctrl-C or SIGTERM saves the current image, to the output when every step ran, else to
  `name.partial.png` (lossless, at the output's bit depth), and exits with 130.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from .checkpoints import stop_softly
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, fail


class _EchoHandler(logging.Handler):
    """Library warnings as `impasto: warning: ...` lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"impasto: {record.levelname.lower()}: {record.getMessage()}", err=True)


def setup_logging(*, quiet: bool, debug: bool) -> None:
    logger = logging.getLogger("impasto")
    for handler in [h for h in logger.handlers if isinstance(h, _EchoHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_EchoHandler())
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False


@dataclass(frozen=True)
class Outputs:
    """Where a run writes: the output, its format and depth, and the intermediate saves."""

    output: Path
    fmt: str
    bit_depth: int
    save_every: int | None
    inputs: tuple[Path, ...]
    force: bool = False

    def saves_at(self, step: int, total: int) -> bool:
        """Whether step `step` of `total` is saved as an intermediate (the last step is the output)."""
        return bool(self.save_every) and step % self.save_every == 0 and step < total

    def intermediate(self, step: int, total: int) -> Path:
        """name.0100.png beside the output; at least 4 digits, more when the total needs them."""
        digits = max(4, len(str(total)))
        return self.output.with_name(f"{self.output.stem}.{step:0{digits}d}{self.output.suffix}")

    def partial(self) -> Path:
        """name.partial.png; without --force, the first of name.partial.1.png ... that is free."""
        for i in range(1000):
            path = self.output.with_name(f"{self.output.stem}.partial{f'.{i}' if i else ''}.png")
            if not _is_one_of(path, self.inputs) and (self.force or not path.exists()):
                return path
        raise ValueError(f"no free name for {self.output.stem}.partial.png")


def _is_one_of(path: Path, others: Sequence[Path]) -> bool:
    resolved = path.resolve()
    for other in others:
        if other.resolve() == resolved:
            return True
        with contextlib.suppress(OSError):
            if path.exists() and other.exists() and os.path.samefile(path, other):
                return True  # a hard link or another spelling of the same file
    return False


def check_outputs(
    output: Path, inputs: Sequence[Path], *, bit_depth: int | None, save_every: int | None, iterations: int, force: bool
) -> Outputs:
    """Check every path the run will write, before any heavy work; ValueError names the problem."""
    from ..io.write import output_format, probe_writable

    output = output.expanduser()
    inputs = tuple(p.expanduser() for p in inputs)
    folder = output.parent
    limit = _name_max(folder)
    longest = (
        f"{output.stem}.partial.99.png" if save_every is None else f"{output.stem}.{iterations:04d}{output.suffix}"
    )
    if len(os.fsencode(max(output.name, longest, key=len))) > limit:
        raise ValueError(f"{output.name}: the file name is too long for this folder (at most {limit} bytes)")
    if output.is_dir():
        raise ValueError(f"{output} is a directory; give a file name such as {output / 'out.png'}")
    fmt, depth = output_format(output, bit_depth)
    if not folder.exists():
        raise ValueError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"output folder {folder} is not a folder")
    probe_writable(folder)
    outputs = Outputs(output, fmt, depth, save_every, inputs, force)
    # The intermediates that would clash are found by listing the folder once, not by testing
    # every step's name (a long run with --save-every 1 has a million of them).
    candidates = [output]
    if save_every:
        stem, suffix = output.stem, output.suffix
        for entry in os.scandir(folder):
            middle = entry.name[len(stem) + 1 : len(entry.name) - len(suffix)]
            if (
                entry.name.startswith(stem + ".")
                and entry.name.endswith(suffix)
                and middle.isdigit()
                and outputs.saves_at(int(middle), iterations)
                and outputs.intermediate(int(middle), iterations).name == entry.name
            ):
                candidates.append(folder / entry.name)
    for path in candidates:
        if _is_one_of(path, inputs):
            raise ValueError(f"{path} is one of the inputs; choose another output path")
        if path.exists() and not force:
            raise ValueError(f"{path} exists; pass --force to overwrite it")
    return outputs


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such folder (reported next), or not POSIX
        return 255


@contextlib.contextmanager
def _signals(handler: object) -> Iterator[None]:
    """SIGINT and SIGTERM go to `handler` inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


_WORK = 10_000  # the bar's total: the run's work in ten-thousandths


def execute(run, schedule, outputs: Outputs, *, quiet: bool, debug: bool, checkpoints=None) -> int:
    """Run a prepared job (schedule: api.scales(run)) with a progress bar; save the result. Returns the exit code.

    checkpoints: cli/checkpoints.py's plan, to save the run's state as it goes and resume from it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..api import render
    from ..engine.loop import NonFiniteLossError
    from ..io.write import save_image

    console = Console(stderr=True, quiet=quiet)
    if not console.is_terminal:
        console.width = max(console.width, 132)  # logs: one full line rather than a wrapped bar
    start = time.perf_counter()
    last: list = []  # the last Progress: its image is the live iterate, the "current image"
    # The bar and the ETA count work, not steps: a step costs in proportion to its scale's pixels.
    columns = (
        TextColumn("[bold]stylizing"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[where]}"),
        TextColumn("{task.fields[terms]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    began: dict[int, tuple[int, float]] = {}  # scale -> (steps, seconds) before its first step

    def on_step(p) -> None:
        began.setdefault(p.scale, (p.step - 1, last[0].elapsed if last else 0.0))
        last[:] = [p]
        steps, seconds = p.step - began[p.scale][0], p.elapsed - began[p.scale][1]
        where = f"step {p.step}/{p.total}"
        if p.scale_count > 1:
            where = f"scale {p.scale}/{p.scale_count} {p.width}x{p.height} " + where
        terms = f"loss {p.loss:.3g} = content {p.content_loss:.3g} + style {p.style_loss:.3g}"
        bar.update(
            task,
            completed=p.done * _WORK,
            where=where,
            terms=terms
            + (f" + tv {p.tv_loss:.3g}" if p.tv_loss else "")
            + (f" + temporal {p.temporal_loss:.3g}" if p.temporal_loss else ""),
            rate=f"{seconds / steps:.2f} s/it",
        )
        if outputs.saves_at(p.step, p.total):
            save_image(p.image, outputs.intermediate(p.step, p.total), bit_depth=outputs.bit_depth)

    checkpointer = checkpoints.checkpointer() if checkpoints is not None else None
    handler = _raise_interrupt if checkpointer is None else stop_softly(checkpointer)
    with _signals(handler), Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("stylize", total=_WORK, where="", terms="", rate="")
        try:
            resume = checkpoints.resume if checkpoints is not None else None
            result = render(run, callback=on_step, schedule=schedule, checkpointer=checkpointer, resume=resume)
        except KeyboardInterrupt:
            bar.stop()
            final = schedule[-1][0]
            code = _save_interrupted(last[0] if last else None, outputs, console, (final.width, final.height), run)
            if checkpointer is not None and checkpoints.path.exists():
                console.print(
                    f"the run's state is in {checkpoints.path}: the same command with --resume continues it",
                    soft_wrap=True,
                )
            return code
        except NonFiniteLossError as err:
            bar.stop()
            fail(str(err), EXIT_INTERNAL)
        except Exception as err:
            bar.stop()
            if debug:
                raise
            fail(_internal_message(err), EXIT_INTERNAL)
    try:
        _save_uninterrupted(result, outputs.output, outputs)  # the result is done: a late Ctrl-C must not lose it
    except OSError as err:
        rescue = _rescue(result, outputs)
        fail(f"cannot write {outputs.output} ({err.strerror or err}){rescue}", EXIT_INTERNAL)
    if checkpoints is not None:
        checkpoints.path.unlink(missing_ok=True)  # the run is done: nothing left to resume
    width, height = result.shape[-1], result.shape[-2]
    console.print(
        f"wrote {outputs.output} ({width}x{height}, {outputs.bit_depth}-bit {outputs.fmt}) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def dry_run(run, schedule, *, debug: bool) -> int:
    """`--dry-run`: the scales and their calibrated times. Returns the exit code."""
    from .dry_run import print_dry_run

    try:
        return print_dry_run(run, schedule)
    except Exception as err:  # the calibration is a real run: it can fail like one
        if debug:
            raise
        fail(_internal_message(err), EXIT_INTERNAL)


def _save_uninterrupted(image, path: Path, outputs: Outputs) -> None:
    """Save at the output's bit depth with SIGINT and SIGTERM ignored, so no Ctrl-C cuts it short."""
    from ..io.write import save_image

    with _signals(signal.SIG_IGN):
        save_image(image, path, bit_depth=outputs.bit_depth)


def _rescue(image, outputs: Outputs) -> str:
    """After a failed final write: save it to the cache folder's rescued/ (the output's folder
    failed already), as a lossless PNG at the output's bit depth. Returns a note for the error line."""
    from ..io.write import rescue_path

    try:
        path = rescue_path(outputs.output)
        _save_uninterrupted(image, path, outputs)
    except (OSError, ValueError) as err:
        return f"; the result could not be saved elsewhere either ({getattr(err, 'strerror', None) or err})"
    return f"; the result was saved to {path}"


def _save_interrupted(progress, outputs: Outputs, console, size: tuple[int, int], run) -> int:
    """Save the current image; one caught at a lower scale is upsampled to the output's size, so
    that the partial file can be used (or passed to --init) like the output it stands for."""
    if progress is None:
        console.print("interrupted before the first step; nothing written")
        return EXIT_INTERRUPTED
    image = progress.image
    if not bool(image.isfinite().all()):
        console.print(f"interrupted at step {progress.step}; the current image is not finite, nothing written")
        return EXIT_INTERRUPTED
    note = ""
    if (image.shape[-1], image.shape[-2]) != size:
        from ..api import upscale

        note = f" (scale {progress.scale}/{progress.scale_count}, {image.shape[-1]}x{image.shape[-2]}, upsampled)"
        image = upscale(run, image, size)
    complete = progress.step == progress.total
    path = outputs.output if complete else outputs.partial()
    _save_uninterrupted(image, path, outputs)  # a second Ctrl-C must not cut this save short
    console.print(f"interrupted at step {progress.step}/{progress.total}{note}; wrote the current image to {path}")
    return EXIT_INTERRUPTED


def _internal_message(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, MemoryError) or "out of memory" in text.lower() or "can't allocate memory" in text:
        return f"out of memory ({type(err).__name__}); try a smaller --size"
    return f"internal error: {type(err).__name__}: {text} (run with --debug for the traceback)"
