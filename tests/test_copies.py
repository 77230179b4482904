"""The copy measure (impasto.metrics.copies): a region of the painting pasted whole scores high,
the painting's texture and the photo itself do not. Real VGG19, the bundled images at 128 px."""

from pathlib import Path

import pytest
import torch

from impasto import metrics
from impasto.io.read import load_tensor

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
pytestmark = [
    pytest.mark.skipif(not (IMAGES / "monalisa.jpg").exists(), reason="needs ../shared/images"),
    pytest.mark.numeric,  # fp32 throughout: the same values under AVX2, AVX512_CORE and AVX512_CORE_BF16
]

SIDE = 128  # the measure reads both at its own 512-px view
CROP = 48  # the pasted square: a face at this size, (48/128)·(48/96) = 0.19 of the photo


@pytest.fixture(scope="module")
def painting():
    return load_tensor(IMAGES / "monalisa.jpg", SIDE)  # 86x128 (w x h)


@pytest.fixture(scope="module")
def photo():
    return load_tensor(IMAGES / "tubingen.jpg", SIDE)  # 128x96


def _share(image, painting, vgg) -> float:
    with torch.no_grad():
        return metrics.copy_share(image, [painting], vgg)


def _texture(painting: torch.Tensor, shape, tile: int, seed: int) -> torch.Tensor:
    """The painting's own patches (tile x tile, from random places) laid side by side."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(1, 3, *shape)
    height, width = painting.shape[-2:]
    for top in range(0, shape[0], tile):
        for left in range(0, shape[1], tile):
            y = int(torch.randint(0, height - tile, (1,), generator=generator))
            x = int(torch.randint(0, width - tile, (1,), generator=generator))
            part = painting[..., y : y + tile, x : x + tile]
            out[..., top : top + tile, left : left + tile] = part[..., : shape[0] - top, : shape[1] - left]
    return out


def test_a_pasted_face_is_found_and_the_photo_is_clean(vgg, painting, photo, within):
    """Measured: 0.197 for the 0.1875 pasted (mirrored too), 0.000 for the photo."""
    pasted = photo.clone()
    pasted[..., 24 : 24 + CROP, 40 : 40 + CROP] = painting[..., 16 : 16 + CROP, 20 : 20 + CROP]  # her face
    share = _share(pasted, painting, vgg)
    pasted_area = CROP * CROP / (photo.shape[-1] * photo.shape[-2])
    within("pasted share / pasted area", share / pasted_area, ">", 0.5)  # the copy's size, about
    within("pasted share / pasted area", share / pasted_area, "<", 1.6)
    within("the photo's share", _share(photo, painting, vgg), "<", 0.02)
    # Mirrored, it is still a copy: a Gram matrix does not see the mirror image.
    within("mirrored share / pasted area", _share(pasted.flip(-1), painting, vgg) / pasted_area, ">", 0.5)


def test_the_paintings_texture_is_not_a_copy(vgg, painting, photo, within):
    """Small patches of the painting side by side (8 px here, 32 px at the measure's view) are
    its texture, not an object pasted whole. Measured 0.003, 0.000, 0.000, 0.000 for seeds 0-3."""
    for seed in (0, 1):
        texture = _texture(painting, photo.shape[-2:], tile=8, seed=seed)
        within(f"texture share, seed {seed}", _share(texture, painting, vgg), "<", 0.02)
