# SPDX-License-Identifier: Apache-2.0
"""badja_paired_bootstrap: how sure a lead of one tracker over another on a few BADJA clips is.

Checked against cases whose answer is known: no difference, a lead on every joint (certain), a lead that rests on
one joint of ten (the interval reaches zero, as often as that joint is left out of a resample), the mean over clips
of the evaluator's aggregate, and the error paths.
"""
import numpy as np
import pytest

from cotracker.evaluation.badja import BadjaPair, badja_paired_bootstrap, compute_badja_pck


def _clip(N=10, K=5, seed=0, masks=True):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(50, 400, size=(K, N, 2))
    visible = np.ones((K, N), bool)
    area = np.full(K, 2500.0) if masks else None  # threshold 0.2 * 50 = 10 px
    return gt, visible, area


def test_no_difference_gives_a_zero_interval():
    gt, vis, area = _clip()
    pred = gt + 3.0
    out = badja_paired_bootstrap([BadjaPair(pred, pred.copy(), gt, vis, area)], num_resamples=200)
    for k, r in out.items():
        assert r.difference == 0 and r.low == 0 and r.high == 0 and r.share_positive == 0, k
        assert r.resamples == 200


def test_a_lead_on_every_joint_is_certain():
    gt, vis, area = _clip()
    out = badja_paired_bootstrap([BadjaPair(gt + 1.0, gt + 40.0, gt, vis, area)], num_resamples=200)
    for k in ("pck_mask", "pck_8px", "pck_16px", "pck_32px"):
        assert (out[k].a, out[k].b, out[k].low, out[k].high, out[k].share_positive) == (1, 0, 1, 1, 1), k
    e = out["mean_error_px"]
    assert e.difference == pytest.approx(np.sqrt(2) * (1 - 40)) and e.share_positive == 0
    assert e.low == pytest.approx(e.high) == pytest.approx(e.difference)


def test_a_lead_resting_on_one_joint_reaches_zero():
    gt, vis, area = _clip(N=10)
    a, b = gt + 1.0, gt + 1.0
    b[:, 0] += 40.0  # only joint 0 separates the trackers
    out = badja_paired_bootstrap([BadjaPair(a, b, gt, vis, area)], num_resamples=4000, seed=3)
    r = out["pck_8px"]
    assert r.difference == pytest.approx(0.1)
    assert r.low == 0.0 and r.high > 0.1
    # a resample without joint 0 shows no lead: that happens with probability 0.9 ** 10
    assert r.share_positive == pytest.approx(1 - 0.9 ** 10, abs=0.03)


def test_the_statistic_is_the_mean_over_clips_and_a_clip_without_masks_is_skipped_for_pck_mask():
    g1, v1, area1 = _clip(N=6, seed=1)
    g2, v2, _ = _clip(N=8, seed=2)
    v2[2, 3] = False
    rng = np.random.default_rng(5)
    clips = [BadjaPair(g1 + rng.normal(0, 9, g1.shape), g1 + rng.normal(0, 12, g1.shape), g1, v1, area1),
             BadjaPair(g2 + rng.normal(0, 9, g2.shape), g2 + rng.normal(0, 12, g2.shape), g2, v2, None)]
    out = badja_paired_bootstrap(clips, num_resamples=50)
    for key in ("pck_8px", "mean_error_px"):
        expect = np.mean([compute_badja_pck(c.pred_a, c.gt, c.visible, c.mask_area)[key] for c in clips])
        assert out[key].a == pytest.approx(expect)
    assert out["pck_mask"].a == pytest.approx(compute_badja_pck(*clips[0][:1], g1, v1, area1)["pck_mask"])
    assert out["pck_16px"].low <= out["pck_16px"].difference <= out["pck_16px"].high
    again = badja_paired_bootstrap(clips, num_resamples=50)
    assert again == out  # seeded


def test_errors():
    gt, vis, area = _clip()
    with pytest.raises(ValueError, match="at least one clip"):
        badja_paired_bootstrap([])
    with pytest.raises(ValueError, match="level must be in"):
        badja_paired_bootstrap([BadjaPair(gt, gt, gt, vis, area)], level=1.0)
    with pytest.raises(ValueError, match="num_resamples must be >= 1"):
        badja_paired_bootstrap([BadjaPair(gt, gt, gt, vis, area)], num_resamples=0)
    with pytest.raises(ValueError, match="clip 0: pred_a, pred_b and gt must have one"):
        badja_paired_bootstrap([BadjaPair(gt[:, :3], gt, gt, vis, area)])


def test_script_on_the_shared_clips(shared_dir, load_script, monkeypatch, tmp_path, capsys):
    pytest.importorskip("cv2")
    from cotracker.evaluation import make_tracker

    script = load_script("badja_bootstrap", "benchmarks")
    # the "model" is the static baseline here (a real model takes minutes): static against Lucas-Kanade
    monkeypatch.setattr(script, "make_tracker", lambda tracker=None, checkpoint=None, **kw:
                        make_tracker("static" if checkpoint is not None else tracker))
    out = tmp_path / "boot.md"
    assert script.main(["--data-root", str(shared_dir / "data"), "--resamples", "200", "--out", str(out)]) == 0
    text = out.read_text()
    assert text == capsys.readouterr().out.strip() + "\n"
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): [c.strip() for c in line.split("|")[3:-1]]
            for line in text.splitlines() if line.startswith("| ") and "metric" not in line}
    # the protocol as `cotracker evaluate --dataset badja` runs it: LK's numbers of benchmarks/results/badja_lk
    assert rows[("bear", "pck_8px")][1] == "0.268" and rows[("horsejump-high", "pck_mask")][1] == "0.333"
    assert ("bear", "pck_mask") not in rows  # bear has no masks
    # static points are behind LK at 32 px on the mean of the two clips, and the interval is ordered
    static, lk, diff, interval, _ = rows[("mean of the clips", "pck_32px")]
    low, high = (float(x) for x in interval.strip("[]").split(","))
    assert float(diff) < 0 and low <= float(diff) <= high


def test_script_errors(load_script, tmp_path, capsys):
    script = load_script("badja_bootstrap", "benchmarks")
    with pytest.raises(SystemExit) as exc:
        script.main(["--data-root", str(tmp_path)])
    assert exc.value.code == 2 and "no BADJA annotations under" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        script.main(["--resamples", "0"])
    assert exc.value.code == 2 and "--resamples must be >= 1" in capsys.readouterr().err
