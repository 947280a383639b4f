"""``cotracker evaluate``: score a checkpoint or a baseline on a benchmark; write per-video JSON and tables.

Heavy imports happen inside :func:`run`, so ``cotracker --help`` stays fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from cotracker.commands._args import add_photo_options, add_refine_options, photo_options, positive_int, refine_choice

__all__ = ["add_inference_args", "add_parser", "inference_kwargs", "run"]

DATASETS = (
    "tapvid_davis_first", "tapvid_davis_strided", "tapvid_kinetics_first",
    "dynamic_replica", "posetrack", "badja", "kubric", "synthetic",
)

DESCRIPTION = """\
Evaluate a tracker on a benchmark with the published protocol, and write into --out:
  per_video.json  metrics of every video
  summary.json    the means over videos (read by `cotracker report`)
  summary.md      the same as a Markdown table
  summary.csv     one row per video and a final 'mean' row
The aggregate table is also printed. TAP-Vid-style metrics are at the 256x256 scale
(thresholds 1, 2, 4, 8, 16 px). 'synthetic' generates a seeded held-out set on the fly (no --data-root).
"""

EPILOG = """\
examples:
  cotracker evaluate --dataset tapvid_davis_first --data-root tapvid_davis.pkl --checkpoint cotracker2 --out eval/davis
  cotracker evaluate --dataset badja --data-root /path/to/shared/data --tracker lk --out eval/badja_lk
  cotracker evaluate --dataset synthetic --tracker static --synthetic-videos 8 --out eval/synth_static
"""


def add_inference_args(group) -> None:
    """The model's inference settings as options of ``group`` (an argparse parser or group); each defaults to the
    weights' own setting. :func:`inference_kwargs` turns them into predictor arguments."""
    add_refine_options(group)
    group.add_argument("--iters", type=positive_int, default=None, metavar="N",
                       help="refinement iterations per window (default: the weights' setting, else 6)")
    group.add_argument("--vis-threshold", type=float, default=None, metavar="P",
                       help="visibility threshold (default: the weights' calibrated one, else the official 0.9)")
    ensemble = group.add_mutually_exclusive_group()
    ensemble.add_argument("--no-ensemble", action="store_true",
                          help="track with one tracker instead of the flip ensemble the shipped weights use by "
                               "default (3x faster)")
    ensemble.add_argument("--ensemble", action="store_true",
                          help="track with the flip ensemble even if the weights do not ask for it (a training "
                               "checkpoint carries no inference settings)")
    feedback = group.add_mutually_exclusive_group()
    feedback.add_argument("--feedback", action="store_true", default=None,
                          help="hand each window's final positions back to every pass (default: the weights' setting)")
    feedback.add_argument("--no-feedback", action="store_false", dest="feedback",
                          help="do not hand the final positions back to the passes")
    polish = group.add_mutually_exclusive_group()
    polish.add_argument("--polish", action="store_true", default=None,
                        help="polish the final tracks with Lucas-Kanade at the video's resolution (cotracker.polish; "
                             "default: the weights' setting; the weights' own polish settings, else the defaults)")
    polish.add_argument("--no-polish", action="store_false", dest="polish", help="keep the model's positions")
    group.add_argument("--local-grid", type=int, default=None, metavar="K",
                       help="track a KxK grid of extra points around every query beside it (context where a video has "
                            "few queries, as in the official evaluation's local grid; K*K more points per query; default: the "
                            "weights' setting, 0 turns it off)")
    group.add_argument("--local-grid-extent", type=float, default=None, metavar="F",
                       help="side of each local grid, a fraction of the model-resolution width (default 0.1)")


_INFERENCE_OPTIONS = ("--iters, --vis-threshold, --no-refine, --refine-resolution, --(no-)ensemble, --(no-)feedback, "
                      "--(no-)polish, --local-grid and --local-grid-extent")


