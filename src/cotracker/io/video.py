"""Video input and output: PyAV for video files, Pillow for GIFs and folders / globs of images.

Frames are decoded as a **stream** of ``(H, W, 3) uint8`` RGB arrays, one at a time, so that a long
high-resolution video is never held in memory at full size (and never as float32). Frame selection
(``start``, ``end``, ``stride``) and down-scaling (``max_size``, the longest side in pixels) happen
while decoding.

Sources accepted by :func:`open_video`, :func:`iter_frames` and :func:`read_video`:

* a video file PyAV can decode (mp4, mov, avi, webm, mkv, ...),
* an animated or still GIF (decoded with Pillow),
* a folder of images (png, jpg, jpeg, bmp, tif, tiff, webp), sorted by name,
* a glob pattern of images, e.g. ``"frames/*.png"``, sorted by name.

Every failure names the file: missing (``FileNotFoundError``), not a video, empty or truncated
(``ValueError``).
"""
from __future__ import annotations

import glob as _glob
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageSequence

__all__ = [
    "VideoInfo",
    "Frame",
    "Video",
    "FrameSelection",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "fit_size",
    "probe_video",
    "iter_frames",
    "read_video",
    "VideoWriter",
    "write_video",
    "sample_video_path",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg", ".gif")
DEFAULT_IMAGE_FPS = 10.0  # folders of images carry no frame rate; GIFs without a duration neither
SAMPLE_VIDEO = "sample.mp4"
TRUNCATION_TOLERANCE_FRAMES = 3  # a video is "truncated" when more frames than this (and > 5 %) are missing


@dataclass(frozen=True)
class VideoInfo:
    """What a video source is, before any frame selection or resizing.

    Attributes:
        path: the source as given (file, folder or glob pattern).
        kind: ``"video"`` (PyAV), ``"gif"`` or ``"images"``.
        height, width: frame size in pixels.
        fps: frames per second (``DEFAULT_IMAGE_FPS`` for image folders).
        num_frames: frame count from the header (None when the container does not say; PyAV only).
    """

    path: str
    kind: str
    height: int
    width: int
    fps: float
    num_frames: Optional[int]


@dataclass(frozen=True)
class FrameSelection:
    """Which frames to decode and at what size.

    Attributes:
        start: first frame index (0-based, in the source's numbering).
        end: one past the last frame index; None = to the end.
        stride: keep every ``stride``-th frame from ``start``.
        max_size: if set, frames are scaled down (never up) so that their longest side is at most this.
    """

    start: int = 0
    end: Optional[int] = None
    stride: int = 1
    max_size: Optional[int] = None

    def __post_init__(self):
        if self.start < 0:
            raise ValueError(f"frame range start must be >= 0, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"frame range end must be > start ({self.start}), got {self.end}")
        if self.stride < 1:
            raise ValueError(f"frame stride must be >= 1, got {self.stride}")
        if self.max_size is not None and self.max_size < 2:
            raise ValueError(f"max_size must be >= 2 pixels, got {self.max_size}")

    def selects(self, index: int) -> bool:
        """Whether source frame ``index`` is kept."""
        return index >= self.start and (self.end is None or index < self.end) and (index - self.start) % self.stride == 0

    def done(self, index: int) -> bool:
        """Whether no frame at or after ``index`` can be selected."""
        return self.end is not None and index >= self.end

    def count(self, num_frames: Optional[int]) -> Optional[int]:
        """How many frames are selected from a source of ``num_frames`` frames (None if unknown)."""
        if num_frames is None:
            return None
        stop = num_frames if self.end is None else min(self.end, num_frames)
        return max(0, -(-(stop - self.start) // self.stride))


class Frame(NamedTuple):
    """One decoded frame: its index in the source and the (H, W, 3) uint8 RGB image."""

    index: int
    image: np.ndarray


class Video(NamedTuple):
    """A whole clip in memory (use :func:`iter_frames` for long videos).

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        indices: (T,) int64, each frame's index in the source.
        fps: frames per second of the selection (source fps / stride).
        info: the source's :class:`VideoInfo`.
    """

    frames: np.ndarray
    indices: np.ndarray
    fps: float
    info: VideoInfo


def fit_size(height: int, width: int, max_size: Optional[int]) -> tuple[int, int]:
    """Size ``(H, W)`` scaled down so that the longest side is at most ``max_size`` (aspect kept, never upscaled)."""
    if max_size is None or max(height, width) <= max_size:
        return height, width
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


# ----------------------------------------------------------------------------------------------- sources


def _is_glob(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def _image_files(source: str) -> list[Path]:
    if _is_glob(source) and not Path(source).exists():
        files = [Path(p) for p in sorted(_glob.glob(source)) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise FileNotFoundError(f"no image files match the pattern {source!r}; expected e.g. 'frames/*.png'")
        return files
    files = sorted(p for p in Path(source).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"folder {source} contains no image files ({', '.join(IMAGE_SUFFIXES)}); expected a folder of video frames"
        )
    return files


def _kind(source: str) -> str:
    path = Path(source)
    if path.is_dir():
        return "images"
    if path.is_file():
        return "gif" if path.suffix.lower() == ".gif" else "video"
    if _is_glob(source):
        return "images"
    raise FileNotFoundError(f"video not found: {source}")


def _av_error(source: str, exc: Exception) -> ValueError:
    return ValueError(f"cannot read video {source}: {exc}; expected a video file PyAV/FFmpeg can decode (mp4, mov, avi, webm, mkv)")


def probe_video(source: PathLike) -> VideoInfo:
    """Read a source's size, frame rate and (when known) frame count without decoding it all.

    Raises:
        FileNotFoundError: the file, folder or pattern does not exist.
        ValueError: the file is not a readable video / image sequence.
    """
    source = os.fspath(source)
    kind = _kind(source)
    if kind == "video":
        import av

        if os.path.getsize(source) == 0:
            raise ValueError(f"video file {source} is empty (0 bytes)")
        try:
            with av.open(source) as container:
                if not container.streams.video:
                    raise ValueError(f"{source} has no video stream; expected a video file")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or stream.base_rate
                fps = float(rate) if rate else 0.0
                num = int(stream.frames) or None
                width, height = stream.codec_context.width, stream.codec_context.height
                if not width or not height:
                    raise ValueError(f"{source} has a video stream of unknown size; the file may be damaged")
                if not fps:
                    fps = 25.0
                    logger.warning("%s does not give a frame rate; assuming %.0f fps", source, fps)
                return VideoInfo(source, kind, int(height), int(width), fps, num)
        except av.FFmpegError as exc:
            raise _av_error(source, exc) from None
    if kind == "gif":
        try:
            with Image.open(source) as im:
                duration = im.info.get("duration") or 0
                n = getattr(im, "n_frames", 1)
                return VideoInfo(source, kind, im.height, im.width, 1000.0 / duration if duration else DEFAULT_IMAGE_FPS, n)
        except (OSError, Image.UnidentifiedImageError) as exc:
            raise ValueError(f"cannot read GIF {source}: {exc}") from None
    files = _image_files(source)
    try:
        with Image.open(files[0]) as im:
            w, h = im.size
    except (OSError, Image.UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read image {files[0]}: {exc}") from None
    return VideoInfo(source, kind, h, w, DEFAULT_IMAGE_FPS, len(files))


def _resize_pil(im: Image.Image, size_hw: tuple[int, int]) -> Image.Image:
    if im.size != (size_hw[1], size_hw[0]):
        im = im.resize((size_hw[1], size_hw[0]), Image.BILINEAR)
    return im


def _expected_duration(container, stream) -> Optional[float]:
    """The video stream's duration in seconds from the headers, when they say (None otherwise)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and len(container.streams) == 1:  # the container's duration is the video's
        return container.duration / 1_000_000
    return None


def _iter_av(info: VideoInfo, sel: FrameSelection) -> Iterator[Frame]:
    import av

    out_hw = fit_size(info.height, info.width, sel.max_size)
    index = -1
    last_time = None
    try:
        with av.open(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            expected = _expected_duration(container, stream)
            for av_frame in container.decode(stream):
                index += 1
                last_time = av_frame.time
                if sel.done(index):
                    return
                if not sel.selects(index):
                    continue
                if (av_frame.height, av_frame.width) != (info.height, info.width):
                    raise ValueError(
                        f"{info.path}: frame {index} is {av_frame.width}x{av_frame.height} but the stream is "
                        f"{info.width}x{info.height}; videos whose size changes are not supported"
                    )
                if out_hw != (info.height, info.width):
                    av_frame = av_frame.reformat(width=out_hw[1], height=out_hw[0], format="rgb24", interpolation="BILINEAR")
                yield Frame(index, av_frame.to_ndarray(format="rgb24"))
    except av.FFmpegError as exc:
        raise ValueError(f"cannot decode video {info.path} after {index + 1} frames: {exc}; the file may be truncated or damaged") from None
    decoded = index + 1
    if decoded == 0:
        raise ValueError(f"video {info.path} contains no frames: it is empty or truncated")
    # Headers are often off by a frame or two (edit lists, B-frames): only a clear shortfall is an error.
    if info.num_frames and info.num_frames - decoded > max(TRUNCATION_TOLERANCE_FRAMES, 0.05 * info.num_frames):
        raise ValueError(
            f"video {info.path} is truncated: its header declares {info.num_frames} frames but only {decoded} could be decoded"
        )
    if not info.num_frames and expected and last_time is not None and info.fps:
        # No frame count in the header (mkv, webm): compare the last frame's time with the declared duration.
        missing = expected - (last_time + 1.0 / info.fps)
        if missing > max(TRUNCATION_TOLERANCE_FRAMES / info.fps, 0.05 * expected):
            raise ValueError(
                f"video {info.path} is truncated: its header declares {expected:.2f} s but frames stop at {last_time:.2f} s "
                f"({decoded} frames decoded)"
            )


def _iter_gif(info: VideoInfo, sel: FrameSelection) -> Iterator[Frame]:
    out_hw = fit_size(info.height, info.width, sel.max_size)
    try:
        with Image.open(info.path) as im:
            for index, page in enumerate(ImageSequence.Iterator(im)):
                if sel.done(index):
                    return
                if sel.selects(index):
                    yield Frame(index, np.array(_resize_pil(page.convert("RGB"), out_hw)))
    except (OSError, Image.UnidentifiedImageError) as exc:
        raise ValueError(f"cannot decode GIF {info.path}: {exc}; the file may be truncated or damaged") from None


def _iter_images(info: VideoInfo, sel: FrameSelection) -> Iterator[Frame]:
    out_hw = fit_size(info.height, info.width, sel.max_size)
    for index, path in enumerate(_image_files(info.path)):
        if sel.done(index):
            return
        if not sel.selects(index):
            continue
        try:
            with Image.open(path) as im:
                if im.size != (info.width, info.height):
                    raise ValueError(
                        f"image {path} is {im.width}x{im.height} but the first frame is {info.width}x{info.height}; "
                        "all frames of a sequence must have the same size"
                    )
                yield Frame(index, np.array(_resize_pil(im.convert("RGB"), out_hw)))
        except (OSError, Image.UnidentifiedImageError) as exc:
            raise ValueError(f"cannot read image {path}: {exc}") from None


def iter_frames(
    source: PathLike,
    start: int = 0,
    end: Optional[int] = None,
    stride: int = 1,
    max_size: Optional[int] = None,
    info: Optional[VideoInfo] = None,
) -> Iterator[Frame]:
    """Decode frames one at a time.

    Args:
        source: video file, GIF, folder of images or glob pattern.
        start, end, stride: frame selection in the source's numbering (``end`` exclusive, None = to the end).
        max_size: scale frames down so that their longest side is at most this many pixels.
        info: a :class:`VideoInfo` from :func:`probe_video`, to skip probing again.

    Yields:
        :class:`Frame` ``(index, image)``, image (H, W, 3) uint8 RGB.

    Raises:
        FileNotFoundError, ValueError: as :func:`probe_video`; ValueError also when decoding fails part way
        (truncated file) or the selection is empty.
    """
    sel = FrameSelection(start, end, stride, max_size)
    info = info or probe_video(source)
    reader = {"video": _iter_av, "gif": _iter_gif, "images": _iter_images}[info.kind]
    count = 0
    for frame in reader(info, sel):
        count += 1
        yield frame
    if count == 0:
        raise ValueError(
            f"no frames selected from {info.path}: it has {info.num_frames if info.num_frames is not None else 'an unknown number of'} "
            f"frames and the range starts at frame {start}; choose a smaller start"
        )


def read_video(
    source: PathLike,
    start: int = 0,
    end: Optional[int] = None,
    stride: int = 1,
    max_size: Optional[int] = None,
    on_frame: Optional[Callable[[Frame], None]] = None,
) -> Video:
    """Decode a (short) clip into memory as uint8. For long videos prefer :func:`iter_frames`.

    Args:
        source, start, end, stride, max_size: as :func:`iter_frames`.
        on_frame: called with each decoded :class:`Frame` (e.g. to advance a progress bar).

    Returns:
        :class:`Video` with frames (T, H, W, 3) uint8 and their source indices.
    """
    info = probe_video(source)
    frames, indices = [], []
    for frame in iter_frames(source, start, end, stride, max_size, info=info):
        frames.append(frame.image)
        indices.append(frame.index)
        if on_frame is not None:
            on_frame(frame)
    return Video(np.stack(frames), np.asarray(indices, dtype=np.int64), info.fps / stride, info)


# ----------------------------------------------------------------------------------------------- writing


def _pick_codec(preferred: Sequence[str] = ("libx264", "mpeg4")) -> str:
    import av

    for name in preferred:
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # not compiled into this FFmpeg
            continue
    raise ValueError(f"none of the video encoders {', '.join(preferred)} is available in this PyAV/FFmpeg build")


class VideoWriter:
    """Encode RGB uint8 frames to a video file with PyAV (libx264 when available, else mpeg4), yuv420p.

    Odd frame sizes are padded by one replicated row/column (yuv420p needs even dimensions). Use as a
    context manager; every frame written is encoded (none is dropped) at a constant ``fps``.

    Args:
        path: output file; the container follows the suffix (``.mp4`` recommended).
        fps: frames per second (float; converted to a rational with denominator <= 1001).
        codec: encoder name, or None to pick libx264 / mpeg4.
        crf: libx264 constant rate factor (lower = better quality, larger file).
    """

    def __init__(self, path: PathLike, fps: float, codec: Optional[str] = None, crf: int = 20):
        import av

        if not fps or fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = codec or _pick_codec()
        self._rate = Fraction(self.fps).limit_denominator(1001)
        self._crf = crf
        self._container = av.open(os.fspath(self.path), mode="w")
        self._stream = None
        self.frames_written = 0
        self.size_hw: Optional[tuple[int, int]] = None

    def _open_stream(self, h: int, w: int) -> None:
        stream = self._container.add_stream(self.codec, rate=self._rate)
        stream.width, stream.height = w + (w % 2), h + (h % 2)
        stream.pix_fmt = "yuv420p"
        if self.codec == "libx264":
            stream.options = {"crf": str(self._crf), "preset": "veryfast"}
        else:
            stream.bit_rate = max(1_000_000, int(stream.width * stream.height * self.fps * 0.25))
        self._stream = stream
        self.size_hw = (h, w)

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame, (H, W, 3) uint8 RGB; every frame must have the size of the first."""
        import av

        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"VideoWriter.write expects an (H, W, 3) uint8 RGB frame, got shape {frame.shape} dtype {frame.dtype}")
        h, w = frame.shape[:2]
        if self._stream is None:
            self._open_stream(h, w)
        elif (h, w) != self.size_hw:
            raise ValueError(f"frame {self.frames_written} is {w}x{h} but the video is {self.size_hw[1]}x{self.size_hw[0]}")
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        av_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        av_frame.pts = self.frames_written
        av_frame.time_base = 1 / self._rate
        for packet in self._stream.encode(av_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._container is None:
            return
        try:
            if self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path: PathLike, frames, fps: float, codec: Optional[str] = None) -> int:
    """Write an iterable of (H, W, 3) uint8 frames (or a (T, H, W, 3) array); returns the number written."""
    with VideoWriter(path, fps, codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
        if writer.frames_written == 0:
            raise ValueError(f"no frames to write to {path}")
        return writer.frames_written


def sample_video_path() -> Path:
    """Path of the short sample clip bundled with the package (made by ``scripts/make_sample.py``)."""
    path = Path(str(resources.files("cotracker") / "assets" / SAMPLE_VIDEO))
    if not path.is_file():
        raise FileNotFoundError(
            f"the bundled sample clip {path} is missing; regenerate it with `python scripts/make_sample.py` "
            "or pass a VIDEO path"
        )
    return path
