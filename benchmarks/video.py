"""`make bench-video`: `impasto video` against stylizing every frame on its own, on synthetic clips.

    python benchmarks/video.py [--size 256] [--frames 12] [--style examples/starry_night.jpg]
        [--clips pan_zoom,still] [--gammas 0,30,100,300] [--video-args "..."] [--json OUT.json]
        [--strip OUT.png] [--out DIR]

The clips (benchmarks/video_clips.py) have exact flows and occlusions, so the flicker of each way of
painting them is measured, not estimated: E_warp is the warping error of Lai et al. 2018 against
that ground truth. Rows, per clip, side by side:
- input: the frames themselves (the floor: the bilinear warp's own error, and the still clip's noise);
- frame-by-frame: impasto.stylize on every frame alone, the default preset from the photo, seed 0;
  seconds per frame in-process, with the VGG model already loaded (warmed up on a tiny image);
- video: `python -m impasto video FRAMES/ STYLE -o OUT/ --size SIZE --seed 0 --force` in a
  subprocess; seconds per frame = its wall time / frames, process start-up and model load included;
- video γ=G: the same with --temporal-weight G, for each G of --gammas (γ=0: the temporal loop with
  the warped start alone, no temporal loss).
style_swd and content_rel are impasto.metrics.score's, averaged over the frames, with the style
resized to the run's style size. The frame folders stay under --out (default: a temp folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import video_clips

from impasto import stylize
from impasto.config import StyleConfig
from impasto.io.read import open_image, resize_long_side, to_tensor
from impasto.metrics import score
from impasto.nst.vgg import load_vgg19

EXAMPLES = ROOT / "examples"
PHOTO, LAYER = EXAMPLES / "tubingen.jpg", EXAMPLES / "the_scream.jpg"
CLIPS = {
    "pan_zoom": lambda size, frames: video_clips.pan_zoom(PHOTO, LAYER, size=size, frames=frames),
    "still": lambda size, frames: video_clips.still(PHOTO, size=size, frames=frames),
}
COLUMNS = ["method", "E_warp", "E_warp / frame-by-frame", "style_swd", "content_rel", "s/frame"]
STRIP_FRAMES = 4


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def config(size: int) -> StyleConfig:
    """The frame-by-frame run's config: the default preset from the photo, seed 0."""
    return StyleConfig.preset("default", size=size, seed=0, init="content")


