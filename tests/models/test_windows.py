import pytest
import torch

from cotracker.models.windows import (
    alive_mask,
    hand_off,
    num_windows,
    official_num_windows,
    pad_frames,
    track_mask,
    window_starts,
)


@pytest.mark.parametrize("T,expected", [(24, 5), (48, 11), (5, 1), (8, 1), (9, 2), (12, 2), (13, 3)])
def test_official_window_counts(T, expected):
    assert official_num_windows(T, 8, 4) == expected
    assert num_windows(T, 8, 4) == expected


@pytest.mark.parametrize("T", [1, 2, 3, 4])
def test_short_clips_get_one_window(T):
    assert official_num_windows(T, 8, 4) == 0  # the official defect
    assert window_starts(T, 8, 4) == [0]


@pytest.mark.parametrize("T", range(1, 60))
@pytest.mark.parametrize("S", [8, 16])
def test_windows_cover_the_clip(T, S):
    starts = window_starts(T, S, S // 2)
    assert starts[0] == 0 and starts[-1] + S >= T
    assert all(b - a == S // 2 for a, b in zip(starts, starts[1:]))
    if len(starts) > 1:
        assert starts[-1] + S // 2 < T  # no window entirely made of already-covered frames


def test_num_windows_errors():
    with pytest.raises(ValueError, match="at least one frame"):
        num_windows(0, 8, 4)


def test_pad_frames_repeats_last():
    x = torch.arange(3.0).reshape(1, 3, 1)
    assert pad_frames(x, 5)[0, :, 0].tolist() == [0, 1, 2, 2, 2]
    assert pad_frames(x, 2) is x


def test_masks():
    qf = torch.tensor([[0, 5, 9, 12]])
    assert alive_mask(qf, 4, 8).tolist() == [[True, True, True, False]]
    m = track_mask(qf, 4, 8, overlap=4)  # frames 4..11, first 4 cleared
    assert m.shape == (1, 8, 4)
    assert not m[:, :4].any()
    assert m[0, 4:, 0].all() and m[0, 4:, 1].all()  # frames 8..11 >= 0 and >= 5
    assert m[0, 4:, 2].tolist() == [False, True, True, True]  # frames 8, 9, 10, 11 vs query 9
    assert not m[0, :, 3].any()
    m0 = track_mask(qf, 0, 8, overlap=4)
    assert m0[0, :, 1].tolist() == [False] * 5 + [True] * 3


def test_hand_off_replicates_last_overlap_frame():
    prev = torch.arange(12.0).reshape(1, 12, 1)
    out = hand_off(prev, start=4, overlap=4, window_len=8)
    assert out[0, :, 0].tolist() == [4, 5, 6, 7, 7, 7, 7, 7]
    out = hand_off(prev[:, :6], start=4, overlap=4, window_len=8)  # fewer frames available
    assert out[0, :, 0].tolist() == [4, 5, 5, 5, 5, 5, 5, 5]
    with pytest.raises(ValueError, match="no previous prediction"):
        hand_off(prev[:, :4], start=4, overlap=4, window_len=8)
