import hashlib

import pytest
import torch

from cotracker import hub
from cotracker.hub import (
    DEFAULT_CHECKPOINT,
    REGISTRY,
    CheckpointEntry,
    build_cotracker,
    config_from_state_dict,
    load_checkpoint,
    load_state_dict_file,
    resolve_checkpoint,
    save_checkpoint,
)
from cotracker.models import CoTracker2, tiny


@pytest.fixture(scope="module")
def model():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return CoTracker2(tiny(num_keypoints=17)).eval()


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 256, (1, 9, 3, 64, 96), generator=g, dtype=torch.uint8)
    q = torch.tensor([[[0.0, 10.0, 20.0], [2.0, 40.0, 33.0], [5.0, 90.0, 60.0]]])
    return video, q, torch.tensor([[0, -1, 16]])


def _run(m, inputs):
    video, q, kp = inputs
    with torch.no_grad():
        return m(video, q, iters=2, keypoint_ids=kp)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_save_reload_identical(tmp_path, model, inputs, suffix):
    path = tmp_path / f"m{suffix}"
    digest = save_checkpoint(model, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    sd, cfg = load_state_dict_file(path)
    assert cfg == model.config
    m2 = build_cotracker(path)
    assert not m2.training and m2.config == model.config
    a, b = _run(model, inputs), _run(m2, inputs)
    assert torch.equal(a.coords, b.coords) and torch.equal(a.vis, b.vis)
    assert torch.equal(load_checkpoint(str(path)).kp_emb, model.kp_emb)


def test_saving_the_same_model_twice_gives_the_same_bytes(tmp_path, model):
    """The registry pins digests: re-running a shipped file's export must reproduce its sha256."""
    a, b = save_checkpoint(model, tmp_path / "a.safetensors"), save_checkpoint(model, tmp_path / "b.safetensors")
    assert a == b and (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_official_layouts_plain_and_wrapped(tmp_path, model, inputs):
    sd = model.state_dict()
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"model": sd}, tmp_path / "wrapped.pt")
    for name in ("plain.pth", "wrapped.pt"):
        loaded, cfg = load_state_dict_file(tmp_path / name)
        assert cfg is None and set(loaded) == set(sd)
        m2 = build_cotracker(tmp_path / name, config=model.config)
        assert torch.equal(_run(m2, inputs).coords, _run(model, inputs).coords)


def test_config_inference_of_tiny_sizes(model):
    cfg = config_from_state_dict(model.state_dict())
    assert cfg.window_len == 8 and cfg.num_keypoints == 17 and cfg.latent_dim == 32
    assert cfg.model_resolution == (64, 96) and cfg.correlation.radius == 2 and cfg.flow_emb_channels == 16


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_state_dict_file(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="cannot read .* as a PyTorch checkpoint"):
        load_state_dict_file(tmp_path / "junk.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="cannot read .* as safetensors"):
        load_state_dict_file(tmp_path / "junk.safetensors")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="is not a checkpoint"):
        load_state_dict_file(tmp_path / "list.pth")
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown checkpoint extension"):
        load_state_dict_file(tmp_path / "w.npz")


def test_other_architectures_rejected(tmp_path):
    sd3 = {"time_emb": torch.zeros(1, 16, 1110), "corr_mlp.fc1.weight": torch.zeros(384, 2401),
           "fnet.conv1.weight": torch.zeros(64, 3, 7, 7)}
    torch.save(sd3, tmp_path / "scaled_online.pth")
    with pytest.raises(ValueError, match="CoTracker3 model .* not CoTracker2"):
        build_cotracker(tmp_path / "scaled_online.pth")
    with pytest.raises(ValueError, match="CoTracker3"):
        build_cotracker(tmp_path / "scaled_online.pth", config=tiny())
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a CoTracker2 checkpoint"):
        build_cotracker(tmp_path / "other.pth")


