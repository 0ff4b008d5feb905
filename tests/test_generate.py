"""Text generation: the KV cache, left padding and transformers' greedy decoding agree token for
token; stop tokens, sampling filters, seeds, streaming callbacks, errors, model directories and
``fastembed generate``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from fastembed.generate import (filter_logits, few_shot_prompt, generate, generate_text,  # noqa: E402
                                load_generator, pick_next)
from fastembed.models import GPT, GPTConfig  # noqa: E402
from fastembed.models.hf import gpt_config_to_hf, gpt_state_to_hf, save_gpt2  # noqa: E402

V, MAX_POSITION, NEW = 500, 64, 20


def tiny_gpt(vocab_size: int = V, **kw) -> GPT:
    # initializer_range 0.2 (10x GPT-2's) spreads a random model's logits: greedy choices are then
    # no near ties that rounding could flip, and the outputs are not one token repeated.
    torch.manual_seed(0)
    cfg = dict(vocab_size=vocab_size, max_position=MAX_POSITION, initializer_range=0.2)
    return GPT(GPTConfig.preset("tiny", **{**cfg, **kw})).eval()


@pytest.fixture(scope="module")
def model() -> GPT:
    return tiny_gpt()


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, V, (n,), generator=g).tolist() for n in (3, 11, 7, 1)]


@pytest.fixture(scope="module")
def greedy(model, prompts) -> list[list[int]]:
    return generate(model, prompts, max_new_tokens=NEW)


# --------------------------------------------------------------------------- greedy decoding


def test_greedy_with_kv_cache_equals_full_recompute(model, prompts, greedy):
    assert all(len(r) == NEW for r in greedy)
    assert all(len(set(r)) > 3 for r in greedy)                    # not a trivial repetition
    assert generate(model, prompts, max_new_tokens=NEW, use_cache=False) == greedy


def test_batch_with_left_padding_equals_each_prompt_alone(model, prompts, greedy):
    assert [generate(model, p, max_new_tokens=NEW)[0] for p in prompts] == greedy
    assert generate(model, torch.tensor(prompts[1]), max_new_tokens=NEW) == [greedy[1]]   # (T,) tensor
    two = torch.tensor([prompts[2], prompts[2]])                   # (B, T) tensor
    assert generate(model, two, max_new_tokens=NEW) == [greedy[2], greedy[2]]


def test_greedy_equals_transformers_generate(model, prompts, greedy):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**gpt_config_to_hf(model.config)))
    missing, unexpected = hf.load_state_dict(gpt_state_to_hf(model), strict=False)
    assert missing == ["lm_head.weight"] and not unexpected       # tied to wte, re-tied below
    hf.tie_weights()
    hf.eval()
    with torch.no_grad():
        for p, ours in zip(prompts, greedy):
            x = torch.tensor([p])
            y = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=NEW, do_sample=False, pad_token_id=0)
            assert y[0, len(p):].tolist() == ours
        T = max(len(p) for p in prompts)                           # HF's own left-padded batch too
        x = torch.tensor([[0] * (T - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (T - len(p)) + [1] * len(p) for p in prompts])
        y = hf.generate(x, attention_mask=mask, max_new_tokens=NEW, do_sample=False, pad_token_id=0)
    assert y[:, T:].tolist() == greedy


def test_eos_tokens_end_each_row_on_its_own(model, prompts, greedy):
    s = greedy[0][2]
    out = generate(model, prompts, max_new_tokens=NEW, eos_token_id=[s])
    expected = [r[:r.index(s) + 1] if s in r else r for r in greedy]
    assert out == expected and len(out[0]) == 3
    assert any(len(r) == NEW for r in out)                         # the other rows went on unchanged
    firsts = {r[0] for r in greedy}
    assert generate(model, prompts, max_new_tokens=NEW, eos_token_id=sorted(firsts)) == [[r[0]] for r in greedy]


def test_callback_receives_every_token_in_order(model, prompts, greedy):
    s = greedy[0][2]
    calls = []
    out = generate(model, prompts, max_new_tokens=NEW, eos_token_id=s,
                   callback=lambda step, new: calls.append((step, new)))
    assert [step for step, _ in calls] == list(range(len(calls)))
    assert all(len(new) == len(prompts) for _, new in calls)
    for b, row in enumerate(out):
        seen = [new[b] for _, new in calls]
        assert [t for t in seen if t is not None] == row
        assert seen == row + [None] * (len(seen) - len(row))       # nothing more once a row has stopped


def test_generation_restores_the_training_flag(model, prompts):
    model.train()
    try:
        generate(model, prompts[0], max_new_tokens=2)
        assert model.training
    finally:
        model.eval()


# --------------------------------------------------------------------------- sampling


def test_top_k_1_sampling_equals_greedy(model, prompts, greedy):
    assert generate(model, prompts, max_new_tokens=NEW, do_sample=True, top_k=1, temperature=0.7, seed=3) == greedy


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.125, 0.5, 0.125, 0.25],               # sorted: 1, 3, then 0 and 2 tied
                          [0.25, 0.25, 0.25, 0.25]])
    logits = probs.log()

    def kept(**kw):
        return [[i for i, ok in enumerate(row) if ok] for row in filter_logits(logits, **kw).isfinite().tolist()]

    assert kept(top_p=0.5) == [[1], [0, 1]]                        # 0.5 reaches 0.5
    assert kept(top_p=0.75) == [[1, 3], [0, 1, 2]]
    assert kept(top_p=0.76) == [[0, 1, 3], [0, 1, 2, 3]]           # a tie is broken by vocabulary order
    assert kept(top_p=0.01) == [[1], [0]]                          # at least one token
    assert kept(top_p=1.0) == [[0, 1, 2, 3]] * 2
    assert kept(top_k=2) == [[1, 3], [0, 1, 2, 3]]                 # ties at the k-th logit all stay
    assert kept(top_p=0.6) == [[1, 3], [0, 1, 2]]
    assert kept(top_k=2, top_p=0.6) == [[1], [0, 1, 2]]            # the top-2 renormalised: 2/3 reaches 0.6
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([pick_next(logits[:1], do_sample=True, top_p=0.75, generator=g) for _ in range(600)])
    counts = torch.bincount(draws.flatten(), minlength=4).tolist()
    assert counts[0] == counts[2] == 0 and 330 < counts[1] < 470   # 2:1 between tokens 1 and 3


def test_seeded_sampling_is_reproducible_and_leaves_the_global_rng_alone(model, prompts):
    kw = dict(max_new_tokens=NEW, do_sample=True, temperature=1.5, top_p=0.95)
    state = torch.get_rng_state()
    a = generate(model, prompts, seed=123, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    assert generate(model, prompts, seed=123, **kw) == a
    assert generate(model, prompts, seed=torch.Generator().manual_seed(123), **kw) == a
    assert generate(model, prompts, seed=124, **kw) != a


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad, kw, match", [
    ([[1, 2]] * 2 + [[3] * 50], dict(max_new_tokens=20), r"longest prompt \(50 tokens\) \+ max_new_tokens \(20\).*64"),
    ([], {}, "no prompts"),
    ([[1, 2], []], {}, "prompt 1 is empty"),
    (torch.zeros(0, dtype=torch.long), {}, "prompt 0 is empty"),
    ([[1, V]], {}, f"token id {V}, outside"),
    ([[1]], dict(max_new_tokens=0), "max_new_tokens must be a positive int"),
    ([[1]], dict(temperature=0.0), "temperature must be > 0"),
    ([[1]], dict(temperature=-1.0), "temperature must be > 0"),
    ([[1]], dict(top_k=-1), "top_k must be an int >= 0"),
    ([[1]], dict(top_p=0.0), r"top_p must be in \(0, 1\]"),
    ([[1]], dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
    ([[1]], dict(eos_token_id=[-1]), "eos_token_id -1 is not a token id"),
    ([[1]], dict(pad_token_id=V), f"pad_token_id {V} is not a token id"),
    ([[1]], dict(do_sample=True, seed="x"), "seed must be an int or a torch.Generator"),
])
def test_bad_input_is_refused(model, bad, kw, match):
    with pytest.raises(ValueError, match=match):
        generate(model, bad, **{"max_new_tokens": 5, **kw})


# --------------------------------------------------------------------------- text, prompts, directories


def test_few_shot_prompt_template():
    p = few_shot_prompt("", [("a", "1"), ("b", "2")], "c", template="Q: {x}\nA: {y}", sep="\n\n")
    assert p == "Q: a\nA: 1\n\nQ: b\nA: 2\n\nQ: c\nA:"
    for bad in ("{x} only", "{y} before {x}", "{x} {y} {y}"):
        with pytest.raises(ValueError, match="template must hold"):
            few_shot_prompt(None, [], "c", template=bad)
    with pytest.raises(ValueError, match="example 0 must be an"):
        few_shot_prompt(None, [("a",)], "c")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny model directory as `fastembed pretrain gpt` writes it: HF GPT-2 files + bpe.json."""
    from fastembed.tokenizers import BPETokenizer

    text = ["the quick brown fox jumps over the lazy dog", "a naïve café in 東京", "lower lowest newer newest"] * 20
    tok = BPETokenizer.train(text, vocab_size=256 + 40 + 1, special_tokens=["<|endoftext|>"], progress=False)
    d = tmp_path_factory.mktemp("gpt") / "model"
    save_gpt2(tiny_gpt(tok.n_vocab), d, eos_token_id=tok.special_tokens["<|endoftext|>"])
    tok.save(d / "bpe.json")
    return d


