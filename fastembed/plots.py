"""The demo's pictures, one library function each, saved as PNG files.

    plot_merge_trace(steps, path)              how BPE builds a word, merge by merge
    plot_contextual(points, labels, path, word=...)
                                               contextual vectors of one word (2-D PCA), one panel
                                               per model, beside its single static vector
    plot_attention(maps, tokens, path)         attention heatmaps, rows = layers, columns = heads
    plot_loss_curves(curves, path)             training curves, one panel or several

Every function validates its input (ValueError for empty input or mismatched shapes, TypeError
for the wrong kind of object), draws on its own :class:`matplotlib.figure.Figure` with the Agg
canvas (pyplot's global state is never touched, so no window ever opens), writes the PNG with
:func:`save_png` and returns the path as a :class:`pathlib.Path`. :func:`save_png` renders in
memory and writes with :func:`fastembed.io.atomic_write_bytes`: the file at ``path`` is either the
old one or the complete new one, never a partial picture, and no temporary file is left behind.

:func:`merge_steps` turns :meth:`BPETokenizer.explain <fastembed.tokenizers.BPETokenizer.explain>`
into the segmentations that :func:`plot_merge_trace` draws. Pieces are str; a byte that is not
valid UTF-8 on its own (a part of "€") is kept as a lone surrogate (``errors="surrogateescape"``),
so ``"".join(step).encode("utf-8", "surrogateescape")`` is the word's bytes at every step, and
is drawn as ``\\xe2``. Spaces are drawn as ``␣``.

Needs matplotlib (``pip install 'fastembed[plot]'``), imported when a picture is drawn.
"""

from __future__ import annotations

import io
import numbers
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .io import atomic_write_bytes
from .tokenizers.base import Tokenizer, check_tokenizer
from .word2vec.plot import pca_2d  # noqa: F401  (re-exported)

HIGHLIGHT, PLAIN = "#f4a259", "#dce8f5"            # merge trace: the new piece, the others


# --------------------------------------------------------------------------- figures and files


def _new_figure(feature: str, figsize: tuple[float, float]) -> Any:
    """A Figure on the Agg canvas, outside pyplot (no window, no global figure list)."""
    from ._optional import require

    require("matplotlib", feature)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Render ``fig`` to PNG in memory, write it to ``path`` atomically, close the figure (if
    pyplot manages it) and return ``path`` as a Path. Nothing is written when rendering fails."""
    path = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        if "matplotlib.pyplot" in sys.modules:            # a pyplot figure: drop it from pyplot's list
            sys.modules["matplotlib.pyplot"].close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """A float array from numpy, lists or a torch tensor (detached, on the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from e


def _check_finite(a: np.ndarray, name: str) -> None:
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(a)).sum())} NaN or infinite values")


