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


def refine_choice(args) -> "bool | tuple[int, int]":
    """``--no-refine`` / ``--refine-resolution H W`` as the ``refine`` argument of the API: False, ``(H, W)``, or
    True (the weights' own setting)."""
    if getattr(args, "no_refine", False):
        return False
    res = getattr(args, "refine_resolution", None)
    return True if res is None else (int(res[0]), int(res[1]))
