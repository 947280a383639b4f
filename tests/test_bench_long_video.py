# SPDX-License-Identifier: Apache-2.0
"""benchmarks/bench_long_video.py end to end on a small clip: with and without the polish, and its option checks."""
import pytest


def _row(out: str) -> list[str]:
    return [c.strip() for c in out.strip().splitlines()[-1].split("|")[1:-1]]


def test_tiny_model_with_and_without_the_polish(load_script, capsys):
    bench = load_script("bench_long_video", "benchmarks")
    small = ["--tiny", "--frames", "6", "--height", "48", "--width", "64", "--points", "4", "--device", "cpu"]
    assert bench.main(small) == 0
    plain = _row(capsys.readouterr().out)
    assert bench.main(small + ["--polish"]) == 0
    polished = _row(capsys.readouterr().out)
    assert plain[:3] == polished[:3] == ["6", "64x48", "4"]
    assert plain[4] == "tiny-random" and polished[4] == "tiny-random+polish"


def test_polish_needs_random_weights(load_script, capsys):
    bench = load_script("bench_long_video", "benchmarks")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--polish", "--checkpoint", "x.safetensors"])
    assert exc.value.code == 2 and "--polish is for --tiny / --random-weights" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        bench.main(["--tiny", "--polish", "--no-polish"])
    assert exc.value.code == 2
