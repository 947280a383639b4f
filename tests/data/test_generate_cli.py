"""`cotracker generate`: output in the official layouts, deterministic by seed, readable by the loaders."""
import numpy as np

from cotracker.cli import main
from cotracker.data import KubricMovifDataset, PoseTrackDataset
from cotracker.data.kubric import read_kubric_sequence


def test_generate_kubric_roundtrip_and_determinism(tmp_path):
    args = ["generate", "kubric", "--num", "2", "--frames", "4", "--size", "48", "64", "--seed", "5", "--points", "64",
            "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b"), "--workers", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["000005", "000006"]
    fa, ta, va = read_kubric_sequence(tmp_path / "a" / "000006")
    fb, tb, vb = read_kubric_sequence(tmp_path / "b" / "000006")
    assert fa.shape == (4, 48, 64, 3) and ta.shape == (4, 64, 2)
    assert np.array_equal(fa, fb) and np.array_equal(ta, tb) and np.array_equal(va, vb)
    s = KubricMovifDataset(tmp_path / "a", crop_size=(48, 64), seq_len=4, traj_per_sample=8)[1]
    assert s.video.shape == (4, 3, 48, 64)


def test_generate_people_roundtrip(tmp_path):
    out = tmp_path / "people"
    assert main(["generate", "people", "--out", str(out), "--num", "1", "--frames", "3", "--size", "64", "80",
                 "--max-people", "2", "--points", "16", "--no-progress"]) == 0
    ds = PoseTrackDataset(out, out / "posetrack_data" / "annotations" / "train", out / "start_frames.json",
                          max_frames=3, interp_shape=None)
    s = ds[0]
    assert s.video.shape == (3, 3, 64, 80) and s.keypoint_ids.max() <= 16
    assert (out / "kubric" / "000000" / "000000.npy").is_file()


def test_generate_errors(tmp_path, capsys):
    assert main(["generate", "kubric", "--out", str(tmp_path), "--num", "0"]) == 2
    assert "--num must be >= 1" in capsys.readouterr().err


def test_generate_kubric_with_limbs_bars_and_plain_surfaces(tmp_path, capsys):
    base = ["generate", "kubric", "--num", "1", "--frames", "4", "--size", "96", "128", "--seed", "3", "--points", "200",
            "--no-progress"]
    assert main(base + ["--out", str(tmp_path / "plain")]) == 0
    assert main(base + ["--out", str(tmp_path / "limbs"), "--limb-prob", "1", "--thin-prob", "0.5",
                        "--plain-prob", "0.2"]) == 0
    fa, ta, _ = read_kubric_sequence(tmp_path / "plain" / "000003")
    fb, tb, _ = read_kubric_sequence(tmp_path / "limbs" / "000003")
    assert fb.shape == fa.shape and tb.shape == ta.shape and not np.array_equal(fa, fb)
    assert main(base + ["--out", str(tmp_path / "bad"), "--limb-prob", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "limb_prob" in err and "0..1" in err and not (tmp_path / "bad").exists()
    assert main(base + ["--out", str(tmp_path / "fence"), "--fence-prob", "1", "--follow-prob", "1"]) == 0
    fc, tc, _ = read_kubric_sequence(tmp_path / "fence" / "000003")
    assert fc.shape == fa.shape and tc.shape == ta.shape and not np.array_equal(fa, fc)
    assert main(base + ["--out", str(tmp_path / "bad2"), "--follow-prob", "-0.5"]) == 2
    assert "follow_prob" in capsys.readouterr().err and not (tmp_path / "bad2").exists()


def test_generate_kubric_with_real_textures(tmp_path, capsys):
    import cv2

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8))
    base = ["generate", "kubric", "--num", "1", "--frames", "4", "--size", "96", "128", "--seed", "3", "--points", "200",
            "--no-progress"]
    assert main(base + ["--out", str(tmp_path / "plain")]) == 0
    assert main(base + ["--out", str(tmp_path / "photo"), "--photo-dir", str(photos), "--photo-prob", "1"]) == 0
    fa, ta, _ = read_kubric_sequence(tmp_path / "plain" / "000003")
    fb, tb, _ = read_kubric_sequence(tmp_path / "photo" / "000003")
    assert fb.shape == fa.shape and tb.shape == ta.shape and not np.array_equal(fa, fb)
    assert main(base + ["--out", str(tmp_path / "bad"), "--photo-dir", str(photos), "--photo-prob", "2"]) == 2
    assert "--photo-prob must be in (0, 1]" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(base + ["--out", str(tmp_path / "bad2"), "--photo-dir", str(photos), "--photo-exclude", "a"]) == 2
    assert "no videos" in capsys.readouterr().err and not (tmp_path / "bad2").exists()
