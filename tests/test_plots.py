"""fastembed.plots: every picture is a real, non-blank PNG written atomically; bad input is refused."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from fastembed import plots  # noqa: E402
from fastembed.plots import (merge_steps, plot_attention, plot_contextual, plot_loss_curves,  # noqa: E402
                             plot_merge_trace, save_png)
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer  # noqa: E402
from fastembed.word2vec import KeyedVectors  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def check_png(path, returned):
    """A real PNG at ``path``: signature, > 5 KB, readable by matplotlib, not one flat colour;
    nothing else (no temporary file) in its folder."""
    import matplotlib.image as mpimg

    assert returned == path and isinstance(returned, type(path))
    data = path.read_bytes()
    assert data[:8] == PNG
    assert len(data) > 5000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(img[..., :3].std()) > 0.01
    assert sorted(os.listdir(path.parent)) == [path.name]


@pytest.fixture(scope="module")
def tok():
    texts = ["low lower lowest newer newest", "the river bank café €5 €"] * 30
    return BPETokenizer.train(texts, vocab_size=290, progress=False)


@pytest.fixture(scope="module")
def kv():
    words = ["bank", "river", "money", "loan", "water", "shore", "cash", "fish", "tree", "stone"]
    return KeyedVectors(words, np.random.default_rng(0).standard_normal((10, 8)).astype(np.float32))


# --------------------------------------------------------------------------- merge trace


def test_merge_steps_end_in_the_tokenizers_encoding(tok):
    for word in ["lowest", " newer", " café", " €", "x"]:
        steps = merge_steps(tok, word)
        raw = word.encode("utf-8")
        assert steps[0] == [bytes([b]).decode("utf-8", "surrogateescape") for b in raw]    # single bytes
        final = [tok.decode_single_token_bytes(int(t)).decode("utf-8", "surrogateescape") for t in tok.encode(word)]
        assert steps[-1] == final
        for a, b in zip(steps, steps[1:]):                  # one merge per step
            assert len(b) == len(a) - 1
        for s in steps:
            assert "".join(s).encode("utf-8", "surrogateescape") == raw
    assert len(merge_steps(tok, "lowest")[-1]) < 6


def test_merge_steps_errors(tok):
    with pytest.raises(ValueError, match="empty"):
        merge_steps(tok, "")
    with pytest.raises(TypeError, match="BPETokenizer"):
        merge_steps(object(), "low")
    with pytest.raises(TypeError, match="WordPieceTokenizer has no merges"):
        merge_steps(WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "low"]), "low")
    for word in ["low lower", " €uro", "lower."]:
        with pytest.raises(ValueError, match="more than one pre-token"):
            merge_steps(tok, word)


def test_plot_merge_trace(tmp_path, tok):
    out = tmp_path / "merges.png"
    check_png(out, plot_merge_trace(merge_steps(tok, " café"), out, title="café"))
    out2 = tmp_path / "sub" / "m.png"
    out2.parent.mkdir()
    assert plot_merge_trace([["a", "b", "c"], ["ab", "c"], [b"abc"]], str(out2)) == out2   # str path, bytes pieces


def test_plot_merge_trace_errors(tmp_path):
    out = tmp_path / "m.png"
    for bad in ([], [[]], [["a", ""]], "abc", [["a", "b"], ["ac"]]):
        with pytest.raises(ValueError):
            plot_merge_trace(bad, out)
    with pytest.raises(TypeError):
        plot_merge_trace([["a", 1]], out)
    assert not out.exists() and os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- contextual


def test_plot_contextual(tmp_path, kv):
    rng = np.random.default_rng(1)
    points = rng.standard_normal((6, 16)).astype(np.float32)
    labels = ["she sat on the bank of the river and watched the water flow by", "the bank raised rates",
              "river bank", "a bank loan", "bank of england", "a muddy bank"]
    out = tmp_path / "ctx.png"
    check_png(out, plot_contextual(points, labels, out, word="bank", groups=[0, 1, 0, 1, 1, 0], static=kv))
    out2 = tmp_path / "ctx_only.png"
    os.remove(out)
    check_png(out2, plot_contextual(points, labels, out2, word="bank", title="contextual only"))
    os.remove(out2)
    out3 = tmp_path / "ctx_given.png"
    check_png(out3, plot_contextual(points, labels, out3, word="bank", static=kv,
                                    static_neighbours=["river", "money", "bank"]))


def test_plot_contextual_errors(tmp_path, kv):
    out = tmp_path / "c.png"
    p = np.ones((3, 4))
    cases = [
        (np.ones(4), ["a"], {}),                                  # not (N, C)
        (np.ones((1, 4)), ["a"], {}),                             # one point: no PCA
        (p, ["a", "b"], {}),                                      # labels do not match
        (p, ["a", "b", "c"], {"groups": [0, 1]}),                 # groups do not match
        (np.full((3, 4), np.nan), ["a", "b", "c"], {}),           # NaN
        (p, ["a", "b", "c"], {"static": kv, "static_neighbours": []}),
        (p, ["a", "b", "c"], {"static": kv, "static_neighbours": ["nowhere"]}),
        (p, ["a", "b", "c"], {"static_neighbours": ["river"]}),   # neighbours without static vectors
    ]
    with pytest.raises(ValueError, match="no entry for 'nowhere'"):
        plot_contextual(p, ["a", "b", "c"], out, word="nowhere", static=kv)
    for points, labels, kw in cases:
        with pytest.raises(ValueError):
            plot_contextual(points, labels, out, word="bank", **kw)
    with pytest.raises(ValueError, match="word"):
        plot_contextual(p, ["a", "b", "c"], out, word="")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- attention


def test_plot_attention_numpy_and_torch(tmp_path):
    rng = np.random.default_rng(2)
    s = rng.standard_normal((2, 3, 5, 5))
    maps = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    tokens = ["[CLS]", "the", " bank", "flooded", "[SEP]"]
    out = tmp_path / "attn.png"
    check_png(out, plot_attention(maps, tokens, out, title="attention"))
    torch = pytest.importorskip("torch")
    os.remove(out)
    out2 = tmp_path / "attn_torch.png"
    check_png(out2, plot_attention(torch.from_numpy(maps).float(), tokens, out2, layers=[-1], heads=[0, 2]))


def test_plot_attention_errors(tmp_path):
    out = tmp_path / "a.png"
    ok = np.full((2, 2, 3, 3), 1 / 3)
    tokens = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"maps\[:, 0\]"):
        plot_attention(ok[:, None], tokens, out)                  # a batch of sentences
    with pytest.raises(ValueError, match="square"):
        plot_attention(np.ones((2, 2, 3, 4)), tokens, out)
    with pytest.raises(ValueError, match="one per position"):
        plot_attention(ok, ["a", "b"], out)
    with pytest.raises(ValueError, match="out of range"):
        plot_attention(ok, tokens, out, layers=[2])
    with pytest.raises(ValueError, match="empty"):
        plot_attention(ok, tokens, out, heads=[])
    with pytest.raises(ValueError, match="NaN"):
        plot_attention(np.full((2, 2, 3, 3), np.nan), tokens, out)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- loss curves


def test_plot_loss_curves_forms(tmp_path):
    steps = list(range(0, 200, 10))
    out = tmp_path / "loss.png"
    curves = {"train": (steps, [3.0 * np.exp(-x / 80) + 1 for x in steps]),
              "valid": [(x, 3.2 * np.exp(-x / 90) + 1.1) for x in steps[::4]],
              "ys only": list(np.linspace(4, 2, 7))}
    check_png(out, plot_loss_curves(curves, out, title="pretraining", log_y=True))
    os.remove(out)
    out2 = tmp_path / "panels.png"
    panels = {"BERT": {"mlm": (steps, np.linspace(6, 2, len(steps))), "nsp": (steps, np.linspace(0.7, 0.3, 20))},
              "GPT": {"lm": (np.array(steps), np.linspace(5, 3, 20))}}
    check_png(out2, plot_loss_curves(panels, out2, xlabel="update", title="both"))


def test_plot_loss_curves_two_pairs_are_pairs(tmp_path, monkeypatch):
    """A list of two (x, y) pairs is two points, not (xs, ys)."""
    out = tmp_path / "two.png"
    seen = {}
    real = plots._curve

    def spy(name, value, log_y):
        seen[name] = real(name, value, log_y)
        return seen[name]

    monkeypatch.setattr(plots, "_curve", spy)
    plot_loss_curves({"a": [(0, 5.0), (10, 4.0)], "b": ([0, 10], [5.0, 4.5])}, out)
    np.testing.assert_array_equal(seen["a"][0], [0, 10])
    np.testing.assert_array_equal(seen["a"][1], [5.0, 4.0])
    np.testing.assert_array_equal(seen["b"][1], [5.0, 4.5])


def test_plot_loss_curves_errors(tmp_path):
    out = tmp_path / "l.png"
    for bad in ({}, {"a": []}, {"a": ([1, 2], [1.0])}, {"a": np.ones((3, 3))}, {"p": {}},
                {"p": {"a": [1.0]}, "b": [1.0]}):
        with pytest.raises(ValueError):
            plot_loss_curves(bad, out)
    with pytest.raises(ValueError, match="log"):
        plot_loss_curves({"a": [1.0, 0.0]}, out, log_y=True)
    with pytest.raises(TypeError):
        plot_loss_curves([(0, 1.0)], out)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- the shared saver


def test_save_png_is_atomic(tmp_path, monkeypatch):
    """A failed write leaves the old file whole and no temporary file behind; pyplot figures are
    closed; plot_pairs (word2vec) writes through the same saver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = tmp_path / "pic.png"
    out.write_bytes(b"old picture")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("fastembed.io.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_png(fig, out)
    monkeypatch.undo()
    assert out.read_bytes() == b"old picture" and os.listdir(tmp_path) == ["pic.png"]
    assert not plt.fignum_exists(fig.number)

    fig, ax = plt.subplots()
    ax.imshow(np.random.default_rng(0).random((40, 40)))
    assert save_png(fig, out, dpi=80) == out and out.read_bytes()[:8] == PNG
    assert not plt.fignum_exists(fig.number) and os.listdir(tmp_path) == ["pic.png"]

    from fastembed.word2vec import plot_pairs

    kv = KeyedVectors(["man", "woman", "king", "queen"], np.random.default_rng(0).standard_normal((4, 6)))
    os.remove(out)
    before = plt.get_fignums()
    fig = plot_pairs(kv, [("man", "woman"), ("king", "queen")], out)
    assert plt.get_fignums() == before and fig.axes                # no pyplot figure left open
    check_png(out, out)


def test_plot_contextual_one_panel_per_model(tmp_path, kv):
    """A mapping of models gives one panel each (same sentences); unequal counts are refused."""
    rng = np.random.default_rng(2)
    labels = [f"sentence number {i} about the river bank, long enough to need wrapping " * 2 for i in range(8)]
    out = tmp_path / "ctx.png"
    pts = {"ELMo": rng.standard_normal((8, 12)), "BERT": rng.standard_normal((8, 20))}
    check_png(out, plot_contextual(pts, labels, out, word="bank", static=kv))
    os.remove(out)
    with pytest.raises(ValueError, match="one vector per sentence"):
        plot_contextual({"a": np.ones((3, 4)), "b": np.ones((4, 4))}, ["x"] * 3, out, word="bank")
    with pytest.raises(ValueError, match="empty mapping"):
        plot_contextual({}, [], out, word="bank")