def test_generate_text_on_a_model_directory(model_dir):
    model, tok = load_generator(model_dir)
    assert not model.training
    eot = tok.special_tokens["<|endoftext|>"]
    text = generate_text(model, tok, "the quick", max_new_tokens=8)
    ids = generate(model, [tok.encode("the quick")], max_new_tokens=8, eos_token_id=[eot])
    assert isinstance(text, str) and text == tok.decode([t for t in ids[0] if t != eot])
    texts = generate_text(model, tok, ["the quick", "a naïve café"], max_new_tokens=8)
    assert isinstance(texts, list) and texts[0] == text
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        generate_text(model, tok, "", max_new_tokens=8)


def test_load_generator_needs_a_tokenizer(model_dir, tmp_path):
    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dir / name, tmp_path / name)
    with pytest.raises(FileNotFoundError, match="holds no tokenizer: expected tokenizer.json"):
        load_generator(tmp_path)


@pytest.mark.data
@pytest.mark.parametrize("names", [("encoder.json", "vocab.bpe"), ("hf/vocab.json", "hf/merges.txt")])
def test_load_generator_reads_gpt2_tokenizer_files(shared_data, tmp_path, names):
    src = shared_data / "tokenizers" / "gpt2"
    for n in names:
        shutil.copy(src / n, tmp_path / n.split("/")[-1])
    save_gpt2(tiny_gpt(50257, num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64), tmp_path,
              eos_token_id=50256)
    model, tok = load_generator(tmp_path)
    assert tok.encode("Hello world").tolist() == [15496, 995] and tok.special_tokens == {"<|endoftext|>": 50256}
    assert len(generate_text(model, tok, "Hello", max_new_tokens=3, do_sample=True, seed=0)) > 0


