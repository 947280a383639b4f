#!/usr/bin/env python
"""Memory and speed of ``cotracker.track_video`` on a long video.

The issue's target: a 1000-frame 480p video with 1024 points (a 32 x 32 grid) stays within a few GB.
Frames are decoded one at a time and kept only at the model resolution as uint8
(``T x 3 x 384 x 512`` bytes = 0.59 GB for 1000 frames), instead of ``T x 3 x 480 x 854`` float32
(4.9 GB) for the whole clip at full size.

Without ``--video`` a synthetic clip of the requested size is written first (frame by frame, a
textured background panning under a few moving squares) into a temporary folder.

Usage::

    # the measurement the issue asks for (full-size model architecture, random weights if no checkpoint)
    python benchmarks/bench_long_video.py --frames 1000 --height 480 --width 854 --points 1024 --random-weights
    # a quick smoke run (tiny model, short small clip)
    python benchmarks/bench_long_video.py --tiny --frames 24 --height 120 --width 160 --points 64

It prints one table row: frames, size, points, device, model, seconds, peak RSS (process), peak CUDA
memory (when on a GPU) and the float32 full-size clip size for comparison.
"""
from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def peak_rss_gb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def write_synthetic_video(path: Path, frames: int, height: int, width: int, fps: float = 30.0, seed: int = 0) -> None:
    """Stream a synthetic clip to ``path``: a panning textured background and four moving squares."""
    from PIL import Image

    from cotracker.io.video import VideoWriter

    rng = np.random.default_rng(seed)
    coarse = (rng.random((max(2, height // 24), max(2, width // 24), 3)) * 255).astype(np.uint8)
    pad = 2 * width
    background = np.asarray(Image.fromarray(coarse).resize((width + pad, height), Image.BICUBIC))
    squares = rng.uniform(0, 1, (4, 4))  # x0, y0, phase, colour
    side = max(4, min(height, width) // 8)
    with VideoWriter(path, fps) as writer:
        for t in range(frames):
            x0 = int(t * 1.5) % pad
            frame = background[:, x0 : x0 + width].copy()
            for k, (sx, sy, ph, col) in enumerate(squares):
                cx = int((sx * width + 40 * math.sin(2 * math.pi * (t / 90 + ph))) % (width - side))
                cy = int((sy * height + 30 * math.cos(2 * math.pi * (t / 70 + ph))) % (height - side))
                frame[cy : cy + side, cx : cx + side] = (255 * col, 255 * (1 - col), 128 + 60 * (k % 2))
            writer.write(frame)


def build_model(args):
    """The model to benchmark: a tiny random one, the full architecture with random weights, or a checkpoint."""
    import torch

    from cotracker.models.config import TrackerConfig, tiny
    from cotracker.models.cotracker2 import CoTracker2

    if args.tiny or args.random_weights:
        torch.manual_seed(0)
        config = tiny() if args.tiny else TrackerConfig()
        name = "tiny-random" if args.tiny else "cotracker2-random"
        if args.polish:  # random weights carry no inference settings: give them the polish's defaults
            from cotracker.polish import PolishConfig

            config, name = config.replace(polish=PolishConfig()), name + "+polish"
        return CoTracker2(config), name
    return None, args.checkpoint or "default"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None, help="video to track (default: a synthetic clip)")
    parser.add_argument("--frames", type=int, default=1000, help="synthetic clip length / frames to track (default 1000)")
    parser.add_argument("--height", type=int, default=480, help="synthetic clip height (default 480)")
    parser.add_argument("--width", type=int, default=854, help="synthetic clip width (default 854)")
    parser.add_argument("--points", type=int, default=1024, help="points to track, as a square grid (default 1024 = 32x32)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint path or name (default: the package default)")
    parser.add_argument("--tiny", action="store_true", help="use a tiny random model (smoke test)")
    parser.add_argument("--random-weights", action="store_true", help="full-size CoTracker2 architecture with random weights")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--overlay", action="store_true", help="also write the overlay video (timed too)")
    polish = parser.add_mutually_exclusive_group()
    polish.add_argument("--polish", action="store_true",
                        help="with --tiny / --random-weights: polish the tracks (cotracker.polish defaults; weights "
                             "files decide for themselves)")
    polish.add_argument("--no-polish", action="store_true", help="no Lucas-Kanade polish even if the weights ask")
    args = parser.parse_args(argv)
    if args.polish and not (args.tiny or args.random_weights):
        parser.error("--polish is for --tiny / --random-weights; a weights file carries its own polish setting")

    import torch

    from cotracker.api import resolve_device, track_video
    from cotracker.io.video import probe_video

    grid = max(1, round(math.sqrt(args.points)))
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="cotracker-bench-") as tmp:
        tmp = Path(tmp)
        video = args.video
        if video is None:
            video = tmp / "synthetic.mp4"
            t0 = time.perf_counter()
            write_synthetic_video(video, args.frames, args.height, args.width)
            print(f"wrote synthetic clip {args.frames} frames {args.width}x{args.height} in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
        info = probe_video(video)
        model, model_name = build_model(args)
        rss_before = peak_rss_gb()
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        result = track_video(
            video, grid_size=grid, model=model, checkpoint=None if model is not None else args.checkpoint, device=device,
            end=args.frames, out=tmp / "out", overlay=args.overlay, progress=sys.stderr.isatty(),
            polish=not args.no_polish,
        )
        seconds = time.perf_counter() - t0
        tf = result.track_file
        cuda_gb = torch.cuda.max_memory_allocated() / 1024**3 if device.startswith("cuda") else float("nan")
        full_f32_gb = tf.num_frames * 3 * info.height * info.width * 4 / 1024**3

    header = ("frames", "size", "points", "device", "model", "seconds", "fps", "peak_rss_GB", "rss_before_GB", "peak_cuda_GB", "full_f32_clip_GB")
    row = (tf.num_frames, f"{info.width}x{info.height}", tf.num_points, device, model_name, f"{seconds:.1f}",
           f"{tf.num_frames / seconds:.1f}", f"{peak_rss_gb():.2f}", f"{rss_before:.2f}", f"{cuda_gb:.2f}", f"{full_f32_gb:.2f}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("| " + " | ".join(str(v) for v in row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
