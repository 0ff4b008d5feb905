"""The lecture's picture of word2vec: pairs of words (man → woman, king → queen) projected to 2-D
by PCA, with an arrow from the first word of each pair to the second. Parallel arrows are the
analogy structure.

A 2-D projection can make any arrows look parallel or not, so parallelism is *measured* in the
full space: the offset of a pair is the difference of its two unit vectors, and
:func:`parallelism` is the mean cosine between the offsets of different pairs (1: all the same
direction; about 0: unrelated directions, what random words give in many dimensions).
:func:`most_parallel` picks the pairs of a relation whose offsets agree best, so the picture
shows pairs that really are analogies in the trained vectors, and says how parallel they are.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The rows of x projected on their first two principal components."""
    return pca_2d_explained(x)[0]


def pca_2d_explained(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows of x on their first two principal components, the share of the variance each
    of the two explains)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s ** 2
    share = var[:2] / var.sum() if var.sum() > 0 else np.zeros(min(2, len(var)))
    return x @ vt[:2].T, share


def _offsets(kv: Any, pairs: Sequence[tuple[Any, Any]]) -> np.ndarray:
    d = np.stack([kv.get_vector(b, norm=True) - kv.get_vector(a, norm=True) for a, b in pairs]).astype(np.float64)
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return d / np.where(n > 0, n, 1.0)


def offset_cosines(kv: Any, pairs: Sequence[tuple[Any, Any]]) -> np.ndarray:
    """(P, P) cosines between the pairs' offsets (b − a of the unit vectors)."""
    d = _offsets(kv, pairs)
    return d @ d.T


def parallelism(kv: Any, pairs: Sequence[tuple[Any, Any]]) -> float:
    """Mean cosine between the offsets of every two different pairs (needs at least 2 pairs)."""
    if len(pairs) < 2:
        raise ValueError(f"parallelism needs at least 2 pairs, got {len(pairs)}")
    c = offset_cosines(kv, pairs)
    n = len(pairs)
    return float((c.sum() - np.trace(c)) / (n * (n - 1)))


def most_parallel(kv: Any, pairs: Sequence[tuple[Any, Any]], k: int) -> list[tuple[Any, Any]]:
    """Up to ``k`` of ``pairs`` whose offsets are most parallel: the two pairs with the largest
    offset cosine, then, one at a time, the pair with the largest mean cosine to those chosen
    (ties go to the earlier pair, so the choice is deterministic). Order kept as chosen."""
    pairs = list(pairs)
    if len(pairs) <= 2:
        return pairs[:k]
    return [pairs[i] for i in _greedy(offset_cosines(kv, pairs), k)]


def _greedy(c: np.ndarray, k: int) -> list[int]:
    n = len(c)
    k = min(k, n)
    masked = c - 10 * np.eye(n)
    i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
    chosen = [int(min(i, j)), int(max(i, j))]
    while len(chosen) < k:
        rest = [t for t in range(n) if t not in chosen]
        chosen.append(max(rest, key=lambda t: (c[t, chosen].mean(), -t)))
    return chosen[:k]


def plot_pairs(kv: Any, pairs: Sequence[tuple[Any, Any]], path: str | os.PathLike, *, title: str | None = None,
               groups: Optional[Sequence[str]] = None) -> Any:
    """Draw ``pairs`` of words of ``kv`` (a KeyedVectors) in the 2-D PCA of their unit vectors,
    an arrow from each first word to its second, and save a PNG to ``path`` (written atomically).
    ``groups`` (one relation name per pair, e.g. "plural") colours the arrows by relation; the
    legend gives each relation's :func:`parallelism` in the full space. Axes are labelled with
    the share of variance each component keeps; labels never overprint each other or sit on an
    arrow (:mod:`fastembed.plot_labels`).
    Returns the matplotlib Figure (closed once saved), as before. Needs matplotlib."""
    from ..plot_labels import annotate_points
    from ..plots import _new_figure, save_png

    if not pairs:
        raise ValueError("plot_pairs: give at least one pair of words")
    pairs = [tuple(p) for p in pairs]
    if any(len(p) != 2 for p in pairs):
        raise ValueError("plot_pairs: every pair must hold exactly two words")
    groups = ["pairs"] * len(pairs) if groups is None else [str(g) for g in groups]
    if len(groups) != len(pairs):
        raise ValueError(f"plot_pairs: {len(pairs)} pairs but {len(groups)} groups; give one group per pair")
    words = list(dict.fromkeys(w for pair in pairs for w in pair))      # a word in two pairs is drawn once
    at = {w: i for i, w in enumerate(words)}
    for w in words:
        if w not in kv:
            raise ValueError(f"plot_pairs: {w!r} is not in the vectors' vocabulary")
    xy, share = pca_2d_explained(np.stack([kv.get_vector(w, norm=True) for w in words]))
    fig = _new_figure("fastembed.word2vec.plot_pairs", (7, 5.6))
    ax = fig.subplots()
    keys = list(dict.fromkeys(groups))
    colour = {g: f"C{i % 10}" for i, g in enumerate(keys)}
    for k, g in enumerate(groups):
        (x0, y0), (x1, y1) = xy[at[pairs[k][0]]], xy[at[pairs[k][1]]]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": colour[g], "lw": 1.4, "shrinkA": 3, "shrinkB": 3})
    ax.scatter(xy[:, 0], xy[:, 1], s=14, color="black", zorder=3)
    for g in keys:
        members = [p for p, h in zip(pairs, groups) if h == g]
        what = f"{len(members)} pairs, mean cos of offsets {parallelism(kv, members):.2f}" if len(members) >= 2 \
            else "1 pair"
        ax.plot([], [], color=colour[g], lw=2, label=f"{g}: {what}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False, ncol=1)
    ax.set_title(title or "word pairs, PCA of the unit vectors", fontsize=11)
    ax.set_xlabel(f"PC1 ({100 * share[0]:.0f}% of the variance of these words)")
    ax.set_ylabel(f"PC2 ({100 * share[1]:.0f}%)" if len(share) > 1 else "PC2")
    ax.set_xticks([])
    ax.set_yticks([])
    pad = 0.25 * max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1e-6)
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    first = {}
    for (a, b), g in zip(pairs, groups):
        first.setdefault(a, g)
        first.setdefault(b, g)
    colours = [colour[first[w]] for w in words]
    arrows = [(xy[at[a]], xy[at[b]]) for a, b in pairs]
    annotate_points(ax, xy, [str(w) for w in words], fontsize=10, colors=colours, segments=arrows)
    save_png(fig, path)
    return fig
