"""High resolution: wall time and peak memory of print-size runs, and coarse-to-fine against one scale.

    python benchmarks/highres.py run --size 2048 [-- extra impasto options]
    python benchmarks/highres.py compare --size 1024 [--out-dir docs]

run: `impasto stylize tubingen starry_night -o OUT --size N [extra]` as its own process; prints the
wall time and the peak RSS the kernel accounted to it (the whole run: loading, every scale, saving).

compare: the default coarse-to-fine run at --size, then one scale at --size for as many steps as fit
in the same wall time (steps timed in the same process, right after), then quality.py's metrics of
both against the content and the style at --size. Both images go to --out-dir.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from speed import CONTENT, STYLE, timed_run


def run(size: int, extra: list[str], out: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "impasto",
        "stylize",
        str(CONTENT),
        str(STYLE),
        "-o",
        str(out),
        "--size",
        str(size),
        "--force",
        "--quiet",
        *extra,
    ]
    wall, peak = timed_run(command)
    return {
        "size": size,
        "options": " ".join(extra) or "(defaults)",
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
    }


def _render(config) -> tuple[object, list[float]]:
    """The result and the seconds from the start of the render to each step."""
    from impasto import api

    stamps = []
    start = time.perf_counter()
    image = api.render(
        api.prepare(CONTENT, [STYLE], config=config), callback=lambda p: stamps.append(time.perf_counter() - start)
    )
    return image, stamps


def compare(size: int, out_dir: Path) -> list[dict]:
    import quality

    from impasto.config import StyleConfig
    from impasto.io.write import save_image
    from impasto.runtime import tune_allocator

    tune_allocator()
    coarse_config = StyleConfig(size=size)
    coarse, stamps = _render(coarse_config)
    budget = stamps[-1]
    # Time a few single-scale steps at the full size, then run as many as fit in the coarse-to-fine run's time.
    probe = dataclasses.replace(coarse_config, start_size=None, iterations=4)
    _, probe_stamps = _render(probe)
    per_step = (probe_stamps[-1] - probe_stamps[0]) / 3
    steps = max(1, round((budget - probe_stamps[0]) / per_step) + 1)  # the first step pays the setup
    single, single_stamps = _render(dataclasses.replace(probe, iterations=steps))
    rows = []
    for name, image, seconds, config in (
        ("coarse-to-fine (default)", coarse, budget, coarse_config),
        (f"one scale, {steps} steps", single, single_stamps[-1], probe),
    ):
        path = out_dir / f"highres_{size}_{'coarse' if config.start_size else 'single'}.png"
        save_image(image, path)
        scores = quality.evaluate(str(path), str(CONTENT), [str(STYLE)])
        rows.append(
            {
                "run": name,
                "seconds": round(seconds, 1),
                "output": str(path),
                **{k: round(scores[k], 3) for k in ("style_swd", "content_rel", "grain")},
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("run", "compare"))
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []  # impasto options for run, after --
    args = parser.parse_args(argv[: len(argv) - len(extra) - (1 if extra or "--" in argv else 0)])
    with tempfile.TemporaryDirectory() as folder:
        out_dir = args.out_dir or Path(folder)
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.mode == "run":
            rows = [run(args.size, extra, out_dir / f"highres_{args.size}.png")]
        else:
            rows = compare(args.size, out_dir)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
