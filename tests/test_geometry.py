import pytest
import torch
import torch.nn.functional as F

from cotracker.geometry import (
    bilinear_sample,
    features_to_pixels,
    grid_points,
    pixels_to_features,
    pixels_to_normalized,
    pixels_to_tapvid_points,
    rescale_points,
    rescale_queries,
    sample_features4d,
    sample_features5d,
    tapvid_points_to_pixels,
    tapvid_queries_to_txy,
    txy_to_tapvid_queries,
)


def test_rescale_points_hand_values_and_round_trip():
    xy = torch.tensor([[0.0, 0.0], [853.0, 479.0], [426.5, 239.5]])
    out = rescale_points(xy, (480, 854), (384, 512))
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0], [511.0, 383.0], [255.5, 191.5]]))
    torch.testing.assert_close(rescale_points(out, (384, 512), (480, 854)), xy)


def test_rescale_queries_keeps_t():
    q = torch.tensor([[[3.0, 1279.0, 719.0]]])
    out = rescale_queries(q, (720, 1280), (384, 512))
    torch.testing.assert_close(out, torch.tensor([[[3.0, 511.0, 383.0]]]))


def test_size_one_maps_to_zero():
    assert rescale_points(torch.tensor([0.0, 0.0]), (1, 1), (10, 20)).tolist() == [0.0, 0.0]


def test_feature_units():
    xy = torch.tensor([8.0, 6.0])
    assert pixels_to_features(xy, 4).tolist() == [2.0, 1.5]
    torch.testing.assert_close(features_to_pixels(pixels_to_features(xy, 4), 4), xy)


def test_pixels_to_normalized_hand_values():
    out = pixels_to_normalized(torch.tensor([[0.0, 0.0], [127.0, 95.0], [63.5, 47.5]]), (128, 96))
    torch.testing.assert_close(out, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]))


def test_grid_points_official_margin():
    g = grid_points(3, (384, 512))
    assert g.shape == (1, 9, 2)
    assert g[0, :3, 0].tolist() == [8.0, 256.0, 504.0] and g[0, :3, 1].tolist() == [8.0, 8.0, 8.0]
    assert g[0, -1].tolist() == [504.0, 376.0]
    assert grid_points(1, (384, 512)).tolist() == [[[256.0, 192.0]]]
    with pytest.raises(ValueError, match="grid_size"):
        grid_points(0, (10, 10))


def test_bilinear_sample_hand_values_and_border():
    img = torch.tensor([[[[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]]])  # (1, 1, 2, 3): value = 10 y + x
    pts = torch.tensor([[[1.5, 0.5], [0.0, 1.0], [-3.0, 0.0], [7.0, 9.0]]])  # (x, y)
    out = sample_features4d(img, pts)[0, :, 0]
    assert out.tolist() == pytest.approx([6.5, 10.0, 0.0, 12.0])  # last two clamped at the border


def test_sample_features5d_selects_frame_and_interpolates_time():
    feat = torch.arange(3.0).reshape(1, 3, 1, 1, 1).expand(1, 3, 2, 4, 4)  # frame t has value t
    txy = torch.tensor([[[[2.0, 1.0, 1.0], [0.5, 3.0, 0.0]]]])  # (1, 1, 2, 3)
    out = sample_features5d(feat, txy)
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, :, 0].tolist() == [2.0, 0.5]


def test_bilinear_sample_matches_grid_sample():
    g = torch.Generator().manual_seed(0)
    img = torch.randn(2, 3, 5, 7, generator=g)
    pts = torch.rand(2, 4, 6, 2, generator=g) * 6
    grid = torch.stack([pts[..., 0] * 2 / 6 - 1, pts[..., 1] * 2 / 4 - 1], -1)
    ref = F.grid_sample(img, grid, align_corners=True, padding_mode="border")
    torch.testing.assert_close(bilinear_sample(img, pts), ref)
    with pytest.raises(ValueError, match="4D or 5D"):
        bilinear_sample(torch.zeros(3, 4, 5), pts)


def test_tapvid_conversions_round_trip():
    p01 = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    px = tapvid_points_to_pixels(p01, (256, 256))
    torch.testing.assert_close(px, torch.tensor([[0.0, 255.0], [127.5, 63.75]]))
    torch.testing.assert_close(pixels_to_tapvid_points(px, (256, 256)), p01)
    q = torch.tensor([[4.0, 10.0, 20.0]])  # (t, y, x)
    assert tapvid_queries_to_txy(q).tolist() == [[4.0, 20.0, 10.0]]
    torch.testing.assert_close(txy_to_tapvid_queries(tapvid_queries_to_txy(q)), q)
