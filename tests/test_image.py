"""Image I/O: every input mode lands in 8-bit sRGB RGB; outputs keep their format, depth and profile."""

from __future__ import annotations

import io
import logging

import numpy as np
import png  # pypng: an independent reader for 16-bit PNG
import pytest
import tifffile
import torch
from imagefiles import grey16_ramp, linear_srgb_icc, noise_image, srgb_encode
from PIL import Image, ImageCms, JpegImagePlugin

from impasto.io.read import open_image, resize_long_side, to_array, to_tensor
from impasto.io.write import encode_png16, output_format, save_image


def _smooth_tensor(width: int = 80, height: int = 60) -> torch.Tensor:
    """A float gradient image: far more than 256 distinct levels per channel."""
    x = torch.linspace(0, 1, width).view(1, 1, 1, width).expand(1, 1, height, width)
    y = torch.linspace(0, 1, height).view(1, 1, height, 1).expand(1, 1, height, width)
    return torch.cat([x, y, x * y], dim=1).contiguous()


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.new("RGB", (60, 40), "red").save(path, exif=exif)
    assert Image.open(path).size == (60, 40)
    assert open_image(path).size == (40, 60)


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


def test_png16_encoder_round_trips_exactly_through_an_independent_decoder():
    array = np.random.default_rng(0).integers(0, 65536, (37, 53, 3), dtype=np.uint16)
    width, height, rows, info = png.Reader(bytes=encode_png16(array, b"icc")).asDirect()
    decoded = np.array(list(rows), dtype=np.uint16).reshape(height, width, 3)
    assert info["bitdepth"] == 16 and np.array_equal(decoded, array)


def _levels(array: np.ndarray) -> int:
    return len(np.unique(array))


def test_16_bit_png_output_has_more_than_256_levels_and_srgb(tmp_path):
    path = save_image(_smooth_tensor(), tmp_path / "out.png", bit_depth=16)
    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    array = np.array(list(rows), dtype=np.uint16).reshape(height, width, 3)
    assert info["bitdepth"] == 16 and _levels(array) > 256 and np.any(array % 257)
    with Image.open(path) as check:  # other readers accept it, with its profile
        assert check.size == (80, 60)
        profile = ImageCms.ImageCmsProfile(io.BytesIO(check.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_tiff_output_is_16_bit_by_default(tmp_path):
    path = save_image(_smooth_tensor(), tmp_path / "out.tif")
    array = tifffile.imread(path)
    assert array.dtype == np.uint16 and array.shape == (60, 80, 3) and _levels(array) > 256
    assert np.abs(array.astype(np.float64) / 65535 - to_array(_smooth_tensor(), 16) / 65535).max() < 1e-9
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].tags.get("InterColorProfile") is not None


def test_jpeg_output_has_no_chroma_subsampling(tmp_path):
    path = save_image(_smooth_tensor(), tmp_path / "out.jpg")
    with Image.open(path) as image:
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4
        assert "icc_profile" in image.info


@pytest.mark.parametrize("name", ["out.png", "out.webp", "out.jpeg"])
def test_8_bit_outputs_round_trip(tmp_path, name):
    source = noise_image(48, 32)
    path = save_image(to_tensor(source), tmp_path / name)
    with Image.open(path) as image:
        assert image.size == (48, 32) and image.mode == "RGB"
        if name.endswith(".png"):
            assert image.tobytes() == source.tobytes()  # lossless
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_output_format_is_chosen_by_extension():
    assert output_format("a.PNG") == ("PNG", 8) and output_format("a.png", 16) == ("PNG", 16)
    assert output_format("a.tiff") == ("TIFF", 16) and output_format("a.jpg") == ("JPEG", 8)
    with pytest.raises(ValueError, match="unknown output extension '.gif'"):
        output_format("a.gif")
    with pytest.raises(ValueError, match="JPEG holds 8 bits per channel"):
        output_format("a.jpg", 16)
    with pytest.raises(ValueError, match="bit depth must be 8 or 16"):
        output_format("a.png", 12)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    path.write_bytes(b"old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("impasto.io.write.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_image(torch.zeros(1, 3, 8, 8), path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_pil_images_save_at_16_bits_as_exact_multiples(tmp_path):
    path = save_image(noise_image(20, 10), tmp_path / "pil.tif", bit_depth=16)
    array = tifffile.imread(path)
    assert array.dtype == np.uint16 and np.array_equal(array, np.asarray(noise_image(20, 10)).astype(np.uint16) * 257)


def test_a_pixel_limit_is_checked_on_the_header_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ValueError, match=r"wide\.png: 300x200 px is over the limit of 59,999 pixels$"):
        open_image(path, max_pixels=59_999)
    assert open_image(path, max_pixels=60_000).size == (300, 200)
    with pytest.raises(ValueError, match="image: 300x200 px is over the limit"):
        open_image(Image.new("RGB", (300, 200)), max_pixels=1000)
