"""``scripts/interpolate_weights.py``: the weight-space blend of a model and its fine-tune (numbers by hand, the
extra tensors and config of the fine-tune, the ends of the range, and the refusals)."""
from __future__ import annotations

import pytest
import torch

from cotracker.hub import build_cotracker, load_state_dict_file, save_checkpoint
from cotracker.models.config import tiny
from cotracker.models.cotracker2 import CoTracker2


def model(seed: int, **changes) -> CoTracker2:
    torch.manual_seed(seed)
    return CoTracker2(tiny().replace(**changes)).eval()


@pytest.fixture
def files(tmp_path):
    base = model(0)
    tuned = model(1, num_keypoints=17, vis_threshold=0.4, flip_ensemble=True)
    save_checkpoint(base, tmp_path / "base.safetensors")
    save_checkpoint(tuned, tmp_path / "tuned.safetensors")
    return tmp_path, base.state_dict(), tuned.state_dict()


def test_blend_by_hand(load_script):
    base = {"w": torch.tensor([0.0, 2.0, -4.0]), "pos_emb": torch.ones(1, 2), "n": torch.tensor([3])}
    tuned = {"w": torch.tensor([1.0, 6.0, 4.0]), "pos_emb": torch.ones(1, 2), "n": torch.tensor([3]),
             "kp_emb": torch.full((2, 2), 7.0)}
    interp = load_script("interpolate_weights")
    out, only = interp.interpolate_state_dicts(base, tuned, 0.25)
    assert torch.equal(out["w"], torch.tensor([0.25, 3.0, -2.0]))
    assert torch.equal(out["pos_emb"], torch.ones(1, 2)) and torch.equal(out["n"], torch.tensor([3]))
    assert only == ["kp_emb"] and torch.equal(out["kp_emb"], tuned["kp_emb"])
    # the inputs are untouched and the outputs do not alias them
    out["kp_emb"].zero_()
    assert torch.equal(tuned["kp_emb"], torch.full((2, 2), 7.0))


def test_script_writes_the_blend_with_the_tuned_config(files, load_script, capsys):
    tmp_path, base_sd, tuned_sd = files
    interp = load_script("interpolate_weights")
    assert interp.main([str(tmp_path / "base.safetensors"), str(tmp_path / "tuned.safetensors"),
                        "--alpha", "0.5", "--out", str(tmp_path / "mid.safetensors")]) == 0
    printed = capsys.readouterr().out
    assert "from TUNED alone: kp_emb" in printed and "sha256 " in printed
    sd, config = load_state_dict_file(tmp_path / "mid.safetensors")
    assert (config.num_keypoints, config.vis_threshold, config.flip_ensemble) == (17, 0.4, True)
    assert set(sd) == set(tuned_sd)
    assert torch.equal(sd["kp_emb"], tuned_sd["kp_emb"])
    for name, b in base_sd.items():
        assert torch.allclose(sd[name], (b + tuned_sd[name]) / 2, atol=1e-6), name
    name = next(k for k in base_sd if k.endswith(".weight"))
    assert not torch.equal(sd[name], base_sd[name]) and not torch.equal(sd[name], tuned_sd[name])
    # the result loads as a model
    assert build_cotracker(tmp_path / "mid.safetensors").config.num_keypoints == 17


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_ends_of_the_range(files, load_script, alpha):
    tmp_path, base_sd, tuned_sd = files
    interp = load_script("interpolate_weights")
    out = tmp_path / f"a{alpha}.safetensors"
    assert interp.main([str(tmp_path / "base.safetensors"), str(tmp_path / "tuned.safetensors"),
                        "--alpha", str(alpha), "--out", str(out)]) == 0
    sd, _ = load_state_dict_file(out)
    expect = base_sd if alpha == 0.0 else tuned_sd
    for name, t in expect.items():
        assert torch.equal(sd[name], t), name
    if alpha == 1.0:  # the tuned file itself, byte for byte
        assert out.read_bytes() == (tmp_path / "tuned.safetensors").read_bytes()


def test_refusals(files, load_script, tmp_path):
    tmp, _, _ = files
    interp = load_script("interpolate_weights")
    base, tuned, out = str(tmp / "base.safetensors"), str(tmp / "tuned.safetensors"), str(tmp / "o.safetensors")
    with pytest.raises(SystemExit, match=r"alpha must be in \[0, 1\]"):
        interp.main([base, tuned, "--alpha", "1.5", "--out", out])
    with pytest.raises(SystemExit, match="must name a .safetensors"):
        interp.main([base, tuned, "--alpha", "0.5", "--out", str(tmp / "o.pth")])
    # the tuned file must hold every tensor of the base (swapped, the base lacks kp_emb)
    with pytest.raises(SystemExit, match="TUNED lacks 1 tensor"):
        interp.main([tuned, base, "--alpha", "0.5", "--out", out])
    # another model resolution: pos_emb's grid differs
    save_checkpoint(model(2, model_resolution=(32, 48)), tmp / "small.safetensors")
    with pytest.raises(SystemExit, match="pos_emb.*--model-resolution"):
        interp.main([str(tmp / "small.safetensors"), base, "--alpha", "0.5", "--out", out])
    # another architecture: a shape mismatch names the tensor
    save_checkpoint(model(3, latent_dim=48), tmp / "wide.safetensors")
    with pytest.raises(SystemExit, match="BASE .* vs TUNED"):
        interp.main([base, str(tmp / "wide.safetensors"), "--alpha", "0.5", "--out", out])
    with pytest.raises(SystemExit, match="neither a file nor a registered name"):
        interp.main([str(tmp / "nope.safetensors"), tuned, "--alpha", "0.5", "--out", out])
    assert not (tmp / "o.safetensors").exists()
