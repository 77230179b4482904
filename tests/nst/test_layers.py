"""VGG19's layer names and geometry (nst/layers.py), the strides checked on the real network."""

import pytest
import torch

from impasto.nst.layers import LAYER_NAMES, channels, conv_shapes, stride


def test_layer_names_and_channels():
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5" and len(LAYER_NAMES) == 37
    assert channels("relu4_2") == 512 and channels("pool1") == 64 and channels("conv3_4") == 256
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        channels("fc6")


def test_strides_of_named_layers(vgg):
    assert [stride(x) for x in ("relu1_1", "relu2_1", "relu3_1", "relu4_2", "relu5_1")] == [1, 2, 4, 8, 16]
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        features = vgg(image, LAYER_NAMES)
    for layer in LAYER_NAMES:  # conv, relu and pool layers alike
        assert stride(layer) == 64 // features[layer].shape[-2] == 96 // features[layer].shape[-1], layer


def test_conv_shapes_chain_their_channels():
    shapes = conv_shapes()
    assert len(shapes) == 16 and shapes["conv1_1"] == (64, 3, 3, 3)
    previous = 3
    for name, (out_channels, in_channels, height, width) in shapes.items():
        assert (in_channels, height, width) == (previous, 3, 3) and out_channels == channels(name), name
        previous = out_channels
