"""Image output (io/write.py): outputs keep their format, depth and profile, and writes are atomic."""

from __future__ import annotations

import io
import struct

import numpy as np
import png  # pypng: an independent reader for 16-bit PNG
import pytest
import tifffile
import torch
from imagefiles import noise_image
from PIL import Image, ImageCms, JpegImagePlugin

from impasto.io.read import to_array, to_tensor
from impasto.io.write import encode_png16, output_format, save_image


def _smooth_tensor(width: int = 80, height: int = 60) -> torch.Tensor:
    """A float gradient image: far more than 256 distinct levels per channel."""
    x = torch.linspace(0, 1, width).view(1, 1, 1, width).expand(1, 1, height, width)
    y = torch.linspace(0, 1, height).view(1, 1, height, 1).expand(1, 1, height, width)
    return torch.cat([x, y, x * y], dim=1).contiguous()


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


@pytest.mark.parametrize("name", ["out.png", "out.tif", "out.jpg", "out.webp"])
def test_the_same_image_gives_the_same_bytes_with_an_srgb_profile_of_fixed_date(tmp_path, name):
    image = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(1))
    first, second = tmp_path / f"a.{name}", tmp_path / f"b.{name}"
    save_image(image, first)
    save_image(image, second)
    assert first.read_bytes() == second.read_bytes()
    if name.endswith(".tif"):
        with tifffile.TiffFile(first) as tif:
            profile = bytes(tif.pages[0].tags["InterColorProfile"].value)
    else:
        with Image.open(first) as decoded:
            profile = decoded.info["icc_profile"]
    assert profile[24:36] == struct.pack(">6H", 2026, 1, 1, 0, 0, 0)  # not the time it was written
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip() == "sRGB built-in"
