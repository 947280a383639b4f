"""Argument types shared by the sub-commands."""
from __future__ import annotations

import argparse

__all__ = ["positive_int", "non_negative_int"]


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)



def add_no_polish_option(group) -> None:
    """``--no-polish`` on an argparse parser or group (``args.no_polish``); shared by ``track`` and ``track-pose``
    (``evaluate`` takes ``--polish`` / ``--no-polish``, since a training checkpoint carries no polish)."""
    group.add_argument("--no-polish", action="store_true",
                       help="keep the model's positions: no Lucas-Kanade polish at the video's resolution (the shipped "
                            "general weights polish by default)")


def add_refine_options(group) -> None:
    """``--no-refine`` / ``--refine-resolution H W`` (mutually exclusive) on an argparse parser or group, read back
    by :func:`refine_choice`; shared by ``track``, ``track-pose`` and ``evaluate``."""
    refine = group.add_mutually_exclusive_group()
    refine.add_argument("--no-refine", action="store_true",
                        help="skip the coarse-to-fine second pass the shipped weights run by default (about 4x faster, "
                             "less precise)")
    refine.add_argument("--refine-resolution", type=positive_int, nargs=2, default=None, metavar=("H", "W"),
                        help="run the second pass at H x W (multiples of 4; e.g. 288 384: faster, less precise) "
                             "instead of the weights' setting (ours: 384 512; a training checkpoint has none)")


def refine_choice(args) -> "bool | tuple[int, int]":
    """The options of :func:`add_refine_options` as the ``refine`` argument of the API: False, ``(H, W)``, or True
    (the weights' own setting)."""
    if args.no_refine:
        return False
    return True if args.refine_resolution is None else (int(args.refine_resolution[0]), int(args.refine_resolution[1]))


def add_photo_options(group, prefix: str = "") -> None:
    """``--{prefix}photo-dir``, ``--{prefix}photo-prob``, ``--{prefix}photo-exclude``: surfaces of the synthetic
    scenes cut from real videos and photos (:mod:`cotracker.data.photo_textures`), read back by
    :func:`photo_options`; shared by ``generate kubric`` (no prefix), ``evaluate`` and ``tune_inference.py``
    (``synthetic-``)."""
    group.add_argument(f"--{prefix}photo-dir", default=None, metavar="DIR",
                       help="cut surfaces (background, objects) from the videos and photos (.jpg) in DIR")
    group.add_argument(f"--{prefix}photo-prob", type=float, default=0.5, metavar="P",
                       help=f"with --{prefix}photo-dir: probability that a surface is a real crop (default 0.5)")
    group.add_argument(f"--{prefix}photo-exclude", nargs="+", default=[], metavar="STEM",
                       help="file stems in DIR to leave out, e.g. the clips a benchmark scores (default: none)")


def photo_options(args, prefix: str = "") -> dict:
    """The :class:`~cotracker.data.synthetic_scenes.SceneConfig` fields of :func:`add_photo_options`' options:
    none without a folder; a ValueError naming the option for a probability outside (0, 1]."""
    key = prefix.replace("-", "_")
    folder = getattr(args, f"{key}photo_dir")
    if folder is None:
        return {}
    prob = getattr(args, f"{key}photo_prob")
    if not 0.0 < prob <= 1.0:
        raise ValueError(f"--{prefix}photo-prob must be in (0, 1], got {prob}")
    return dict(photo_prob=prob, photo_dir=str(folder), photo_exclude=tuple(getattr(args, f"{key}photo_exclude")))
