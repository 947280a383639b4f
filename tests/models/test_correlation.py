import math

import pytest

import torch
import torch.nn.functional as F

from cotracker.models.correlation import build_pyramid, flatten_pyramid, local_correlation, neighbourhood_offsets


def _full_volume_correlation(pyramid, track_feat, coords, radius):
    """Straightforward reference: the full (B, S, N, h, w) volume per level, then sampled with grid_sample."""
    B, S, N, C = track_feat.shape
    out = []
    for level, fmap in enumerate(pyramid):
        h, w = fmap.shape[-2:]
        fm = fmap.reshape(B, S, C, h * w)
        vol = torch.matmul(track_feat, fm) / math.sqrt(C)  # (B, S, N, h*w)
        vol = vol.reshape(B * S * N, 1, h, w)
        vals = []
        for i in range(-radius, radius + 1):  # x offset, slow
            for j in range(-radius, radius + 1):  # y offset, fast
                p = coords.reshape(B * S * N, 2) / 2**level + torch.tensor([float(i), float(j)])
                gx = p[:, 0] * 2 / max(w - 1, 1) - 1
                gy = p[:, 1] * 2 / max(h - 1, 1) - 1
                grid = torch.stack([gx, gy], -1)[:, None, None]  # (M, 1, 1, 2)
                v = F.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)
                vals.append(v.reshape(B, S, N))
        out.append(torch.stack(vals, -1))
    return torch.cat(out, -1)


def test_offsets_order_x_slow():
    off = neighbourhood_offsets(1)
    assert off.tolist() == [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 0], [0, 1], [1, -1], [1, 0], [1, 1]]


def test_pyramid_is_avg_pool():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    p = build_pyramid(x, 3)
    assert [t.shape[-1] for t in p] == [4, 2, 1]
    assert p[1][0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert p[2].item() == 7.5


def test_constructed_ordering_example():
    # A one-channel map equal to 10 * x + y: the correlation with a feature of 1 reads back the sampled position.
    h, w = 9, 9
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    fmap = (10 * xs + ys)[None, None]  # (1, 1, h, w)
    feat = torch.ones(1, 1, 1, 1)
    coords = torch.tensor([[[[4.0, 4.0]]]])
    corr = local_correlation(flatten_pyramid([fmap]), feat, coords, radius=3)[0, 0, 0]  # (49,)
    for idx in range(49):
        i, j = divmod(idx, 7)
        assert corr[idx].item() == 10 * (4 + i - 3) + (4 + j - 3)  # x-offset slow, y-offset fast


def test_local_equals_full_volume():
    g = torch.Generator().manual_seed(0)
    B, S, N, C, h, w, levels, r = 2, 3, 5, 6, 12, 16, 3, 2
    fmaps = torch.randn(B * S, C, h, w, generator=g)
    pyr = build_pyramid(fmaps, levels)
    feat = torch.randn(B, S, N, C, generator=g)
    # include points outside the map to exercise the border clamping
    coords = torch.rand(B, S, N, 2, generator=g) * torch.tensor([w + 6.0, h + 6.0]) - 3
    local = local_correlation(flatten_pyramid(pyr), feat, coords, r)
    full = _full_volume_correlation(pyr, feat, coords, r)
    assert local.shape == (B, S, N, levels * (2 * r + 1) ** 2)
    torch.testing.assert_close(local, full, atol=1e-5, rtol=1e-5)


def test_correlation_backward():
    fm = torch.randn(2, 4, 8, 8, requires_grad=True)
    feat = torch.randn(1, 2, 3, 4, requires_grad=True)
    out = local_correlation(flatten_pyramid(build_pyramid(fm, 2)), feat, torch.rand(1, 2, 3, 2) * 7, 3)
    out.sum().backward()
    assert torch.isfinite(fm.grad).all() and fm.grad.abs().sum() > 0 and feat.grad.abs().sum() > 0


def test_local_correlation_rejects_channels_first_maps():
    fm = torch.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match="channels-last"):
        local_correlation(build_pyramid(fm, 1), torch.randn(1, 2, 3, 4), torch.rand(1, 2, 3, 2), 1)
