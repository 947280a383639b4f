"""``cotracker train --config configs/train/NAME.yaml [key=value ...]``: train or fine-tune a tracker.

The run folder (``trainer.out_dir``) holds checkpoints, ``log.jsonl`` and TensorBoard events; starting
the same command again resumes from the newest checkpoint there. Multi-GPU: ``--devices 8`` (one
machine) or launch with ``torchrun`` / SLURM ``srun`` and give ``--devices`` (per node) and ``--num-nodes``.
"""
from __future__ import annotations

import argparse
import logging

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train or fine-tune a tracker from a YAML config",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", "-c", required=True,
                   help="YAML config file, or a preset name from configs/train (e.g. tiny, kubric_only)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. trainer.num_steps=1000 data.train.0.root=/data/kubric")
    p.add_argument("--out", help="run folder (same as trainer.out_dir=...)")
    p.add_argument("--devices", help="processes per node (GPUs, or CPU processes), or 'auto'")
    p.add_argument("--num-nodes", type=int, help="number of nodes")
    p.add_argument("--accelerator", choices=("auto", "cpu", "cuda", "gpu", "mps"), help="hardware")
    p.add_argument("--precision", choices=("32-true", "bf16-mixed", "bf16-true", "16-mixed"), help="numeric precision")
    p.add_argument("--init", dest="init_checkpoint", help="fine-tune from this checkpoint (path or registered name)")
    p.add_argument("--freeze-vis-head", action="store_true", help="keep the visibility head fixed")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="stop after M minutes of wall clock with a checkpoint (same as trainer.max_minutes=M); the "
                        "same command resumes")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(func=run)
    return p


def _flag_overrides(args) -> list[str]:
    out = []
    if args.out:
        out.append(f"trainer.out_dir={args.out}")
    if args.devices is not None:
        out.append(f"trainer.devices={args.devices}")
    if args.num_nodes is not None:
        out.append(f"trainer.num_nodes={args.num_nodes}")
    if args.accelerator:
        out.append(f"trainer.accelerator={args.accelerator}")
    if args.precision:
        out.append(f"trainer.precision={args.precision}")
    if args.init_checkpoint:
        out.append(f"model.init_checkpoint={args.init_checkpoint}")
    if args.max_minutes is not None:
        out.append(f"trainer.max_minutes={args.max_minutes}")
    if args.freeze_vis_head:
        out.append("model.freeze_vis_head=true")
    return out


def run(args) -> int:
    import yaml

    from cotracker.training.config import check_data_paths, config_to_dict, load_config

    cfg = load_config(args.config, list(args.overrides) + _flag_overrides(args))
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0
    check_data_paths(cfg)
    from cotracker.training.trainer import train

    # a run lasts minutes to days: its progress lines (encoder stage, resuming, ...) are shown by default
    train_logger = logging.getLogger("cotracker.training")
    if train_logger.getEffectiveLevel() > logging.INFO:
        train_logger.setLevel(logging.INFO)

    result = train(cfg)
    import os

    if int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) or 0) == 0 and os.environ.get("LOCAL_RANK", "0") == "0":
        if result.stopped_early:
            print(f"stopped {cfg.name} at step {result.step} of {cfg.trainer.num_steps} (trainer.max_minutes); the "
                  f"same command resumes from {result.final_checkpoint}")
        else:
            print(f"trained {cfg.name} to step {result.step} (loss {result.last_loss:.4f}); run folder {result.out_dir}")
    return 0
