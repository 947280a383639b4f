"""``cotracker track [VIDEO]``: track points through a video; write tracks.npz, tracks.csv and overlay.mp4.

Heavy imports (torch, the model) happen inside :func:`run`, so ``cotracker --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys

from cotracker.commands._args import (
    add_no_polish_option,
    add_refine_options,
    non_negative_int,
    positive_int,
    refine_choice,
)

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Track points through a video and write, into --out (default ./cotracker_out/<video name>/):
  tracks.npz   tracks (T,N,2) x,y pixels, visibility (T,N), queries (N,3) t,x,y, frame size, fps, model name
               (load it with cotracker.io.tracks.load_tracks)
  tracks.csv   one row per frame and point: frame,point,x,y,visible
  overlay.mp4  the video with the tracks drawn on it (hollow circles = occluded)

What is tracked: --queries FILE, else a --grid-size grid kept on --mask, else a --grid-size grid
(10x10 by default), or --dense. Frame numbers (query t, --grid-query-frame, --start/--end) are those
of the source video; x, y are its pixels (x = 0 is the centre of the leftmost pixel).
With no VIDEO, a short sample clip bundled with the package is tracked.
"""

EPILOG = """\
examples:
  cotracker track                                   # the bundled sample clip
  cotracker track my_video.mp4 --grid-size 20 --trail 10
  cotracker track my_video.mp4 --queries points.csv --backward --out results/
  cotracker track frames/ --mask object.png --checkpoint cotracker2.pth --device cuda
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``track`` sub-command to ``subparsers`` and set its ``func``."""
    p = subparsers.add_parser(
        "track",
        help="track points through a video (tracks.npz, tracks.csv, overlay.mp4)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video", nargs="?", default=None, metavar="VIDEO",
                   help="video file (mp4, mov, avi, webm, mkv, gif), folder of frames or quoted glob ('frames/*.png'); "
                        "default: the bundled sample clip")
    model = p.add_argument_group("model")
    model.add_argument("--checkpoint", metavar="PATH|NAME", default=None,
                       help="weights file (.pth or .safetensors) or a registry name; default: the checkpoint shipped with the package")
    add_refine_options(model)
    model.add_argument("--no-ensemble", action="store_true", help="track with one tracker instead of the flip ensemble the shipped weights use by default (3x faster, more lost points)")
    add_no_polish_option(model)
    model.add_argument("--local-grid", type=non_negative_int, default=None, metavar="K",
                       help="with --queries: track a KxK grid of extra points around every query as context (default: "
                            "the weights' setting, 3 for the shipped weights; 0 turns it off: 1.7-2.7x faster)")
    model.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where to run the model: auto = cuda if available, else cpu (default: auto)")
    what = p.add_argument_group("what to track")
    what.add_argument("--queries", metavar="FILE", default=None,
                      help="CSV or JSON of query points t,x,y[,name] (t = source frame number, x,y = pixels)")
    what.add_argument("--grid-size", type=positive_int, default=None, metavar="N",
                      help="track an N x N grid of points (default 10 when no --queries/--dense)")
    what.add_argument("--grid-query-frame", type=non_negative_int, default=0, metavar="T",
                      help="source frame number the grid (or dense lattice) starts from (default 0)")
    what.add_argument("--mask", metavar="PNG", default=None,
                      help="segmentation mask of the video's size: only grid points on its non-zero pixels are tracked")
    what.add_argument("--dense", action="store_true", help="track a dense lattice of points instead of a grid")
    what.add_argument("--backward", action="store_true",
                      help="also track backwards in time, so points have positions before their query frame")
    frames = p.add_argument_group("frames")
    frames.add_argument("--start", type=non_negative_int, default=0, metavar="T", help="first frame to use (default 0)")
    frames.add_argument("--end", type=positive_int, default=None, metavar="T",
                        help="stop before this frame (exclusive; default: the end of the video)")
    frames.add_argument("--stride", type=positive_int, default=1, metavar="K", help="use every K-th frame (default 1)")
    frames.add_argument("--max-size", type=positive_int, default=None, metavar="PX",
                        help="decode and draw frames with the longest side at most PX pixels (tracks stay in source pixels)")
    output = p.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", default=None, help="output folder (default ./cotracker_out/<video name>/)")
    output.add_argument("--overwrite", action="store_true",
                        help="replace an existing output folder (the old one is removed only after the new one is complete)")
    output.add_argument("--trail", type=non_negative_int, default=0, metavar="N",
                        help="draw each point's path over the last N frames in the overlay (default 0: points only)")
    output.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    output.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``cotracker track`` with parsed arguments; returns the exit code."""
    from cotracker.api import track_video

    if args.queries is not None and (args.mask is not None or args.dense):
        raise ValueError("--queries cannot be combined with --mask or --dense; choose one way of picking points")
    if args.mask is not None and args.dense:
        raise ValueError("--mask selects grid points and cannot be combined with --dense")
    if args.end is not None and args.end <= args.start:
        raise ValueError(f"--end ({args.end}) must be greater than --start ({args.start})")
    result = track_video(
        args.video,
        queries=args.queries,
        grid_size=args.grid_size,
        grid_query_frame=args.grid_query_frame,
        mask=args.mask,
        dense=args.dense,
        backward=args.backward,
        checkpoint=args.checkpoint,
        refine=refine_choice(args),
        ensemble=not args.no_ensemble,
        local_grid=args.local_grid,
        polish=not args.no_polish,
        device=args.device,
        start=args.start,
        end=args.end,
        stride=args.stride,
        max_size=args.max_size,
        out=args.out,
        overlay=not args.no_overlay,
        trail=args.trail,
        overwrite=args.overwrite,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    tf = result.track_file
    print(f"tracked {tf.num_points} points through {tf.num_frames} frames -> {result.out_dir}")
    return 0
