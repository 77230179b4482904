"""Style regions and their targets (engine/style_targets.py): blended styles, masks and weights."""

from pathlib import Path

import pytest
import torch

from impasto.config import StyleConfig
from impasto.engine.color_modes import fit_color_mode
from impasto.engine.style_targets import ScaleInputs, style_regions
from impasto.io.read import load_tensor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STARRY, SCREAM = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg", EXAMPLES / "the_scream.jpg"


def _regions(vgg, inputs, config):
    return style_regions(
        vgg, inputs, fit_color_mode(inputs.content, inputs.styles, inputs.style_masks, config), config, torch.float32
    )


def _targets(vgg, content, styles, config):
    (region,) = _regions(vgg, ScaleInputs(content, list(styles)), config)
    return region.targets


def test_style_targets_are_blended_grams(content_tensor, style_tensor, vgg):
    config = StyleConfig(style_blend_weights=(3.0, 1.0))
    flipped = style_tensor.flip(-1).flip(-2) * 0.5
    blended = _targets(vgg, content_tensor, [style_tensor, flipped], config)
    one = _targets(vgg, content_tensor, [style_tensor], StyleConfig())
    two = _targets(vgg, content_tensor, [flipped], StyleConfig())
    for layer in config.style_layers:
        torch.testing.assert_close(blended[layer], 0.75 * one[layer] + 0.25 * two[layer])
    with pytest.raises(ValueError, match="2 style images but 1"):
        _targets(vgg, content_tensor, [style_tensor, flipped], StyleConfig(style_blend_weights=(1.0,)))


def test_a_zero_weight_style_leaves_its_region_to_the_photo_and_dilutes_nothing(vgg):
    content = load_tensor(CONTENT, 64)
    everywhere, left = torch.ones(1, 1, 48, 64), torch.zeros(1, 1, 48, 64)
    left[..., :32] = 1.0
    config = StyleConfig(size=64, style_blend_weights=(1.0, 0.0))
    inputs = ScaleInputs(content, [load_tensor(STARRY, 64), load_tensor(SCREAM, 64)], [left, everywhere])
    (region,) = _regions(vgg, inputs, config)
    assert torch.equal(region.mask, left)  # not halved where the unused style's mask overlaps it
    assert region.share == pytest.approx(0.5)  # its area, at full strength
