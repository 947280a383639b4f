from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cotracker.io.video import (
    FrameSelection,
    VideoWriter,
    fit_size,
    iter_frames,
    probe_video,
    read_video,
    sample_video_path,
    write_video,
)


def _frames(T=6, H=24, W=32, seed=0):
    """Smooth, codec-friendly frames: a horizontal ramp whose brightness depends on the frame index."""
    x = np.linspace(0, 200, W)[None, :, None]
    base = np.broadcast_to(x, (H, W, 3))
    return np.stack([np.clip(base + 8 * t, 0, 255) for t in range(T)]).astype(np.uint8)


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    write_video(path, _frames(), fps=12)
    return path


def test_fit_size():
    assert fit_size(1080, 1920, None) == (1080, 1920)
    assert fit_size(1080, 1920, 480) == (270, 480)
    assert fit_size(480, 360, 240) == (240, 180)
    assert fit_size(100, 50, 200) == (100, 50)  # never upscaled


def test_frame_selection():
    sel = FrameSelection(start=2, end=9, stride=3)
    assert [i for i in range(12) if sel.selects(i)] == [2, 5, 8]
    assert sel.count(12) == 3 and sel.count(6) == 2 and sel.count(None) is None
    assert FrameSelection().count(10) == 10
    with pytest.raises(ValueError, match="stride must be >= 1"):
        FrameSelection(stride=0)
    with pytest.raises(ValueError, match="end must be > start"):
        FrameSelection(start=5, end=5)


def test_write_and_read_roundtrip(clip):
    info = probe_video(clip)
    assert (info.height, info.width, info.num_frames, info.kind) == (24, 32, 6, "video")
    assert info.fps == pytest.approx(12.0)
    video = read_video(clip)
    assert video.frames.shape == (6, 24, 32, 3) and video.frames.dtype == np.uint8
    np.testing.assert_array_equal(video.indices, np.arange(6))
    # lossy codec: close to the original on average
    assert np.abs(video.frames.astype(int) - _frames().astype(int)).mean() < 6


def test_frame_range_stride_and_max_size(clip):
    video = read_video(clip, start=1, end=6, stride=2, max_size=16)
    np.testing.assert_array_equal(video.indices, [1, 3, 5])
    assert video.frames.shape == (3, 12, 16, 3)
    assert video.fps == pytest.approx(6.0)
    # brightness grows with the frame index (8 levels per frame): the selected frames are the right ones
    means = video.frames.reshape(3, -1).mean(1)
    full = read_video(clip).frames.reshape(6, -1).mean(1)
    np.testing.assert_allclose(means, full[[1, 3, 5]], atol=2.0)


def test_read_video_reports_each_frame(clip):
    seen = []
    video = read_video(clip, start=1, end=6, stride=2, on_frame=seen.append)
    assert [f.index for f in seen] == video.indices.tolist() == [1, 3, 5]
    np.testing.assert_array_equal(np.stack([f.image for f in seen]), video.frames)


def test_iter_frames_is_a_stream(clip):
    it = iter_frames(clip)
    first = next(it)
    assert first.index == 0 and first.image.shape == (24, 32, 3)
    assert sum(1 for _ in it) == 5


def test_odd_size_is_padded_to_even(tmp_path):
    path = tmp_path / "odd.mp4"
    assert write_video(path, _frames(T=3, H=15, W=21), fps=5) == 3
    assert read_video(path).frames.shape == (3, 16, 22, 3)


def test_writer_rejects_bad_frames(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", fps=5) as w:
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
            w.write(np.zeros((8, 8, 3), np.float32))
        w.write(np.zeros((8, 8, 3), np.uint8))
        with pytest.raises(ValueError, match="but the video is 8x8"):
            w.write(np.zeros((10, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="fps must be > 0"):
        VideoWriter(tmp_path / "y.mp4", fps=0)


def test_image_folder_and_glob(tmp_path):
    frames = _frames(T=4)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{t:03d}.png")
    (folder / "notes.txt").write_text("ignored")
    video = read_video(folder)
    np.testing.assert_array_equal(video.frames, frames)  # png is lossless
    assert video.info.kind == "images"
    video = read_video(str(folder / "*.png"), start=1, stride=2)
    np.testing.assert_array_equal(video.frames, frames[[1, 3]])


def test_gif(tmp_path):
    frames = _frames(T=3)
    path = tmp_path / "a.gif"
    Image.fromarray(frames[0]).save(path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]], duration=50, loop=0)
    info = probe_video(path)
    assert info.kind == "gif" and info.num_frames == 3 and info.fps == pytest.approx(20.0)
    video = read_video(path)
    assert video.frames.shape == (3, 24, 32, 3)
    assert np.abs(video.frames.astype(int) - frames.astype(int)).mean() < 8  # palette quantisation


def test_mixed_size_images_fail(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "0.png")
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(tmp_path / "1.png")
    with pytest.raises(ValueError, match=r"1.png is 8x9 but the first frame is 8x8"):
        read_video(tmp_path)


def test_errors_name_the_file(tmp_path, clip):
    with pytest.raises(FileNotFoundError, match="video not found: .*missing.mp4"):
        probe_video(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.mp4 is empty"):
        read_video(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video")
    with pytest.raises(ValueError, match="cannot read video .*text.mp4"):
        read_video(tmp_path / "text.mp4")
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.mp4"):
        read_video(tmp_path / "cut.mp4")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="contains no image files"):
        read_video(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="no image files match"):
        read_video(str(tmp_path / "nothing" / "*.png"))
    with pytest.raises(ValueError, match="no frames selected from .*clip.mp4"):
        read_video(clip, start=50)


def test_truncated_mkv_is_detected(tmp_path):
    """mkv has no frame count: the declared duration reveals the truncation."""
    path = tmp_path / "a.mkv"
    write_video(path, _frames(T=20), fps=10)
    assert read_video(path).frames.shape[0] == 20
    data = path.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.mkv.*truncated"):
        read_video(tmp_path / "cut.mkv")


def test_bundled_sample_clip():
    path = sample_video_path()
    assert path.stat().st_size < 1_000_000
    info = probe_video(path)
    assert info.height <= 240 and info.width <= 320
    assert 24 <= info.num_frames <= 48
    assert 1.5 <= info.num_frames / info.fps <= 3.0
    frames = read_video(path).frames
    # textured and moving: not a still image
    assert frames.std() > 20 and np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 5


def test_real_video_streaming(shared_dir):
    path = shared_dir / "data" / "videos" / "bear.mp4"
    info = probe_video(path)
    assert (info.height, info.width) == (480, 854)
    video = read_video(path, start=10, end=20, stride=5, max_size=214)
    np.testing.assert_array_equal(video.indices, [10, 15])
    assert video.frames.shape == (2, 120, 214, 3)