def frame_by_frame(paths: list[Path], style: Path, size: int, folder: Path) -> tuple[list[np.ndarray], float]:
    """Each frame stylized alone through the API, written to folder; (frames, mean seconds per frame)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames, seconds = [], []
    for path in paths:
        start = time.perf_counter()
        image = stylize(path, style, config=config(size))
        seconds.append(time.perf_counter() - start)
        image.save(folder / path.name)
        frames.append(np.asarray(image.convert("RGB")))
    return frames, sum(seconds) / len(seconds)


def video_command(frames: Path, style: Path, out: Path, size: int, gamma: str | None, extra: list[str]) -> list[str]:
    """The `impasto video` command line of one row."""
    command = [sys.executable, "-m", "impasto", "video", f"{frames}/", str(style), "-o", f"{out}/"]
    command += ["--size", str(size), "--seed", "0", "--force", "--restart"]
    if gamma is not None:
        command += ["--temporal-weight", gamma]
    return command + extra


def run_video(command: list[str], out: Path, count: int) -> tuple[list[np.ndarray], float]:
    """Runs `impasto video`; (its frames out/000001.png ..., wall seconds per frame). RuntimeError
    with the end of its output when it fails or writes the wrong number of frames."""
    start = time.perf_counter()
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}  # the checkout's impasto, whichever python runs this
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}")
    paths = sorted(out.glob("[0-9]*.png"))
    if len(paths) != count:
        raise RuntimeError(f"{len(paths)} frames in {out}, expected {count}")
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths], wall / count


def quality(outputs: list[np.ndarray], inputs: list[np.ndarray], style: torch.Tensor, model) -> dict[str, float]:
    """Mean style_swd and content_rel of the outputs against their input frames."""
    swd, content = [], []
    with torch.no_grad():
        for out, frame in zip(outputs, inputs, strict=True):
            image = to_tensor(Image.fromarray(out))
            if out.shape != frame.shape:  # the run's size rounds differently: compare at the input's size
                image = to_tensor(Image.fromarray(out).resize(frame.shape[1::-1], Image.Resampling.LANCZOS))
            metrics = score(image, to_tensor(Image.fromarray(frame)), [style], model)
            swd.append(metrics["style_swd"])
            content.append(metrics["content_rel"])
    return {"style_swd": float(np.mean(swd)), "content_rel": float(np.mean(content))}


def row(method: str, outputs, clip, style, model, seconds: float | None) -> dict:
    """One table row's numbers (E_warp against the clip's ground truth, quality, seconds per frame)."""
    return {
        "method": method,
        "e_warp": video_clips.e_warp(outputs, clip.flows, clip.valid),
        **quality(outputs, clip.frames, style, model),
        "seconds_per_frame": seconds,
    }


def table(rows: list[dict]) -> str:
    """The Markdown table of one clip's rows; E_warp relative to the frame-by-frame row."""
    base = next((r["e_warp"] for r in rows if r["method"] == "frame-by-frame"), None)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        if "error" in r:
            last = (r["error"].strip().splitlines() or ["?"])[-1][:80].replace("|", "/")
            lines.append(f"| {r['method']} | failed: {last} |" + " |" * 4)
            continue
        relative = f"{r['e_warp'] / base:.3f}" if base else "—"
        seconds = "—" if r["seconds_per_frame"] is None else f"{r['seconds_per_frame']:.2f}"
        cells = [r["method"], f"{r['e_warp']:.5f}", relative, f"{r['style_swd']:.3f}", f"{r['content_rel']:.3f}"]
        lines.append("| " + " | ".join([*cells, seconds]) + " |")
    return "\n".join(lines)


def label(image: Image.Image, text: str) -> Image.Image:
    """`image` with a line of text in a white band above it."""
    band = Image.new("RGB", (image.width, 16), "white")
    ImageDraw.Draw(band).text((4, 2), text, fill="black")
    out = Image.new("RGB", (image.width, image.height + 16), "white")
    out.paste(band, (0, 0))
    out.paste(image, (0, 16))
    return out


def strip(top: list[np.ndarray], bottom: list[np.ndarray], names: tuple[str, str], first: int) -> Image.Image:
    """A contact strip: STRIP_FRAMES consecutive frames from `first`, `top` above `bottom`, labelled."""
    chosen = range(first, first + STRIP_FRAMES)
    rows = [
        label(
            Image.fromarray(np.concatenate([frames[i] for i in chosen], axis=1)),
            f"{name}, frames {first + 1}-{first + STRIP_FRAMES}",
        )
        for frames, name in zip((top, bottom), names, strict=True)
    ]
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    sheet.paste(rows[0], (0, 0))
    sheet.paste(rows[1], (0, rows[0].height))
    return sheet


