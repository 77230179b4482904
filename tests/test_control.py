"""Perceptual control end to end (Gatys et al. 2017): colour, regions, the Wasserstein loss.

Small real runs on the bundled images (64-128 px), judged with impasto.metrics. The runs are fp32,
the same arithmetic on every CPU; the limits are ratios within one run where they can be
(docs/testing.md says how each was set).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from PIL import Image

from impasto import api, metrics
from impasto.config import StyleConfig
from impasto.io.read import load_tensor, to_pil, to_tensor
from impasto.nst.color import color_transfer, luminance, match_luminance, rgb_to_yiq

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONTENT, STARRY, SCREAM = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg", EXAMPLES / "the_scream.jpg"


def _run(styles, size, iterations, **options) -> torch.Tensor:
    """An 8-bit result, as a user gets it, back as (1, 3, H, W) in [0, 1]."""
    masks = options.pop("masks", None)
    style_masks = options.pop("style_masks", None)
    config = StyleConfig(size=size, start_size=None, iterations=iterations, **{"precision": "fp32", **options})
    run = api.prepare(CONTENT, styles, config=config, masks=masks, style_masks=style_masks)
    return to_tensor(to_pil(api.render(run)))


# The Scream: its palette is far from the photo's, so colour preservation has work to do. (With
# The Starry Night, whose blues the photo's sky shares, histogram's colour_swd ratio is 0.52: README.)
@pytest.mark.slow
@pytest.mark.numeric
def test_luminance_keeps_the_photos_chroma_and_paints_its_luminance(vgg, within):
    out = _run([SCREAM], 96, 80, preserve_color="luminance")
    content, style = load_tensor(CONTENT, 96), load_tensor(SCREAM, 96)
    chroma_error = float((rgb_to_yiq(out)[:, 1:] - rgb_to_yiq(content)[:, 1:]).abs().mean())
    within("chroma error", chroma_error, "<", 2 / 255)
    gain, offset = match_luminance(luminance(style), luminance(content))
    style_y = metrics.grey(luminance(style) * gain + offset)
    with torch.no_grad():
        painted = metrics.score(metrics.grey(out), metrics.grey(content), [style_y], vgg)["style_gram"]
        photo = metrics.score(metrics.grey(content), metrics.grey(content), [style_y], vgg)["style_gram"]
    within("painted / photo style_gram", painted / photo, "<", 0.3)


@pytest.mark.slow
@pytest.mark.numeric
def test_histogram_keeps_the_photos_colours(vgg, within):
    content, style = load_tensor(CONTENT, 96), load_tensor(SCREAM, 96)
    with torch.no_grad():
        plain = metrics.score(_run([SCREAM], 96, 40), content, [style], vgg)
        out = _run([SCREAM], 96, 40, preserve_color="histogram")
        kept = metrics.score(out, content, [style], vgg)
        # Painted all the same: in the style's brushwork, recoloured as the run recolours it.
        recoloured = color_transfer(style, content).apply(style)
        painted = metrics.score(out, content, [recoloured], vgg)["style_gram"]
        photo = metrics.score(content, content, [recoloured], vgg)["style_gram"]
    within("kept / plain color_swd", kept["color_swd"] / plain["color_swd"], "<", 0.5)
    within("painted / photo style_gram", painted / photo, "<", 0.5)


@pytest.mark.slow
@pytest.mark.numeric
def test_two_styles_paint_their_own_halves_and_a_soft_mask_leaves_no_seam(vgg, within):
    width, height = 128, 96
    x = torch.arange(width, dtype=torch.float32)
    styles = {"left": load_tensor(STARRY, width), "right": load_tensor(SCREAM, width)}
    content = load_tensor(CONTENT, width)
    seams = {}
    for kind, right in (("hard", (x >= width // 2).float()), ("soft", ((x - width / 2) / 24).sigmoid())):
        right = right.expand(1, 1, height, width).contiguous()
        out = _run([STARRY, SCREAM], width, 60, masks=[1 - right, right])
        halves = {
            "left": (out[..., : width // 2], content[..., : width // 2]),
            "right": (out[..., width // 2 :], content[..., width // 2 :]),
        }
        with torch.no_grad():
            for side, (half, photo) in halves.items():
                own = metrics.score(half, photo, [styles[side]], vgg)["style_swd"]
                other = metrics.score(half, photo, [styles["right" if side == "left" else "left"]], vgg)["style_swd"]
                assert own < other, (kind, side, own, other)
        seams[kind] = metrics.sky_seam(out)
    # The soft seam against the hard one in the same run: the seam measure alone moves with the
    # arithmetic (soft 0.92 in bf16 on avx512_bf16, 1.10 in fp32 on AVX-512, 1.29 in fp32 on AVX2,
    # 1.84 in bf16 on AMX, where the former limit 1.5 failed), the hard seam with it (4.45, 4.06,
    # 4.81, 4.46). Ratios 0.21, 0.27, 0.27, 0.41: limit 0.5, margin 1.9x on fp32's worst.
    within("soft seam / hard seam", seams["soft"] / seams["hard"], "<", 0.5)


@pytest.mark.slow
@pytest.mark.numeric
def test_a_style_mask_chooses_where_the_style_is_read(vgg, within):
    starry, scream = Image.open(STARRY).convert("RGB"), Image.open(SCREAM).convert("RGB")
    scream = scream.resize((round(scream.width * starry.height / scream.height), starry.height))
    both = Image.new("RGB", (starry.width + scream.width, starry.height))
    both.paste(starry, (0, 0))
    both.paste(scream, (starry.width, 0))
    left = torch.zeros(1, 1, both.height, both.width)
    left[..., : starry.width] = 1.0
    content = load_tensor(CONTENT, 96)
    refs = [load_tensor(STARRY, 96), load_tensor(SCREAM, 96)]
    for mask, own in ((left, 0), (1 - left, 1)):
        out = _run([both], 96, 40, style_masks=[mask], style_scale=2.0)
        with torch.no_grad():
            swd = [metrics.score(out, content, [ref], vgg)["style_swd"] for ref in refs]
        within(f"own / other style_swd, style {own + 1}", swd[own] / swd[1 - own], "<", 1.0)


@pytest.mark.slow
@pytest.mark.numeric
def test_what_no_mask_covers_keeps_the_photo(within):
    width, height = 96, 72
    left = torch.zeros(1, 1, height, width)
    left[..., : width // 2] = 1.0
    out = _run([STARRY], width, 30, masks=[left])
    content = load_tensor(CONTENT, width)
    change = (out - content).abs().mean(dim=(0, 1, 2))  # per column
    within(
        "change uncovered / covered", float(change[width // 2 + 8 :].mean() / change[: width // 2 - 8].mean()), "<", 0.5
    )


@pytest.mark.slow
@pytest.mark.numeric
def test_the_wasserstein_loss_paints(vgg, within):
    losses = []
    config = StyleConfig(size=96, start_size=None, iterations=30, style_loss="wasserstein", precision="fp32")
    out = api.render(api.prepare(CONTENT, [STARRY], config=config), callback=lambda p: losses.append(p.style_loss))
    within("last / first style loss", losses[-1] / losses[0], "<", 0.5)
    content, style = load_tensor(CONTENT, 96), load_tensor(STARRY, 96)
    with torch.no_grad():
        painted = metrics.score(out, content, [style], vgg)["style_swd"]
        photo = metrics.score(content, content, [style], vgg)["style_swd"]
    within("painted / photo style_swd", painted / photo, "<", 0.7)


def test_masks_may_be_tensors_and_bad_ones_are_named():
    config = StyleConfig(size=64)
    good = torch.ones(48, 64)
    run = api.prepare(CONTENT, [STARRY, SCREAM], config=config, masks=[good, good[None] * 0.5])
    assert [tuple(m.shape) for m in run.masks] == [(1, 1, 48, 64)] * 2
    assert float(run.masks[1].max()) == 0.5
    for masks, message in (
        ([good], "1 masks for 2 style images"),
        ([good, torch.ones(2, 48, 64)], "mask tensor must be float"),
        ([good, good * 2], r"values in \[0, 1\]"),
        ([good, torch.ones(10, 10)], "mask 2 \\(tensor\\) is 10x10 px but the content"),
        ([good, torch.zeros(48, 64)], "black everywhere"),
    ):
        with pytest.raises(ValueError, match=message):
            api.prepare(CONTENT, [STARRY, SCREAM], config=config, masks=masks)
    with pytest.raises(ValueError, match="style mask 1"):
        api.prepare(CONTENT, [STARRY], config=config, style_masks=[torch.ones(10, 10)])
    assert api.prepare(CONTENT, [STARRY, SCREAM], config=config, style_masks=[None, None]).style_masks == (None, None)


@pytest.mark.slow
def test_every_control_option_reaches_a_real_cli_run(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from impasto.cli.app import app
    from impasto.cli.options import API_ONLY

    Image.linear_gradient("L").resize((64, 48)).save(tmp_path / "right.png")
    Image.linear_gradient("L").rotate(180).resize((64, 48)).save(tmp_path / "left.png")
    Image.linear_gradient("L").resize((60, 76)).save(tmp_path / "scream_top.png")  # The Scream's shape
    out = tmp_path / "out.png"
    argv = [
        "stylize",
        str(CONTENT),
        str(STARRY),
        str(SCREAM),
        "-o",
        str(out),
        "--size",
        "64",
        "--iterations",
        "3",
        "--mask",
        str(tmp_path / "left.png"),
        "--mask",
        str(tmp_path / "right.png"),
        "--style-mask",
        "none",
        "--style-mask",
        str(tmp_path / "scream_top.png"),
        "--preserve-color",
        "histogram",
        "--color-transfer",
        "pca",
        "--style-loss",
        "wasserstein",
        "--pooling",
        "avg",
        "--padding",
        "reflect",
        "--content-layers",
        "relu4_2,relu3_2",
        "--style-layers",
        "relu1_1,relu3_1",
        "--style-layer-weights",
        "1,2",
        "--loss-normalization",
        "style",
        "-q",
    ]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == (64, 48) and image.mode == "RGB"
    # ... and each one arrived where it belongs.
    from impasto.cli import run as cli_run

    seen = []
    monkeypatch.setattr(cli_run, "execute", lambda run, *args, **kwargs: seen.append(run) or 0)
    assert CliRunner().invoke(app, [*argv, "--force"]).exit_code == 0
    config = seen[0].config
    assert (config.preserve_color, config.color_transfer, config.style_loss) == ("histogram", "pca", "wasserstein")
    assert (config.pooling, config.padding) == ("avg", "reflect")
    assert config.content_layers == ("relu4_2", "relu3_2") and config.style_layers == ("relu1_1", "relu3_1")
    assert config.style_layer_weights == (1.0, 2.0) and config.loss_normalization == "style"
    # Every option of the Control group was given a value of its own above, and kept it.
    control = [f.name for f in dataclasses.fields(StyleConfig) if f.metadata["group"] == "Control"]
    control = [name for name in control if name not in API_ONLY]
    assert len(control) >= 8 and [n for n in control if getattr(config, n) == getattr(StyleConfig(), n)] == []
    masks, style_masks = seen[0].masks, seen[0].style_masks
    assert len(masks) == 2 and float(masks[0][..., 0, :].mean()) > 0.95 and float(masks[1][..., 0, :].mean()) < 0.05
    assert style_masks[0] is None and tuple(style_masks[1].shape) == (1, 1, 76, 60)


def test_a_sliver_of_a_mask_that_vanishes_in_deep_layers_still_runs(vgg):
    from impasto.engine.color_modes import fit_color_mode
    from impasto.engine.style_targets import ScaleInputs, style_regions

    content = load_tensor(CONTENT, 100)  # 100x75: relu3_1 sees rows 0-71, relu4_1 0-71, relu5_1 0-63
    sliver = torch.zeros(1, 1, 75, 100)
    sliver[..., 72:, :] = 1.0
    config = StyleConfig(size=100, start_size=None, iterations=2)
    inputs = ScaleInputs(content, [load_tensor(STARRY, 100)], [sliver])
    (region,) = style_regions(
        vgg, inputs, fit_color_mode(inputs.content, inputs.styles, inputs.style_masks, config), config, torch.float32
    )
    assert set(region.targets) == {"relu1_1", "relu2_1"}  # no positions from relu3_1 down: no term
    out = api.render(api.prepare(CONTENT, [STARRY], config=config, masks=[sliver]))
    assert torch.isfinite(out).all()


def test_masks_that_only_cover_what_deep_layers_crop_leave_the_photo():
    sliver = torch.zeros(1, 1, 75, 100)
    sliver[..., 72:, :] = 1.0  # relu5_1 sees rows 0-63 only
    content = load_tensor(CONTENT, 100)
    for tile_size in (None, 64):
        # fp32: its tiles blend the content target's features from two cuts, which differ in the last
        # bits (bf16 rounds them alike), so the loss at the photo is ~1e-17, not 0, and a full first
        # step on that rounding noise moved pixels by 0.015 (on every CPU where auto picks fp32).
        config = StyleConfig(
            size=100, start_size=None, iterations=2, style_layers=("relu5_1",), tile_size=tile_size, precision="fp32"
        )
        out = api.render(api.prepare(CONTENT, [STARRY], config=config, masks=[sliver]))
        torch.testing.assert_close(out, content, rtol=0, atol=1e-6)  # no style term: the photo, untouched
    # ... where the same two steps with a mask that relu5_1 sees do paint.
    painted = api.render(api.prepare(CONTENT, [STARRY], config=config, masks=[1 - sliver]))
    assert float((painted - content).abs().max()) > 0.01


@pytest.mark.slow
@pytest.mark.numeric
def test_luminance_mode_through_scales_tiles_and_an_init_image(within):
    seen = []
    config = StyleConfig(
        size=96,
        start_size=64,
        iterations=3,
        scale_iterations=2,
        tile_size=64,
        preserve_color="luminance",
        init=str(SCREAM),
        precision="fp32",
    )
    out = api.render(api.prepare(CONTENT, [STARRY], config=config), callback=seen.append)
    assert [tuple(p.image.shape) for p in seen][::2] == [(1, 3, 51, 68), (1, 3, 51, 68), (1, 3, 72, 96)]
    content = load_tensor(CONTENT, 96)
    assert out.shape == content.shape
    chroma_error = float((rgb_to_yiq(to_tensor(to_pil(out)))[:, 1:] - rgb_to_yiq(content)[:, 1:]).abs().mean())
    within("chroma error", chroma_error, "<", 2 / 255)
