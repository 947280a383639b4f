"""Training configs: presets load, overrides apply, bad configs fail with clear messages (also via the CLI)."""
from pathlib import Path

import pytest

from cotracker.cli import main
from cotracker.training.config import (
    apply_overrides,
    check_data_paths,
    config_from_dict,
    config_to_dict,
    load_config,
)

REPO = Path(__file__).resolve().parents[2]
PRESETS = sorted((REPO / "configs" / "train").glob("*.yaml"))


def test_presets_exist_and_validate():
    names = {p.stem for p in PRESETS}
    for required in ("tiny", "kubric100_posetrack0_absent", "kubric0_posetrack100_absent", "kubric0_posetrack100_present",
                     "kubric50_posetrack50_present", "kubric75_posetrack25_present", "kubric25_posetrack75_present"):
        assert required in names
    for p in PRESETS:
        cfg = load_config(p)
        assert cfg.name == p.stem
        assert config_from_dict(config_to_dict(cfg)) == cfg  # round trip


def test_mixture_presets_weights_and_keypoint_modes():
    mix = load_config("kubric75_posetrack25_present")
    assert [(d.type, d.weight, d.keypoint_ids) for d in mix.data.train] == [("kubric", 0.75, False), ("posetrack", 0.25, True)]
    assert mix.model.num_keypoints == 17
    absent = load_config("kubric0_posetrack100_absent")
    assert absent.model.num_keypoints == 0 and not absent.data.train[0].keypoint_ids


def test_overrides_by_path_and_index():
    cfg = load_config("tiny", ["trainer.num_steps=7", "optim.lr=1e-3", "data.train.0.weight=2", "data.crop_size=[32, 48]",
                               "model.overrides={window_len: 4}", "loss.huber_delta=null"])
    assert cfg.trainer.num_steps == 7 and cfg.optim.lr == 1e-3 and cfg.data.train[0].weight == 2.0
    assert cfg.data.crop_size == (32, 48) and cfg.model.overrides == {"window_len": 4} and cfg.loss.huber_delta is None


def test_unknown_keys_are_errors_naming_the_key():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) 'trainer.num_step'.*valid keys there: .*num_steps"):
        load_config("tiny", ["trainer.num_step=5"])
    with pytest.raises(ValueError, match=r"'data.train.0.rot'"):
        load_config("tiny", ["data.train.0.rot=/x"])
    with pytest.raises(ValueError, match="unknown config key"):
        config_from_dict({"bogus": 1})


def test_bad_values_are_errors():
    with pytest.raises(TypeError, match="trainer.num_steps: expected an integer"):
        load_config("tiny", ["trainer.num_steps=many"])
    with pytest.raises(ValueError, match="normalization must be 'per_track' or 'mean'"):
        load_config("tiny", ["loss.normalization=sum"])
    with pytest.raises(ValueError, match="unknown dataset type 'kubrik'"):
        load_config("tiny", ["data.train.0.type=kubrik"])
    with pytest.raises(ValueError, match="needs 'root'"):
        load_config("tiny", ["data.train.0.type=kubric"])
    with pytest.raises(ValueError, match="not of the form key=value"):
        apply_overrides({}, ["trainer.num_steps"])
    with pytest.raises(ValueError, match="index 3 out of range"):
        load_config("tiny", ["data.train.3.root=/x"])
    with pytest.raises(FileNotFoundError, match="not found.*presets: .*tiny"):
        load_config("no_such_preset")


def test_missing_data_folder_is_an_error(tmp_path):
    cfg = load_config("kubric100_posetrack0_absent", [f"data.train.0.root={tmp_path / 'nope'}", "data.val=[]"])
    with pytest.raises(FileNotFoundError, match=r"data.train.0 \('kubric', type kubric\): dataset folder .*nope.* does not exist"):
        check_data_paths(cfg)


def test_cli_rejects_bad_configs(tmp_path, capsys):
    assert main(["train", "--config", "tiny", "trainer.bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "cotracker train: error:" in err and "trainer.bogus" in err
    assert main(["train", "--config", "kubric100_posetrack0_absent", f"data.train.0.root={tmp_path / 'missing'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_cli_print_config_applies_flags(capsys):
    assert main(["train", "--config", "tiny", "--devices", "2", "--num-nodes", "3", "--out", "/tmp/x", "--print-config",
                 "--precision", "bf16-mixed"]) == 0
    out = capsys.readouterr().out
    assert "devices: 2" in out and "num_nodes: 3" in out and "out_dir: /tmp/x" in out and "precision: bf16-mixed" in out
