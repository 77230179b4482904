"""Perceptual control, measured: colour preservation, masks, and the two style losses at equal time.

    python benchmarks/control.py [--size 384] [--json control.json] [--images docs]

On the bundled Tübingen photo with The Starry Night and The Scream, default settings otherwise:
1. colour: for each style, a run without colour preservation, with `luminance` and with `histogram`:
   the output's chroma error against the photo (YIQ I and Q, mean absolute, in 1/255), style_gram on
   luminance against the photo's, the colour-mapped style's mean and covariance against the photo's,
   and color_swd against the photo;
2. masks: both styles, left and right, with a hard and a soft (24-px sigmoid) mask: style_swd of
   each half against its own style and the other one, and the seam in the sky;
3. style losses: gram against wasserstein at equal wall time (the slower one stops when the other
   finished), on content_rel, style_swd and grain;
4. padding of the first conv: the grain of an 8-px border band over the interior's.
It writes small before/after strips for the README with --images.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from impasto import api, metrics
from impasto.config import StyleConfig
from impasto.io.read import load_tensor, to_pil, to_tensor
from impasto.nst.color import color_transfer, luminance, match_luminance, rgb_to_yiq
from impasto.nst.vgg import load_vgg19

EXAMPLES = ROOT / "examples"
CONTENT = EXAMPLES / "tubingen.jpg"
STYLES = {"starry": EXAMPLES / "starry_night.jpg", "scream": EXAMPLES / "the_scream.jpg"}


class _Enough(Exception):
    pass


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def run(styles, size: int, *, budget: float | None = None, masks=None, **options) -> tuple[torch.Tensor, float, int]:
    """(8-bit result as a tensor, seconds of the optimization loop, steps). budget: stop once the
    loop has run that many seconds (its own clock, from the first step, as Progress.elapsed)."""
    config = StyleConfig(size=size, **options)
    prepared = api.prepare(CONTENT, [STYLES[s] for s in styles], config=config, masks=masks)
    seen = {}

    def callback(p) -> None:
        seen["image"], seen["steps"], seen["elapsed"] = p.image.detach().clone(), p.step, p.elapsed
        if budget is not None and p.elapsed >= budget:
            raise _Enough

    try:
        image = api.render(prepared, callback=callback)
    except _Enough:
        image = seen["image"]
    return to_tensor(to_pil(image)), seen["elapsed"], seen["steps"]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def colour(size: int, vgg, images: dict) -> list[dict]:
    rows = []
    content = load_tensor(CONTENT, size)
    for name, path in STYLES.items():
        style = load_tensor(path, size)
        outs = {mode: run([name], size, preserve_color=mode)[0] for mode in ("none", "luminance", "histogram")}
        images[name] = outs
        gain, offset = match_luminance(luminance(style), luminance(content))
        style_y = metrics.grey(luminance(style) * gain + offset)
        mapped = color_transfer(style, content).apply(style)
        stats = [(x.flatten(2).mean(-1), torch.cov(x.flatten(2)[0])) for x in (mapped, content)]
        with torch.no_grad():
            color = {m: metrics.score(o, content, [style], vgg)["color_swd"] for m, o in outs.items()}
            luma = {
                m: metrics.score(metrics.grey(o), metrics.grey(content), [style_y], vgg)["style_gram"]
                for m, o in (*outs.items(), ("photo", content))
            }
        chroma = {
            m: float((rgb_to_yiq(o)[:, 1:] - rgb_to_yiq(content)[:, 1:]).abs().mean()) * 255 for m, o in outs.items()
        }
        rows.append(
            {
                "style": name,
                "chroma_mae_255": chroma,
                "luma_style_gram": luma,
                "color_swd": color,
                "mapped_mean_rel": _relative(stats[0][0], stats[1][0]),
                "mapped_cov_rel": _relative(stats[0][1], stats[1][1]),
            }
        )
    return rows


def masks(size: int, vgg, images: dict) -> list[dict]:
    content = load_tensor(CONTENT, size)
    height, width = content.shape[-2:]
    x = torch.arange(width, dtype=torch.float32)
    refs = {"starry": load_tensor(STYLES["starry"], size), "scream": load_tensor(STYLES["scream"], size)}
    rows = []
    for kind, right in (
        ("hard", (x >= width // 2).float()),
        ("soft", ((x - width / 2) / (24 * width / 128)).sigmoid()),
    ):
        right = right.expand(1, 1, height, width).contiguous()
        out = run(["starry", "scream"], size, masks=[1 - right, right])[0]
        images[f"mask_{kind}"] = out
        row = {"mask": kind, "sky_seam": metrics.sky_seam(out, band=max(8, width // 16))}
        for side, own, other, part in (
            ("left", "starry", "scream", slice(0, width // 2)),
            ("right", "scream", "starry", slice(width // 2, width)),
        ):
            with torch.no_grad():
                for ref in (own, other):
                    metric = metrics.score(out[..., part], content[..., part], [refs[ref]], vgg)["style_swd"]
                    row[f"{side}_vs_{'own' if ref == own else 'other'}"] = metric
        rows.append(row)
    return rows


W2_STYLE_WEIGHTS = [20.0]  # --w2-style-weights


def losses(size: int, vgg, images: dict) -> list[dict]:
    rows = []
    content = load_tensor(CONTENT, size)
    for name, path in STYLES.items():
        style = load_tensor(path, size)
        # Equal time by the loop's clock: the default run, then the W2 run stopped when it has used
        # as long (its steps are slower), so neither is credited the set-up of the other.
        gram, seconds, steps = run([name], size)
        runs = [("gram", StyleConfig().style_weight, gram, seconds, steps)]
        for weight in W2_STYLE_WEIGHTS:
            runs.append(
                (
                    "wasserstein",
                    weight,
                    *run([name], size, style_loss="wasserstein", style_weight=weight, budget=seconds),
                )
            )
        images[f"loss_{name}"] = {"gram": gram, "wasserstein": runs[1][2]}
        for loss, weight, out, secs, n in runs:
            with torch.no_grad():
                m = metrics.score(out, content, [style], vgg)
            rows.append(
                {
                    "style": name,
                    "loss": loss,
                    "style_weight": weight,
                    "seconds": secs,
                    "steps": n,
                    **{k: m[k] for k in ("content_rel", "style_swd", "style_gram", "grain")},
                }
            )
    return rows


def padding(size: int, vgg, images: dict) -> list[dict]:
    """Edge artifacts per padding of the first conv: the Laplacian energy of the output's luminance
    in an 8-px border band over the interior's (a painted frame would raise it)."""
    from torch.nn import functional as F

    laplacian = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    rows = []
    for pad in ("zeros", "reflect", "replicate"):
        out = run(["starry"], size, padding=pad)[0]
        energy = F.conv2d(metrics.grey(out)[:, :1], laplacian, padding=1).abs()[0, 0]
        border = torch.ones_like(energy, dtype=torch.bool)
        border[8:-8, 8:-8] = False
        rows.append({"padding": pad, "border_grain_over_inner": float(energy[border].mean() / energy[~border].mean())})
    return rows


