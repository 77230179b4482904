from pathlib import Path

import pytest
import torch

from impasto.nst import vgg as vggmod
from impasto.nst.layers import LAYER_NAMES, conv_shapes
from impasto.nst.vgg import (
    WEIGHTS_SHA256,
    default_weights_path,
    load_vgg19,
    load_weights,
    sha256_of,
)

# Reference feature means from the original network (zero padding, max pooling) on a gradient image.
REFERENCE_MEANS = {"relu1_1": 26.4594, "relu3_1": 141.923, "relu4_2": 403.904, "relu5_1": 60.3925}


def gradient_image() -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    return torch.stack([x, y, (x + y) / 2]).unsqueeze(0)  # R = x, G = y, B = (x + y) / 2


def test_default_weights_hash_and_shapes():
    path = default_weights_path()
    assert path.name == "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    assert sha256_of(path) == WEIGHTS_SHA256
    weights = load_weights()
    assert list(weights) == [n for n in LAYER_NAMES if n.startswith("conv")]
    assert len(weights) == 16
    for name, (weight, bias) in weights.items():
        assert tuple(weight.shape) == conv_shapes()[name]
        assert bias.shape == weight.shape[:1]
        assert weight.dtype == torch.float32
    # k-means to 8 bit: at most 256 distinct values per layer.
    assert torch.unique(weights["conv3_1"][0]).numel() <= 256


def test_features_match_the_original_network(vgg):
    features = vgg(gradient_image(), list(REFERENCE_MEANS))
    for layer, expected in REFERENCE_MEANS.items():
        assert features[layer].mean().item() == pytest.approx(expected, rel=5e-3), layer


def test_channel_order_is_checked(vgg):
    swapped = gradient_image()[:, [2, 1, 0]]
    mean = vgg(swapped, ["relu1_1"])["relu1_1"].mean().item()
    assert mean == pytest.approx(25.65, rel=2e-3)
    assert abs(mean - REFERENCE_MEANS["relu1_1"]) > 0.5


