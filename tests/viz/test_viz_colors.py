import numpy as np
import pytest

from cotracker.viz.colors import PERSON_PALETTE, person_colors, query_colors, rainbow


def test_rainbow_control_points():
    np.testing.assert_array_equal(rainbow([0.03, 0.215, 0.4, 0.586, 0.77, 0.954]),
                                  [[255, 0, 0], [255, 255, 0], [0, 255, 0], [0, 255, 255], [0, 0, 255], [255, 0, 255]])
    # half way between red (0.03) and yellow (0.215): green 127.5 -> 128
    np.testing.assert_array_equal(rainbow([0.1225]), [[255, 128, 0]])
    np.testing.assert_array_equal(rainbow([-1.0, 2.0]), rainbow([0.0, 1.0]))  # clipped


def test_rainbow_matches_matplotlib():
    matplotlib = pytest.importorskip("matplotlib")

    values = np.linspace(0, 1, 101)
    expected = np.rint(matplotlib.colormaps["gist_rainbow"](values)[:, :3] * 255)
    # matplotlib looks colours up in a 256-entry table (entry i at i / 255): quantise the same way
    quantised = np.minimum(np.floor(values * 256), 255) / 255
    assert np.abs(rainbow(quantised).astype(int) - expected).max() <= 1


def test_query_colors_by_y():
    colors = query_colors(np.array([10.0, 30.0, 20.0]))
    np.testing.assert_array_equal(colors, rainbow([0.0, 1.0, 0.5]))
    np.testing.assert_array_equal(query_colors(np.array([5.0, 5.0])), rainbow([0.0, 0.0]))
    assert query_colors(np.zeros(0)).shape == (0, 3)


def test_person_colors_cycle():
    np.testing.assert_array_equal(person_colors(2), PERSON_PALETTE[:2])
    np.testing.assert_array_equal(person_colors([0, 12, 13]), PERSON_PALETTE[[0, 0, 1]])
    assert len({tuple(c) for c in PERSON_PALETTE}) == len(PERSON_PALETTE)
