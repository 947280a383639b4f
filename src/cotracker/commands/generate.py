"""``cotracker generate kubric|people``: write synthetic training data in the official formats.

Sequence ``i`` is rendered with seed ``seed + i``, so the output does not depend on ``--workers``.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cotracker.commands._args import add_photo_options, photo_options

log = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "generate", help="generate synthetic training data (Kubric MOVi-F / PoseTrack layouts)",
        description="Generate synthetic point-tracking scenes (kubric) or people (people) on disk.",
    )
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, help_ in (("kubric", "Kubric-like scenes in the Kubric MOVi-F layout"),
                        ("people", "synthetic people as PoseTrack18 JSON + frames, surface tracks in the Kubric layout")):
        p = sub.add_parser(kind, help=help_)
        p.add_argument("--out", required=True, type=Path, help="output folder")
        p.add_argument("--num", type=int, default=10, help="number of sequences (default 10)")
        p.add_argument("--frames", type=int, default=24, help="frames per sequence (default 24)")
        p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                       default=(512, 512) if kind == "kubric" else (384, 512), help="frame size")
        p.add_argument("--seed", type=int, default=0, help="base seed; sequence i uses seed + i")
        p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
        p.add_argument("--points", type=int, default=None,
                       help="tracks per sequence (kubric, default 2048) or surface points per person (people, default 256)")
        if kind == "kubric":
            p.add_argument("--limb-prob", type=float, default=0.0,
                           help="probability that an object carries articulated limbs (default 0)")
            p.add_argument("--thin-prob", type=float, default=0.0,
                           help="probability that an object is a thin bar, a pole or a rail (default 0)")
            p.add_argument("--plain-prob", type=float, default=0.0,
                           help="probability that a surface is plain, low contrast (default 0)")
            p.add_argument("--fence-prob", type=float, default=0.0,
                           help="probability that a clip has a fence: rails fixed in the world, in front of the "
                                "objects (default 0)")
            p.add_argument("--follow-prob", type=float, default=0.0,
                           help="probability that the camera pans with one object (default 0)")
            add_photo_options(p)
        if kind == "people":
            p.add_argument("--max-people", type=int, default=4, help="most people per clip (default 4)")
            p.add_argument("--split", default="train", help="split name in the PoseTrack paths (default train)")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        p.set_defaults(func=run)
    return parser


def _scene_config(frames: int, size, points, options: dict):
    from cotracker.data.synthetic_scenes import SceneConfig  # noqa: PLC0415

    return SceneConfig(num_frames=frames, size_hw=tuple(size), num_points=points or 2048, **options)


def _task(args_tuple):
    kind, out, index, seed, frames, size, points, max_people, split, scene_options = args_tuple
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(seed + index)
    name = f"{seed + index:06d}"
    if kind == "kubric":
        from cotracker.data.kubric import write_kubric_sequence  # noqa: PLC0415
        from cotracker.data.synthetic_scenes import generate_scene  # noqa: PLC0415

        clip = generate_scene(_scene_config(frames, size, points, scene_options), rng)
        write_kubric_sequence(out, name, clip.frames, clip.tracks.transpose(1, 0, 2), ~clip.visible.T)
    else:
        from cotracker.data.synthetic_people import PeopleConfig, generate_people, write_people_sequence  # noqa: PLC0415

        cfg = PeopleConfig(num_frames=frames, size_hw=tuple(size), max_people=max_people,
                           surface_points_per_person=points or 256)
        write_people_sequence(out, name, generate_people(cfg, rng), split=split, video_index=seed + index)
    return name


def _single_threaded_worker() -> None:
    """Worker initialiser: one OpenCV thread per process, so K workers use K cores without oversubscription."""
    try:
        import cv2  # noqa: PLC0415

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - the generators need cv2 anyway and will say so
        pass


def run(args) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    if args.frames < 2:
        raise ValueError(f"--frames must be >= 2, got {args.frames}")
    if min(args.size) < 16:
        raise ValueError(f"--size must be at least 16 16, got {args.size[0]} {args.size[1]}")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    scene_options = {}
    if args.kind == "kubric":
        scene_options = dict(limb_prob=args.limb_prob, thin_prob=args.thin_prob, plain_prob=args.plain_prob,
                             fence_prob=args.fence_prob, follow_prob=args.follow_prob, **photo_options(args))
        try:
            _scene_config(args.frames, args.size, args.points, scene_options)  # checked here, not in a worker
        except ValueError as exc:
            raise ValueError(f"{exc} (--limb-prob, --thin-prob, --plain-prob, --fence-prob and --follow-prob take "
                             "values in 0..1)") from None
        if "photo_dir" in scene_options:  # a missing or empty folder is reported here, once
            from cotracker.data.photo_textures import load_photo_bank  # noqa: PLC0415

            load_photo_bank(scene_options["photo_dir"], exclude=scene_options["photo_exclude"])
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [(args.kind, args.out, i, args.seed, args.frames, args.size, args.points,
              getattr(args, "max_people", 4), getattr(args, "split", "train"), scene_options) for i in range(args.num)]
    bar = tqdm(total=args.num, desc=f"generate {args.kind}", unit="seq", disable=args.no_progress)
    try:
        if args.workers == 1:
            for t in tasks:
                _task(t)
                bar.update()
        else:
            # 'spawn', not fork: a fork of a process whose OpenMP/OpenCV thread pools are running can deadlock.
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, initializer=_single_threaded_worker) as ex:
                for _ in ex.map(_task, tasks):
                    bar.update()
    finally:
        bar.close()
    if args.kind == "people":
        from cotracker.data.posetrack import write_posetrack_start_frames  # noqa: PLC0415

        write_posetrack_start_frames(args.out / "start_frames.json", [(f"{args.seed + i:06d}.json", 0) for i in range(args.num)])
    log.info("wrote %d %s sequences to %s", args.num, args.kind, args.out)
    return 0
