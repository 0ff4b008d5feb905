"""ELMo's biLM: each LM causal in its own direction, the losses against full-logit cross-entropy,
padding that changes no real position, a slow per-row reference of the whole forward pass, one
batch overfitted, the scalar mix over its layers, save -> load, bad input, and
``fastembed pretrain elmo`` end to end (a loadable directory that ``extract`` reads)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fastembed.features import ScalarMix, combine_layers, extract
from fastembed.models import ELMo, ELMoConfig, load_elmo, save_elmo
from fastembed.models.elmo import read_elmo_config

from .._tiny import one_torch_thread  # noqa: F401  (autouse)

V = 40


def tiny(seed: int = 0, **overrides) -> ELMo:
    """Two layers, a projection (hidden 24 -> embed 16), dropout off unless overridden."""
    torch.manual_seed(seed)
    fields = dict(vocab_size=V, embed_size=16, hidden_size=24, num_layers=2, dropout=0.0, max_position=64)
    fields.update(overrides)
    return ELMo(ELMoConfig(**fields)).eval()


def ids(B: int = 3, T: int = 9, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def halves(h: torch.Tensor, E: int) -> tuple[torch.Tensor, torch.Tensor]:
    return h[..., :E], h[..., E:]


# --------------------------------------------------------------------------- causality


@pytest.mark.parametrize("embed, hidden, layers", [(16, 24, 2), (16, 16, 3)])
def test_each_lm_is_causal_in_its_own_direction(embed, hidden, layers):
    """Changing token k changes no forward output before k and no backward output after k, in
    every layer; and it does change the forward output at k and the backward output at k."""
    model = tiny(embed_size=embed, hidden_size=hidden, num_layers=layers)
    x = ids(T=10)
    k = 6
    y = x.clone()
    y[:, k] = (y[:, k] + 1) % V
    with torch.no_grad():
        a, b = (model(t, output_hidden_states=True).hidden_states for t in (x, y))
    assert len(a) == layers + 1
    for j in range(1, layers + 1):
        (fa, ba), (fb, bb) = halves(a[j], embed), halves(b[j], embed)
        assert torch.equal(fa[:, :k], fb[:, :k]), f"layer {j}: the forward LM saw a future token"
        assert torch.equal(ba[:, k + 1:], bb[:, k + 1:]), f"layer {j}: the backward LM saw a past token"
        assert (fa[:, k] - fb[:, k]).abs().max() > 1e-4 and (ba[:, k] - bb[:, k]).abs().max() > 1e-4
        assert (fa[:, k + 1:] - fb[:, k + 1:]).abs().max() > 1e-5 and (ba[:, :k] - bb[:, :k]).abs().max() > 1e-5


# --------------------------------------------------------------------------- a slow reference


def reference_states(model: ELMo, row: torch.Tensor) -> list[torch.Tensor]:
    """The L + 1 layers of one unpadded row (T,), written out step by step: the backward LM runs
    the same stack over the reversed row and its outputs are reversed back."""
    E = model.config.embed_size
    x = model.embed.weight[row][None]                                  # (1, T, E)

    def stack(direction, h):
        outs = []
        for j, lstm in enumerate(direction.lstms):
            o = lstm(h)[0]
            if direction.projs is not None:
                o = o @ direction.projs[j].weight.t() + direction.projs[j].bias
            h = o if j == 0 else o + h
            outs.append(h)
        return outs

    fwd = stack(model.forward_lm, x)
    bwd = [b.flip(1) for b in stack(model.backward_lm, x.flip(1))]
    assert fwd[0].shape[-1] == E
    return [torch.cat([x, x], -1)[0]] + [torch.cat([f, b], -1)[0] for f, b in zip(fwd, bwd)]


def test_padded_batch_matches_each_row_alone_and_the_reference():
    """Right padding changes no real position's output in any layer: each row of a padded batch
    equals the same row run alone and the slow reference of it."""
    model = tiny()
    x = ids(B=4, T=8)
    lengths = [8, 5, 1, 3]
    mask = (torch.arange(8)[None, :] < torch.tensor(lengths)[:, None]).long()
    x = torch.where(mask.bool(), x, torch.zeros_like(x))
    with torch.no_grad():
        out = model(x, attention_mask=mask, output_hidden_states=True)
        for r, n in enumerate(lengths):
            alone = model(x[r:r + 1, :n], output_hidden_states=True).hidden_states
            ref = reference_states(model, x[r, :n])
            for j in range(len(ref)):
                torch.testing.assert_close(out.hidden_states[j][r, :n], alone[j][0], atol=1e-6, rtol=0)
                torch.testing.assert_close(out.hidden_states[j][r, :n], ref[j], atol=1e-6, rtol=0)
    torch.testing.assert_close(out.last_hidden_state, out.hidden_states[-1], atol=0, rtol=0)
    # a mask of all ones is the same as no mask
    with torch.no_grad():
        full = model(x, attention_mask=torch.ones_like(x)).last_hidden_state
        torch.testing.assert_close(full, model(x).last_hidden_state, atol=0, rtol=0)


def test_losses_equal_full_logit_cross_entropy():
    """lm_fwd and lm_bwd against F.cross_entropy over the full logits E·h + c, computed from the
    top layer's halves: forward position t predicts labels[t], backward position t >= 1 predicts
    input_ids[t - 1]; with padding and a -100 label. Counts agree with loss_counts."""
    model = tiny()
    with torch.no_grad():
        model.lm_bias.normal_()
    x = ids(B=3, T=7)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 6 + [0]])
    labels = x.roll(-1, 1).masked_fill(mask == 0, -100)
    labels[0, 2] = -100
    out = model(x, labels=labels, attention_mask=mask)
    E = model.config.embed_size
    f, b = halves(out.last_hidden_state.detach(), E)
    W, c = model.embed.weight.detach(), model.lm_bias.detach()
    ref_f = F.cross_entropy((f @ W.t() + c).reshape(-1, V), labels.reshape(-1), reduction="sum", ignore_index=-100)
    tb = torch.full_like(x, -100)
    tb[:, 1:] = x[:, :-1]
    tb = tb.masked_fill(mask == 0, -100)
    ref_b = F.cross_entropy((b @ W.t() + c).reshape(-1, V), tb.reshape(-1), reduction="sum", ignore_index=-100)
    torch.testing.assert_close(out.loss_sums["lm_fwd"].detach(), ref_f, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.loss_sums["lm_bwd"].detach(), ref_b, rtol=1e-5, atol=1e-5)
    counts = {k: int(v) for k, v in out.counts.items()}
    assert counts == {"lm_fwd": int((labels != -100).sum()), "lm_bwd": int((tb != -100).sum())} == {"lm_fwd": 16,
                                                                                                      "lm_bwd": 14}
    assert model.loss_counts({"input_ids": x, "labels": labels, "attention_mask": mask}) == counts
    assert model.loss_counts({"input_ids": x, "labels": labels}) == {"lm_fwd": 16, "lm_bwd": 18}
    torch.testing.assert_close(out.loss.detach(), ref_f / 16 + ref_b / 14, rtol=1e-5, atol=1e-5)


def test_gradients_equal_full_logit_reference():
    """The blockwise softmax's gradients equal autograd's through the full logits."""
    x = ids(B=2, T=6)
    labels = x.roll(-1, 1)
    grads = []
    for full in (False, True):
        model = tiny().train()
        out = model(x, labels=labels)
        if full:
            E, W, c = model.config.embed_size, model.embed.weight, model.lm_bias
            f, b = halves(out.last_hidden_state, E)
            tb = torch.cat([torch.full_like(x[:, :1], -100), x[:, :-1]], 1)
            loss = (F.cross_entropy((f @ W.t() + c).reshape(-1, V), labels.reshape(-1), reduction="sum") / 12
                    + F.cross_entropy((b @ W.t() + c).reshape(-1, V), tb.reshape(-1), reduction="sum") / 10)
        else:
            loss = out.loss
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-4, atol=1e-6, msg=n)


# --------------------------------------------------------------------------- training


def test_tiny_bilm_overfits_one_batch():
    model = tiny(embed_size=32, hidden_size=32).train()
    x = ids(B=4, T=12)
    labels = x.roll(-1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    first = None
    for _ in range(100):
        out = model(x, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = first if first is not None else {k: float(out.loss_sums[k].detach() / out.counts[k]) for k in out.loss_sums}
    last = {k: float(out.loss_sums[k].detach() / out.counts[k]) for k in out.loss_sums}
    assert first["lm_fwd"] > 3.0 and first["lm_bwd"] > 3.0          # about ln 40 = 3.7 at the start
    assert last["lm_fwd"] < 0.1 and last["lm_bwd"] < 0.1, (first, last)
    assert int(out.correct["lm_fwd"]) == int(out.counts["lm_fwd"])


# --------------------------------------------------------------------------- features


def test_scalar_mix_with_one_hot_weights_reads_that_layer():
    model = tiny()
    x = ids(B=2, T=5)
    mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2])
    batch = {"input_ids": x, "attention_mask": mask}
    with torch.no_grad():
        states = model(x, attention_mask=mask, output_hidden_states=True).hidden_states
    assert [tuple(h.shape) for h in states] == [(2, 5, 32)] * 3
    for j in range(3):
        w = [0.0] * 3
        w[j] = 1.0
        mix = ScalarMix.from_weights(w)
        torch.testing.assert_close(combine_layers(states, "scalar_mix", mix), states[j], atol=0, rtol=0)
        got = extract(model, batch, layers="scalar_mix", mix=mix, pooling="none")
        want = extract(model, batch, layers=[j], pooling="none")
        assert [a.shape for a in got] == [(5, 32), (3, 32)]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(want[1], states[j][1, :3].numpy())
    even = extract(model, batch, layers="scalar_mix", mix=ScalarMix(3), pooling="mean")
    ref = sum(s for s in states) / 3
    np.testing.assert_allclose(even[1], ref[1, :3].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    assert extract(model, {"input_ids": x[:0]}, layers="all").shape == (0, 3, 32)


# --------------------------------------------------------------------------- files


def test_save_load_round_trip(tmp_path):
    model = tiny(dropout=0.25)
    with torch.no_grad():
        model.lm_bias.normal_()
    save_elmo(model, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model_type"] == "fastembed-elmo" and cfg["hidden_size"] == 24
    back = load_elmo(tmp_path / "m")
    assert back.config == model.config
    sd, back_sd = model.state_dict(), back.state_dict()
    assert sorted(sd) == sorted(back_sd) and all(torch.equal(sd[k], back_sd[k]) for k in sd)
    x = ids()
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(x, labels=x).loss, model(x, labels=x).loss, atol=0, rtol=0)
    assert load_elmo(tmp_path / "m", dropout=0.0).config.dropout == 0.0
    assert read_elmo_config(tmp_path / "m") == model.config


def test_load_refuses_other_directories(tmp_path):
    save_elmo(tiny(), tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_elmo(tmp_path / "nothing")
    bad = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**bad, "model_type": "bert"}))
    with pytest.raises(ValueError, match="model_type 'bert', not 'fastembed-elmo'"):
        load_elmo(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**bad, "vocab_size": 10**9}))
    with pytest.raises(ValueError, match="embed.weight has shape"):
        load_elmo(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**bad, "num_layers": 3}))
    with pytest.raises(ValueError, match="no weights for"):
        load_elmo(tmp_path / "m")
    with pytest.raises(TypeError, match="fastembed ELMo"):
        save_elmo(torch.nn.Linear(2, 2), tmp_path / "x")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("field, value, match", [
    ("embed_size", 0, "embed_size must be a positive int"),
    ("num_layers", 1.5, "num_layers must be a positive int"),
    ("vocab_size", True, "vocab_size must be a positive int"),
    ("dropout", 1.0, r"dropout must be a number in \[0, 1\)"),
    ("initializer_range", -0.1, "initializer_range must be a positive number"),
])
def test_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        ELMoConfig(**{field: value})


def test_config_presets_and_unknown_fields():
    assert (ELMoConfig.preset("mini").embed_size, ELMoConfig.preset("mini").hidden_size) == (256, 512)
    assert ELMoConfig.preset("tiny", vocab_size=7).vocab_size == 7
    with pytest.raises(ValueError, match="unknown ELMoConfig preset 'base'"):
        ELMoConfig.preset("base")
    with pytest.raises(ValueError, match=r"no field\(s\) \['num_heads'\]"):
        ELMoConfig.from_dict({"num_heads": 2})


def test_bad_inputs_say_what_is_expected():
    model = tiny()
    x = ids(B=2, T=4)
    with pytest.raises(ValueError, match="padded on the right"):
        model(x, attention_mask=torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]]))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 3\)"):
        model(x, attention_mask=torch.ones(2, 3))
    with pytest.raises(ValueError, match="no segment embeddings"):
        model(x, token_type_ids=torch.ones_like(x))
    model(x, token_type_ids=torch.zeros_like(x))
    with pytest.raises(ValueError, match=r"labels has shape \(2, 3\)"):
        model(x, labels=x[:, :3])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(x + V)
    with pytest.raises(ValueError, match="exceeds the model's max_position 64"):
        model(ids(B=1, T=65))


def test_memory_estimate_counts_the_parameters():
    from fastembed.training import _budget

    for hidden in (16, 24):
        model = tiny(hidden_size=hidden, num_layers=3)
        assert _budget.parameter_count("elmo", model.config) == sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- pretrain elmo


def test_pretrain_elmo_end_to_end(tmp_path):
    """``fastembed pretrain elmo`` on a tiny corpus: metrics with both LMs' losses, a directory
    that load_elmo reads, whose tokenizer and layers extract uses; init_from is refused with a
    reason. (Exact resume: tests/training/test_pretrain.py, test_resume_continues_bit_for_bit.)"""
    from fastembed.cli import main
    from fastembed.tokenizers import BPETokenizer
    from fastembed.training.metrics import read_metrics
    from fastembed.training.pretrain import load_tokenizer, pretrain

    from ..training.test_pretrain import write_corpus

    corpus = write_corpus(tmp_path / "corpus.txt")
    bpe = tmp_path / "bpe.json"
    BPETokenizer.train(files=[corpus], vocab_size=300, special_tokens=["<|endoftext|>"], progress=False).save(bpe)

    def run(out, steps, *extra):
        return main(["pretrain", "elmo", "--input", str(corpus), "--tokenizer", str(bpe), "--steps", str(steps),
                     "--out", str(out), "--config", "tiny", "--batch-size", "8", "--max-length", "32",
                     "--log-every", "1", "--dev-fraction", "0.1", "--eval-batches", "2", "--set", "embed_size=32",
                     "--set", "hidden_size=48", *extra])

    assert run(tmp_path / "run", 4) == 0
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in rows] == [(1, "train"), (2, "train"), (3, "train"), (4, "train"),
                                                        (4, "dev")]
    assert all(3.0 < r["lm_fwd_loss"] < 7.0 and 3.0 < r["lm_bwd_loss"] < 7.0 for r in rows)   # ln 300 = 5.7
    assert rows[3]["loss"] < rows[0]["loss"]
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_json["kind"] == "elmo" and run_json["args"]["lr"] == 1e-3 and run_json["args"]["schedule"] == "cosine"

    model_dir = tmp_path / "run" / "model"
    model = load_elmo(model_dir)
    assert (model.config.embed_size, model.config.hidden_size, model.config.vocab_size) == (32, 48, 300)
    tok = load_tokenizer(model_dir)
    texts = ["the cat sat on the mat .", "a dog ran ."]
    feats = extract(model, texts, tokenizer=tok, layers="scalar_mix", mix=ScalarMix(3), pooling="mean")
    assert feats.shape == (2, 64) and np.isfinite(feats).all()
    last = extract(model, texts, tokenizer=tok, layers="last", pooling="none")
    one_hot = extract(model, texts, tokenizer=tok, layers="scalar_mix", mix=ScalarMix.from_weights([0, 0, 1]),
                      pooling="none")
    for a, b in zip(last, one_hot):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(ValueError, match="an ELMo run starts from random weights"):
        pretrain("elmo", corpus=corpus, out_dir=tmp_path / "x", steps=1, init_from=model_dir)


def test_bf16_autocast_stays_close_to_float32():
    """pretrain --bf16 runs the model under CPU autocast: the losses stay within bf16's error of
    the float32 ones (a few parts in a thousand) and the gradients are finite."""
    model = tiny()
    x = ids(B=2, T=8)
    ref = {k: v.detach() for k, v in model(x, labels=x.roll(-1, 1)).loss_sums.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, labels=x.roll(-1, 1))
    out.loss.backward()
    for k in ("lm_fwd", "lm_bwd"):
        assert abs(float(out.loss_sums[k].detach()) - float(ref[k])) <= 2e-2 * abs(float(ref[k])), k
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_model_config_reads_presets_and_an_elmo_config_json(tmp_path):
    from fastembed.training.pretrain import model_config

    cfg = model_config("elmo", "mini", vocab_size=300, seq_len=1024, overrides={"dropout": 0})
    assert (cfg.embed_size, cfg.hidden_size, cfg.vocab_size, cfg.max_position, cfg.dropout) == (256, 512, 300, 1024,
                                                                                              0.0)
    save_elmo(tiny(), tmp_path / "m")
    cfg = model_config("elmo", tmp_path / "m" / "config.json", vocab_size=300, seq_len=32)
    assert (cfg.embed_size, cfg.hidden_size, cfg.vocab_size) == (16, 24, 300)
    bert = tmp_path / "bert.json"
    bert.write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(ValueError, match="elmo needs 'fastembed-elmo'"):
        model_config("elmo", bert, vocab_size=300, seq_len=32)
    with pytest.raises(ValueError, match="neither a preset"):
        model_config("elmo", "base", vocab_size=300, seq_len=32)