def _labels(values: Any, n: int, name: str, what: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list with one {what} per point, got {type(values).__name__}")
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries; expected {n}, one per point")
    return list(values)


# --------------------------------------------------------------------------- BPE merge trace


def _piece(p: Any) -> str:
    if isinstance(p, (bytes, bytearray)):
        return bytes(p).decode("utf-8", "surrogateescape")
    if not isinstance(p, str):
        raise TypeError(f"a piece must be str or bytes, got {type(p).__name__} {p!r}")
    return p


def _piece_bytes(p: str) -> bytes:
    try:
        return p.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return p.encode("utf-8", "surrogatepass")


def _shown(p: str) -> str:
    """A piece as drawn: spaces as ␣, escaped bytes as \\xNN, other invisible characters escaped."""
    out = []
    for c in p:
        if c == " ":
            out.append("␣")
        elif 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif not c.isprintable():
            out.append(repr(c)[1:-1])
        else:
            out.append(c)
    return "".join(out)


def merge_steps(tokenizer: Tokenizer, word: str | bytes) -> list[list[str]]:
    """The segmentations of ``word`` that BPE goes through: the single bytes first, then one per
    merge (:meth:`BPETokenizer.explain`), the last equal to the tokenizer's own encoding.

    ``word`` must be one pre-token (merges never cross pre-token boundaries; ``" lower"`` with
    its leading space is one, ``"low er"`` is two): ValueError otherwise, and for an empty word.

    >>> from fastembed.tokenizers import BPETokenizer
    >>> tok = BPETokenizer.train(["low lower lowest"] * 20, vocab_size=262, progress=False)
    >>> for step in merge_steps(tok, "lowest"):
    ...     print(step)
    ['l', 'o', 'w', 'e', 's', 't']
    ['lo', 'w', 'e', 's', 't']
    ['low', 'e', 's', 't']
    ['low', 'e', 'st']
    """
    check_tokenizer(tokenizer, "merge_steps")
    raw = word.encode("utf-8", "surrogatepass") if isinstance(word, str) else bytes(word)
    if not raw:
        raise ValueError("merge_steps: word is empty")
    trace = tokenizer.explain(raw)                                 # TypeError for a tokenizer without merges
    pieces = tokenizer.pre_tokenize(raw)
    if len(pieces) > 1:
        raise ValueError(f"merge_steps: {word!r} is more than one pre-token under the tokenizer's "
                         f"{tokenizer.pattern!r} pattern: {pieces} (merges never cross pre-tokens); "
                         "trace one at a time")
    final = [tokenizer.decode_single_token_bytes(int(t)) for t in tokenizer.encode_ordinary(raw)]
    if list(trace[-1]["parts"]) != final:                          # explain() and encode() disagree: a bug
        raise RuntimeError(f"merge_steps: explain() of {word!r} ends in {trace[-1]['parts']} but the tokenizer "
                           f"encodes it as {final}")
    return [[_piece(p) for p in step["parts"]] for step in trace]


def plot_merge_trace(steps: Sequence[Sequence[str]], path: str | os.PathLike, *, title: Optional[str] = None) -> Path:
    """Draw how BPE builds a word: one row per segmentation in ``steps`` (first = single
    bytes/characters, last = the final tokens; e.g. from :func:`merge_steps`), each piece a box
    whose width is its length in bytes, the piece(s) new in that step highlighted, the step
    number on the left. Every step must spell the same word."""
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence) or not steps:
        raise ValueError("plot_merge_trace: steps must be a non-empty list of segmentations (lists of pieces)")
    rows: list[list[str]] = []
    for i, step in enumerate(steps):
        if isinstance(step, (str, bytes)) or not isinstance(step, Sequence) or not step:
            raise ValueError(f"plot_merge_trace: steps[{i}] must be a non-empty list of pieces, got {step!r}")
        pieces = [_piece(p) for p in step]
        if any(p == "" for p in pieces):
            raise ValueError(f"plot_merge_trace: steps[{i}] has an empty piece: {pieces!r}")
        rows.append(pieces)
    spelled = [b"".join(_piece_bytes(p) for p in r) for r in rows]
    for i, s in enumerate(spelled):
        if s != spelled[0]:
            raise ValueError(f"plot_merge_trace: steps[{i}] spells {s!r} but steps[0] spells {spelled[0]!r}; "
                             "every step must segment the same word")
    total = len(spelled[0])
    spans = []
    for r in rows:
        ends = np.cumsum([len(_piece_bytes(p)) for p in r])
        spans.append(list(zip((ends - [len(_piece_bytes(p)) for p in r]).tolist(), ends.tolist())))

    n = len(rows)
    fig = _new_figure("fastembed.plots.plot_merge_trace", (min(max(4.0, 0.55 * total + 1.6), 16.0), 0.5 * n + 1.2))
    ax = fig.add_subplot()
    font = 10 if total <= 16 else 8 if total <= 32 else 6
    from matplotlib.patches import Rectangle

    for i, (r, sp) in enumerate(zip(rows, spans)):
        before = set(spans[i - 1]) if i else set(sp)
        for p, (a, b) in zip(r, sp):
            new = (a, b) not in before
            ax.add_patch(Rectangle((a + 0.04, -i - 0.4), b - a - 0.08, 0.8, facecolor=HIGHLIGHT if new else PLAIN,
                                   edgecolor="#333333", linewidth=1.2 if new else 0.6))
            ax.text((a + b) / 2, -i, _shown(p), ha="center", va="center", fontsize=font,
                    fontweight="bold" if new else "normal", family="monospace")
    ax.set_xlim(0, total)
    ax.set_ylim(-n + 0.45, 0.55)
    ax.set_yticks([-i for i in range(n)], [str(i) for i in range(n)], fontsize=9)
    ax.set_ylabel("merge step")
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    word = _shown(spelled[0].decode("utf-8", "replace"))
    ax.set_title(title or f"BPE merges of {word!r}: {len(rows[0])} bytes → {len(rows[-1])} tokens", fontsize=11)
    return save_png(fig, path)


