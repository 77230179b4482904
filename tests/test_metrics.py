import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from impasto import metrics

QUALITY = Path(__file__).resolve().parents[1] / "benchmarks" / "quality.py"


def test_sliced_wasserstein_is_zero_for_equal_samples_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    assert metrics.sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-9)
    near = metrics.sliced_wasserstein(x + 0.1, x)
    far = metrics.sliced_wasserstein(x + 1.0, x)
    assert 0.05 < near < far
    # Twice the spread: W2 between N(0, 4σ²) and N(0, σ²) is σ, so 1 in units of the reference std.
    assert metrics.sliced_wasserstein(2 * x, x) == pytest.approx(1.0, rel=0.05)


def test_laplacian_energy_sees_grain():
    flat = torch.full((1, 3, 16, 16), 0.5)
    noisy = (flat + 0.1 * torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert metrics.laplacian_energy(flat) == 0.0 and metrics.laplacian_energy(noisy) > 0.1


def test_score_of_the_content_itself_against_a_painting(vgg, small_content, style_path):
    from impasto.io.read import load_tensor, to_tensor

    content = to_tensor(small_content)
    style = load_tensor(style_path, max(small_content.size))
    with torch.no_grad():
        same = metrics.score(content, content, [style], vgg)
        squeezed = torch.nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear", antialias=True)
        painting = metrics.score(squeezed.clamp(0, 1), content, [style], vgg)
    assert same["content_rel"] == 0.0 and same["grain"] == pytest.approx(1.0)
    assert same["style_swd"] > 0.2  # a photo is far from Starry Night's statistics
    assert painting["style_swd"] < same["style_swd"] and painting["content_rel"] > 0.5
    assert painting["style_deep"] < same["style_deep"] and painting["style_fine"] < same["style_fine"]


@pytest.mark.slow  # benchmarks/quality.py in a subprocess, which imports torch
def test_the_command_line_scores_files(content_path, style_path, tmp_path, small_content):
    out = tmp_path / "same.png"
    small_content.save(out)
    run = subprocess.run(
        [sys.executable, str(QUALITY), str(out), str(content_path), str(style_path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(run.stdout)
    assert result["content_rel"] < 0.01 and result["grain"] == pytest.approx(1.0, abs=0.05)
    assert result["style_swd"] == pytest.approx(result["style_swd_content"], rel=0.05)
    assert result["style_swd_content"] > 0.2
    # The photo has nothing of the painting's: 0.000 measured, under every ISA.
    assert result["copy"] == result["copy_content"] < 0.01


@pytest.mark.slow  # benchmarks/quality.py in a subprocess, which imports torch
def test_the_command_line_says_what_is_missing(tmp_path):
    run = subprocess.run(
        [sys.executable, str(QUALITY), str(tmp_path / "nope.png"), "a.jpg", "b.jpg"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "no such file" in run.stderr
