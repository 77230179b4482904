import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import quality


def test_sliced_wasserstein_is_zero_for_equal_samples_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    assert quality.sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-9)
    near = quality.sliced_wasserstein(x + 0.1, x)
    far = quality.sliced_wasserstein(x + 1.0, x)
    assert 0.05 < near < far
    # Twice the spread: W2 between N(0, 4σ²) and N(0, σ²) is σ, so 1 in units of the reference std.
    assert quality.sliced_wasserstein(2 * x, x) == pytest.approx(1.0, rel=0.05)


def test_laplacian_energy_sees_grain():
    flat = torch.full((1, 3, 16, 16), 0.5)
    noisy = (flat + 0.1 * torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert quality.laplacian_energy(flat) == 0.0 and quality.laplacian_energy(noisy) > 0.1


@pytest.mark.slow
def test_metrics_of_the_content_itself(content_path, style_path, tmp_path, small_content):
    out = tmp_path / "same.png"
    small_content.save(out)
    result = quality.evaluate(str(out), str(content_path), [str(style_path)])
    assert result["content_rel"] < 0.01 and result["grain"] == pytest.approx(1.0, abs=0.05)
    assert result["style_swd"] == pytest.approx(result["style_swd_content"], rel=0.05)
    assert result["style_swd_content"] > 0.2  # a photo is far from Starry Night's statistics


def test_command_line_errors(capsys, tmp_path):
    assert quality.main([str(tmp_path / "nope.png"), "a.jpg", "b.jpg"]) == 2
    assert "no such file" in capsys.readouterr().err