# --------------------------------------------------------------------------- fastembed generate


def run_cli(capsys, *argv: str) -> str:
    from fastembed.cli.generate import add_parser

    parser = argparse.ArgumentParser(prog="fastembed")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", *argv])
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_cli_generates_greedy_sampled_and_streamed(model_dir, capsys):
    model, tok = load_generator(model_dir)
    expected = generate_text(model, tok, ["the quick", "lower"], max_new_tokens=6)
    out = run_cli(capsys, "--model", str(model_dir), "--prompt", "the quick", "--prompt", "lower", "--greedy",
                  "--max-new-tokens", "6")
    assert out == f"the quick{expected[0]}\n{'-' * 15}\nlower{expected[1]}\n"
    assert run_cli(capsys, "--model", str(model_dir), "--prompt", "the quick", "--prompt", "lower", "--greedy",
                   "--max-new-tokens", "6", "--stream") == out
    sampled = [run_cli(capsys, "--model", str(model_dir), "--prompt", "the", "--seed", "7", "--temperature", "1.5",
                       "--top-p", "0.9", "--max-new-tokens", "6") for _ in range(2)]
    assert sampled[0] == sampled[1] and sampled[0].startswith("the")


def test_cli_stop_strings_and_controls_streamed_or_not(model_dir, capsys):
    model, tok = load_generator(model_dir)
    cont = generate_text(model, tok, "the quick", max_new_tokens=12)
    stop = cont[4:6]                                   # a text the greedy continuation holds
    assert stop and stop in cont
    base = ["--model", str(model_dir), "--prompt", "the quick", "--greedy", "--max-new-tokens", "12"]
    want = f"the quick{cont[:cont.find(stop)]}\n"
    assert run_cli(capsys, *base, "--stop", stop) == want
    assert run_cli(capsys, *base, "--stop", stop, "--stream") == want
    controls = dict(repetition_penalty=1.5, no_repeat_ngram_size=2)
    expected = generate_text(model, tok, "the quick", max_new_tokens=12, **controls)
    flags = ["--repetition-penalty", "1.5", "--no-repeat-ngram-size", "2"]
    assert run_cli(capsys, *base, *flags) == f"the quick{expected}\n"
    assert run_cli(capsys, *base, *flags, "--stream") == f"the quick{expected}\n"


