"""The presets across many paintings: metrics, seconds and a contact sheet, per pair and preset.

    python benchmarks/presets.py [--pairs tuning|check|all|shippable] [--size 384]
        [--presets subtle,default,classic] [--set key=value ...] [--seeds 0]
        [--sheet SHEET.png] [--json OUT.json] [--crops N] [--snapshots 5,10,20]
    python benchmarks/presets.py --sheet-from OUT.json --pairs shippable --sheet docs/SHEET.jpg

Each preset runs through impasto.api (prepare + render, timed together) on every pair; its output
is scored by impasto.metrics.score (content_rel, style_fine, style_deep, style_swd, grain; the
module docstring defines them) and impasto.metrics.copy_share (copy: the share pasted whole from
the painting); each pair's first row is the photo's own copy score. A preset may carry overrides: `default+style_weight=50+iterations=80`.
`--set` applies overrides to every preset (`--set size=2048`), under a preset's own; separate
presets by ";" when an override holds a comma list. `--crops N` also scores N full-size
512-px crops of each output against the same crops of the photo and the style at the run's style
size (what a print shows up close); their means are the `crop_*` columns.

The pairs are split by photograph before any tuning: the tuning set paints Chicago and Stata, the
check set Tübingen, each in every painting. udnie, chicago and stata are for local tuning only
(../shared/images/README.md): the sheet of `--pairs shippable` is the one that may go into docs/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from impasto import StyleConfig, api, save_image
from impasto.engine.stopping import StopRule
from impasto.io.read import open_image, resize_long_side, to_tensor
from impasto.metrics import copy_share, score, view
from impasto.nst.vgg import load_vgg19

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
PAIRS = {
    "tuning": [
        ("chicago", "starry_night"),
        ("chicago", "udnie"),
        ("stata", "wave"),
        ("stata", "the_scream"),
        ("stata", "monalisa"),
    ],
    "check": [
        ("tubingen", "starry_night"),
        ("tubingen", "the_scream"),
        ("tubingen", "wave"),
        ("tubingen", "udnie"),
        ("tubingen", "monalisa"),
    ],
    "shippable": [
        ("tubingen", "starry_night"),
        ("tubingen", "the_scream"),
        ("tubingen", "wave"),
        ("tubingen", "monalisa"),
    ],
}
PAIRS["all"] = PAIRS["tuning"] + PAIRS["check"]
COLUMNS = ("content_rel", "style_fine", "style_deep", "style_swd", "grain", "copy")
# A view or a crop has no `copy` of its own: copy_share already reads the whole result at its view.
PARTS = COLUMNS[:-1]


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if "," in text:
        return tuple(_value(part) for part in text.split(","))
    return {"none": None, "None": None}.get(text, text)


def parse_overrides(items: list[str]) -> dict:
    """["key=value", ...] -> {key: value}, numbers and comma lists parsed."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = _value(value)
    return out


def config_of(spec: str, common: dict, seed: int) -> StyleConfig:
    """`preset+key=value+...` over the `common` overrides."""
    name, *items = spec.split("+")
    return StyleConfig.preset(name, **{**common, **parse_overrides(items), "seed": seed})


def render(
    content: Path, style: Path, config: StyleConfig, snapshots: set[int] = frozenset()
) -> tuple[torch.Tensor, float, int, list, dict]:
    """The result (1, 3, H, W), wall seconds (prepare and render), steps taken, per scale its
    (long side, steps, seconds), and {step: image} of the last scale's result after each of
    `snapshots` of its steps (what more steps at the top buy, from one run)."""
    steps, per_scale, shots, losses = [0], {}, {}, {}
    start = time.perf_counter()

    def callback(p) -> None:
        steps[0] += 1
        side = max(p.width, p.height)
        first = per_scale.setdefault(p.scale, [side, 0, p.elapsed, p.elapsed])
        first[1] += 1
        first[3] = p.elapsed
        losses.setdefault(p.scale, []).append(p.loss)
        if p.scale == p.scale_count and first[1] in snapshots:
            shots[first[1]] = p.image.detach().clone()

    run = api.prepare(str(content), [str(style)], config=config)
    image = api.render(run, callback=callback)
    wall = time.perf_counter() - start
    scales, previous = [], 0.0
    for index, (side, count, _, end) in per_scale.items():
        scales.append((side, count, round(end - previous, 1), _settling(losses[index])))
        previous = end
    return image, wall, steps[0], scales, shots


