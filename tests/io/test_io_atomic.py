import os

import pytest

from cotracker.io.atomic import atomic_output_dir, atomic_path, atomic_write, check_output_dir


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as fh:
            fh.write("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temp file left
    with atomic_write(target) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_path_keeps_suffix_and_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "x.npz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".npz" and tmp != target
        tmp.write_bytes(b"123")
    assert target.read_bytes() == b"123"
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_atomic_write_rejects_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        with atomic_write(tmp_path / "a", mode="a"):
            pass


def test_output_dir_appears_complete(tmp_path):
    out = tmp_path / "res"
    with atomic_output_dir(out) as tmp:
        assert not out.exists() and tmp.parent == tmp_path
        (tmp / "f.txt").write_text("1")
    assert (out / "f.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_output_dir_failure_leaves_nothing(tmp_path):
    out = tmp_path / "res"
    with pytest.raises(ValueError, match="bad"):
        with atomic_output_dir(out) as tmp:
            (tmp / "partial.txt").write_text("x")
            raise ValueError("bad")
    assert list(tmp_path.iterdir()) == []


def test_output_dir_refuses_existing_without_overwrite(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "keep.txt").write_text("k")
    with pytest.raises(FileExistsError, match="--overwrite"):
        with atomic_output_dir(out):
            pass
    assert (out / "keep.txt").read_text() == "k"
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        check_output_dir(tmp_path / "file", overwrite=True)


def test_overwrite_keeps_old_until_new_is_complete(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            assert (out / "old.txt").exists()  # still there while the new one is built
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # old folder removed
