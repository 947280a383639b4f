#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Export trained weights into the package: ``src/cotracker/weights/<name>.safetensors``.

    python scripts/export_weights.py runs/synth_small/model_final.safetensors cotracker2-synth

The source may be a ``model_final.safetensors`` or a training checkpoint (``.ckpt``). The model is rebuilt from
the file's own config (plus ``--vis-threshold``, ``--iters``, ``--refine-resolution``, ``--flip-ensemble``,
``--feedback``, ``--local-grid``, ``--local-grid-extent``, ``--polish`` and its settings, ``--model-resolution``), loaded
strictly, and saved as float32 safetensors with the config in its metadata.
The script prints the file's sha256: pin it in ``cotracker.hub.REGISTRY`` (loading checks it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cotracker.hub import REGISTRY, adapt_pos_emb, build_cotracker, load_state_dict_strict, save_checkpoint
from cotracker.models.cotracker2 import CoTracker2
from cotracker.polish import PolishConfig

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "cotracker" / "weights"


def with_model_resolution(model: CoTracker2, hw: tuple[int, int]) -> CoTracker2:
    """The same weights in a model whose ``model_resolution`` is ``hw`` (its ``pos_emb`` table recomputed)."""
    try:
        other = CoTracker2(model.config.replace(model_resolution=hw))
    except ValueError as e:
        raise SystemExit(f"export_weights: --model-resolution: {e}")
    load_state_dict_strict(other, adapt_pos_emb(model.state_dict(), other.state_dict(), "--model-resolution"))
    return other.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="model_final.safetensors or a training .ckpt")
    ap.add_argument("name", choices=sorted(n for n, e in REGISTRY.items() if e.packaged), help="registry name")
    ap.add_argument("--vis-threshold", type=float, default=None,
                    help="visibility threshold calibrated for these weights (scripts/calibrate_visibility.py), stored "
                         "in the file's config and used by the predictors by default")
    ap.add_argument("--iters", type=int, default=None,
                    help="inference iterations chosen for these weights (scripts/tune_inference.py), stored in the "
                         "config and used by the predictors by default")
    ap.add_argument("--refine-resolution", type=int, nargs=2, default=None, metavar=("H", "W"),
                    help="resolution of the predictors' default coarse-to-fine second pass (scripts/tune_inference.py)")
    ap.add_argument("--flip-ensemble", action="store_true",
                    help="the predictors track with the flip ensemble by default (scripts/tune_inference.py)")
    ap.add_argument("--feedback", action="store_true",
                    help="the predictors hand each window's final positions back to every pass (scripts/tune_inference.py)")
    ap.add_argument("--local-grid", type=int, default=None, metavar="K",
                    help="the predictors track a KxK local grid around every explicit query by default "
                         "(scripts/tune_inference.py candidates :lgK)")
    ap.add_argument("--local-grid-extent", type=float, default=None, metavar="F",
                    help="side of those grids, a fraction of the model-resolution width (default 0.1)")
    ap.add_argument("--polish", action="store_true",
                    help="the predictors polish the final tracks with Lucas-Kanade by default (cotracker.polish; "
                         "PolishConfig's defaults, or the settings below)")
    ap.add_argument("--polish-radius", type=float, default=None, metavar="F",
                    help="the polish's radius, a fraction of the frame's longer side (implies --polish)")
    ap.add_argument("--polish-fb-threshold", type=float, default=None, metavar="PX",
                    help="the polish's forward-backward threshold in pixels (implies --polish)")
    ap.add_argument("--polish-window", type=int, default=None, metavar="PX",
                    help="the polish's LK window side in pixels, odd (implies --polish)")
    ap.add_argument("--model-resolution", type=int, nargs=2, default=None, metavar=("H", "W"),
                    help="resolution of the predictors' first pass, when the weights were trained at another one "
                         "(e.g. trained at the second pass's 384x512, shipped with a 192x256 first pass); only the "
                         "fixed sin-cos pos_emb table changes")
    ap.add_argument("--out", type=Path, default=None, metavar="FILE",
                    help="write this .safetensors instead of the package's file (a candidate to measure before it "
                         "ships; print its sha256 all the same)")
    args = ap.parse_args(argv)
    if args.out is not None and args.out.suffix != ".safetensors":
        raise SystemExit(f"export_weights: --out must name a .safetensors file, got {args.out}")
    model = build_cotracker(args.source, device="cpu")
    if args.model_resolution is not None:
        model = with_model_resolution(model, tuple(args.model_resolution))
    changes = {}
    if args.vis_threshold is not None:
        changes["vis_threshold"] = args.vis_threshold
    if args.iters is not None:
        changes["inference_iters"] = args.iters
    if args.refine_resolution is not None:
        changes["refine_resolution"] = tuple(args.refine_resolution)
    if args.flip_ensemble:
        changes["flip_ensemble"] = True
    if args.feedback:
        changes["feedback"] = True
    if args.local_grid is not None:
        changes["local_grid_size"] = args.local_grid
    if args.local_grid_extent is not None:
        changes["local_grid_extent"] = args.local_grid_extent
    polish = {k: v for k, v in (("radius", args.polish_radius), ("fb_threshold", args.polish_fb_threshold),
                                ("window", args.polish_window)) if v is not None}
    try:
        if args.polish or polish:
            changes["polish"] = PolishConfig(**polish)
        model.config = model.config.replace(**changes)
    except ValueError as e:
        raise SystemExit(f"export_weights: {e}")
    dest = args.out if args.out is not None else WEIGHTS_DIR / REGISTRY[args.name].filename
    digest = save_checkpoint(model, dest)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB, {n:,} parameters, "
          f"{model.config.num_keypoints} keypoint types)")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