# --------------------------------------------------------------------------- contextual vs static


def _static_vector(static: Any, w: Any) -> np.ndarray:
    try:
        v = np.asarray(static.get_vector(w), dtype=np.float64)
    except KeyError as e:
        raise ValueError(f"plot_contextual: the static vectors have no entry for {w!r}") from e
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def plot_contextual(points: Any, labels: Sequence[str], path: str | os.PathLike, *, word: str,
                    groups: Optional[Sequence[Any]] = None, static: Any = None,
                    static_neighbours: Optional[Sequence[Any]] = None, title: Optional[str] = None) -> Path:
    """A static vector cannot tell a word's senses apart; contextual vectors can.

    ``points``: the contextual vectors of ``word`` in N sentences, (N, C) (e.g. from
    :func:`fastembed.inspect.token_vectors`), or a mapping {model name: (N, C)} for one panel per
    model, the same sentences in each. Each panel is the 2-D PCA of its vectors; point i is drawn
    in sentence i's colour (or its group's, with ``groups``: one int or str per point, e.g. the
    sense) and numbered i, numbers placed so they never overprint
    (:func:`fastembed.plot_labels.annotate_points`); under the panels, each number's sentence
    (``labels``), wrapped to stay legible. Last, when ``static`` is given (a KeyedVectors-like
    object with ``get_vector`` and ``most_similar``): the word's one static vector among
    ``static_neighbours`` (default: its 8 most similar words), in their own 2-D PCA of the unit
    vectors, with the caption "one vector for every sense".
    """
    import textwrap

    from .plot_labels import annotate_points
    from .word2vec.plot import pca_2d_explained

    panels_in = dict(points) if isinstance(points, Mapping) else {"": points}
    if not panels_in:
        raise ValueError("plot_contextual: points is an empty mapping; give at least one model's vectors")
    xs: dict[str, np.ndarray] = {}
    n = None
    for name, pts in panels_in.items():
        x = _to_numpy(pts, "points")
        if x.ndim != 2:
            raise ValueError(f"plot_contextual: points must have shape (N, C), got {x.shape}")
        if x.shape[0] < 2 or x.shape[1] < 1:
            raise ValueError(f"plot_contextual: points needs at least 2 vectors for a PCA, got shape {x.shape}")
        if n is not None and x.shape[0] != n:
            raise ValueError(f"plot_contextual: every model needs one vector per sentence; got {n} and {x.shape[0]}")
        n = x.shape[0]
        _check_finite(x, "points")
        xs[str(name)] = x
    labels = _labels(labels, n, "labels", "label")
    if groups is not None:
        groups = _labels(groups, n, "groups", "group")
    if not isinstance(word, str) or not word:
        raise ValueError(f"plot_contextual: word must be a non-empty str, got {word!r}")
    neighbours: list[Any] = []
    if static is not None:
        _static_vector(static, word)                              # ValueError when the word has no static vector
        if static_neighbours is None:
            neighbours = [w for w, _ in static.most_similar(word, topn=8)]
        else:
            if isinstance(static_neighbours, (str, bytes)) or not isinstance(static_neighbours, Sequence):
                raise TypeError("plot_contextual: static_neighbours must be a list of words, got "
                                f"{type(static_neighbours).__name__}")
            neighbours = list(static_neighbours)
        neighbours = [w for w in neighbours if w != word]
        if not neighbours:
            raise ValueError(f"plot_contextual: the static panel needs at least one neighbour of {word!r}")
        svecs = np.stack([_static_vector(static, w) for w in [word, *neighbours]])
    elif static_neighbours is not None:
        raise ValueError("plot_contextual: static_neighbours needs static (the static vectors)")

    if groups is None:
        palette = "tab20" if n > 10 else "tab10"
        colours = [_colour(palette, i) for i in range(n)]
    else:
        keys = list(dict.fromkeys(groups))                        # first-appearance order
        colours = [_colour("tab10", keys.index(g)) for g in groups]
    wrapped = [textwrap.fill(f"{i + 1}. " + " ".join(str(t).split()), 95, subsequent_indent="    ")
               for i, t in enumerate(labels)]
    legend_lines = sum(w.count("\n") + 1 for w in wrapped)
    panels = len(xs) + (static is not None)
    width = max(6.0 * panels, 11.0)
    fig = _new_figure("fastembed.plots.plot_contextual", (width, 4.8 + 0.17 * legend_lines))
    grid = fig.add_gridspec(2, panels, height_ratios=[4.4, 0.17 * legend_lines + 0.2])
    axes = [fig.add_subplot(grid[0, k]) for k in range(panels)]
    for ax, (name, x) in zip(axes, xs.items()):
        xy, share = pca_2d_explained(x)
        ax.scatter(xy[:, 0], xy[:, 1], s=36, c=colours, edgecolors="black", linewidths=0.4, zorder=2)
        _pad_limits(ax, xy)
        ax.set_title(f"{name + ': ' if name else ''}contextual vectors of {word!r} ({n} sentences)", fontsize=10)
        ax.set_xlabel(f"PC1 ({100 * share[0]:.0f}%)", fontsize=8)
        ax.set_ylabel(f"PC2 ({100 * share[1]:.0f}%)" if len(share) > 1 else "PC2", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if groups is not None:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", ls="", color=_colour("tab10", k), label=str(g)) for k, g in enumerate(keys)]
        axes[0].legend(handles=handles, fontsize=8, loc="best")
    if static is not None:
        ax2 = axes[-1]
        sxy, share = pca_2d_explained(svecs)
        ax2.scatter(sxy[1:, 0], sxy[1:, 1], s=18, color="grey", zorder=2)
        ax2.scatter(sxy[:1, 0], sxy[:1, 1], s=160, marker="*", color="tab:red", zorder=3)
        _pad_limits(ax2, sxy)
        ax2.set_title(f"word2vec: the one vector of {word!r}, {len(neighbours)} neighbours", fontsize=10)
        ax2.set_xlabel(f"one vector for every sense of {word!r}  (PC1 {100 * share[0]:.0f}%)", fontsize=9,
                       style="italic")
        ax2.set_xticks([])
        ax2.set_yticks([])
    text_ax = fig.add_subplot(grid[1, :])
    text_ax.axis("off")
    step = 1.0 / max(legend_lines, 1)
    line = 0
    for text, c in zip(wrapped, colours):                         # each sentence in its point's colour
        y = 1.0 - line * step
        text_ax.text(0.012, y, text, va="top", ha="left", fontsize=8, transform=text_ax.transAxes)
        text_ax.scatter([0.004], [y - 0.45 * step], s=30, color=c, edgecolors="black", linewidths=0.4,
                        transform=text_ax.transAxes, clip_on=False)
        line += text.count("\n") + 1
    if title:
        fig.suptitle(title)
    for ax, x in zip(axes, xs.values()):
        annotate_points(ax, pca_2d_explained(x)[0], [str(i + 1) for i in range(n)], fontsize=8, colors=colours,
                        weights=["bold"] * n)
    if static is not None:
        annotate_points(axes[-1], sxy, [str(w) for w in [word, *neighbours]], fontsize=9,
                        weights=["bold"] + ["normal"] * len(neighbours))
    return save_png(fig, path)


def _colour(palette: str, i: int) -> Any:
    from matplotlib import colormaps

    cmap = colormaps[palette]
    return cmap(i % cmap.N)


def _pad_limits(ax: Any, xy: np.ndarray, frac: float = 0.15) -> None:
    span = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-6)
    ax.set_xlim(xy[:, 0].min() - frac * span, xy[:, 0].max() + frac * span)
    ax.set_ylim(xy[:, 1].min() - frac * span, xy[:, 1].max() + frac * span)


