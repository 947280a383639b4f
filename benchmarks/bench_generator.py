"""Speed of the synthetic generators (sequences per second, single process) at one or more sizes.

    python benchmarks/bench_generator.py --frames 24 --size 512 512 --num 5
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    ap.add_argument("--num", type=int, default=5)
    ap.add_argument("--kinds", nargs="+", default=["kubric", "people"], choices=["kubric", "people"])
    args = ap.parse_args()
    print("| generator | frames | size | sequences/s (1 process) |")
    print("|---|---|---|---|")
    for kind in args.kinds:
        sps = bench(kind, args.frames, args.size, args.num)
        print(f"| {kind} | {args.frames} | {args.size[0]}x{args.size[1]} | {sps:.2f} |")


if __name__ == "__main__":
    main()