def inference_kwargs(args: argparse.Namespace) -> dict:
    """Predictor keyword arguments for the options of :func:`add_inference_args`: only what was asked for, so that
    everything else stays the weights' setting."""
    if args.vis_threshold is not None and not 0.0 <= args.vis_threshold <= 1.0:
        raise ValueError(f"--vis-threshold must be a probability in 0..1, got {args.vis_threshold}")
    from cotracker.predictor import inference_overrides  # noqa: PLC0415

    if args.local_grid_extent is not None and args.local_grid is None:
        raise ValueError("--local-grid-extent sets the side of the local grids: pass --local-grid K with it")
    local_grid = None
    if args.local_grid is not None:
        from cotracker.models.config import check_local_grid  # noqa: PLC0415

        extent = 0.1 if args.local_grid_extent is None else args.local_grid_extent
        local_grid, extent = check_local_grid(args.local_grid, extent, ("--local-grid", "--local-grid-extent"))
    kw = inference_overrides(refine=refine_choice(args), flip_ensemble=not args.no_ensemble, local_grid=local_grid)
    if args.local_grid_extent is not None:
        kw["local_grid_extent"] = extent
    if args.ensemble:  # on even where the weights do not ask for it
        kw["flip_ensemble"] = True
    if args.feedback is not None:
        kw["feedback"] = bool(args.feedback)
    if args.polish is not None:
        kw["polish"] = bool(args.polish)
    if args.iters is not None:
        kw["iters"] = args.iters
    if args.vis_threshold is not None:
        kw["vis_threshold"] = args.vis_threshold
    return kw


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to ``subparsers`` and set its ``func``."""
    p = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint or a baseline on a benchmark (per-video JSON, Markdown and CSV tables)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", required=True, choices=DATASETS, help="benchmark to run")
    p.add_argument("--data-root", metavar="PATH", default=None,
                   help="the dataset's file or folder (TAP-Vid pickle, Kubric folder, the folder holding realgt/ for badja, ...)")
    who = p.add_argument_group("tracker (one of)")
    who.add_argument("--checkpoint", metavar="PATH|NAME", default=None,
                     help="CoTracker weights file or registry name")
    who.add_argument("--tracker", choices=("lk", "static"), default=None,
                     help="a baseline instead of a model: pyramidal Lucas-Kanade or static points")
    who.add_argument("--backward", action="store_true",
                     help="the model also tracks backwards from each query frame (always on for tapvid_davis_strided)")
    who.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="device of the model (default auto)")
    add_inference_args(who)
    p.add_argument("--protocol", choices=("joint", "single"), default="joint",
                   help="joint: all queries of a video in one call; single: one call per query (default joint)")
    p.add_argument("--max-videos", type=positive_int, default=None, metavar="N", help="evaluate only the first N videos")
    p.add_argument("--out", metavar="DIR", default=None, help="folder for the result files (default: only print the table)")
    p.add_argument("--name", default=None, help="label of the tracker in the tables (default: the baseline or checkpoint name)")
    p.add_argument("--step", type=int, default=None, help="training step of the checkpoint, stored with the results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = p.add_argument_group("synthetic held-out set (--dataset synthetic)")
    s.add_argument("--synthetic-videos", type=positive_int, default=8, metavar="N", help="clips (default 8)")
    s.add_argument("--synthetic-frames", type=positive_int, default=24, metavar="T", help="frames per clip (default 24)")
    s.add_argument("--synthetic-size", type=positive_int, nargs=2, default=(256, 256), metavar=("H", "W"),
                   help="frame size (default 256 256)")
    s.add_argument("--synthetic-points", type=positive_int, default=None, metavar="N",
                   help="tracks scored per clip (default 64; 24 with --synthetic-limbs)")
    s.add_argument("--synthetic-seed", type=int, default=1_000_000, help="base seed of the held-out set (default 1000000)")
    kind = s.add_mutually_exclusive_group()
    kind.add_argument("--synthetic-articulated", action="store_true",
                      help="scenes with articulated limbs, thin bars and plain surfaces (limb/thin/plain probabilities "
                           "0.5/0.25/0.15, as in the second half of the synth_small_cont3 training mixture)")
    kind.add_argument("--synthetic-fences", action="store_true",
                      help="the articulated scenes with fences and a camera that follows an object (fence/follow "
                           "probabilities 0.7/0.7, as in the third part of the synth_small_cont4 mixture)")
    kind.add_argument("--synthetic-limbs", action="store_true",
                      help="few queries, all on articulated limbs: the articulated scenes with limbs on every object, "
                           "24 queries per clip sampled only on the limbs")
    add_photo_options(s, prefix="synthetic-")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cotracker.evaluation import make_tracker  # noqa: PLC0415
    from cotracker.evaluation.evaluator import EvalConfig, SyntheticEvalConfig, evaluate  # noqa: PLC0415
    from cotracker.evaluation.report import comparison_table, result_to_dict, write_results  # noqa: PLC0415

    if args.tracker is None and args.checkpoint is None:
        raise ValueError("choose what to evaluate: --checkpoint PATH|NAME or --tracker lk|static")
    if args.dataset != "synthetic" and args.data_root is None:
        raise ValueError(f"--dataset {args.dataset} needs --data-root (only 'synthetic' is generated on the fly)")
    device = "cpu"
    if args.checkpoint is not None:
        from cotracker.api import resolve_device  # noqa: PLC0415

        device = resolve_device(args.device)
    synthetic = SyntheticEvalConfig.variant(
        articulated=args.synthetic_articulated, fences=args.synthetic_fences, limbs=args.synthetic_limbs,
        num_sequences=args.synthetic_videos, num_frames=args.synthetic_frames, size_hw=tuple(args.synthetic_size),
        seed=args.synthetic_seed, **photo_options(args, prefix="synthetic-"),
    )
    if args.synthetic_points is not None:  # the variant's rendered points, or 8 per scored track if that is more
        synthetic = dataclasses.replace(synthetic, traj_per_sample=args.synthetic_points,
                                        num_points=max(synthetic.num_points, 8 * args.synthetic_points))
    config = EvalConfig(
        dataset=args.dataset, data_root=args.data_root, query_protocol=args.protocol, max_videos=args.max_videos,
        synthetic=synthetic, progress=not args.no_progress,
    )
    backward = args.backward or args.dataset.endswith("_strided")
    kw = inference_kwargs(args)
    if args.checkpoint is None and kw:
        raise ValueError(f"{_INFERENCE_OPTIONS} set up a model; the baselines take none of them")
    tracker = make_tracker(args.tracker, args.checkpoint, device=device, backward_tracking=backward, **kw)
    name = args.name or args.tracker or Path(str(args.checkpoint)).stem
    result = evaluate(tracker, config, tracker_name=name, step=args.step)
    print(comparison_table([result_to_dict(result)]), end="")
    if args.out is not None:
        paths = write_results(result, args.out)
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    return 0
