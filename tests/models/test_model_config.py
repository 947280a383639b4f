import json

import pytest

from cotracker.models.config import (
    CorrelationConfig,
    TrackerConfig,
    TransformerConfig,
    cotracker2,
    cotracker2v1,
    tiny,
)


def test_derived_sizes_of_official_config():
    c = cotracker2()
    assert (c.flow_emb_dim, c.corr_dim, c.input_dim, c.output_dim) == (130, 196, 456, 130)
    assert c.input_dim == 130 + 196 + 128 + 2
    assert (c.window_len, c.step, c.overlap, c.feature_hw) == (8, 4, 4, (96, 128))
    assert cotracker2v1().window_len == 16 and cotracker2v1().step == 8
    assert c.transformer.head_dim == 48 and c.transformer.mlp_hidden == 1536


@pytest.mark.parametrize("cfg", [cotracker2(), cotracker2v1(), tiny(), tiny(num_keypoints=17)])
def test_to_dict_json_round_trip(cfg):
    d = json.loads(json.dumps(cfg.to_dict()))
    assert TrackerConfig.from_dict(d) == cfg


def test_from_dict_rejects_unknown_keys():
    d = tiny().to_dict()
    d["windowlen"] = 8
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['windowlen'\]"):
        TrackerConfig.from_dict(d)
    d = tiny().to_dict()
    d["transformer"]["depth"] = 3
    with pytest.raises(ValueError, match="TrackerConfig.transformer"):
        TrackerConfig.from_dict(d)


def test_invalid_configs_raise():
    with pytest.raises(ValueError, match="window_len"):
        TrackerConfig(window_len=7)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TransformerConfig(hidden_size=100, num_heads=8)
    with pytest.raises(ValueError, match="levels >= 1"):
        CorrelationConfig(levels=0)
    with pytest.raises(ValueError, match="model_resolution"):
        TrackerConfig(model_resolution=(30, 64))


def test_frozen():
    with pytest.raises(Exception):
        cotracker2().window_len = 16  # type: ignore[misc]
