"""The copy measure's validation: results seen by eye, pasted or not, with their scores and maps.

    python benchmarks/copies.py pasted|clean:RESULT:PAINTING ... [--sheet SHEET.jpg]

Each argument is a result judged by eye (`pasted`: a face, eye, figure or animal of the painting
in it; `clean`: none), the result's file and the painting's. Prints impasto.metrics.copy_share of
each, and whether its threshold (copies.PASTED) agrees with the eye. --sheet draws each
result beside itself with everything outside its copied regions darkened (the crops that the
measure found). docs/presets.md has the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from impasto.io.read import open_image, to_tensor
from impasto.metrics import copy_map, view
from impasto.metrics.copies import PASTED, VIEW
from impasto.nst.vgg import load_vgg19


def overlay(image: torch.Tensor, region: torch.Tensor) -> Image.Image:
    """The result at the measure's view with its copied regions lit and the rest darkened."""
    small = view(image, VIEW)[0]
    lit = F.interpolate(region.float()[None, None], size=small.shape[-2:], mode="nearest")[0]
    both = torch.cat([small, small * (0.25 + 0.75 * lit)], 2)
    return Image.fromarray((both.permute(1, 2, 0) * 255).round().byte().numpy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+", help="pasted|clean:RESULT:PAINTING")
    parser.add_argument("--sheet", type=Path, default=None)
    args = parser.parse_args(argv)
    model = load_vgg19()
    rows, tiles, agree = [], [], 0
    print(f"{'by eye':8s} {'copy':>6s}  agrees  result")
    for case in args.cases:
        by_eye, result, painting = case.rsplit(":", 2)
        if by_eye not in ("pasted", "clean"):
            parser.error(f"{case}: say pasted or clean first")
        image = to_tensor(open_image(result))
        with torch.no_grad():
            region = copy_map(image, [to_tensor(open_image(painting))], model)
        share = float(region.float().mean())
        ok = (share > PASTED) == (by_eye == "pasted")
        agree += ok
        rows.append((by_eye, share, ok, result))
        print(f"{by_eye:8s} {share:6.3f}  {'yes' if ok else 'NO':6s}  {Path(result).name}", flush=True)
        if args.sheet:
            tiles.append((f"{by_eye}, copy {share:.3f}: {Path(result).stem}", overlay(image, region)))
    print(f"the measure agrees with the eye on {agree} of {len(rows)}")
    if args.sheet:
        scale = 0.5
        tiles = [(t, im.resize((int(im.width * scale), int(im.height * scale)))) for t, im in tiles]
        width = max(im.width for _, im in tiles)
        sheet = Image.new("RGB", (width, sum(im.height + 16 for _, im in tiles)), "white")
        draw, y = ImageDraw.Draw(sheet), 0
        for title, im in tiles:
            draw.text((4, y + 2), title[:90], fill="black")
            sheet.paste(im, (0, y + 16))
            y += im.height + 16
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.sheet, quality=85)
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
