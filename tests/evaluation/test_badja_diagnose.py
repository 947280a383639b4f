# SPDX-License-Identifier: Apache-2.0
"""benchmarks/badja_diagnose.py: the per-frame hit matrix agrees with the BADJA metric, and the figure draws."""
import numpy as np
import pytest

from cotracker.evaluation.badja import BadjaAnnotations, BadjaSequence, compute_badja_pck


def _sequence(masks: bool):
    rng = np.random.default_rng(0)
    K, J, T = 4, 5, 10
    joints = rng.uniform(20, 60, size=(K, J, 2)).astype(np.float32)
    visible = np.ones((K, J), bool)
    visible[2, 1] = False
    ann = BadjaAnnotations(frame_indices=np.array([0, 3, 6, 9]), joints=joints, visible=visible, frame_hw=(64, 80))
    m = np.zeros((K, 64, 80), bool)
    m[:, 10:30, 10:30] = True  # area 400: threshold 0.2 * 20 = 4 px
    return BadjaSequence(name="toy", frames=np.zeros((T, 64, 80, 3), np.uint8), annotations=ann,
                         masks=m if masks else None)


@pytest.mark.parametrize("masks", [True, False])
def test_hit_matrix_matches_the_badja_pck(load_script, masks):
    diag = load_script("badja_diagnose", "benchmarks")
    seq = _sequence(masks)
    joint_ids = np.array([0, 1, 2, 4])
    rng = np.random.default_rng(1)
    pred = np.zeros((10, 4, 2), np.float32)
    gt = seq.annotations.joints[:, joint_ids]
    pred[seq.annotations.frame_indices] = gt + rng.normal(0, 6, size=gt.shape)  # some within 4 / 16 px, some not
    hits = diag.hit_matrix(pred, seq, joint_ids)
    assert hits.shape == (4, 4)
    assert np.isnan(hits[0]).all() and np.isnan(hits[2, 1])  # the query frame and the invisible joint are unscored
    area = seq.masks.reshape(4, -1).sum(1).astype(float) if masks else None
    ref = compute_badja_pck(pred[seq.annotations.frame_indices], gt, seq.annotations.visible[:, joint_ids], area)
    expected = ref["pck_mask"] if masks else ref["pck_16px"]
    assert 0 < expected < 1
    assert np.nanmean(hits) == pytest.approx(expected)


def test_the_figure_has_two_frames_per_row(load_script):
    diag = load_script("badja_diagnose", "benchmarks")
    seq = _sequence(True)
    pred = np.full((10, 2, 2), 30.0, np.float32)
    sheet = diag.draw(seq, np.array([0, 1]), {"lk": pred, "model": pred + 5}, [0, 3, 5])
    assert sheet.size == (80, 2 * 32)
    px = np.asarray(sheet)
    assert (px[..., 0] > 150).any() and (px[..., 1] > 150).any()  # the model's red points, the green rings


def test_inference_options_reach_the_model(load_script, monkeypatch, tmp_path):
    """The script takes `cotracker evaluate`'s inference options and hands them to the model's tracker only."""
    diag = load_script("badja_diagnose", "benchmarks")
    seq = _sequence(True)
    monkeypatch.setattr(diag, "load_badja_sequence", lambda root, name: seq)
    calls = []

    class Fixed:
        def __call__(self, video, queries):
            raise AssertionError("track_badja is replaced")

    def fake_make_tracker(tracker=None, checkpoint=None, **kw):
        calls.append((tracker, checkpoint, kw))
        return Fixed()

    monkeypatch.setattr(diag, "make_tracker", fake_make_tracker)
    from cotracker.evaluation.badja import badja_queries

    joint_ids = badja_queries(seq.annotations)[1]
    monkeypatch.setattr(diag, "track_badja", lambda tracker, seq: (np.full((10, len(joint_ids), 2), 30.0, np.float32),
                                                                   joint_ids))
    assert diag.main(["--out", str(tmp_path), "--frames", "0", "3", "--refine-resolution", "480", "640",
                      "--no-ensemble", "--iters", "6"]) == 0
    assert calls == [("lk", None, {}),
                     (None, "cotracker2-synth", {"refine_resolution": (480, 640), "flip_ensemble": False, "iters": 6})]
    assert (tmp_path / "horsejump-high_badja_diagnosis.jpg").stat().st_size > 0
