"""fastembed.plot_labels: the greedy placement leaves no two label boxes overlapping, keeps them
off the points and inside the bounds, and the drawn labels of a crowded scatter do not overlap."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.plot_labels import count_overlaps, overlaps, place_labels


def test_overlaps_is_strict_about_area():
    assert overlaps((0, 0, 2, 2), (1, 1, 3, 3))
    assert not overlaps((0, 0, 1, 1), (1, 0, 2, 1))                  # touching edges only
    assert not overlaps((0, 0, 1, 1), (5, 5, 6, 6))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crowded_points_get_boxes_that_do_not_overlap(seed):
    """40 labels of 30-60 x 10 px around points packed in a 200 x 200 square (every naive label
    would collide): none overlaps another, none covers a point's marker, all inside the bounds."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(300, 500, size=(40, 2))
    sizes = np.stack([rng.uniform(30, 60, 40), np.full(40, 10.0)], 1)
    naive = [(x + 6, y, x + 6 + w, y + h) for (x, y), (w, h) in zip(pts, sizes)]
    assert count_overlaps(naive) > 0                                 # the test is not trivial
    bounds = (0.0, 0.0, 800.0, 800.0)
    boxes = place_labels(pts, sizes, marker=3, bounds=bounds)
    assert count_overlaps(boxes) == 0
    for i, b in enumerate(boxes):
        assert b[0] >= 0 and b[1] >= 0 and b[2] <= 800 and b[3] <= 800
        np.testing.assert_allclose([b[2] - b[0], b[3] - b[1]], sizes[i])
        for j, (x, y) in enumerate(pts):
            assert not overlaps(b, (x - 3, y - 3, x + 3, y + 3)), (i, j)


def test_a_lone_label_sits_right_next_to_its_point():
    (box,) = place_labels([(100, 100)], [(20, 8)], marker=4, gap=2)
    assert box == (106.0, 96.0, 126.0, 104.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 anchors but 1 sizes"):
        place_labels([(0, 0), (1, 1)], [(1, 1)])
    with pytest.raises(ValueError, match="finite"):
        place_labels([(np.nan, 0)], [(1, 1)])


def test_drawn_labels_do_not_overlap(tmp_path):
    """The matplotlib helper on 25 labels crowded in a corner: the rendered text boxes are
    pairwise disjoint."""
    pytest.importorskip("matplotlib")
    from fastembed.plot_labels import annotate_points
    from fastembed.plots import _new_figure

    rng = np.random.default_rng(0)
    xy = rng.normal(0, 0.05, size=(25, 2))
    fig = _new_figure("test", (5, 4))
    ax = fig.subplots()
    ax.scatter(xy[:, 0], xy[:, 1])
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    texts = annotate_points(ax, xy, [f"word{i}" for i in range(25)])
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [tuple(t.get_window_extent(r).extents) for t in texts]
    assert count_overlaps(boxes) == 0


@pytest.mark.parametrize("seed", range(5))
def test_crosses_agrees_with_sampling_the_segment(seed):
    """crosses() against a brute force: 2,000 points along the segment, one strictly inside."""
    from fastembed.plot_labels import crosses

    rng = np.random.default_rng(seed)
    for _ in range(200):
        x0, x1 = sorted(rng.uniform(0, 10, 2))
        y0, y1 = sorted(rng.uniform(0, 10, 2))
        a, b = rng.uniform(-2, 12, (2, 2))
        if rng.random() < 0.2:
            b[0] = a[0]                                              # vertical segments too
        t = np.linspace(0, 1, 2001)[:, None]
        pts = a + t * (b - a)
        inside = ((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)).any()
        if inside or not crosses((x0, y0, x1, y1), (a, b)):          # sampling can miss a grazing cut
            assert crosses((x0, y0, x1, y1), (a, b)) == inside, (x0, y0, x1, y1, a, b)


def test_a_label_moves_off_a_line_through_its_first_spot():
    """A lone label goes right of its point, unless an arrow runs through that spot."""
    from fastembed.plot_labels import crosses

    (box,) = place_labels([(100, 100)], [(20, 8)], marker=4, gap=2, segments=[((100, 100), (200, 100))])
    assert box != (106.0, 96.0, 126.0, 104.0) and not crosses(box, ((100, 100), (200, 100)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crowded_labels_keep_off_the_arrows(seed):
    """20 points joined in 10 arrows inside a 300 x 300 square: no label crosses an arrow, none
    overlaps another; without the segments some would."""
    from fastembed.plot_labels import crosses

    rng = np.random.default_rng(seed)
    pts = rng.uniform(250, 550, size=(20, 2))
    sizes = np.stack([rng.uniform(30, 60, 20), np.full(20, 10.0)], 1)
    arrows = [(pts[2 * k], pts[2 * k + 1]) for k in range(10)]
    plain = place_labels(pts, sizes, marker=3, bounds=(0.0, 0.0, 800.0, 800.0))
    assert any(crosses(b, g) for b in plain for g in arrows)         # the test is not trivial
    boxes = place_labels(pts, sizes, marker=3, bounds=(0.0, 0.0, 800.0, 800.0), segments=arrows)
    assert count_overlaps(boxes) == 0
    assert not any(crosses(b, g) for b in boxes for g in arrows)