def bench_clip(name: str, args, out: Path, style: torch.Tensor, model) -> tuple[list[dict], dict]:
    """Every row of one clip, and the frames of each method by name (for the strip)."""
    clip = CLIPS[name]((args.size, round(args.size * 3 / 4)), args.frames)
    folder = out / name
    paths = video_clips.save_frames(clip, folder / "input")
    rows = [row("input", clip.frames, clip, style, model, None)]
    frames = {"input": clip.frames}
    print(f"{name}: frame-by-frame ({args.frames} frames) ...", flush=True)
    frames["frame-by-frame"], seconds = frame_by_frame(paths, args.style, args.size, folder / "frame-by-frame")
    rows.append(row("frame-by-frame", frames["frame-by-frame"], clip, style, model, seconds))
    extra = shlex.split(args.video_args)
    gammas = [g.strip() for g in args.gammas.split(",") if g.strip()]
    runs = [("video", "video", None, extra)]
    runs += [(f"video γ={g}", f"video-g{g}", g, extra) for g in gammas]
    for i, variant in enumerate(v for v in args.variants.split(";") if v.strip()):
        title, _, options = variant.partition("=")
        runs.append((f"video {title.strip()}", f"video-v{i}", None, [*extra, *shlex.split(options)]))
    for method, name_, gamma, options in runs:
        target = folder / name_
        command = video_command(folder / "input", args.style, target, args.size, gamma, options)
        print(f"{name}: {method}: {shlex.join(command)}", flush=True)
        try:
            frames[method], seconds = run_video(command, target, args.frames)
        except RuntimeError as err:
            print(f"{name}: {method} failed: {err}", file=sys.stderr)
            rows.append({"method": method, "error": str(err), "command": command})
            continue
        rows.append({**row(method, frames[method], clip, style, model, seconds), "command": command})
    return rows, frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="long side of the clips and the outputs, px")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--style", type=Path, default=EXAMPLES / "starry_night.jpg")
    parser.add_argument("--clips", default="pan_zoom,still", help=f"comma list of {', '.join(CLIPS)}")
    parser.add_argument("--gammas", default="", help='comma list of --temporal-weight values, e.g. "0,30,100,300"')
    parser.add_argument("--video-args", default="", help="more options for every `impasto video` run")
    parser.add_argument(
        "--variants", default="", help='more video rows, "name=options;...", e.g. "long-term=--long-term 1,2,4"'
    )
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    parser.add_argument("--strip", type=Path, default=None, help="contact strip of the pan_zoom clip (PNG)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the frames (default: a temp folder)")
    args = parser.parse_args(argv)
    clips = [c.strip() for c in args.clips.split(",") if c.strip()]
    unknown = [c for c in clips if c not in CLIPS]
    if unknown:
        parser.error(f"unknown clips {unknown}; choose from {', '.join(CLIPS)}")
    least = STRIP_FRAMES if args.strip is not None else 2
    if args.frames < least:
        parser.error(f"--frames must be at least {least}{' with --strip' if args.strip else ''}, got {args.frames}")
    if args.strip is not None and "pan_zoom" not in clips:
        parser.error("--strip shows the pan_zoom clip: add it to --clips")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-video-"))
    print(f"CPU: {cpu_model()}; torch threads: {torch.get_num_threads()}; frames under {out}\n")

    warm_up = StyleConfig.preset("default", size=64, seed=0, init="content", iterations=2)
    stylize(Image.fromarray(np.full((48, 64, 3), 128, np.uint8)), args.style, config=warm_up)  # loads VGG once
    model = load_vgg19(None)
    style_size = config(args.size).style_size_at(args.size)
    style = to_tensor(resize_long_side(open_image(args.style), style_size))
    report = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "size": args.size, "frames": args.frames}
    report.update({"style": str(args.style), "video_args": args.video_args, "clips": {}})
    failed = False
    for name in clips:
        rows, frames = bench_clip(name, args, out, style, model)
        report["clips"][name] = rows
        failed |= any("error" in r for r in rows)
        print(f"\n### {name} ({args.size} px, {args.frames} frames)\n\n{table(rows)}\n")
        if name == "pan_zoom" and args.strip is not None:
            bottom = next((m for m in frames if m.startswith("video")), None)
            if bottom is not None:
                first = max(0, args.frames // 2 - STRIP_FRAMES // 2)
                args.strip.parent.mkdir(parents=True, exist_ok=True)
                strip(frames["frame-by-frame"], frames[bottom], ("frame-by-frame", f"impasto {bottom}"), first).save(
                    args.strip
                )
    print(
        "s/frame: frame-by-frame is the stylize call alone, the model loaded; video is the whole "
        "`impasto video` process's wall time / frames (start-up, model load and optical flow included)."
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
