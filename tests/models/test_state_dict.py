"""The full-size model matches Meta's checkpoints key for key and shape for shape (strict loading)."""
import json
from pathlib import Path

import pytest
import torch

from cotracker.hub import config_from_state_dict, load_state_dict_strict
from cotracker.models import CoTracker2, cotracker2, cotracker2v1
from cotracker.models.embeddings import sincos_2d_grid, time_embedding


REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture(scope="module")
def reference():
    # module-scoped (the reference is read once); skips like the `shared_dir` fixture when absent
    path = REFERENCE / "cotracker2_state_dict.json"
    if not path.is_file():
        pytest.skip(f"reference state-dict description not found at {path}")
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def full_model():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return CoTracker2(cotracker2())


def _shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def _meta_model(cfg):
    with torch.device("meta"):
        return CoTracker2(cfg)


def test_window8_matches_reference_exactly(reference, full_model):
    ref = reference["state_dict"]
    ours = _shapes(full_model)
    assert list(ours) == list(ref)  # same names, same order
    assert ours == ref
    assert sum(p.numel() for p in full_model.parameters()) == reference["total_params"] == 45_458_787
    assert sum(v.numel() for v in full_model.state_dict().values()) == reference["total_state_dict_numel"]
    assert {k for k, _ in full_model.named_buffers()} == {"time_emb", "pos_emb"}


def test_window16_and_keypoint_variants(reference):
    ref = dict(reference["state_dict"])
    ref16 = dict(ref, time_emb=[1, 16, 456])
    assert _shapes(_meta_model(cotracker2v1())) == ref16
    kp = _shapes(_meta_model(cotracker2(num_keypoints=17)))
    assert list(kp)[0] == "kp_emb" and kp.pop("kp_emb") == [17, 1, 456]
    assert kp == ref


def test_strict_load_round_trip(full_model):
    sd = {k: v.clone() for k, v in full_model.state_dict().items()}
    sd["vis_predictor.0.bias"] += 1.0
    m = _meta_model(cotracker2()).to_empty(device="cpu")
    load_state_dict_strict(m, sd)
    assert torch.equal(m.vis_predictor[0].bias, sd["vis_predictor.0.bias"])
    bad = dict(sd)
    bad["updateformer.virtual_tracks"] = bad.pop("updateformer.virual_tracks")
    with pytest.raises(ValueError, match=r"missing keys \(1\): \['updateformer.virual_tracks'\].*unexpected keys"):
        load_state_dict_strict(m, bad)


def test_buffers_are_the_official_embeddings(full_model):
    torch.testing.assert_close(full_model.time_emb, time_embedding(8, 456))
    torch.testing.assert_close(full_model.pos_emb, sincos_2d_grid(456, (96, 128)))


def test_config_inferred_from_reference_shapes(reference):
    sd = {k: torch.empty(v, device="meta") for k, v in reference["state_dict"].items()}
    assert config_from_state_dict(sd) == cotracker2()
    sd["time_emb"] = torch.empty(1, 16, 456, device="meta")
    assert config_from_state_dict(sd) == cotracker2v1()
    sd["kp_emb"] = torch.empty(17, 1, 456, device="meta")
    assert config_from_state_dict(sd).num_keypoints == 17
    for name in ("cotracker3_online_state_dict.json", "cotracker3_offline_state_dict.json"):
        with open(REFERENCE / name) as f:
            sd3 = {k: torch.empty(v, device="meta") for k, v in json.load(f)["state_dict"].items()}
        with pytest.raises(ValueError, match="CoTracker3.*not CoTracker2"):
            config_from_state_dict(sd3)
