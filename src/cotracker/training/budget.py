# SPDX-License-Identifier: Apache-2.0
"""How many optimiser steps fit in a wall-clock budget, from a short probe run's ``log.jsonl``.

A run's learning-rate schedule spans ``trainer.num_steps``, so on a machine lent for a fixed time (the device tool)
the step count must be chosen before the run: ``scripts/device_train.sh`` with ``FIT_SECONDS`` trains a few steps
first, and this module turns their ``sec_per_step`` records into the step count of the real run::

    python -m cotracker.training.budget PROBE/log.jsonl --seconds 400
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

from cotracker.training.logging import read_jsonl

__all__ = ["probe_sec_per_step", "steps_for_budget", "main"]


def probe_sec_per_step(records: Iterable[dict], skip: int = 1) -> float:
    """Mean seconds per step over a probe's ``train`` records, weighted by the steps each covers.

    The first ``skip`` records are left out: they hold the start (data workers filling their first batches).
    """
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    train = sorted((r for r in records if r.get("kind") == "train" and "sec_per_step" in r), key=lambda r: r["step"])
    if len(train) <= skip:
        raise ValueError(f"the probe logged {len(train)} train record(s); need more than {skip} to time a step "
                         "(run it longer or lower trainer.log_every)")
    total_s, total_steps = 0.0, 0
    prev = train[skip - 1]["step"] if skip > 0 else 0
    for r in train[skip:]:
        n = int(r["step"]) - int(prev)
        prev = r["step"]
        if n <= 0:
            raise ValueError(f"train records out of order at step {r['step']}")
        total_s += float(r["sec_per_step"]) * n
        total_steps += n
    sps = total_s / total_steps
    if not (math.isfinite(sps) and sps > 0):
        raise ValueError(f"the probe's seconds per step is {sps}; expected a positive number")
    return sps


def steps_for_budget(sec_per_step: float, seconds: float, margin: float = 0.85, minimum: int = 1) -> int:
    """Steps that fit in ``seconds`` at ``sec_per_step``, keeping ``1 - margin`` of the time spare."""
    if not sec_per_step > 0:
        raise ValueError(f"sec_per_step must be > 0, got {sec_per_step}")
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1], got {margin}")
    if seconds <= 0:
        raise ValueError(f"no time left for training: {seconds:.0f} s; give a larger budget")
    return max(minimum, int(seconds * margin / sec_per_step))


def _read_probe_log(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such log; the probe run writes log.jsonl in its trainer.out_dir")
    return read_jsonl(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cotracker.training.budget", description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path, help="the probe run's log.jsonl")
    ap.add_argument("--seconds", type=float, required=True, help="wall-clock seconds the real run may train")
    ap.add_argument("--margin", type=float, default=0.85, help="share of the seconds to plan steps for")
    ap.add_argument("--skip", type=int, default=1, help="first train records to leave out (the start)")
    args = ap.parse_args(argv)
    try:
        sps = probe_sec_per_step(_read_probe_log(args.log), skip=args.skip)
        steps = steps_for_budget(sps, args.seconds, margin=args.margin)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"probe: {sps:.3f} s/step; {steps} steps fit in {args.seconds:.0f} s at margin {args.margin}", file=sys.stderr)
    print(steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
