# SPDX-License-Identifier: Apache-2.0
"""benchmarks/bench_generator.py: the training-source timing of a config, and its option check."""
import pytest
import torch


def test_config_sources_are_timed_and_threads_restored(load_script, capsys):
    bench = load_script("bench_generator", "benchmarks")
    before = torch.get_num_threads()
    bench.main(["--config", "tiny", "--num", "1"])
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| scenes |")]
    assert len(rows) == 1 and float(rows[0].split("|")[2]) > 0
    assert torch.get_num_threads() == before


def test_num_must_be_positive(load_script, capsys):
    bench = load_script("bench_generator", "benchmarks")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--config", "tiny", "--num", "0"])
    assert exc.value.code == 2 and "--num must be at least 1" in capsys.readouterr().err


def test_unknown_config_is_one_line(load_script, capsys):
    bench = load_script("bench_generator", "benchmarks")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--config", "no_such_config", "--num", "1"])
    assert exc.value.code == 2 and "training config 'no_such_config' not found" in capsys.readouterr().err
