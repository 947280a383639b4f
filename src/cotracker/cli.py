"""The ``cotracker`` command line: ``cotracker track | track-pose | generate | train | evaluate | report``.

Each sub-command lives in its own module under :mod:`cotracker.commands` and exposes
``add_parser(subparsers)`` (which sets ``func`` on its parser) and is imported lazily enough that
``cotracker --help`` stays fast. Errors a user can fix (``ValueError``, ``FileNotFoundError``, ...)
end the program with a one-line message and exit code 2; ``--verbose`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES = (
    "cotracker.commands.track",
    "cotracker.commands.track_pose",
    "cotracker.commands.generate",
    "cotracker.commands.train",
    "cotracker.commands.evaluate",
    "cotracker.commands.report",
)

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError,
               IsADirectoryError, PermissionError, KeyError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cotracker",
        description="Track any point (or a person's 17 keypoints) through a video; train and evaluate trackers.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log details and show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command whose module is not built yet
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("cotracker: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"cotracker {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
