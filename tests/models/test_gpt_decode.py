"""The lean GPT decoder (models/gpt_decode.py) against GPT.forward, the slow obvious path: the
same logits after a left-padded prompt and every later token, fp32 to float rounding, bf16 and
int8 within their rounding; its weight copies follow the model's parameters; bad use is refused."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fastembed.generate import generate  # noqa: E402
from fastembed.models import GPT, GPTConfig  # noqa: E402
from fastembed.models.gpt_decode import decode_weights  # noqa: E402

V = 300


def tiny(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=V, max_position=48, initializer_range=0.2, **kw)).eval()


@pytest.fixture(scope="module")
def model() -> GPT:
    return tiny()


def reference_logits(model: GPT, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) ids and mask -> (B, T, V): GPT.forward over the whole sequence at once, in float64."""
    m64 = tiny().double()
    m64.load_state_dict(model.state_dict())
    with torch.no_grad():
        return m64(ids, attention_mask=mask).logits


def left_padded(lengths: list[int], T: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (len(lengths), T), generator=g)
    mask = torch.zeros((len(lengths), T), dtype=torch.long)
    for b, n in enumerate(lengths):
        mask[b, T - n:] = 1
    return ids, mask


@pytest.mark.parametrize("attn", ["fused", "sdpa", None])     # None: native one-token steps, fused prompt
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_decoder_logits_equal_the_full_forward(model, attn, precision):
    check_against_forward(model, attn, precision, padded=True)


@pytest.mark.parametrize("attn", ["sdpa", None])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_decoder_logits_without_padding(model, attn, precision):
    check_against_forward(model, attn, precision, padded=False)   # every key visible: no mask at all


def check_against_forward(model, attn, precision, padded):
    lengths, T, steps = [5, 9, 1] if padded else [9, 9, 9], 9, 6
    ids, mask = left_padded(lengths, T + steps)
    mask[:, T:] = 1
    if padded:
        mask[1, T + 2] = 0                   # a finished row's filler token: a key no one sees
    expected = reference_logits(model, ids, mask)
    got = []
    with torch.inference_mode():
        dec = model.decoder(len(lengths), T + steps, precision=precision, attn=attn)
        got.append(dec(ids[:, :T], mask[:, :T]))                   # the prompt: one call
        for t in range(T, T + steps):
            got.append(dec(ids[:, t:t + 1], mask[:, t:t + 1]))     # then one token at a time
    positions = [T - 1] + list(range(T, T + steps))
    for p, logits in zip(positions, got):
        ref = expected[:, p].float()
        keep = mask[:, p].bool()                                   # a filler's own logits are never used
        err = (logits[keep] - ref[keep]).abs().max().item()
        scale = ref[keep].abs().max().item()
        # bf16: 8 mantissa bits in each product (measured 0.020); int8: 255 steps per token row and
        # weight row, the output layer's included (measured 0.061 on this model's wide weights)
        bound = {"fp32": 2e-5, "bf16": 3e-2, "int8": 1e-1}[precision]
        assert err <= bound * scale, (p, err, scale)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_low_precision_greedy_mostly_agrees_with_fp32(model, precision):
    ids, _ = left_padded([8], 8)
    fp32 = generate(model, ids, max_new_tokens=20)[0]
    low = generate(model, ids, max_new_tokens=20, precision=precision)[0]
    assert low[:3] == fp32[:3]                                     # well-separated logits: the start agrees


