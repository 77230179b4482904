"""How much of a result is a region of the painting pasted whole: a face, an eye, an animal.

A Gram-matched result may copy the painting's objects (a face over the sky) instead of painting
with its texture; style_deep rewards that, since a copied face matches the painting's deep
features exactly. This measure finds the copies:

1. The result and the painting are seen at a fixed view (VIEW, long side) and read at LAYER. Each
   3x3 patch of the result's features is matched to its nearest painting patch (cosine).
2. A match is *distinctive* when its distance is under RATIO times that of the best match more
   than RADIUS positions away: the patch is like one place of the painting, not like its texture
   in general (Lowe's ratio test).
3. A distinctive position is *copied* when at least SUPPORT other distinctive positions of its
   window (WINDOW, ignoring its 8 nearest neighbours) matched with the same offset, within one
   position: its neighbourhood was moved over from the painting as a whole. A flat region whose
   patches all match one place moves no offset along, so it never counts.
4. `copy_share` is the share of the result within one position of a copied position. The
   painting is also matched mirrored (Gram statistics do not see a mirror image), and several
   styles add up their regions.

The thresholds and their validation (pairs pasted and not pasted by eye) are in docs/presets.md.
Imports torch and nst only.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..nst.vgg import VGG19Features
from .views import view

VIEW = 512  # long side at which the result and the painting are compared
LAYER = "relu4_1"  # a patch of 3x3 positions sees about 100 px of the view
RATIO = 0.9  # distinctive: distance below this share of the best match elsewhere
RADIUS = 3  # positions around the best match that "elsewhere" leaves out
WINDOW = 7  # side of the window in which a copied position finds support
SUPPORT = 14  # distinctive positions with the same offset that make a copy (of WINDOW² - 9)
# A result with a larger share has something pasted: 3 % of the picture, a 90x70-px patch at the
# view. Of 21 results judged by eye, the clean ones scored at most 0.019 (a patch of flat sky
# matched to the painting's own), the pasted ones 0.049 or more; RATIO and SUPPORT were chosen from
# a sweep on them as the widest separation (docs/presets.md#pasting-the-copy-measure).
PASTED = 0.03


def _patches(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (C·9, H·W) unit 3x3 patches."""
    patches = F.unfold(features.float(), 3, padding=1)[0]
    return patches / patches.norm(dim=0, keepdim=True).clamp_min(1e-8)


def _rows_and_columns(index: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat positions in unfold's row-major order -> (rows, columns)."""
    return index // width, index % width


def _matches(result: torch.Tensor, painting: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per result position (H, W): distinctive (bool) and offset (H, W, 2) to its painting match."""
    height, width = result.shape[-2:]
    rows, cols = painting.shape[-2:]
    device = result.device
    similarity = _patches(result).t() @ _patches(painting)  # (N, M)
    best, index = similarity.max(1)
    y, x = _rows_and_columns(index, cols)
    # The best match elsewhere: more than RADIUS positions from the best one, in either direction.
    their_y, their_x = _rows_and_columns(torch.arange(rows * cols, device=device), cols)
    far = ((their_y[None] - y[:, None]).abs() > RADIUS) | ((their_x[None] - x[:, None]).abs() > RADIUS)
    second = similarity.masked_fill(~far, -2.0).max(1).values
    # A painting with nothing elsewhere (smaller than the square) has nothing to be distinct from.
    distinctive = ((1 - best) < RATIO * (1 - second)) & far.any(1)
    ours_y, ours_x = _rows_and_columns(torch.arange(height * width, device=device), width)
    offset = torch.stack([y - ours_y, x - ours_x], -1).view(height, width, 2)
    return distinctive.view(height, width), offset.float()


def _copied(distinctive: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: distinctive positions with SUPPORT distinctive positions in their window, at
    least two positions away, matched with the same offset (within one)."""
    height, width = distinctive.shape
    half = WINDOW // 2
    offsets = F.pad(offset.permute(2, 0, 1), (half,) * 4)  # outside: flags 0, so no support
    flags = F.pad(distinctive.float()[None], (half,) * 4)[0]
    here = offset.permute(2, 0, 1)
    support = torch.zeros(height, width, device=distinctive.device)
    for dy in range(WINDOW):
        for dx in range(WINDOW):
            if max(abs(dy - half), abs(dx - half)) < 2:
                continue
            there = offsets[:, dy : dy + height, dx : dx + width]
            same = (there - here).abs().amax(0) <= 1
            support += same.float() * flags[dy : dy + height, dx : dx + width]
    return distinctive & (support >= SUPPORT)


def copy_map(
    image: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features, *, mirrored: bool = True
) -> torch.Tensor:
    """(H, W) bool at LAYER of the result's view: the positions in a region copied from a style
    (or, when `mirrored`, its mirror image), within one position. Call under torch.no_grad().
    Near the picture's edge the window is cut off, so a paste there counts from its inner part."""
    result = model(view(image, VIEW), [LAYER])[LAYER]
    region = torch.zeros(result.shape[-2:], dtype=torch.bool, device=result.device)
    for style in styles:
        painting = view(style, VIEW)
        for seen in (painting, painting.flip(-1)) if mirrored else (painting,):
            # The mirror image is read by the network: VGG's filters are not mirror-symmetric.
            region |= _copied(*_matches(result, model(seen, [LAYER])[LAYER]))
    return F.max_pool2d(region.float()[None, None], 3, 1, 1)[0, 0] > 0


def copy_share(image: torch.Tensor, styles: list[torch.Tensor], model: VGG19Features) -> float:
    """The share of `image` (1, 3, H, W) in [0, 1] copied from `styles` (0: none; a face pasted
    over a fifth of the picture: about 0.2). Call under torch.no_grad()."""
    return float(copy_map(image, styles, model).float().mean())
