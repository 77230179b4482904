"""Image input (io/read.py): every input mode lands in 8-bit sRGB RGB; masks keep their meaning."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from imagefiles import grey16_ramp, linear_srgb_icc, srgb_encode
from PIL import Image

from impasto.io.read import open_image, resize_long_side
from impasto.io.write import encode_png16


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(3, "bottom right"), (6, "top right"), (8, "bottom left")],  # 180°, 90° clockwise, 90° counter-clockwise
)
def test_exif_orientation_is_applied(tmp_path, orientation, corner):
    exif = Image.Exif()
    exif[0x0112] = orientation  # how a viewer must turn the stored pixels to display them
    path = tmp_path / "rotated.png"
    stored = Image.new("RGB", (60, 40), "red")
    stored.paste((0, 0, 255), (0, 0, 10, 10))  # a blue mark in the stored top-left corner
    stored.save(path, exif=exif)
    assert Image.open(path).size == (60, 40)
    shown = open_image(path)
    assert shown.size == ((60, 40) if orientation == 3 else (40, 60))
    right, bottom = shown.width - 5, shown.height - 5
    where = {"bottom right": (right, bottom), "top right": (right, 5), "bottom left": (5, bottom)}
    for name, (x, y) in {"top left": (5, 5), **where}.items():
        assert shown.getpixel((x, y)) == ((0, 0, 255) if name == corner else (255, 0, 0)), name


def test_cmyk_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(path, quality=100)  # cyan 0, magenta+yellow: red
    r, g, b = open_image(path).getpixel((20, 20))
    assert r > 240 and g < 15 and b < 15


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 20, 40))
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    out = open_image(path)
    assert out.mode == "RGB" and out.getpixel((5, 5)) == (255, 0, 0) and out.getpixel((30, 5)) == (255, 255, 255)


@pytest.mark.parametrize("mode, colour", [("RGBA", (0, 0, 0, 128)), ("LA", (0, 128))])
def test_alpha_is_composited_on_white(tmp_path, mode, colour):
    path = tmp_path / f"{mode}.png"
    Image.new(mode, (40, 40), colour).save(path)
    assert all(abs(v - 127) <= 1 for v in open_image(path).getpixel((0, 0)))  # half black over white


def test_16_bit_grey_keeps_its_full_range(tmp_path):
    path = tmp_path / "grey16.png"
    grey16_ramp().save(path)
    assert Image.open(path).mode == "I;16"
    row = [open_image(path).getpixel((x, 0))[0] for x in (0, 32, 63)]
    assert row[0] == 0 and row[2] == 255 and 125 <= row[1] <= 135  # not clipped to white above 255


def test_16_bit_rgb_png_is_read(tmp_path):
    array = np.zeros((40, 50, 3), np.uint16)
    array[..., 0] = 65535  # red
    array[..., 2] = 32896  # half blue
    path = tmp_path / "rgb16.png"
    path.write_bytes(encode_png16(array))
    assert open_image(path).getpixel((0, 0)) == (255, 0, 128)


def test_icc_profile_is_converted_to_srgb(tmp_path):
    path = tmp_path / "linear.png"
    Image.new("RGB", (40, 40), (128, 128, 128)).save(path, icc_profile=linear_srgb_icc())
    expected = srgb_encode(128 / 255) * 255  # about 188: linear light re-encoded with sRGB's curve
    assert all(abs(v - expected) <= 2 for v in open_image(path).getpixel((0, 0)))
    plain = tmp_path / "plain.png"
    Image.new("RGB", (40, 40), (128, 128, 128)).save(plain)
    assert open_image(plain).getpixel((0, 0)) == (128, 128, 128)  # no profile: taken as sRGB


def test_broken_icc_profile_is_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "badicc.png"
    Image.new("RGB", (40, 40), (10, 20, 30)).save(path, icc_profile=b"not a profile at all")
    with caplog.at_level(logging.WARNING, logger="impasto"):
        assert open_image(path).getpixel((0, 0)) == (10, 20, 30)
    assert "ignoring its colour profile" in caplog.text


def test_multi_frame_file_gives_its_first_frame_with_a_warning(tmp_path, caplog):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "blue", "green")]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="impasto"):
        assert open_image(path).getpixel((0, 0)) == (255, 0, 0)
    assert "has 3 frames; using the first" in caplog.text


def test_resize_is_antialiased():
    stripes = Image.fromarray(np.tile(np.array([0, 255], np.uint8).repeat(1), (64, 32)), "L").convert("RGB")
    small = resize_long_side(stripes, 16)
    assert small.size == (16, 16)
    assert all(100 < v < 155 for v in np.asarray(small)[..., 0].ravel())  # 1-px stripes average to grey


def test_a_pixel_limit_is_checked_on_the_header_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ValueError, match=r"wide\.png: 300x200 px is over the limit of 59,999 pixels$"):
        open_image(path, max_pixels=59_999)
    assert open_image(path, max_pixels=60_000).size == (300, 200)
    with pytest.raises(ValueError, match="image: 300x200 px is over the limit"):
        open_image(Image.new("RGB", (300, 200)), max_pixels=1000)


def test_transparent_pixels_of_a_mask_are_unpainted_and_colour_warns(tmp_path, caplog):
    from impasto.io.read import open_mask

    drawn = Image.new("LA", (8, 6), (255, 0))
    drawn.paste((255, 255), (0, 0, 4, 6))  # opaque white on the left, transparent on the right
    drawn.save(tmp_path / "drawn.png")
    mask = open_mask(tmp_path / "drawn.png")
    assert float(mask[..., :4].min()) == 1.0 and float(mask[..., 4:].max()) == 0.0
    Image.new("RGB", (8, 6), (255, 0, 0)).save(tmp_path / "red.png")
    logger = logging.getLogger("impasto")  # the CLI stops it propagating to the root's handlers
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("WARNING", logger="impasto"):
            red = open_mask(tmp_path / "red.png")
    finally:
        logger.removeHandler(caplog.handler)
    assert "colour image" in caplog.text and float(red.mean()) == pytest.approx(76 / 255, abs=0.01)


def test_colour_keyed_and_16_bit_masks_keep_their_meaning(tmp_path):
    import numpy as np

    from impasto.io.read import open_mask

    keyed = Image.new("L", (4, 2), 255)
    keyed.putpixel((0, 0), 128)
    keyed.save(tmp_path / "keyed.png", transparency=255)  # white marks "transparent"
    mask = open_mask(tmp_path / "keyed.png")
    assert float(mask[0, 0, 0, 0]) == pytest.approx(128 / 255) and float(mask.sum()) == pytest.approx(128 / 255)
    Image.fromarray(np.full((2, 4), 32769, dtype=np.uint16)).save(tmp_path / "deep.png")
    assert float(open_mask(tmp_path / "deep.png")[0, 0, 0, 0]) == pytest.approx(32769 / 65535, abs=1e-6)