def test_strict_mismatch_lists_problems(tmp_path, model):
    path = tmp_path / "m.pth"
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): \['kp_emb'\]"):
        build_cotracker(path, config=tiny())
    with pytest.raises(ValueError, match=r"shape mismatches .*time_emb: checkpoint \(1, 8, 168\) vs model \(1, 16, 168\)"):
        build_cotracker(path, config=tiny(window_len=16, num_keypoints=17))


def test_registry_resolution(tmp_path, monkeypatch):
    assert DEFAULT_CHECKPOINT == "cotracker2-synth"
    assert set(REGISTRY) >= {"cotracker2", "cotracker2v1", "cotracker2-synth", "cotracker2-synth-pose"}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COTRACKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    with pytest.raises(FileNotFoundError, match="cotracker2v1.pth.*Nothing is downloaded"):
        resolve_checkpoint("cotracker2v1")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "cotracker2v1.pth").write_bytes(b"x")
    assert resolve_checkpoint("cotracker2v1") == tmp_path / "home" / "cotracker2v1.pth"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "cotracker2v1.pth").write_bytes(b"y")
    assert resolve_checkpoint("cotracker2v1") == tmp_path / "checkpoints" / "cotracker2v1.pth"  # ./checkpoints first
    with pytest.raises(FileNotFoundError, match="neither a file nor a registered name"):
        resolve_checkpoint("no-such-model")
    with pytest.raises(FileNotFoundError, match="not a file"):
        resolve_checkpoint(tmp_path)


def test_packaged_weights_missing_message(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "_WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="'cotracker2-synth' .* is not installed"):
        load_checkpoint()


def test_sha256_is_verified(tmp_path, monkeypatch, model):
    path = tmp_path / "cotracker2-synth.safetensors"
    digest = save_checkpoint(model, path)
    monkeypatch.setattr(hub, "_WEIGHTS_DIR", tmp_path)
    monkeypatch.setitem(REGISTRY, "cotracker2-synth",
                        CheckpointEntry("cotracker2-synth", path.name, digest, "test", packaged=True))
    assert load_checkpoint("cotracker2-synth").config == model.config
    monkeypatch.setitem(REGISTRY, "cotracker2-synth",
                        CheckpointEntry("cotracker2-synth", path.name, "0" * 64, "test", packaged=True))
    with pytest.raises(ValueError, match="has sha256 .* expected 0000"):
        load_checkpoint("cotracker2-synth")


def test_build_without_checkpoint():
    m = build_cotracker(config=tiny())
    assert isinstance(m, CoTracker2) and not m.training and m.config == tiny()


def test_saved_checkpoint_has_ordinary_file_permissions(tmp_path):
    import os
    import stat

    from cotracker.hub import save_checkpoint
    from cotracker.models.config import tiny
    from cotracker.models.cotracker2 import CoTracker2

    path = tmp_path / "m.safetensors"
    save_checkpoint(CoTracker2(tiny()), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not the 0600 of a private temp file
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left behind


def test_training_checkpoint_loads_with_its_own_config(tmp_path):
    """A trainer .ckpt (optimizer, numpy RNG state, "model_config") loads as a model with the stored config:
    the head count is not recoverable from the weights, so guessing it would silently change the model."""
    import numpy as np

    from cotracker.training.checkpointing import CHECKPOINT_FORMAT

    torch.manual_seed(0)
    model = CoTracker2(tiny())
    assert model.config.transformer.num_heads == 2  # the weight shapes alone would suggest another count
    state = {"format": CHECKPOINT_FORMAT, "step": 7, "model": model.state_dict(),
             "model_config": model.config.to_dict(), "rng": {"numpy": np.random.default_rng(0).random(3)}}
    path = tmp_path / "step_00000007.ckpt"
    torch.save(state, path)
    sd, cfg = load_state_dict_file(path)
    assert cfg == model.config
    loaded = build_cotracker(path)
    assert loaded.config.transformer.num_heads == 2
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
