"""The Python API: impasto.stylize from paths and Pillow images, and its checks before any work."""

import pytest
from PIL import Image

import impasto
from impasto import api
from impasto.io.read import open_image, resize_exact


@pytest.mark.slow
def test_stylize_from_paths_and_from_images(content_path, style_path, small_content, small_style):
    config = impasto.StyleConfig(size=64, iterations=3)
    from_paths = impasto.stylize(content_path, style_path, config=config)
    from_images = impasto.stylize(small_content, [small_style], config=config)
    assert isinstance(from_paths, Image.Image) and from_paths.mode == "RGB"
    assert from_paths.size == (64, 48) == small_content.size == from_images.size


@pytest.mark.slow
@pytest.mark.numeric
def test_same_seed_same_bytes(content_path, style_path):
    # fp32 on a fixed thread count (tests/conftest.py): bf16 kernels promise no run-to-run equality.
    config = impasto.StyleConfig(size=64, iterations=5, init="noise", seed=7, precision="fp32")
    a = impasto.stylize(content_path, style_path, config=config)
    b = impasto.stylize(content_path, style_path, config=config)
    assert a.tobytes() == b.tobytes()


@pytest.mark.slow
def test_callback_gets_progress_and_style_scale_is_used(small_content, small_style, monkeypatch):
    real, style_sizes = api.optimize_scales, []

    def spy(model, schedule, inputs_at, config, **kwargs):  # what the engine gets at each scale
        style_sizes.extend(tuple(s.shape[-2:]) for scale, _ in schedule for s in inputs_at(scale).styles)
        return real(model, schedule, inputs_at, config, **kwargs)

    monkeypatch.setattr(api, "optimize_scales", spy)
    seen = []
    config = impasto.StyleConfig(size=64, iterations=4, style_scale=1.5)
    impasto.stylize(small_content, small_style, config=config, callback=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4]
    assert isinstance(seen[0], impasto.Progress) and seen[0].total == 4
    # The style reaches the engine at 1.5x the 64-px output, with its own aspect ratio.
    width, height = small_style.size
    assert style_sizes == [(round(96 * height / width), 96)]
    style_sizes.clear()
    impasto.stylize(small_content, small_style, config=impasto.StyleConfig(size=64, iterations=1))
    assert style_sizes == [(height, width)]  # style_scale 1: the output's size


def test_init_from_an_image_path(content_path, style_path):
    config = impasto.StyleConfig(size=64, iterations=0, init=str(style_path))
    out = impasto.stylize(content_path, style_path, config=config)
    # The content's aspect ratio, started from the style picture squeezed to it, not from the photo.
    assert out.size == (64, 48)
    assert out.tobytes() == resize_exact(open_image(style_path), (64, 48)).tobytes()
    photo = impasto.stylize(content_path, style_path, config=impasto.StyleConfig(size=64, iterations=0))
    assert photo.tobytes() == resize_exact(open_image(content_path), (64, 48)).tobytes() != out.tobytes()


@pytest.mark.parametrize("bad, message", [("missing.jpg", "no such file"), (__file__, "not an image file")])
def test_bad_inputs_are_value_errors_naming_the_file(style_path, bad, message):
    with pytest.raises(ValueError, match=message):
        impasto.stylize(bad, style_path, config=impasto.StyleConfig(size=32, iterations=1))


def test_blend_weight_count_must_match(content_path, style_path):
    with pytest.raises(ValueError, match="2 style images but 3"):
        impasto.stylize(
            content_path, [style_path, style_path], config=impasto.StyleConfig(size=32, style_blend_weights=(1, 1, 1))
        )
    with pytest.raises(ValueError, match="at least one style"):
        impasto.stylize(content_path, [], config=impasto.StyleConfig(size=32))


def test_images_too_small_for_vgg19_are_refused_early(content_path, style_path, tmp_path):
    from impasto.nst.vgg import _cached_model

    loads = _cached_model.cache_info()
    strip = tmp_path / "strip.png"
    Image.new("RGB", (400, 10), "white").save(strip)
    with pytest.raises(ValueError, match="content image .*strip.png is 400x10 px; VGG19 needs at least 32"):
        impasto.stylize(strip, style_path, config=impasto.StyleConfig(size=400))
    with pytest.raises(
        ValueError, match=r"style image .*starry_night.jpg would be 25 px.*raise start_size, style_scale"
    ):
        impasto.stylize(content_path, style_path, config=impasto.StyleConfig(size=80, style_scale=0.5))
    assert _cached_model.cache_info() == loads  # refused before the network was loaded
