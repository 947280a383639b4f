import math

import pytest
import torch

from cotracker.models.embeddings import flow_embedding, sincos_1d, sincos_2d_grid, time_embedding


def test_sincos_1d_hand_values():
    # D = 4: omega = [1, 1/100]; output [sin(p), sin(p/100), cos(p), cos(p/100)].
    e = sincos_1d(4, torch.tensor([0.0, 2.0]))
    expected = torch.tensor([[0, 0, 1, 1], [math.sin(2), math.sin(0.02), math.cos(2), math.cos(0.02)]])
    assert e.dtype == torch.float32
    torch.testing.assert_close(e, expected.float())


def test_time_embedding_shape_and_rows():
    te = time_embedding(8, 456)
    assert te.shape == (1, 8, 456)
    # frequency k of row p: sin(p * 10000^(-k/228)) then cos
    p, k = 5, 10
    assert te[0, p, k].item() == pytest.approx(math.sin(p * 10000 ** (-k / 228)), abs=1e-6)
    assert te[0, p, 228 + k].item() == pytest.approx(math.cos(p * 10000 ** (-k / 228)), abs=1e-6)


def test_2d_grid_puts_x_first():
    pe = sincos_2d_grid(8, (3, 5))  # (1, 8, 3, 5)
    assert pe.shape == (1, 8, 3, 5)
    row, col = 2, 4
    torch.testing.assert_close(pe[0, :4, row, col], sincos_1d(4, torch.tensor(float(col))))
    torch.testing.assert_close(pe[0, 4:, row, col], sincos_1d(4, torch.tensor(float(row))))
    # first half constant down a column, second half constant along a row
    assert torch.equal(pe[0, :4, 0], pe[0, :4, 2])
    assert torch.equal(pe[0, 4:, :, 0], pe[0, 4:, :, 3])


def test_flow_embedding_layout_interleaved_linear_freqs():
    xy = torch.tensor([[0.3, -1.7]])
    C = 8  # frequencies f_j = 2j * 1000 / 8 = 250 j, j = 0..3
    e = flow_embedding(xy, C)
    assert e.shape == (1, 2 + 2 * C)
    expected = [0.3, -1.7]
    for v in (0.3, -1.7):
        for j in range(C // 2):
            f = 2 * j * 1000 / C
            expected += [math.sin(v * f), math.cos(v * f)]
    torch.testing.assert_close(e[0], torch.tensor(expected), atol=2e-4, rtol=0)
    assert e[0, 2].item() == 0.0 and e[0, 3].item() == 1.0  # f_0 = 0: sin 0, cos 1


def test_flow_embedding_official_width():
    assert flow_embedding(torch.zeros(2, 3, 2), 64).shape == (2, 3, 130)
    with pytest.raises(ValueError, match="even"):
        flow_embedding(torch.zeros(1, 2), 5)
