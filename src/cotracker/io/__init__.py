"""Input and output: videos, track files, query files and atomic writes.

* :mod:`cotracker.io.video` — streaming decode (PyAV; Pillow for GIFs and image folders / globs) and
  mp4 encoding (:class:`~cotracker.io.video.VideoWriter`), the bundled sample clip.
* :mod:`cotracker.io.tracks` — ``tracks.npz`` / ``.csv`` / ``.json`` writers and :func:`~cotracker.io.tracks.load_tracks`.
* :mod:`cotracker.io.queries` — query points from CSV/JSON files, grids and segmentation masks.
* :mod:`cotracker.io.atomic` — files and output folders that appear complete or not at all.
* :mod:`cotracker.io.shards` — a large file (a checkpoint) split into parts of bounded size and joined back.
* :mod:`cotracker.io.safetensors_file` — a byte-for-byte reproducible ``.safetensors`` writer.

Submodules are imported explicitly (``from cotracker.io.video import read_video``) so that importing
one of them does not pull in the others' dependencies.
"""
