# SPDX-License-Identifier: Apache-2.0
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from cotracker.io.safetensors_file import safetensors_bytes, save_safetensors


def _tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "b.weight": torch.randn(3, 5, generator=g),
        "a.bias": torch.randn(7, generator=g).to(torch.float16),
        "c.half": torch.randn(2, 2, generator=g).to(torch.bfloat16),
        "d.count": torch.tensor(12345678901, dtype=torch.int64),  # 0-dim
        "e.mask": torch.tensor([True, False, True]),
        "f.empty": torch.zeros(0, 4),
        "g.strided": torch.arange(12, dtype=torch.int32).reshape(3, 4).t(),  # not contiguous
    }


def test_safetensors_reads_back_every_tensor_and_the_metadata(tmp_path):
    tensors = _tensors()
    meta = {"format": "pt", "config": '{"x": 1}'}
    path = tmp_path / "w.safetensors"
    save_safetensors(tensors, path, metadata=meta)
    with safe_open(str(path), "pt") as f:
        assert f.metadata() == meta
        assert sorted(f.keys()) == sorted(tensors)
        for k, v in tensors.items():
            got = f.get_tensor(k)
            assert got.dtype == v.dtype and got.shape == v.shape, k
            assert torch.equal(got, v), k


def test_the_bytes_do_not_depend_on_insertion_order_or_the_process(tmp_path):
    tensors = _tensors()
    meta = {"z": "1", "a": "2", "format": "pt"}
    blob = safetensors_bytes(tensors, meta)
    reversed_order = dict(reversed(list(tensors.items())))
    assert safetensors_bytes(reversed_order, dict(reversed(list(meta.items())))) == blob
    # another interpreter (another hash seed) writes the same bytes
    code = ("import hashlib,sys;sys.path[:0]=[%r];from test_io_safetensors_file import _tensors;"
            "from cotracker.io.safetensors_file import safetensors_bytes;"
            "print(hashlib.sha256(safetensors_bytes(_tensors(), {'z':'1','a':'2','format':'pt'})).hexdigest())"
            % str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == hashlib.sha256(blob).hexdigest()


def test_the_header_is_padded_and_the_data_follows_it():
    blob = safetensors_bytes({"x": torch.arange(3, dtype=torch.float32)})
    n = int.from_bytes(blob[:8], "little")
    assert n % 8 == 0
    assert blob[8 + n:] == torch.arange(3, dtype=torch.float32).numpy().tobytes()


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(TypeError, match="str to str"):
        safetensors_bytes({"x": torch.zeros(1)}, {"n": 3})
    with pytest.raises(TypeError, match="expected a torch.Tensor"):
        safetensors_bytes({"x": [1, 2]})
    with pytest.raises(TypeError, match="no safetensors name"):
        safetensors_bytes({"x": torch.zeros(1, dtype=torch.complex64)})
    with pytest.raises(ValueError, match="__metadata__"):
        safetensors_bytes({"__metadata__": torch.zeros(1)})
    with pytest.raises(ValueError, match="non-empty strings"):
        safetensors_bytes({"x": torch.zeros(1), 3: torch.zeros(1)})


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_safetensors({"x": torch.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_safetensors({"x": "not a tensor"}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
