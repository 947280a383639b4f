import numpy as np
import pytest

from cotracker.viz.draw import DrawStyle, TrackPainter, draw_points, draw_trails

RED = np.array([[255, 0, 0]], np.uint8)
STYLE = DrawStyle(radius=4, outline=1, linewidth=2, trail_alpha=1.0)


def test_visible_point_is_filled_occluded_is_hollow():
    img = np.zeros((40, 40, 3), np.uint8)
    out = draw_points(img, np.array([[20.0, 20.0]]), np.array([True]), RED, STYLE)
    assert (out[20, 20] == [255, 0, 0]).all()  # centre filled
    assert (out[20, 24] == [255, 0, 0]).all()  # rim
    assert (out[20, 26] == 0).all()  # outside the radius
    hollow = draw_points(img, np.array([[20.0, 20.0]]), np.array([False]), RED, STYLE)
    assert (hollow[20, 20] == 0).all()  # centre empty
    assert (hollow[20, 24] == [255, 0, 0]).all()  # rim drawn
    assert (img == 0).all()  # input untouched


def test_inactive_and_nan_points_are_skipped():
    img = np.zeros((20, 20, 3), np.uint8)
    xy = np.array([[5.0, 5.0], [np.nan, 3.0], [15.0, 15.0]])
    colors = np.repeat(RED, 3, axis=0)
    out = draw_points(img, xy, np.ones(3, bool), colors, STYLE, active=np.array([True, True, False]))
    assert (out[5, 5] == [255, 0, 0]).all() and (out[15, 15] == 0).all()


def test_trails_fade_towards_the_past():
    img = np.zeros((20, 60, 3), np.uint8)
    history = np.array([[[5.0, 10.0]], [[25.0, 10.0]], [[45.0, 10.0]]])  # (L=3, N=1, 2)
    out = draw_trails(img, history, RED, STYLE)
    old, new = out[10, 15, 0], out[10, 35, 0]
    assert 0 < old < new and new == 255  # newest segment opaque, older one half
    assert old == pytest.approx(128, abs=2)
    assert (out[0, 0] == 0).all()


def test_painter_draws_from_query_frame_and_trails():
    T = 5
    tracks = np.stack([np.array([[5.0 + 8 * t, 10.0], [50.0, 10.0]]) for t in range(T)])  # (T, 2, 2)
    vis = np.ones((T, 2), bool)
    vis[3, 0] = False
    painter = TrackPainter(tracks, vis, query_frames=np.array([0, 2]), trail=2, style=STYLE)
    np.testing.assert_array_equal(painter.colors, [[255, 0, 41], [255, 0, 41]])  # same query y -> same colour
    img = np.zeros((20, 60, 3), np.uint8)
    f1 = painter.draw(1, img)
    assert f1[10, 13].any() and not f1[10, 50].any()  # point 1 is queried at frame 2: not drawn yet
    assert painter.draw(2, img)[10, 50].any()
    f3 = painter.draw(3, img)  # point 0 at x = 29, occluded: hollow; its trail runs along y = 10 from x = 13
    assert (f3[6, 29] == [255, 0, 41]).all() and not f3[8, 29].any()  # rim drawn, inside empty (off the trail)
    assert f3[10, 16].any() and not f3[10, 8].any()  # trail covers frames 1..3 (x >= 13), not frame 0 (x = 5)
    no_trail = TrackPainter(tracks, vis, query_frames=np.array([0, 2]), style=STYLE).draw(3, img)
    assert not no_trail[10, 16].any()
    with pytest.raises(ValueError, match="outside the tracks' 0..4"):
        painter.draw(5, img)
    before = TrackPainter(tracks, vis, query_frames=np.array([0, 2]), style=STYLE, draw_before_query=True)
    assert before.draw(1, img)[10, 50].any()


def test_painter_default_style_scales_with_frame():
    assert DrawStyle.for_size(240, 320).radius == 3
    assert DrawStyle.for_size(1080, 1920).radius == 10


def test_painter_shape_errors():
    with pytest.raises(ValueError, match=r"tracks must be \(T, N, 2\)"):
        TrackPainter(np.zeros((3, 2)), np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match=r"visibility must be \(T, N\)"):
        TrackPainter(np.zeros((3, 2, 2)), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="trail must be >= 0"):
        TrackPainter(np.zeros((3, 2, 2)), np.zeros((3, 2), bool), trail=-1)
