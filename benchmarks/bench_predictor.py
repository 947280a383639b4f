#!/usr/bin/env python
"""Speed and peak-memory benchmark of the offline predictor (`CoTrackerPredictor`).

Tracks random points (queried at frame 0, plus the predictor's default 6x6 support grid) through a
random uint8 clip with a randomly initialised model (full-size CoTracker2 by default, 384x512 input)
and prints one table row per (frames, points) configuration::

    python benchmarks/bench_predictor.py                       # CUDA if available, else CPU
    python benchmarks/bench_predictor.py --device cpu --frames 24 --points 100 --repeats 1
    python benchmarks/bench_predictor.py --markdown > results.md

Every configuration runs in a fresh Python subprocess, so the peak memory of one configuration does
not leak into the next. Peak memory is the increase over what the process held just before the
timed calls (model, clip and queries already built):

* CUDA: ``torch.cuda.max_memory_allocated()`` minus ``torch.cuda.memory_allocated()`` before;
* CPU: the peak resident set size (``VmHWM``, reset through ``/proc/self/clear_refs`` where Linux
  allows it, otherwise ``resource.getrusage``'s ``ru_maxrss``) minus the resident size before.

Seconds are the median over ``--repeats`` timed calls after ``--warmup`` untimed ones.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Optional

DEFAULT_FRAMES = (24, 48, 96)
DEFAULT_POINTS = (100, 1024)


# ----------------------------------------------------------------------------------------------------------
# memory probes
# ----------------------------------------------------------------------------------------------------------


def _current_rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes(reset_worked: bool) -> int:
    if reset_worked:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({torch.get_num_threads()} threads)"


# ----------------------------------------------------------------------------------------------------------
# worker: one configuration, in its own process
# ----------------------------------------------------------------------------------------------------------


def run_worker(args: argparse.Namespace) -> dict:
    import torch

    from cotracker.hub import build_cotracker
    from cotracker.models.config import PRESETS
    from cotracker.predictor import CoTrackerPredictor

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    is_cuda = device.startswith("cuda")
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)  # the random weights; this is a script, not the library

    config = PRESETS[args.config]()
    model = build_cotracker(None, config=config, device=device)  # random weights
    predictor = CoTrackerPredictor(model=model, iters=args.iters)
    H, W = args.input_hw or config.model_resolution
    T, N = args.frames[0], args.points[0]
    video = torch.randint(0, 256, (1, T, 3, H, W), dtype=torch.uint8, generator=gen)  # on the CPU, as decoded
    xy = torch.rand(1, N, 2, generator=gen) * torch.tensor([W - 1.0, H - 1.0])
    queries = torch.cat([torch.zeros(1, N, 1), xy], dim=-1)  # (1, N, 3), all queried at frame 0

    def call():
        out = predictor(video, queries=queries, backward_tracking=args.backward)
        if is_cuda:
            torch.cuda.synchronize()
        return out

    for _ in range(args.warmup):
        call()
    if is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        reset = _reset_peak_rss()
        base = _current_rss_bytes() or 0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    if is_cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = max(0, _peak_rss_bytes(reset) - base)
    assert result.tracks.shape == (1, T, N, 2)
    return {
        "device": device,
        "device_name": _device_name(device),
        "config": args.config,
        "input_hw": [H, W],
        "frames": T,
        "points": N,
        "iters": args.iters,
        "backward": args.backward,
        "seconds": statistics.median(times),
        "seconds_min": min(times),
        "peak_mib": peak / 2**20,
        "torch": torch.__version__,
    }


# ----------------------------------------------------------------------------------------------------------
# driver: one subprocess per configuration, then a table
# ----------------------------------------------------------------------------------------------------------


def _worker_cmd(args: argparse.Namespace, frames: int, points: int) -> list[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--device", args.device, "--config", args.config,
           "--frames", str(frames), "--points", str(points), "--repeats", str(args.repeats),
           "--warmup", str(args.warmup), "--iters", str(args.iters), "--seed", str(args.seed)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.input_hw:
        cmd += ["--input-hw", *map(str, args.input_hw)]
    if args.backward:
        cmd.append("--backward")
    return cmd


def _run_config(args: argparse.Namespace, frames: int, points: int) -> dict:
    row = {"device": args.device, "config": args.config, "frames": frames, "points": points}
    try:
        proc = subprocess.run(_worker_cmd(args, frames, points), capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {args.timeout} s"}
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return {**row, "error": lines[-1][:120] if lines else f"exit code {proc.returncode}"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {**row, "error": "no result printed"}


def format_table(rows: list[dict], markdown: bool) -> str:
    headers = ["device", "model", "frames", "points", "seconds", "min s", "frames/s", "peak MiB"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["device"], r["config"], str(r["frames"]), str(r["points"]), "error: " + r["error"], "", "", ""])
            continue
        body.append([
            r["device"], r["config"], str(r["frames"]), str(r["points"]), f"{r['seconds']:.3f}",
            f"{r['seconds_min']:.3f}", f"{r['frames'] / r['seconds']:.1f}", f"{r['peak_mib']:.0f}",
        ])
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if i > 1 else "---" for i in range(len(headers))) + "|"]
        out += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(out)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:K (default: cuda if available, else cpu)")
    p.add_argument("--frames", type=int, nargs="+", default=list(DEFAULT_FRAMES), help="clip lengths T")
    p.add_argument("--points", type=int, nargs="+", default=list(DEFAULT_POINTS), help="query points N")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before timing")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--config", default="cotracker2", help="model preset: cotracker2 (default), cotracker2v1, tiny")
    p.add_argument("--iters", type=int, default=6, help="refinement iterations (6, as the predictor)")
    p.add_argument("--backward", action="store_true", help="also track backwards (doubles the work)")
    p.add_argument("--input-hw", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input frame size (default: the model resolution, 384 512, so no resize is timed)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per configuration")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    from cotracker.models.config import PRESETS

    if args.config not in PRESETS:
        p.error(f"--config must be one of {sorted(PRESETS)}, got {args.config!r}")
    if min(args.frames) < 1 or min(args.points) < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--frames and --points must be >= 1, --repeats >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    rows = []
    for frames in args.frames:
        for points in args.points:
            print(f"running {args.config} on {args.device}: {frames} frames, {points} points ...", file=sys.stderr, flush=True)
            rows.append(_run_config(args, frames, points))
    ok = [r for r in rows if "error" not in r]
    if ok:
        r = ok[0]
        hw = "x".join(map(str, r["input_hw"]))
        print(f"{r['device_name']}; torch {r['torch']}; input {hw}; iters {r['iters']}; "
              f"backward {r['backward']}; repeats {args.repeats}; support grid 6x6 added")
        print()
    print(format_table(rows, args.markdown))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