# --------------------------------------------------------------------------- attention


def _pick(chosen: Optional[Sequence[int]], n: int, name: str) -> list[int]:
    if chosen is None:
        return list(range(n))
    if isinstance(chosen, (str, bytes)) or not isinstance(chosen, Sequence):
        raise TypeError(f"plot_attention: {name} must be a list of ints, got {type(chosen).__name__}")
    out = []
    for i in chosen:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"plot_attention: {name} must hold ints, got {i!r}")
        if not -n <= i < n:
            raise ValueError(f"plot_attention: {name} index {i} is out of range for {n} {name}")
        out.append(int(i) % n)
    if not out:
        raise ValueError(f"plot_attention: {name} is empty; give at least one index (or None for all)")
    return out


def plot_attention(maps: Any, tokens: Sequence[str], path: str | os.PathLike, *,
                   layers: Optional[Sequence[int]] = None, heads: Optional[Sequence[int]] = None,
                   title: Optional[str] = None) -> Path:
    """Attention heatmaps of one sentence: ``maps`` (L, H, T, T) numpy or torch, e.g.
    ``fastembed.inspect.attention_maps(model, ids)[:, 0]``; ``tokens`` the T token strings.
    A grid with one row per layer and one column per head (``layers`` / ``heads`` pick some,
    default all), query positions down, key positions across, token labels on the left column
    and the bottom row, one colour scale and colour bar for all panels."""
    m = _to_numpy(maps, "maps")
    if m.ndim != 4:
        hint = "; select one sentence, e.g. maps[:, 0]" if m.ndim == 5 else ""
        raise ValueError(f"plot_attention: maps must have shape (layers, heads, T, T), got {m.shape}{hint}")
    L, H, T, T2 = m.shape
    if T != T2 or T == 0:
        raise ValueError(f"plot_attention: each map must be square and non-empty (T, T), got {(T, T2)}")
    if L == 0 or H == 0:
        raise ValueError(f"plot_attention: maps has no layers or no heads, shape {m.shape}")
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(f"plot_attention: tokens must be a list of str, got {type(tokens).__name__}")
    if len(tokens) != T:
        raise ValueError(f"plot_attention: {len(tokens)} tokens for maps over {T} positions; expected one per position")
    rows, cols = _pick(layers, L, "layers"), _pick(heads, H, "heads")
    shown = m[np.ix_(rows, cols)]                                   # (rows, cols, T, T)
    _check_finite(shown, "maps")
    vmax = float(shown.max()) if float(shown.max()) > 0 else 1.0
    size = max(1.6, min(3.2, 0.12 * T + 0.9))
    fig = _new_figure("fastembed.plots.plot_attention",
                      (size * len(cols) + 1.4, size * len(rows) + (0.9 if title else 0.5)))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    font = 7 if T <= 16 else 5 if T <= 40 else 3
    names = [_shown(str(t)) for t in tokens]
    im = None
    for r, layer in enumerate(rows):
        for c, head in enumerate(cols):
            ax = axes[r, c]
            im = ax.imshow(shown[r, c], cmap="viridis", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_title(f"layer {layer} · head {head}", fontsize=8)
            ax.set_xticks(range(T), names if r == len(rows) - 1 else [""] * T, fontsize=font, rotation=90)
            ax.set_yticks(range(T), names if c == 0 else [""] * T, fontsize=font)
            ax.tick_params(length=1.5, pad=1)
    fig.colorbar(im, ax=axes, shrink=0.85, label="attention probability")
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


# --------------------------------------------------------------------------- loss curves


def _curve(name: str, value: Any, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) of one curve given as (xs, ys), as a list of (x, y) pairs or as ys alone."""
    if isinstance(value, tuple) and len(value) == 2 and all(np.ndim(v) == 1 for v in value):
        xs, ys = _to_numpy(value[0], f"curve {name!r} xs"), _to_numpy(value[1], f"curve {name!r} ys")
        if len(xs) != len(ys):
            raise ValueError(f"curve {name!r}: {len(xs)} xs but {len(ys)} ys")
    else:
        a = _to_numpy(value, f"curve {name!r}")
        if a.ndim == 1:
            xs, ys = np.arange(len(a), dtype=np.float64), a
        elif a.ndim == 2 and a.shape[1] == 2:
            xs, ys = a[:, 0], a[:, 1]
        else:
            raise ValueError(f"curve {name!r} must be (xs, ys), a list of (x, y) pairs or a list of ys; "
                             f"got an array of shape {a.shape}")
    if len(ys) == 0:
        raise ValueError(f"curve {name!r} is empty")
    if not np.isfinite(xs).all():
        raise ValueError(f"curve {name!r} has NaN or infinite xs")
    if log_y and (ys[np.isfinite(ys)] <= 0).any():
        raise ValueError(f"curve {name!r} has values <= 0, which a log y axis cannot show (log_y=True)")
    return xs, ys


def _panel(curves: Mapping, where: str, log_y: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if not curves:
        raise ValueError(f"{where} has no curves")
    return [(str(name), *_curve(str(name), v, log_y)) for name, v in curves.items()]


def plot_loss_curves(curves: Mapping[str, Any], path: str | os.PathLike, *, xlabel: str = "step",
                     ylabel: str = "loss", title: Optional[str] = None, log_y: bool = False) -> Path:
    """Training curves: ``curves`` maps a name to (xs, ys), to a list of (x, y) pairs or to a
    list of ys (xs = 0, 1, ...); one line each, with a legend. For several panels side by side,
    map each panel's title to such a dict, e.g. ``{"BERT": {"mlm": ..., "nsp": ...},
    "GPT": {"lm": ...}}``. ``log_y`` puts y on a log scale (values must be positive; NaN gaps
    are drawn as gaps)."""
    if not isinstance(curves, Mapping):
        raise TypeError(f"plot_loss_curves: curves must be a dict name -> curve, got {type(curves).__name__}")
    if not curves:
        raise ValueError("plot_loss_curves: curves is empty; give at least one curve")
    nested = [isinstance(v, Mapping) for v in curves.values()]
    if any(nested) and not all(nested):
        raise ValueError("plot_loss_curves: curves mixes panels (dicts of curves) with curves; use one or the other")
    if all(nested):
        panels = [(str(t), _panel(c, f"plot_loss_curves: panel {t!r}", log_y)) for t, c in curves.items()]
    else:
        panels = [(title or "", _panel(curves, "plot_loss_curves: curves", log_y))]
    fig = _new_figure("fastembed.plots.plot_loss_curves", (5.2 * len(panels) + 0.6, 4.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, lines) in zip(axes, panels):
        for label, xs, ys in lines:
            ax.plot(xs, ys, label=label, linewidth=1.4, marker="o" if len(xs) <= 20 else None, markersize=3)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if name:
            ax.set_title(name, fontsize=11)
    if title and len(panels) > 1:
        fig.suptitle(title)
    return save_png(fig, path)


__all__ = ["merge_steps", "plot_attention", "plot_contextual", "plot_loss_curves", "plot_merge_trace", "save_png"]
