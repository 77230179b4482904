"""`impasto batch`'s screen (edge): the plan of --dry-run, the progress while it runs, the report."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED


def _console(quiet: bool = False) -> Console:
    console = Console(stderr=True, quiet=quiet)
    if not console.is_terminal:
        console.width = max(console.width, 132)
    return console


def print_plan(jobs, outdir: Path, settings) -> int:
    """--dry-run: every job, run or skipped, and the estimated time (timed by a few real steps)."""
    from ..api import calibrate, prepare, scales
    from ..batch import plan
    from ..engine.memory import step_cost

    console = Console(width=None if Console().is_terminal else 132)
    todo, skipped, _ = plan(jobs, outdir, force=settings.force, bit_depth=settings.bit_depth)
    table = Table(title=f"impasto batch plan: {len(todo)} to run, {len(skipped)} already done", title_justify="left")
    for column in ("output", "content", "style", "what"):
        table.add_column(column)
    run_keys = {key for _, key in todo}
    for job, key in [*todo, *((r.job, r.key) for r in skipped)]:
        what = "run" if key in run_keys else "skip (recorded)"
        table.add_row(str(job.output), str(job.content), " + ".join(map(str, job.styles)), what)
    console.print(table)
    if todo:
        runs = [prepare(job.content, list(job.styles), config=job.config()) for job, _ in todo]
        seconds_per_px = calibrate(runs[0])
        work = sum(s.iterations * step_cost(s, f) for run in runs for s, f in scales(run))
        workers = settings.workers or max(1, (os.cpu_count() or 1) // settings.cpus_per_job)
        seconds = work * seconds_per_px / min(workers, len(todo))
        took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        console.print(
            f"estimated {took} with {workers} worker(s) at {settings.cpus_per_job} thread(s) each "
            "on this machine (a bound: scales that settle stop early); nothing was run"
        )
    return 0


def _describe(job, info) -> str:
    where = f"{info.get('node', '')} try {info.get('attempt', 1)}"
    if "step" in info and info.get("total"):
        where += f" · scale {info.get('scale', 1)}/{info.get('scales', 1)} step {info['step']}/{info['total']}"
    return f"  {job.output} [dim]{where}[/dim]"


def execute(jobs, outdir: Path, settings, *, quiet: bool, debug: bool) -> int:
    """Run with a progress bar and a line per running job; print the report. Returns the exit code."""
    from ..batch import Interrupted, run

    console = _console(quiet)
    start = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(), TimeRemainingColumn())
    interrupted = False
    with Progress(*columns, console=console, transient=True, refresh_per_second=2) as bar:
        overall = bar.add_task("[bold]batch", total=len(jobs))
        lines: dict[str, int] = {}

        def on_status(status) -> None:
            finished = len(status.results)
            bar.update(overall, completed=finished)
            for key in [k for k in lines if k not in status.running]:
                bar.remove_task(lines.pop(key))
            for key, (job, info) in status.running.items():
                if key not in lines:
                    lines[key] = bar.add_task("", total=1.0)
                bar.update(lines[key], description=_describe(job, info), completed=info.get("done", 0.0))

        try:
            results = run(jobs, outdir, settings, callback=on_status)
        except Interrupted as stop:
            results, interrupted = stop.results, True
        except ValueError as err:  # another driver holds OUTDIR, a node runs another version
            bar.stop()
            from .errors import fail

            fail(str(err))
    _report(results, len(jobs), time.monotonic() - start, interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL if any(r.status == "failed" for r in results) else 0


def _report(results, total: int, seconds: float, interrupted: bool) -> None:
    console = _console()
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed", "interrupted")}
    table = Table(title="impasto batch report", title_justify="left")
    for column in ("output", "status", "why / where"):
        table.add_column(column)
    for r in results:
        if r.status != "done" and r.status != "skipped":
            table.add_row(str(r.job.output), r.status, r.reason)
    if table.row_count:
        console.print(table)
    rate = counts["done"] / (seconds / 60) if seconds > 0 else 0.0
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("done", "failed"))
    console.print(f"{summary} of {total} in {seconds:.1f} s ({rate:.1f} jobs/min); record: batch.jsonl", soft_wrap=True)
    if interrupted:
        console.print("interrupted: the same command finishes the rest", soft_wrap=True)
