"""Photographic textures: the bank's file handling, the crops, and scenes whose surfaces are real frames."""
import numpy as np
import pytest

from cotracker.data import SceneConfig, generate_scene
from cotracker.data.photo_textures import load_photo_bank, photo_texture

cv2 = pytest.importorskip("cv2")


def _write_video(path, frames_rgb, fps=10):
    h, w = frames_rgb[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for f in frames_rgb:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture()
def photo_dir(tmp_path):
    rng = np.random.default_rng(0)
    # Smooth frames survive mp4 compression well enough to recognise them.
    base = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    _write_video(tmp_path / "clip.mp4", [np.roll(base, 4 * t, axis=1) for t in range(20)])
    _write_video(tmp_path / "heldout.mp4", [base] * 5)
    cv2.imwrite(str(tmp_path / "photo.jpg"), np.full((60, 80, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / "clip_mask.png"), np.zeros((120, 160), np.uint8))  # not a texture
    (tmp_path / "notes.txt").write_text("not a texture")
    return tmp_path


def test_bank_reads_videos_and_photos_skips_masks_and_exclusions(photo_dir):
    bank = load_photo_bank(photo_dir, exclude=["heldout"], per_video=4, short_side=60)
    assert bank.sources == ("clip.mp4",) * 4 + ("photo.jpg",)
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in bank.frames)
    assert bank.frames[0].shape == (60, 80, 3)  # short side 120 -> 60
    assert bank.frames[4].shape == (60, 80, 3)  # already small: kept
    # Frames are spread over the video: the first and last picked differ (the clip scrolls).
    assert np.abs(bank.frames[0].astype(int) - bank.frames[3].astype(int)).mean() > 5
    assert load_photo_bank(photo_dir, exclude=["heldout"], per_video=4, short_side=60) is bank  # read once
    every = load_photo_bank(photo_dir, per_video=2, short_side=60)
    assert every.sources.count("heldout.mp4") == 2


def test_bank_takes_every_decoded_frame_when_asked_for_more(photo_dir):
    # The picks are spread over the frames actually decoded (headers can miscount): 20 frames, each exactly once.
    bank = load_photo_bank(photo_dir, exclude=["heldout", "photo"], per_video=50)
    assert bank.sources == ("clip.mp4",) * 20
    assert all(not np.array_equal(a, b) for a, b in zip(bank.frames, bank.frames[1:]))  # the clip scrolls


def test_bank_errors_say_what_is_wrong(tmp_path, photo_dir):
    with pytest.raises(FileNotFoundError, match="photo_prob"):
        load_photo_bank(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no videos"):
        load_photo_bank(empty)
    with pytest.raises(ValueError, match="no videos"):
        load_photo_bank(photo_dir, exclude=["clip", "heldout", "photo"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="bad.mp4"):
        load_photo_bank(broken)


def test_crop_is_a_window_of_a_frame_at_scale_one(photo_dir):
    bank = load_photo_bank(photo_dir, exclude=["heldout", "photo"], per_video=2)
    rng = np.random.default_rng(3)
    for _ in range(4):
        tex = photo_texture(rng, bank, 30, 40, detail=0.0, scale_range=(1.0, 1.0), colour_jitter=0.0)
        assert tex.shape == (30, 40, 3) and tex.dtype == np.float32
        # Exactly some 30x40 window of one of the frames, possibly mirrored left-right.
        found = False
        for frame in bank.frames:
            f = frame.astype(np.float32)
            for cand in (tex, tex[:, ::-1]):
                for y in range(f.shape[0] - 29):
                    for x in range(f.shape[1] - 39):
                        if np.array_equal(f[y:y + 30, x:x + 40], cand):
                            found = True
                            break
                    if found:
                        break
        assert found


def test_crops_vary_are_seeded_and_may_be_larger_than_the_frames(photo_dir):
    bank = load_photo_bank(photo_dir, per_video=2, short_side=60)
    a = photo_texture(np.random.default_rng(1), bank, 50, 70)
    b = photo_texture(np.random.default_rng(1), bank, 50, 70)
    c = photo_texture(np.random.default_rng(2), bank, 50, 70)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    big = photo_texture(np.random.default_rng(0), bank, 300, 500, scale_range=(1.5, 1.5))
    assert big.shape == (300, 500, 3) and 0 <= big.min() and big.max() <= 255
    with pytest.raises(ValueError, match="positive"):
        photo_texture(np.random.default_rng(0), bank, 0, 10)


def test_scene_with_real_textures_keeps_exact_ground_truth(photo_dir, load_script):
    cfg = SceneConfig(num_frames=8, size_hw=(96, 128), num_points=400, brightness=0.0, min_objects=3, max_objects=4,
                      photo_prob=1.0, photo_dir=str(photo_dir), photo_exclude=("photo",))
    clip = generate_scene(cfg, np.random.default_rng(5))
    plain = generate_scene(SceneConfig(num_frames=8, size_hw=(96, 128), num_points=400, brightness=0.0,
                                       min_objects=3, max_objects=4), np.random.default_rng(5))
    assert not np.array_equal(clip.frames, plain.frames)
    # The tracks follow the rendered surfaces exactly as for procedural textures (same check as the other scenes).
    _color_error = load_script("test_synthetic", folder="tests/data")._color_error
    err = _color_error(clip.frames, clip.tracks, clip.visible)
    shifted = clip.tracks + np.random.default_rng(0).normal(0, 2.0, clip.tracks.shape).astype(np.float32)
    assert np.median(err) < 2.0 and np.median(_color_error(clip.frames, shifted, clip.visible)) > 2 * np.median(err)


@pytest.mark.parametrize("bad, match", [(dict(photo_prob=0.5), "photo_dir"), (dict(photo_prob=1.5), "photo_prob"),
                                        (dict(photo_dir="x", photo_exclude="bear"), "list of file stems")])
def test_scene_config_rejects_bad_photo_options(bad, match):
    with pytest.raises(ValueError, match=match):
        SceneConfig(**bad)


def test_training_config_passes_photo_options(photo_dir):
    from cotracker.training.config import DataConfig, DatasetConfig
    from cotracker.training.data import build_dataset

    entry = DatasetConfig(type="synthetic_scene", options={"scene": {
        "photo_prob": 1.0, "photo_dir": str(photo_dir), "photo_exclude": ["heldout"], "num_frames": 8}})
    ds = build_dataset(entry, DataConfig(crop_size=(64, 96), seq_len=8, traj_per_sample=16), seed=0)
    assert ds.config.photo_exclude == ("heldout",) and ds.config.photo_prob == 1.0
    sample = ds[0]
    assert tuple(sample.video.shape) == (8, 3, 64, 96)


def test_photo_frames_script_writes_the_bank_as_photos(photo_dir, tmp_path):
    """scripts/photo_frames.py: a folder of its JPEGs is a bank with the same frames (up to JPEG loss)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "photo_frames.py"
    spec = importlib.util.spec_from_file_location("photo_frames", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "frames"
    assert mod.main([str(photo_dir), str(out), "--exclude", "heldout", "--per-video", "4", "--quality", "95"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["clip_mp4_00.jpg", "clip_mp4_01.jpg", "clip_mp4_02.jpg", "clip_mp4_03.jpg", "photo_jpg_00.jpg"]
    src = load_photo_bank(photo_dir, exclude=["heldout"], per_video=4)
    back = load_photo_bank(out)
    assert len(back.frames) == len(src.frames)
    def diff(a, b):
        return np.abs(a.astype(int) - b.astype(int)).mean()

    for a, b in zip(src.frames, back.frames):
        assert a.shape == b.shape and diff(a, b) < 8  # JPEG's loss (chroma subsampling of saturated noise)
    # each photo is its own frame, not a neighbour's (the clip scrolls by 4 px a frame)
    assert diff(src.frames[0], back.frames[0]) < diff(src.frames[0], back.frames[3]) / 2

    # a second run into the same folder changes nothing and says why
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert mod.main([str(photo_dir), str(out), "--exclude", "heldout", "--per-video", "4"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert mod.main([str(tmp_path / "missing"), str(tmp_path / "o2")]) == 2 and not (tmp_path / "o2").exists()
    assert mod.main([str(photo_dir), str(tmp_path / "o3"), "--per-video", "0"]) == 2