def test_cli_errors_and_lazy_torch(model_dir, capsys):
    with pytest.raises(ValueError, match=r"\+ max_new_tokens \(999\)"):
        run_cli(capsys, "--model", str(model_dir), "--prompt", "the", "--max-new-tokens", "999")
    code = "import sys, argparse, fastembed.cli.generate as g; g.add_parser(argparse.ArgumentParser()" \
           ".add_subparsers()); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_cli_precision_bf16_and_its_fallback(model_dir, capsys, monkeypatch):
    from fastembed.models import precision as P

    model, tok = load_generator(model_dir, precision="bf16")
    base = ["--model", str(model_dir), "--prompt", "the quick", "--greedy", "--max-new-tokens", "6"]
    if P.cpu_has_bf16():
        expected = generate_text(model, tok, "the quick", max_new_tokens=6)
        assert run_cli(capsys, *base, "--precision", "bf16") == f"the quick{expected}\n"
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)      # a CPU without native bf16
    fp32, _ = load_generator(model_dir)
    with pytest.warns(P.PrecisionFallbackWarning, match="bf16.*float32"):
        got = generate(model, tok.encode("the quick").tolist(), max_new_tokens=6)
    assert got == generate(fp32, tok.encode("the quick").tolist(), max_new_tokens=6)
    with pytest.raises(SystemExit):
        run_cli(capsys, *base, "--precision", "fp16")
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_cli_precision_int8(model_dir, capsys, monkeypatch):
    from fastembed.models import gpt_decode

    model, tok = load_generator(model_dir, precision="int8")
    base = ["--model", str(model_dir), "--prompt", "the quick", "--greedy", "--max-new-tokens", "6"]
    expected = generate_text(model, tok, "the quick", max_new_tokens=6)     # the model's generation_precision
    asked = []
    real = gpt_decode.decode_weights
    monkeypatch.setattr(gpt_decode, "decode_weights", lambda m, p: asked.append(p) or real(m, p))
    assert run_cli(capsys, *base, "--precision", "int8") == f"the quick{expected}\n"
    assert asked == ["int8"]                                     # the decoder ran its int8 weights
