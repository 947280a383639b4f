import math

import numpy as np
import pytest
import torch

from cotracker.pose.smoothing import OneEuroConfig, one_euro_filter, smooth_tracks


def _rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _trailing_mean(x, window):
    out = np.empty_like(x)
    for t in range(len(x)):
        out[t] = x[max(0, t - window + 1): t + 1].mean(0)
    return out


def test_first_step_matches_the_formula():
    cfg = OneEuroConfig(min_cutoff=2.0, beta=0.0, fps=25.0, bidirectional=False)
    x = np.array([[[0.0, 0.0]], [[10.0, -4.0]]])
    out = one_euro_filter(x, config=cfg)
    a = 1.0 / (1.0 + 25.0 / (2 * math.pi * 2.0))  # alpha = 1 / (1 + tau * fps), tau = 1 / (2 pi fc)
    np.testing.assert_allclose(out[0, 0], [0, 0])
    np.testing.assert_allclose(out[1, 0], [10 * a, -4 * a])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_reduces_jitter_on_a_static_point(bidirectional):
    rng = np.random.default_rng(0)
    truth = np.full((60, 3, 2), 50.0)
    noisy = truth + rng.normal(0, 1.0, truth.shape)
    out = one_euro_filter(noisy, config=OneEuroConfig(bidirectional=bidirectional))
    assert _rms(out, truth) < 0.5 * _rms(noisy, truth)
    assert np.abs(np.diff(out, axis=0)).mean() < 0.3 * np.abs(np.diff(noisy, axis=0)).mean()


def test_reduces_jitter_on_a_linear_track_without_lag():
    rng = np.random.default_rng(1)
    t = np.arange(80, dtype=np.float64)[:, None, None]
    truth = 10 + t * np.array([2.0, 1.0])  # 2 px / frame = 60 px / s
    truth = np.repeat(truth, 4, axis=1)
    noisy = truth + rng.normal(0, 1.0, truth.shape)
    out = one_euro_filter(noisy, config=OneEuroConfig(bidirectional=True))
    assert _rms(out, truth) < 0.8 * _rms(noisy, truth)
    # No lag: the mean error along the motion stays near zero (a causal filter would trail behind).
    assert abs(float((out - truth)[10:-10, :, 0].mean())) < 0.2
    np.testing.assert_allclose(one_euro_filter(truth), truth, atol=0.02)  # noiseless: no lag, ends included
    causal = one_euro_filter(truth, config=OneEuroConfig(bidirectional=False))
    assert float((causal - truth)[10:, :, 0].mean()) < -0.5  # the causal pass does trail behind


def test_lags_less_than_a_moving_average_on_a_step():
    T = 40
    step = np.zeros((T, 1, 2))
    step[20:] = 40.0
    for bidirectional in (False, True):
        out = one_euro_filter(step, config=OneEuroConfig(bidirectional=bidirectional))
        ma = _trailing_mean(step, 5)
        assert np.abs(out - step).sum() < 0.5 * np.abs(ma - step).sum()
    causal = one_euro_filter(step, config=OneEuroConfig(bidirectional=False))
    frames_to_90 = int(np.argmax(causal[20:, 0, 0] >= 36.0))
    assert frames_to_90 <= 2  # the trailing 5-frame mean needs 4 frames


def test_follows_a_fast_turn_better_than_a_moving_average():
    x = np.concatenate([np.arange(30) * 5.0, 145 - np.arange(30) * 5.0])
    turn = np.stack([x, x], -1)[:, None]  # (60, 1, 2)
    out = one_euro_filter(turn, config=OneEuroConfig())
    centred = np.stack([turn[max(0, t - 2): t + 3].mean(0) for t in range(60)])
    assert np.abs(out - turn).max() < np.abs(centred - turn).max()
    assert np.abs(out - turn).max() < np.abs(_trailing_mean(turn, 5) - turn).max()


def test_invalid_frames_are_kept_and_runs_restart():
    x = np.arange(20, dtype=np.float64)[:, None, None].repeat(2, 2) * 3.0
    x[5:8] = np.nan
    valid = np.isfinite(x).all(-1)
    out = one_euro_filter(x, config=OneEuroConfig(bidirectional=False))
    assert np.isnan(out[5:8]).all()
    np.testing.assert_allclose(out[8], x[8])  # a new run starts from its first sample
    np.testing.assert_allclose(out[0], x[0])
    out2 = one_euro_filter(np.nan_to_num(x), valid, OneEuroConfig(bidirectional=False))
    np.testing.assert_allclose(out2[5:8], 0.0)


def test_smooth_tracks_on_tensors_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (2, 30, 3, 2)).cumsum(1)
    got = smooth_tracks(torch.from_numpy(x).float())
    for b in range(2):
        np.testing.assert_allclose(got[b].numpy(), one_euro_filter(x[b].astype(np.float32)), atol=1e-4)
    assert got.dtype == torch.float32 and got.shape == (2, 30, 3, 2)


def test_bad_config_and_shapes():
    with pytest.raises(ValueError, match="min_cutoff must be > 0"):
        OneEuroConfig(min_cutoff=0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        OneEuroConfig(beta=-1)
    with pytest.raises(ValueError, match="edge_pad must be >= 0"):
        OneEuroConfig(edge_pad=-1)
    with pytest.raises(ValueError, match=r"valid must have shape \(5, 1\)"):
        one_euro_filter(np.zeros((5, 1, 2)), np.ones((4, 1), bool))
    with pytest.raises(ValueError, match=r"\(T, N, 2\)"):
        one_euro_filter(np.zeros((5, 2)))