def _settling(losses: list[float], window: int = 20) -> float | None:
    """How much the scale's best loss still fell over its last `window` steps, relative (what
    engine/stopping.py compares with stop_tolerance); None for a scale shorter than that."""
    bests = StopRule(window=window).bests(losses)
    return None if bests is None else round((bests[0] - bests[1]) / abs(bests[1]), 5)


def _crops(image: torch.Tensor, count: int, size: int = 512) -> list[tuple[int, int]]:
    """`count` (top, left) corners of size-px crops spread over the image, deterministic."""
    height, width = image.shape[-2:]
    generator = torch.Generator().manual_seed(1)
    return [
        (
            int(torch.randint(0, height - size + 1, (1,), generator=generator)),
            int(torch.randint(0, width - size + 1, (1,), generator=generator)),
        )
        for _ in range(count)
    ]


VIEW = 512  # long side of the downscaled result that a print's `view_*` metrics score


def view_metrics(image: torch.Tensor, content_path, style_path, model, long_side: int = VIEW) -> dict[str, float]:
    """The metrics of the result downscaled to `long_side`, against the photo and the painting at
    that size: the print seen whole."""
    small = view(image, long_side)
    size = tuple(small.shape[-2:])
    content = to_tensor(open_image(content_path).resize(size[::-1], resample=Image.Resampling.LANCZOS))
    style = to_tensor(resize_long_side(open_image(style_path), long_side))
    with torch.no_grad():
        return {f"view_{k}": v for k, v in score(small, content, [style], model).items()}


def measure(image, content_path, style_path, config, model, crops: int) -> dict[str, float]:
    height, width = image.shape[-2:]
    content = to_tensor(open_image(content_path).resize((width, height), resample=Image.Resampling.LANCZOS))
    style_img = open_image(style_path)
    style = to_tensor(resize_long_side(style_img, max(width, height)))
    with torch.no_grad():
        result = score(image, content, [style], model)
        result["copy"] = copy_share(image, [to_tensor(style_img)], model)  # at its own 512-px view
    if max(height, width) > VIEW:
        result.update(view_metrics(image, content_path, style_path, model))
    with torch.no_grad():
        if crops and min(height, width) >= 512:
            styled = to_tensor(resize_long_side(style_img, config.style_size_at(max(width, height))))
            rows = []
            for top, left in _crops(image, crops):
                window = (..., slice(top, top + 512), slice(left, left + 512))
                rows.append(score(image[window], content[window], [styled], model))
            for key in PARTS:
                result[f"crop_{key}"] = statistics.mean(r[key] for r in rows)
    return result


