import pytest
import torch

from cotracker.training.encoder_pretrain import (
    CorrespondenceLoss,
    correspondence_loss,
    load_encoder_weights,
)


def _unique_features(h=6, w=8, C=None):
    """(1, C, h, w) one-hot features: every cell has its own direction."""
    C = C or h * w
    f = torch.eye(h * w, C).T.reshape(1, C, h, w)
    return f


def test_identity_motion_is_found_exactly():
    f = _unique_features()
    feats = torch.stack([f, f, f], dim=1)  # (1, 3, C, h, w): nothing moves
    xy = torch.tensor([[1.0, 2.0], [5.0, 4.0], [7.0, 0.0]])[None, None].expand(1, 3, 3, 2)
    vis = torch.ones(1, 3, 3, dtype=torch.bool)
    out = correspondence_loss(feats, xy, vis, ref=1, temperature=0.01)
    assert isinstance(out, CorrespondenceLoss)
    assert out.accuracy == 1.0 and out.scored == 6  # 3 tracks x 2 other frames
    assert float(out.loss) < 1e-6


def test_a_shift_in_the_features_is_scored_against_the_true_cell():
    h, w = 6, 8
    f0 = _unique_features(h, w)
    f1 = torch.roll(f0, shifts=1, dims=3)  # content moves one cell right
    feats = torch.stack([f0, f1], dim=1)
    xy_still = torch.tensor([[[2.0, 3.0]], [[2.0, 3.0]]])[None]  # GT says "not moving": wrong
    xy_moved = torch.tensor([[[2.0, 3.0]], [[3.0, 3.0]]])[None]  # GT follows the content: right
    vis = torch.ones(1, 2, 1, dtype=torch.bool)
    wrong = correspondence_loss(feats, xy_still, vis, ref=0, temperature=0.01)
    right = correspondence_loss(feats, xy_moved, vis, ref=0, temperature=0.01)
    assert wrong.accuracy == 0.0 and right.accuracy == 1.0
    assert float(wrong.loss) == pytest.approx(100.0, rel=1e-4)  # (1 - 0) / temperature
    assert float(right.loss) < 1e-6


def test_occluded_and_outside_tracks_are_not_scored_and_gradients_flow():
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 4, 5, 6, requires_grad=True)
    xy = torch.rand(2, 3, 4, 2) * torch.tensor([5.0, 4.0])
    vis = torch.ones(2, 3, 4, dtype=torch.bool)
    vis[:, 0, 0] = False  # not visible in the reference frame: never scored
    xy[:, 2, 1] = torch.tensor([40.0, 1.0])  # leaves the frame at t = 2
    out = correspondence_loss(feats, xy, vis, ref=0, temperature=0.1)
    assert out.scored == 2 * (3 * 2 - 1)  # 3 scored tracks x 2 frames, minus the one outside, per batch item
    out.loss.backward()
    assert torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0
    none = correspondence_loss(feats, xy, torch.zeros_like(vis), ref=0)
    assert none.scored == 0 and float(none.loss.detach()) == 0.0 and none.loss.requires_grad


def test_bad_arguments_are_explained():
    feats = torch.zeros(1, 2, 4, 5, 6)
    xy = torch.zeros(1, 2, 3, 2)
    vis = torch.ones(1, 2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="ref must lie in"):
        correspondence_loss(feats, xy, vis, ref=2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        correspondence_loss(feats, xy, vis, ref=0, temperature=0.0)
    with pytest.raises(ValueError, match="do not fit"):
        correspondence_loss(feats, xy[:, :1], vis[:, :1], ref=0)


def test_config_validation():
    from cotracker.training.config import load_config

    with pytest.raises(ValueError, match="encoder_pretrain.steps must be >= 0"):
        load_config("tiny", ["encoder_pretrain.steps=-1"])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        load_config("tiny", ["encoder_pretrain.temperature=0"])


def test_the_stage_runs_before_training_and_the_tracker_starts_from_it(tmp_path):
    """`cotracker train` with encoder_pretrain.steps > 0 writes encoder.safetensors, logs the stage, and the
    tracker's encoder starts from it (other weights from the seeded initialisation)."""
    from safetensors.torch import load_file

    from cotracker.training.config import load_config
    from cotracker.training.trainer import build_model, train

    out = tmp_path / "run"
    cfg = load_config("tiny", [f"trainer.out_dir={out}", "trainer.num_steps=1", "encoder_pretrain.steps=3",
                               "trainer.log_every=1", "trainer.val_every=0", "trainer.video_every=0",
                               "data.val=[]", "trainer.tensorboard=false"])
    train(cfg)
    enc = load_file(str(out / "encoder.safetensors"))
    assert enc and all(k.startswith("fnet.") for k in enc)
    fresh = build_model(cfg)
    changed = [k for k, v in enc.items() if not torch.equal(v, fresh.state_dict()[k])]
    assert changed, "the stage must change the encoder"
    started = build_model(cfg, encoder=out / "encoder.safetensors")
    assert all(torch.equal(started.state_dict()[k], v) for k, v in enc.items())
    assert torch.equal(started.state_dict()["time_emb"], fresh.state_dict()["time_emb"])
    records = (out / "log.jsonl").read_text()
    assert '"kind": "encoder_pretrain"' in records
    # a wrong file is refused with a clear message
    from safetensors.torch import save_file

    save_file({"updateformer.x": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="not an encoder file"):
        load_encoder_weights(fresh, tmp_path / "bad.safetensors")