def test_fp32_on_the_cpu_streams_every_product_from_packed_panels(model):
    from fastembed.ops.panel import PANEL

    w = decode_weights(model, "fp32")
    lins = [lin for layer in w.layers for lin in (layer.qkv, layer.out, layer.up, layer.down)] + [w.head]
    assert all(lin.layout == "panels" for lin in lins)
    assert w.head.bias is None and w.head.out_features == V
    head = torch.from_numpy(w.head.weight)
    assert head.shape == (-(-V // PANEL), model.config.hidden_size, PANEL)
    assert torch.equal(head[0], model.wte.weight[:PANEL].T)


def test_the_decoder_runs_without_inference_mode(model):
    ids, mask = left_padded([3, 5], 5)
    with torch.inference_mode():
        want = model.decoder(2, 6)(ids, mask)
    got = model.decoder(2, 6)(ids, mask)                          # grad mode on, parameters requiring grad
    assert not got.requires_grad and torch.equal(got, want)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_one_token_steps_run_natively_by_default(model, monkeypatch, precision):
    import fastembed.models.gpt_decode as gd

    sdpa, attends, epilogues = [], [], []
    real_sdpa, real_attend, real_panel = gd.F.scaled_dot_product_attention, gd._C.decode_attention, gd._C.panel_linear

    def spy_sdpa(q, *a, **kw):
        sdpa.append(q.shape[2])                                    # (B, H, T, D): T queries
        return real_sdpa(q, *a, **kw)

    def spy_attend(qkv, k, v, n, *a):
        attends.append(n)
        return real_attend(qkv, k, v, n, *a)

    def spy_panel(x, packed, bias, y, epilogue=0):
        epilogues.append(epilogue)
        return real_panel(x, packed, bias, y, epilogue)

    monkeypatch.setattr(gd.F, "scaled_dot_product_attention", spy_sdpa)
    monkeypatch.setattr(gd._C, "decode_attention", spy_attend)
    monkeypatch.setattr(gd._C, "panel_linear", spy_panel)
    ids, mask = left_padded([4, 6], 6)
    L = model.config.num_layers
    with torch.inference_mode():
        dec = model.decoder(2, 8, precision=precision)
        dec(ids, mask)                                             # the prompt: the model's attn_impl (fused)
        assert sdpa == [] and attends == []
        epilogues.clear()
        dec(ids[:, :1], mask[:, :1])
        assert sdpa == [] and attends == [7] * L
        # fp32: qkv stored, out-projection added into the residual, FFN-up through GELU, FFN-down
        # added; then the output layer. bf16 runs PyTorch's bfloat16 products.
        assert epilogues == ([0, 1, 2, 1] * L + [0] if precision == "fp32" else [])
        attends.clear()
        explicit = model.decoder(2, 8, precision=precision, attn="sdpa")
        explicit(ids, mask)
        explicit(ids[:, :1], mask[:, :1])                          # attn= given: it runs every call
        assert attends == [] and sdpa[-L:] == [1] * L


def test_int8_holds_int8_weights_for_every_product(model):
    from fastembed.models.precision import Int8Linear

    w = decode_weights(model, "int8")
    linears = [getattr(layer, name).weight for layer in w.layers for name in ("qkv", "out", "up", "down")]
    assert all(isinstance(x, Int8Linear) and x.weight.dtype == torch.int8 for x in linears + [w.head.weight])
    assert all(layer.qkv.weight.input_scale is not None and layer.up.weight.input_scale is not None
               for layer in w.layers)                              # SmoothQuant on the QKV and FFN-up inputs


def test_decoder_weights_follow_the_parameters(model):
    m = tiny()
    ids, _ = left_padded([6], 6)
    generate(m, ids, max_new_tokens=5)
    w = decode_weights(m, "fp32")
    assert decode_weights(m, "fp32") is w                          # kept between calls
    with torch.no_grad():
        m.blocks[0].up.weight.mul_(3.0)                            # an in-place change (e.g. an optimizer step)
    assert decode_weights(m, "fp32") is not w
    with torch.no_grad():
        expected = m(ids).logits[:, -1]
    with torch.inference_mode():
        got = m.decoder(1, 6)(ids, torch.ones_like(ids))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bad_use_is_refused(model):
    with pytest.raises(ValueError, match="precision must be one of"):
        generate(model, [1, 2], max_new_tokens=2, precision="int4")
    with pytest.raises(ValueError, match="precision must be one of"):
        decode_weights(model, "fp16")
    with pytest.raises(ValueError, match="needs the KV-cache decoder"):
        generate(model, [1, 2], max_new_tokens=2, precision="bf16", use_cache=False)
    with pytest.raises(ValueError, match="max_length must be in 1..48"):
        model.decoder(1, 49)
    with torch.inference_mode():
        dec = model.decoder(2, 4)
        with pytest.raises(ValueError, match="holds 2 rows of up to 4 positions"):
            dec(torch.zeros((2, 5), dtype=torch.long), torch.ones((2, 5)))
        with pytest.raises(ValueError, match="holds 2 rows"):
            dec(torch.zeros((3, 1), dtype=torch.long), torch.ones((3, 1)))