def contact_sheet(rows: list[dict], presets: list[str], path: Path, cell: int = 200) -> None:
    """A grid: per pair, the photo, the painting and each preset's result, labelled."""
    pairs = list(dict.fromkeys((r["content"], r["style"]) for r in rows))
    label = 18
    sheet = Image.new("RGB", ((2 + len(presets)) * cell, len(pairs) * (cell + label) + label), "white")
    draw = ImageDraw.Draw(sheet)
    for col, title in enumerate(["photo", "painting", *presets]):
        draw.text((col * cell + 4, 2), title, fill="black")
    for row, (content, style) in enumerate(pairs):
        y = label + row * (cell + label)
        draw.text((4, y + 2), f"{content} x {style}", fill="black")
        images = [open_image(IMAGES / f"{content}.jpg"), open_image(IMAGES / f"{style}.jpg")]
        for preset in presets:
            match = [r for r in rows if (r["content"], r["style"], r["preset"]) == (content, style, preset)]
            images.append(Image.open(match[0]["output"]) if match else Image.new("RGB", (cell, cell), "grey"))
        for col, picture in enumerate(images):
            thumb = picture.convert("RGB")
            thumb.thumbnail((cell - 4, cell - 4), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (col * cell + 2, y + label))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, **({"quality": 85} if path.suffix.lower() in (".jpg", ".jpeg") else {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="tuning", choices=sorted(PAIRS))
    parser.add_argument("--only", default=None, help="comma list of content:style pairs instead of --pairs")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--presets", default="subtle,default,classic")
    parser.add_argument("--set", action="append", default=[], help="key=value for every preset")
    parser.add_argument("--seeds", default="0", help="comma list")
    parser.add_argument("--crops", type=int, default=0)
    parser.add_argument("--snapshots", default="", help="comma list: also score the last scale after these steps")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/presets"))
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--sheet-from", type=Path, default=None, help="only draw --sheet from an earlier --json, for --pairs' pairs"
    )
    args = parser.parse_args(argv)
    if args.sheet_from:  # e.g. the shippable pairs of a check run, for docs/
        wanted = set(PAIRS[args.pairs])
        rows = [r for r in json.loads(args.sheet_from.read_text()) if (r["content"], r["style"]) in wanted]
        rows = [r for r in rows if r["output"]]
        contact_sheet(rows, list(dict.fromkeys(r["preset"] for r in rows)), args.sheet)
        return 0
    pairs = [tuple(p.split(":")) for p in args.only.split(",")] if args.only else PAIRS[args.pairs]
    presets = args.presets.split(";" if ";" in args.presets else ",")
    common = {"size": args.size, **parse_overrides(args.set)}
    model = load_vgg19()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{'pair':26s} {'preset':34s} seed " + " ".join(f"{c:>11s}" for c in COLUMNS) + "    steps      s")
    for content, style in pairs:
        content_path, style_path = IMAGES / f"{content}.jpg", IMAGES / f"{style}.jpg"
        photo = to_tensor(resize_long_side(open_image(content_path), common["size"]))
        with torch.no_grad():  # the photo's own score: what a result shares with the painting by chance
            own = copy_share(photo, [to_tensor(open_image(style_path))], model)
        rows.append({"content": content, "style": style, "preset": "photo", "copy": own, "output": None})
        print(f"{content + ' x ' + style:26s} {'the photo itself':34s}      " + " " * 12 * len(PARTS) + f"{own:11.3f}")
        for spec in presets:
            for seed in (int(s) for s in args.seeds.split(",")):
                config = config_of(spec, common, seed)
                snapshots = {int(k) for k in args.snapshots.split(",") if k}
                image, wall, steps, scales, shots = render(content_path, style_path, config, snapshots)
                for at, shot in sorted(shots.items()):
                    metrics = measure(shot, content_path, style_path, config, model, args.crops)
                    rows.append(
                        {
                            "content": content,
                            "style": style,
                            "preset": f"{spec}@{at}",
                            "seed": seed,
                            "size": config.size,
                            **metrics,
                            "output": None,
                        }
                    )
                    print(
                        f"{content + ' x ' + style:26s} {'  last scale after ' + str(at):34s} {seed:4d} "
                        + " ".join(f"{metrics[c]:11.3f}" for c in COLUMNS),
                        flush=True,
                    )
                out = args.out_dir / f"{content}--{style}--{spec}--{config.size}--{seed}.png"
                save_image(image, out)
                metrics = measure(image, content_path, style_path, config, model, args.crops)
                row = {
                    "content": content,
                    "style": style,
                    "preset": spec,
                    "seed": seed,
                    "size": config.size,
                    **metrics,
                    "steps": steps,
                    "seconds": round(wall, 1),
                    "scales": scales,
                    "output": str(out),
                }
                rows.append(row)
                print(
                    f"{content + ' x ' + style:26s} {spec[:34]:34s} {seed:4d} "
                    + " ".join(f"{metrics[c]:11.3f}" for c in COLUMNS)
                    + f" {steps:8d} {wall:6.1f}",
                    flush=True,
                )
                if "view_content_rel" in metrics:
                    print(" " * 60 + f"{VIEW}-px view " + " ".join(f"{metrics['view_' + c]:11.3f}" for c in PARTS))
                if args.crops:
                    print(" " * 66 + "crops " + " ".join(f"{metrics['crop_' + c]:11.3f}" for c in PARTS))
                print(
                    " " * 66
                    + "scales (long side, steps, s, fall over the last 20 steps): "
                    + ", ".join(map(str, scales)),
                    flush=True,
                )
    print("\nmeans over pairs")
    for spec in presets:
        mine = [r for r in rows if r["preset"] == spec]
        if not mine:
            continue
        print(
            f"{spec[:60]:60s} "
            + " ".join(f"{c} {statistics.mean(r[c] for r in mine):.3f}" for c in COLUMNS)
            + f" s {statistics.mean(r['seconds'] for r in mine):.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.sheet:
        contact_sheet(rows, presets, args.sheet)
        print(f"contact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