def test_forward_stops_at_the_deepest_layer_asked_for(vgg):
    calls = []
    hooks = [vgg.convs[n].register_forward_hook(lambda m, i, o, n=n: calls.append(n)) for n in ("conv2_1", "conv2_2")]
    try:
        out = vgg(gradient_image(), ["relu1_1", "relu2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert set(out) == {"relu1_1", "relu2_1"}
    assert calls == ["conv2_1"]
    assert out["relu2_1"].shape == (1, 128, 32, 32)


def test_conv_and_relu_of_the_same_layer_are_both_correct(vgg):
    out = vgg(gradient_image(), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()  # not overwritten by the in-place ReLU
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp_min(0))


def test_weights_never_require_grad_but_the_image_gets_one(vgg):
    assert not any(p.requires_grad for p in vgg.parameters())
    image = gradient_image().requires_grad_(True)
    vgg(image, ["relu3_1"])["relu3_1"].sum().backward()
    assert image.grad is not None and image.grad.is_contiguous()
    assert all(p.grad is None for p in vgg.parameters())


def test_unknown_layer_is_a_clear_error(vgg):
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        vgg(gradient_image(), ["relu9_9"])


def test_model_is_cached_in_process():
    assert load_vgg19() is load_vgg19()
    assert load_vgg19(pooling="avg") is not load_vgg19()


def test_avg_pooling_changes_deep_features_only(vgg):
    avg = load_vgg19(pooling="avg")
    image = gradient_image()
    torch.testing.assert_close(avg(image, ["relu1_2"])["relu1_2"], vgg(image, ["relu1_2"])["relu1_2"])
    assert not torch.allclose(avg(image, ["relu2_1"])["relu2_1"], vgg(image, ["relu2_1"])["relu2_1"])


@pytest.mark.slow
def test_rescaled_avg_pooling_keeps_max_poolings_activation_magnitudes(vgg, monkeypatch):
    """Over the bundled images at 256 px (the factors were fitted at 384), the mean activation
    of every style layer under avg pooling is max pooling's within 10%; without the factors,
    relu5_1's is 4x smaller."""
    from impasto.io.read import load_tensor
    from impasto.nst import vgg as vgg_module

    examples = Path(__file__).resolve().parents[2] / "examples"
    images = [load_tensor(examples / name, 256) for name in ("tubingen.jpg", "starry_night.jpg", "the_scream.jpg")]
    layers = ["relu2_1", "relu3_1", "relu4_1", "relu5_1"]

    def ratios(model) -> dict[str, float]:
        with torch.no_grad():
            avg = [model(x, layers) for x in images]
            top = [vgg(x, layers) for x in images]
        return {k: sum(float(a[k].mean()) for a in avg) / sum(float(m[k].mean()) for m in top) for k in layers}

    avg_model = vgg_module.VGG19Features(load_weights(), pooling="avg")
    assert all(0.9 < r < 1.1 for r in ratios(avg_model).values()), ratios(avg_model)
    monkeypatch.setattr(vgg_module, "AVG_POOL_SCALE", dict.fromkeys(vgg_module.AVG_POOL_SCALE, 1.0))
    assert ratios(avg_model)["relu5_1"] < 0.3


def test_a_grey_image_reads_as_equal_rgb_channels(vgg, content_tensor):
    grey = content_tensor.mean(1, keepdim=True)
    torch.testing.assert_close(
        vgg(grey, ["relu3_1"])["relu3_1"], vgg(grey.expand(-1, 3, -1, -1), ["relu3_1"])["relu3_1"]
    )
    with pytest.raises(ValueError, match="grey"):
        vgg(torch.rand(1, 2, 32, 32), ["relu1_1"])


@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_padding_changes_the_border_only(vgg, content_tensor, padding):
    other = load_vgg19(padding=padding)
    assert other is not vgg
    a, b = other(content_tensor, ["relu1_1"])["relu1_1"], vgg(content_tensor, ["relu1_1"])["relu1_1"]
    torch.testing.assert_close(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1])  # conv1_1 reads 1 px beyond
    assert not torch.allclose(a[..., 0, :], b[..., 0, :])
    with pytest.raises(ValueError, match="padding must be"):
        load_vgg19(padding="circular")


def test_a_float_safetensors_file_gives_the_same_features(tmp_path, vgg):
    from safetensors.torch import save_file

    tensors = {}
    for name, (weight, bias) in load_weights().items():
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = weight, bias
    path = tmp_path / "vgg19.safetensors"
    save_file(tensors, str(path))
    other = load_vgg19(path)
    assert other is not vgg
    torch.testing.assert_close(
        other(gradient_image(), ["relu3_1"])["relu3_1"], vgg(gradient_image(), ["relu3_1"])["relu3_1"]
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "cannot be read"),
        (b"not a weights file at all", "cannot be read"),
    ],
)
def test_unreadable_weights_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_weights(path)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_weights(tmp_path / "nope.bin")


def test_wrong_layers_or_shapes_are_clear_errors(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"conv1_1.weight": torch.zeros(64, 3, 3, 3), "conv1_1.bias": torch.zeros(64)}, path)
    with pytest.raises(ValueError, match="no VGG19 layer conv1_2"):
        load_weights(path)
    state = {f"{n}.weight": torch.zeros(s) for n, s in conv_shapes().items()}
    state.update({f"{n}.bias": torch.zeros(s[0]) for n, s in conv_shapes().items()})
    state["conv2_1.weight"] = torch.zeros(128, 32, 3, 3)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"conv2_1 has shape \(128, 32, 3, 3\)"):
        load_weights(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="not a dict of tensors"):
        load_weights(path)


def test_default_file_with_a_wrong_hash_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    fake.write_bytes(b"tampered")
    monkeypatch.setattr(vggmod, "default_weights_path", lambda: fake)
    with pytest.raises(ValueError, match="SHA-256"):
        load_weights()
