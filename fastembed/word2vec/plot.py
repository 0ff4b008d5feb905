"""The lecture's picture of word2vec: pairs of words (man → woman, king → queen) projected to 2-D
by PCA, with an arrow from the first word of each pair to the second. Parallel arrows are the
analogy structure."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The rows of x projected on their first two principal components."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def plot_pairs(kv: Any, pairs: Sequence[tuple[Any, Any]], path: str | os.PathLike, *, title: str | None = None) -> Any:
    """Draw ``pairs`` of words of ``kv`` (a KeyedVectors) in the 2-D PCA of their vectors, an
    arrow from each first word to its second, and save a PNG to ``path`` (written atomically).
    Returns the matplotlib Figure. Needs matplotlib."""
    from .._optional import require

    require("matplotlib", "fastembed.word2vec.plot_pairs")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not pairs:
        raise ValueError("plot_pairs: give at least one pair of words")
    words = [w for pair in pairs for w in pair]
    xy = pca_2d(np.stack([kv.get_vector(w, norm=True) for w in words]))
    fig, ax = plt.subplots(figsize=(6, 5))
    for k in range(len(pairs)):
        (x0, y0), (x1, y1) = xy[2 * k], xy[2 * k + 1]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1.2})
    ax.scatter(xy[:, 0], xy[:, 1], s=12, color="black")
    for w, (x, y) in zip(words, xy):
        ax.annotate(str(w), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=10)
    ax.set_title(title or "word pairs, PCA of the unit vectors")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    from ..plots import save_png

    save_png(fig, path, dpi=120)                              # atomic write; closes the figure
    return fig
