"""Speed of the synthetic generators (sequences per second, single process) at one or more sizes.

    python benchmarks/bench_generator.py --frames 24 --size 512 512 --num 5
    python benchmarks/bench_generator.py --config synth_small_gpu2 --num 12

With ``--config``, each training source of that config is timed as a data worker produces it (scene, augmentations,
crop, track sampling), on one thread for torch and OpenCV as the trainer's workers run: seconds per training sample.
A training run whose steps wait on data takes ``batch_size * s/sample / num_workers`` seconds per step at least.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from cotracker.data.synthetic_people import PeopleConfig, generate_people
from cotracker.data.synthetic_scenes import SceneConfig, generate_scene


def bench(kind: str, frames: int, size, num: int, seed: int = 0) -> float:
    if kind == "kubric":
        cfg = SceneConfig(num_frames=frames, size_hw=tuple(size))
        fn = generate_scene
    else:
        cfg = PeopleConfig(num_frames=frames, size_hw=tuple(size))
        fn = generate_people
    fn(cfg, np.random.default_rng(seed + 10_000))  # warm-up (imports, allocator)
    start = time.perf_counter()
    for i in range(num):
        fn(cfg, np.random.default_rng(seed + i))
    return num / (time.perf_counter() - start)


def bench_config(name: str, num: int, seed: int = 0) -> list[tuple[str, float]]:
    """Seconds per training sample of each source of a training config, on one thread as the trainer's data workers
    run (``_one_thread_per_worker``); the caller's thread counts are restored afterwards."""
    import torch  # noqa: PLC0415

    from cotracker.data.base import require_cv2  # noqa: PLC0415
    from cotracker.training.config import load_config  # noqa: PLC0415
    from cotracker.training.data import build_dataset  # noqa: PLC0415
    from cotracker.training.trainer import _one_thread_per_worker  # noqa: PLC0415

    cv2 = require_cv2()
    cfg = load_config(name)
    threads = torch.get_num_threads(), cv2.getNumThreads()
    _one_thread_per_worker(0)
    rows = []
    try:
        for entry in cfg.data.train:
            ds = build_dataset(entry, cfg.data, seed=seed)
            ds[len(ds) - 1]  # warm-up (imports, texture bank), an item the timing does not use unless it wraps
            start = time.perf_counter()
            for i in range(num):
                ds[i % len(ds)]
            rows.append((entry.name, (time.perf_counter() - start) / num))
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    ap.add_argument("--num", type=int, default=5)
    ap.add_argument("--kinds", nargs="+", default=["kubric", "people"], choices=["kubric", "people"])
    ap.add_argument("--config", default=None, help="time the training sources of this config instead (name or path)")
    args = ap.parse_args(argv)
    if args.num < 1:
        ap.error(f"--num must be at least 1, got {args.num}")
    if args.config:
        print(f"| {args.config}: source | s/sample (1 thread, {args.num} samples) |")
        print("|---|---:|")
        try:
            rows = bench_config(args.config, args.num)
        except (FileNotFoundError, ValueError) as exc:  # no such config, or a source whose data folder is missing
            ap.error(str(exc))
        for name, seconds in rows:
            print(f"| {name} | {seconds:.2f} |")
        return
    print("| generator | frames | size | sequences/s (1 process) |")
    print("|---|---|---|---|")
    for kind in args.kinds:
        sps = bench(kind, args.frames, args.size, args.num)
        print(f"| {kind} | {args.frames} | {args.size[0]}x{args.size[1]} | {sps:.2f} |")


if __name__ == "__main__":
    main()
