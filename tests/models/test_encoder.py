import torch

from cotracker.models.config import EncoderConfig
from cotracker.models.encoder import BasicEncoder


def test_encoder_shape_keys_and_backward():
    enc = BasicEncoder(EncoderConfig(stem_channels=8, layer_channels=(12, 16, 16), fuse_channels=16), output_dim=10)
    x = torch.randn(2, 3, 32, 48)
    y = enc(x)
    assert y.shape == (2, 10, 8, 12)
    y.square().mean().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    keys = set(enc.state_dict())
    assert "layer2.0.downsample.0.weight" in keys and "layer1.0.downsample.0.weight" not in keys
    assert not any("norm" in k for k in keys)  # instance norms carry no parameters


def test_frames_are_encoded_independently():
    enc = BasicEncoder(EncoderConfig(stem_channels=8, layer_channels=(8, 8, 8), fuse_channels=8), output_dim=4).eval()
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(enc(x)[1:2], enc(x[1:2]), atol=1e-5, rtol=1e-5)
