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