def _strip(tiles: list[torch.Tensor], path: Path, height: int = 192) -> None:
    pictures = [to_pil(t) for t in tiles]
    pictures = [p.resize((round(p.width * height / p.height), height), Image.Resampling.LANCZOS) for p in pictures]
    strip = Image.new("RGB", (sum(p.width for p in pictures) + 4 * (len(pictures) - 1), height), "white")
    x = 0
    for p in pictures:
        strip.paste(p, (x, 0))
        x += p.width + 4
    strip.save(path, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--images", type=Path, help="folder for the README's before/after strips")
    parser.add_argument("--only", choices=("colour", "masks", "losses", "padding"), action="append")
    parser.add_argument("--w2-style-weights", default="20", help="style weights of the W2 runs, such as 20,5")
    args = parser.parse_args()
    W2_STYLE_WEIGHTS[:] = [float(w) for w in args.w2_style_weights.split(",")]
    vgg = load_vgg19()
    images: dict = {}
    report = {}
    for part, fn in (("colour", colour), ("masks", masks), ("losses", losses), ("padding", padding)):
        if args.only and part not in args.only:
            continue
        report[part] = fn(args.size, vgg, images)
        for row in report[part]:
            print(part, json.dumps(_rounded(row)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.images:
        photo = load_tensor(CONTENT, args.size)
        for name, path in STYLES.items():
            if name in images:
                o = images[name]
                _strip(
                    [photo, load_tensor(path, args.size), o["none"], o["luminance"], o["histogram"]],
                    args.images / f"color_{name}.jpg",
                )
            if f"loss_{name}" in images:
                o = images[f"loss_{name}"]
                _strip([o["gram"], o["wasserstein"]], args.images / f"loss_{name}.jpg")
        if "mask_hard" in images:
            _strip([images["mask_hard"], images["mask_soft"]], args.images / "masks.jpg")


if __name__ == "__main__":
    main()
