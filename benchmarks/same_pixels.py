"""Do seeded fp32 runs give the same pixels as at another commit? (A refactoring's acceptance check.)

    python benchmarks/same_pixels.py REV [--only NAME ...]

Checks REV out into a temporary git worktree and runs the same small seeded fp32 jobs with its code
and with this tree's, each in its own process: the CLI writes a PNG, the API returns the float
image. Prints, per job, the largest float difference and whether the decoded PNG pixels are equal;
exits 1 when any job differs. Jobs: one scale, three scales, Adam, masks with two styles, tiles,
tiles with content_weight 3, the gatys2015 preset, luminance with the Wasserstein loss. About 8
minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COMMON = {"precision": "fp32", "device": "cpu", "seed": 3, "iterations": 30, "scale_iterations": 15}
JOBS: dict[str, dict] = {
    "one scale": {"size": 128, "start_size": 128},
    "three scales": {"size": 256, "start_size": 128},
    "adam": {"size": 128, "start_size": 128, "optimizer": "adam", "learning_rate": 0.02},
    "adam, scales": {"size": 256, "start_size": 128, "optimizer": "adam", "learning_rate": 0.02},
    "masks, two styles": {"size": 128, "start_size": 128},
    "tiled": {"size": 256, "start_size": 128, "tile_size": 128},
    "tiled, content 3": {"size": 256, "start_size": 128, "tile_size": 128, "content_weight": 3.0},
    "gatys2015, tiled": {"preset": "gatys2015", "size": 160, "start_size": 160, "iterations": 20, "tile_size": 64},
    "luminance, W2": {"size": 128, "start_size": 96, "preserve_color": "luminance", "style_loss": "wasserstein"},
}

# Runs inside a process whose PYTHONPATH points at one tree's src/: only names both trees have.
_JOB = """
import sys, json, subprocess, torch
from impasto.api import prepare, render
from impasto.config import StyleConfig
options, content, styles, masks, out = json.loads(sys.argv[1])
preset = options.pop("preset", "default")
config = StyleConfig.preset(preset, **options)
torch.save(render(prepare(content, styles, config=config, masks=masks)).cpu(), out + ".pt")
flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()] + ["--preset", preset]
flags += [f"--mask={m}" for m in masks or []]
subprocess.run([sys.executable, "-m", "impasto", "stylize", content, *styles, "-o", out + ".png", "-q", "--force",
                *flags], check=True)
"""


def _masks(folder: Path) -> list[str]:
    width, height = Image.open(EXAMPLES / "tubingen.jpg").size
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 2] = 255
    paths = [folder / "left.png", folder / "right.png"]
    Image.fromarray(left).save(paths[0])
    Image.fromarray(255 - left).save(paths[1])
    return [str(p) for p in paths]


def _run(src: Path, name: str, folder: Path, masks: list[str]) -> tuple[torch.Tensor, np.ndarray]:
    import json

    two = name.startswith("masks")
    styles = [str(EXAMPLES / "starry_night.jpg")] + ([str(EXAMPLES / "the_scream.jpg")] if two else [])
    out = str(folder / name.replace(" ", "_").replace(",", ""))
    job = [{**COMMON, **JOBS[name]}, str(EXAMPLES / "tubingen.jpg"), styles, masks if two else None, out]
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", _JOB, json.dumps(job)], check=True, env=env, cwd=folder)
    return torch.load(out + ".pt"), np.asarray(Image.open(out + ".png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the commit to compare with, e.g. HEAD~3 or a hash")
    parser.add_argument("--only", action="append", choices=list(JOBS), help="a job to run, repeatable (default: all)")
    args = parser.parse_args(argv)
    names = args.only or list(JOBS)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tmp / "old"), args.rev],
            check=True,
            capture_output=True,
        )
        try:
            masks = _masks(tmp)
            print(f"{args.rev} against this tree, seeded fp32 runs:\n")
            print("| job | max float difference | PNG pixels equal |\n| --- | --- | --- |")
            same = True
            for name in names:
                (tmp / "a").mkdir(exist_ok=True)
                (tmp / "b").mkdir(exist_ok=True)
                old_float, old_png = _run(tmp / "old" / "src", name, tmp / "a", masks)
                new_float, new_png = _run(ROOT / "src", name, tmp / "b", masks)
                diff = float((old_float - new_float).abs().max())
                equal = bool(np.array_equal(old_png, new_png))
                same &= equal and diff == 0
                print(f"| {name} | {diff:.3g} | {equal} |", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "old")], check=False)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
