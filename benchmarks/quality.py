"""Quality metrics of a stylized image against its content and style images, from files.

    python benchmarks/quality.py OUT CONTENT STYLE [STYLE ...] [--json]

The metrics (content_rel, style_gram, style_swd, color_swd, grain) are impasto.metrics.score's, and copy
is impasto.metrics.copy_share's;
its module docstring defines them. The same metrics of the content image itself (`*_content`) are printed as the baseline that a
stylization should beat. Several styles are compared as their pooled features and mean Gram.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from impasto.io.read import open_image, resize_long_side, to_tensor
from impasto.metrics import copy_share, score
from impasto.nst.vgg import load_vgg19


def evaluate(
    out_path: str,
    content_path: str,
    style_paths: list[str],
    *,
    style_size: int | None = None,
    weights: str | None = None,
) -> dict[str, float]:
    """Metrics of the output, and of the content image itself as the baseline (`*_content`)."""
    out = open_image(out_path)
    image = to_tensor(out)
    content = to_tensor(open_image(content_path).resize(out.size, resample=Image.Resampling.LANCZOS))
    size = style_size or max(out.size)
    styles = [to_tensor(resize_long_side(open_image(p), size)) for p in style_paths]
    model = load_vgg19(weights)
    with torch.no_grad():
        result = score(image, content, styles, model)
        baseline = score(content, content, styles, model)
        paintings = [to_tensor(open_image(p)) for p in style_paths]  # copy reads them at its own view
        result["copy"] = copy_share(image, paintings, model)
        baseline["copy"] = copy_share(content, paintings, model)
    result.update({f"{k}_content": v for k, v in baseline.items() if k in ("style_gram", "style_swd", "copy")})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("content")
    parser.add_argument("styles", nargs="+")
    parser.add_argument("--style-size", type=int, default=None, help="style long side (default: the output's)")
    parser.add_argument("--weights", default=None, help="VGG19 weights file (default: the embedded one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.output, args.content, args.styles, style_size=args.style_size, weights=args.weights)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:18s} {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
