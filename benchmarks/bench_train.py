"""Training speed: optimiser steps per second (forward, losses, backward, clip, AdamW) of CoTracker2.

Two set-ups (the batch is fixed random data, so only the model is measured, not the data loader):

    python benchmarks/bench_train.py --preset tiny --device cpu                 # tiny model, CPU
    python benchmarks/bench_train.py --preset cotracker2 --device cuda \\
        --frames 24 --points 256 --precision bf16                               # full model, 384x512, batch 1

Prints a Markdown table row: preset, device, precision, B x T x N @ HxW, s/step, steps/s, peak memory.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch


def make_batch(B: int, T: int, N: int, H: int, W: int, device, seed: int = 0):
    from cotracker.types import CoTrackerData

    g = torch.Generator().manual_seed(seed)
    video = torch.rand(B, T, 3, H, W, generator=g) * 255
    start = torch.rand(B, 1, N, 2, generator=g) * torch.tensor([W - 1.0, H - 1.0])
    vel = (torch.rand(B, 1, N, 2, generator=g) - 0.5) * 4
    traj = (start + vel * torch.arange(T).view(1, T, 1, 1)).clamp(torch.zeros(2), torch.tensor([W - 1.0, H - 1.0]))
    vis = torch.rand(B, T, N, generator=g) > 0.2
    vis[:, 0] = True
    batch = CoTrackerData(video=video.to(device), trajectory=traj.to(device), visibility=vis.to(device),
                          valid=torch.ones(B, T, N, dtype=torch.bool, device=device),
                          keypoint_ids=torch.full((B, N), -1, device=device), person_ids=None)
    return batch


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=("tiny", "cotracker2"), default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--frames", type=int, default=None, help="default 24 (cotracker2) / 12 (tiny)")
    p.add_argument("--points", type=int, default=None, help="default 256 (cotracker2) / 32 (tiny)")
    p.add_argument("--iters", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from cotracker.models.config import PRESETS
    from cotracker.models.cotracker2 import CoTracker2
    from cotracker.training.config import TrainConfig, config_from_dict
    from cotracker.training.queries import sample_training_queries
    from cotracker.training.trainer import compute_losses

    device = torch.device(args.device)
    mcfg = PRESETS[args.preset]()
    H, W = mcfg.model_resolution
    T = args.frames or (24 if args.preset == "cotracker2" else 12)
    N = args.points or (256 if args.preset == "cotracker2" else 32)
    cfg: TrainConfig = config_from_dict({"model": {"preset": args.preset}, "data": {"crop_size": [H, W]}})
    torch.manual_seed(0)
    model = CoTracker2(mcfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-5)
    batch = make_batch(args.batch, T, N, H, W, device)
    queries = sample_training_queries(batch.trajectory, batch.visibility, batch.valid,
                                      generator=torch.Generator().manual_seed(0)).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    def step():
        with autocast:
            out = model(batch.video, queries, iters=args.iters, is_train=True)
        loss = compute_losses(out.train_data, batch, cfg).total
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    mem = f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device.type == "cuda" else "-"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    print("| preset | device | precision | B x T x N @ HxW | s/step | steps/s | peak mem |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.preset} | {name} | {args.precision} | {args.batch} x {T} x {N} @ {H}x{W} | {dt:.3f} | {1 / dt:.2f} | {mem} |")


if __name__ == "__main__":
    main()
