"""Atomic output: files and whole folders appear complete or not at all.

A file is written to a temporary file in the same folder and moved into place with ``os.replace``
(atomic on POSIX when both live on the same file system). A folder of outputs is built in a
temporary *sibling* folder and renamed into place at the end; with ``overwrite`` the old folder is
removed only after the new one is complete, so an interrupted run never destroys earlier results.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

__all__ = ["atomic_write", "atomic_path", "atomic_output_dir", "check_output_dir"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


def _default_mode(directory: bool) -> int:
    """Permissions a plain ``open``/``mkdir`` would give (temp files are created private, 0600/0700)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, on error delete it.

    Use this for writers that want a file name (``np.savez``, PyAV) rather than a file object. The
    temporary name keeps the final suffix so that libraries choosing a format by extension still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _default_mode(directory=False))
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; it replaces ``path`` only if the block succeeds.

    Args:
        path: final file name.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: text encoding (ignored in binary mode).
        newline: passed to :func:`open` in text mode (use ``""`` for the ``csv`` module).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write supports mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def check_output_dir(out_dir: PathLike, overwrite: bool) -> Path:
    """Fail early when ``out_dir`` exists and may not be replaced.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
        NotADirectoryError: ``out_dir`` exists and is a file.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise NotADirectoryError(f"output path {out_dir} exists and is not a folder; choose another --out")
        if not overwrite:
            raise FileExistsError(
                f"output folder {out_dir} already exists; pass --overwrite (overwrite=True) to replace it or choose another --out"
            )
    return out_dir


@contextlib.contextmanager
def atomic_output_dir(out_dir: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder of outputs in a temporary sibling and rename it to ``out_dir`` when the block succeeds.

    On any exception the temporary folder is removed and ``out_dir`` is left as it was. With
    ``overwrite`` an existing ``out_dir`` is moved aside, the new folder renamed into place, and only
    then the old one deleted.

    Yields:
        Path of the temporary folder to write into.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False (checked before and after the block).
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        yield tmp_dir
        os.chmod(tmp_dir, _default_mode(directory=True))
        check_output_dir(out_dir, overwrite)  # someone may have created it meanwhile
        old_dir = None
        if out_dir.exists():
            old_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old_dir / out_dir.name)
        try:
            os.replace(tmp_dir, out_dir)
        except BaseException:
            if old_dir is not None:  # put the old results back
                os.replace(old_dir / out_dir.name, out_dir)
                shutil.rmtree(old_dir, ignore_errors=True)
            raise
        if old_dir is not None:
            shutil.rmtree(old_dir, ignore_errors=True)
        logger.info("wrote %s", out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
