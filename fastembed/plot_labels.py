"""Text labels next to scatter points, placed so that no two labels overprint each other.

Matplotlib puts an annotation exactly where it is told, so labels of nearby points pile up into
an unreadable smudge. :func:`place_labels` is a small greedy placement (the idea of adjustText,
without the dependency): each label, in order, takes the first of a ring of candidate positions
around its point, nearest first, whose box overlaps no label already placed, no other point's
marker and no line drawn on the plot (an arrow), and stays inside the given bounds; rings grow
until a free spot is found. It works in
any units (the drawing helper uses display pixels), so it is a pure function that the tests check
on synthetic points. :func:`annotate_points` measures each label's real size with the figure's
renderer, places them, and draws them with a thin leader line when a label had to move away
from its point.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

Box = tuple[float, float, float, float]          # (x0, y0, x1, y1), x0 <= x1, y0 <= y1


def overlaps(a: Box, b: Box) -> bool:
    """True when the two boxes share interior area (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _box(cx: float, cy: float, w: float, h: float) -> Box:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def crosses(box: Box, seg: Any) -> bool:
    """True when the line segment ``seg`` ((x0, y0), (x1, y1)) passes through the box's interior
    (Liang-Barsky clipping: the part of the segment inside each slab must not be empty)."""
    (x0, y0), (x1, y1) = seg
    lo, hi = 0.0, 1.0
    for p0, d, a, b in ((x0, x1 - x0, box[0], box[2]), (y0, y1 - y0, box[1], box[3])):
        if d == 0:
            if not a < p0 < b:
                return False
            continue
        t0, t1 = sorted(((a - p0) / d, (b - p0) / d))
        lo, hi = max(lo, t0), min(hi, t1)
        if lo >= hi:
            return False
    return True


def place_labels(anchors: Any, sizes: Any, *, marker: float = 4.0, gap: float = 2.0,
                 bounds: Optional[Box] = None, max_rings: int = 40, segments: Sequence[Any] = ()) -> list[Box]:
    """A box for each label, none overlapping another or any point's marker, nor crossing any of
    ``segments`` (lines drawn on the plot, such as arrows: ((x0, y0), (x1, y1)) each).

    ``anchors`` (N, 2): the points; ``sizes`` (N, 2): each label's width and height; ``marker``:
    half the side of the square kept clear around every point; ``gap``: the space between a label
    and its own point; ``bounds`` (x0, y0, x1, y1): where labels must stay (None: anywhere).
    Candidates for label i are 8 positions around its point (right, left, above, below, then the
    corners), then the same 8 directions further out, ring by ring, each ring one label height
    further; the first free one is taken. When ``max_rings`` rings hold no free spot (a crowd
    bigger than the bounds), the label takes the spot with the least overlap instead, so the
    function always returns; :func:`count_overlaps` tells whether that happened.
    """
    p = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    s = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if len(p) != len(s):
        raise ValueError(f"place_labels: {len(p)} anchors but {len(s)} sizes; give one size per label")
    if not (np.isfinite(p).all() and np.isfinite(s).all()) or (s < 0).any():
        raise ValueError("place_labels: anchors and sizes must be finite, sizes non-negative")
    markers = [_box(x, y, 2 * marker, 2 * marker) for x, y in p]
    placed: list[Box] = []
    for i, ((x, y), (w, h)) in enumerate(zip(p, s)):
        others = [m for j, m in enumerate(markers) if j != i]
        best, best_cost = None, math.inf
        for ring in range(max_rings):
            r = ring * max(h, 1.0)
            dx, dy = marker + gap + w / 2 + r, marker + gap + h / 2 + r
            for ux, uy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)):
                box = _box(x + ux * dx, y + uy * dy, w, h)
                if bounds is not None and not (box[0] >= bounds[0] and box[1] >= bounds[1]
                                               and box[2] <= bounds[2] and box[3] <= bounds[3]):
                    continue
                cost = (sum(overlaps(box, b) for b in placed) + sum(overlaps(box, m) for m in others)
                        + sum(crosses(box, g) for g in segments))
                if cost < best_cost:
                    best, best_cost = box, cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        if best is None:                                 # nothing fits inside the bounds: at the point
            best = _box(x + marker + gap + w / 2, y, w, h)
        placed.append(best)
    return placed


def count_overlaps(boxes: Sequence[Box]) -> int:
    """How many pairs of ``boxes`` overlap."""
    return sum(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def annotate_points(ax: Any, xy: Any, texts: Sequence[str], *, fontsize: float = 8, colors: Any = None,
                    weights: Optional[Sequence[str]] = None, marker_px: float = 5.0,
                    segments: Sequence[Any] = ()) -> list[Any]:
    """Draw ``texts`` beside the points ``xy`` (N, 2, data coordinates) of ``ax`` with no two
    labels overlapping and none lying on ``segments`` (lines drawn on the axes, data
    coordinates, ((x0, y0), (x1, y1)) each): sizes are measured with the figure's renderer, boxes placed by
    :func:`place_labels` in display pixels inside the axes, and a grey leader line joins a label
    that had to move away to its point. Call it after the axes' limits are final."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    fig = ax.figure
    fig.canvas.draw()                                    # lays out the axes (constrained layout) once
    renderer = fig.canvas.get_renderer()
    ax.set_autoscale_on(False)                           # leader lines must not move the limits
    colors = [None] * len(texts) if colors is None else list(colors)
    weights = ["normal"] * len(texts) if weights is None else list(weights)
    artists = [ax.text(0, 0, t, fontsize=fontsize, color=c or "black", fontweight=wt, ha="center", va="center",
                       zorder=4) for t, c, wt in zip(texts, colors, weights)]
    sizes = []
    for a in artists:
        ext = a.get_window_extent(renderer)
        sizes.append((ext.width + 2, ext.height + 1))
    pix = ax.transData.transform(xy)
    frame = ax.get_window_extent(renderer)
    lines = [ax.transData.transform(np.asarray(g, dtype=np.float64).reshape(2, 2)) for g in segments]
    boxes = place_labels(pix, sizes, marker=marker_px, bounds=(frame.x0, frame.y0, frame.x1, frame.y1),
                         segments=lines)
    inv = ax.transData.inverted()
    for a, box, (px, py), (w, h) in zip(artists, boxes, pix, sizes):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        a.set_position(inv.transform((cx, cy)))
        if math.hypot(cx - px, cy - py) > w / 2 + h + 2 * marker_px:
            ex = min(max(px, box[0]), box[2])
            ey = min(max(py, box[1]), box[3])
            ax.plot(*zip(inv.transform((px, py)), inv.transform((ex, ey))), color="0.6", lw=0.6, zorder=1)
    return artists
