"""Drawing on frames (numpy / Pillow arrays in, arrays out; no OpenCV needed).

* :mod:`cotracker.viz.colors` — gist_rainbow colours by query position, a person palette.
* :mod:`cotracker.viz.draw` — points (hollow when occluded), fading trails, :class:`~cotracker.viz.draw.TrackPainter`.
* :mod:`cotracker.viz.skeleton` — pose skeletons, one colour per person, hollow occluded joints.
"""
