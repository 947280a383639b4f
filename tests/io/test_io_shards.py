# SPDX-License-Identifier: Apache-2.0
"""cotracker.io.shards and scripts/shards.py: split/join round trips, and every damaged input is refused."""
import json
import os

import pytest

from cotracker.io.shards import MANIFEST_SUFFIX, join_shards, split_file


@pytest.mark.parametrize("size, max_bytes, parts", [(1000, 300, 4), (900, 300, 3), (10, 300, 1), (0, 300, 1)])
def test_split_and_join_give_the_same_bytes(tmp_path, size, max_bytes, parts):
    data = os.urandom(size)
    src = tmp_path / "step_00000400.ckpt"
    src.write_bytes(data)
    manifest = split_file(src, tmp_path / "out", max_bytes=max_bytes)
    assert manifest.name == "step_00000400.ckpt" + MANIFEST_SUFFIX
    pieces = sorted((tmp_path / "out").glob("*.part*"))
    assert len(pieces) == parts and all(p.stat().st_size <= max_bytes for p in pieces)
    assert b"".join(p.read_bytes() for p in pieces) == data
    joined = join_shards(manifest, tmp_path / "back" / "x.ckpt")
    assert joined.read_bytes() == data
    assert join_shards(manifest).read_bytes() == data  # default: its own name beside the manifest


def _split(tmp_path):
    src = tmp_path / "a.ckpt"
    src.write_bytes(os.urandom(1000))
    return split_file(src, tmp_path / "out", max_bytes=400)


def test_a_missing_part_is_named(tmp_path):
    manifest = _split(tmp_path)
    (tmp_path / "out" / "a.ckpt.part001").unlink()
    with pytest.raises(FileNotFoundError, match="part a.ckpt.part001 of a.ckpt is missing"):
        join_shards(manifest)
    assert not (tmp_path / "out" / "a.ckpt").exists()


def test_an_altered_or_truncated_part_is_refused_and_nothing_is_written(tmp_path):
    manifest = _split(tmp_path)
    part = tmp_path / "out" / "a.ckpt.part002"
    data = bytearray(part.read_bytes())
    data[0] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or altered"):
        join_shards(manifest)
    part.write_bytes(bytes(data[:-1]))
    with pytest.raises(ValueError, match="truncated or altered"):
        join_shards(manifest)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.ckpt.part000", "a.ckpt.part001", "a.ckpt.part002", "a.ckpt.shards.json"]


def test_parts_of_another_split_are_refused(tmp_path):
    manifest = _split(tmp_path)
    doc = json.loads(manifest.read_text())
    doc["sha256"] = "0" * 64  # parts intact, whole differs: e.g. parts of two splits mixed with their manifests
    manifest.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not match its manifest"):
        join_shards(manifest)
    assert not (tmp_path / "out" / "a.ckpt").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file to split"):
        split_file(tmp_path / "nope.ckpt", tmp_path)
    (tmp_path / "f").write_bytes(b"x")
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="max_bytes must be"):
            split_file(tmp_path / "f", tmp_path / "o", max_bytes=bad)
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a shards manifest"):
        join_shards(tmp_path / "m.json")
    (tmp_path / "m.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="not a shards manifest"):
        join_shards(tmp_path / "m.json")


def test_the_script(tmp_path, load_script, capsys):
    script = load_script("shards")
    src = tmp_path / "w.ckpt"
    src.write_bytes(os.urandom(3 * 2**20 + 7))
    assert script.main(["split", str(src), str(tmp_path / "out"), "--max-mib", "1"]) == 0
    assert len(list((tmp_path / "out").glob("w.ckpt.part*"))) == 4
    assert script.main(["join", str(tmp_path / "out" / "w.ckpt.shards.json"), str(tmp_path / "j.ckpt")]) == 0
    assert (tmp_path / "j.ckpt").read_bytes() == src.read_bytes()
    assert script.main(["split", str(src), str(tmp_path / "o2"), "--max-mib", "0"]) == 2
    assert "--max-mib must be > 0" in capsys.readouterr().err
    assert script.main(["join", str(tmp_path / "nothing.json")]) == 2
