"""The stride-4 CNN feature encoder of CoTracker2 (``fnet``, a ``BasicEncoder``).

Layout and parameter names match the official checkpoints: ``conv1``, ``layer1..4.{0,1}.conv{1,2}``,
``layer{2,3,4}.0.downsample.0`` (the shortcut conv; its instance norm has no parameters), ``conv2``, ``conv3``.
Every normalisation is a parameter-free instance norm (no affine, no running statistics), so the features
of a frame do not depend on the other frames in the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import EncoderConfig

__all__ = ["ResidualBlock", "BasicEncoder"]


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """conv3x3(stride) -> IN -> ReLU -> conv3x3 -> IN -> ReLU, plus a shortcut; output ReLU(shortcut + y).

    The shortcut is a strided 1x1 conv followed by instance norm when ``stride != 1``, else the identity.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.norm1 = _instance_norm(planes)
        self.norm2 = _instance_norm(planes)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), _instance_norm(planes))
        else:
            if in_planes != planes:
                raise ValueError(f"a stride-1 residual block needs in_planes == planes, got {in_planes} -> {planes}")
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(shortcut + y)


class BasicEncoder(nn.Module):
    """Multi-scale CNN: features at H/2, H/4, H/8, H/16, each resized to H/4 and fused.

    Args:
        config: encoder sizes.
        output_dim: output channels (the tracker's ``latent_dim``, 128).
    """

    def __init__(self, config: EncoderConfig, output_dim: int):
        super().__init__()
        self.stride = config.stride
        c0 = config.stem_channels
        c1, c2, c3 = config.layer_channels
        self.conv1 = nn.Conv2d(config.in_channels, c0, kernel_size=7, stride=2, padding=3)
        self.norm1 = _instance_norm(c0)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(ResidualBlock(c0, c0, 1), ResidualBlock(c0, c0, 1))
        self.layer2 = nn.Sequential(ResidualBlock(c0, c1, 2), ResidualBlock(c1, c1, 1))
        self.layer3 = nn.Sequential(ResidualBlock(c1, c2, 2), ResidualBlock(c2, c2, 1))
        self.layer4 = nn.Sequential(ResidualBlock(c2, c3, 2), ResidualBlock(c3, c3, 1))
        self.conv2 = nn.Conv2d(config.concat_channels, config.fuse_channels, kernel_size=3, padding=1)
        self.norm2 = _instance_norm(config.fuse_channels)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(config.fuse_channels, output_dim, kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode images.

        Args:
            x: (N, 3, H, W) float, normalised to [-1, 1]; H and W divisible by the stride.

        Returns:
            (N, output_dim, H / stride, W / stride) features.
        """
        H, W = x.shape[-2:]
        size = (H // self.stride, W // self.stride)
        x = self.relu1(self.norm1(self.conv1(x)))  # (N, c0, H/2, W/2)
        a = self.layer1(x)  # (N, c0, H/2, W/2)
        b = self.layer2(a)  # (N, c1, H/4, W/4)
        c = self.layer3(b)  # (N, c2, H/8, W/8)
        d = self.layer4(c)  # (N, c3, H/16, W/16)
        feats = [F.interpolate(f, size, mode="bilinear", align_corners=True) for f in (a, b, c, d)]
        x = self.relu2(self.norm2(self.conv2(torch.cat(feats, dim=1))))  # (N, fuse, H/4, W/4)
        return self.conv3(x)  # (N, output_dim, H/4, W/4)
