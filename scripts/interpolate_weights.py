#!/usr/bin/env python
# SPDX-License-Identifier: Apache-2.0
"""Blend two exported weight files of one architecture: ``(1 - alpha) * BASE + alpha * TUNED``, tensor by tensor.

    python scripts/interpolate_weights.py src/cotracker/weights/cotracker2-synth.safetensors \\
        runs/synth_pose3/candidate.safetensors --alpha 0.5 --out runs/synth_pose3/wise05.safetensors

This is weight-space interpolation between a model and its own fine-tune (WiSE-FT, Wortsman et al. 2022): it
keeps much of the fine-tune's gain on the new data while giving back part of what the fine-tune lost elsewhere.
The result takes TUNED's config (its inference settings, keypoint types, resolution) and any tensor that only
TUNED has (e.g. the pose model's keypoint embedding ``kp_emb``, which the general model lacks). Every tensor of
BASE must be in TUNED with the same shape, and the fixed ``pos_emb`` table must agree, i.e. both files exported at
the same ``--model-resolution`` (``scripts/export_weights.py``). Measure the result as any candidate before it
ships; the script prints its sha256.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cotracker.hub import build_cotracker, load_state_dict_strict, save_checkpoint

FIXED_TABLES = ("pos_emb",)  # not learned: interpolating them is meaningless, they must agree


def interpolate_state_dicts(base: dict, tuned: dict, alpha: float) -> tuple[dict, list[str]]:
    """``(1 - alpha) * base + alpha * tuned`` per tensor; tensors only ``tuned`` has are taken from it.

    Returns:
        (the blended state dict, the sorted names taken from ``tuned`` alone).

    Raises:
        ValueError: alpha outside [0, 1], a tensor of ``base`` missing from ``tuned``, a shape or dtype mismatch,
            or a fixed table (``pos_emb``) or non-float tensor that differs between the two.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (0 keeps BASE, 1 keeps TUNED), got {alpha}")
    missing = sorted(set(base) - set(tuned))
    if missing:
        raise ValueError(f"TUNED lacks {len(missing)} tensor(s) of BASE: {missing[:10]}; the two files are not one "
                         "architecture and its fine-tune")
    out, only_tuned = {}, []
    for name, t in tuned.items():
        if name not in base:
            out[name] = t.clone()
            only_tuned.append(name)
            continue
        b = base[name]
        if tuple(b.shape) != tuple(t.shape) or b.dtype != t.dtype:
            raise ValueError(f"{name}: BASE {tuple(b.shape)} {b.dtype} vs TUNED {tuple(t.shape)} {t.dtype}; "
                             "export both at the same --model-resolution and architecture")
        if name in FIXED_TABLES or not t.is_floating_point():
            if not torch.equal(b, t):
                raise ValueError(f"{name} differs between the files; it is a fixed table, not a learned weight: "
                                 "export both at the same --model-resolution (scripts/export_weights.py)")
            out[name] = t.clone()
            continue
        out[name] = torch.lerp(b.float(), t.float(), alpha).to(t.dtype)
    return out, sorted(only_tuned)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the model the fine-tune started from (a registry name or a file)")
    ap.add_argument("tuned", help="the fine-tuned model; the result takes its config and its extra tensors")
    ap.add_argument("--alpha", type=float, required=True, help="weight of TUNED, in [0, 1]")
    ap.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .safetensors file to write")
    args = ap.parse_args(argv)
    if args.out.suffix != ".safetensors":
        raise SystemExit(f"interpolate_weights: --out must name a .safetensors file, got {args.out}")
    try:
        base = build_cotracker(args.base, device="cpu")
        tuned = build_cotracker(args.tuned, device="cpu")
        sd, only_tuned = interpolate_state_dicts(base.state_dict(), tuned.state_dict(), args.alpha)
        load_state_dict_strict(tuned, sd)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"interpolate_weights: {e}")
    digest = save_checkpoint(tuned, args.out)
    print(f"wrote {args.out}: (1 - {args.alpha:g}) * {args.base} + {args.alpha:g} * {args.tuned}; "
          f"{len(sd) - len(only_tuned)} tensors blended, from TUNED alone: {', '.join(only_tuned) or 'none'}")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
