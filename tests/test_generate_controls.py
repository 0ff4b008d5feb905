"""Generation controls: repetition_penalty and no_repeat_ngram_size give transformers' greedy
tokens; log-probabilities match transformers' output_scores and a slow full-recompute reference;
stop strings end a row (across tokens, inside a token, mid-character) and generate_text cuts at
them; the renamed arguments still work with a DeprecationWarning; bad values are refused."""

from __future__ import annotations

import types
import warnings

import pytest

torch = pytest.importorskip("torch")

from fastembed.generate import Generation, filter_logits, generate, generate_text  # noqa: E402
from fastembed.models.hf import gpt_config_to_hf, gpt_state_to_hf  # noqa: E402
from tests.test_generate import NEW, V, tiny_gpt  # noqa: E402

CONTROLS = [dict(repetition_penalty=1.5), dict(repetition_penalty=0.7), dict(no_repeat_ngram_size=1),
            dict(no_repeat_ngram_size=2), dict(repetition_penalty=1.3, no_repeat_ngram_size=2)]


@pytest.fixture(scope="module")
def model():
    return tiny_gpt()


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, V, (n,), generator=g).tolist() for n in (3, 11, 7, 1)]


@pytest.fixture(scope="module")
def echoes(model, prompts) -> list[list[int]]:
    """Each prompt followed by its own greedy continuation: a row the model wants to repeat, so
    that n-grams and ids of the prompt itself come up again."""
    return [p + r for p, r in zip(prompts, generate(model, prompts, max_new_tokens=NEW))]


@pytest.fixture(scope="module")
def hf(model):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    m = transformers.GPT2LMHeadModel(transformers.GPT2Config(**gpt_config_to_hf(model.config)))
    m.load_state_dict(gpt_state_to_hf(model), strict=False)
    m.tie_weights()
    return m.eval()


def hf_greedy(hf, prompts, pad: int, **kw):
    """transformers' greedy tokens and processed scores for a left-padded batch: (B, NEW) ids and
    NEW tensors (B, V)."""
    T = max(len(p) for p in prompts)
    x = torch.tensor([[pad] * (T - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (T - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        y = hf.generate(x, attention_mask=mask, max_new_tokens=NEW, do_sample=False, pad_token_id=pad,
                        output_scores=True, return_dict_in_generate=True, **kw)
    return y.sequences[:, T:].tolist(), y.scores


# --------------------------------------------------------------------------- against transformers


@pytest.mark.parametrize("kw", CONTROLS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_greedy_with_controls_equals_transformers(model, prompts, echoes, hf, kw):
    plain = generate(model, prompts, max_new_tokens=NEW)
    ours = generate(model, prompts, max_new_tokens=NEW, **kw)
    assert ours != plain                                           # the control changed something
    for p, row in zip(prompts, ours):                              # batch 1: no padding
        assert hf_greedy(hf, [p], pad=0, **kw)[0] == [row]
        assert generate(model, p, max_new_tokens=NEW, **kw) == [row]
    # A left-padded batch. transformers' n-gram bans also count the pad id of a padded row (its
    # repetition penalty skips the padding; ours skips it for both): a pad id that our rows never
    # produce cannot make a difference.
    pad = min(set(range(V)) - {t for row in ours for t in row})
    assert hf_greedy(hf, prompts, pad=pad, **kw)[0] == ours
    ours = generate(model, echoes, max_new_tokens=NEW, **kw)
    pad = min(set(range(V)) - {t for row in ours for t in row})
    assert hf_greedy(hf, echoes, pad=pad, **kw)[0] == ours


def test_no_repeat_ngram_leaves_no_repeated_ngram(model, prompts, echoes):
    for n in (1, 2, 3):
        for p, row in zip(prompts + echoes, generate(model, prompts + echoes, max_new_tokens=NEW,
                                                     no_repeat_ngram_size=n)):
            seq = p + row
            grams = [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]
            new = grams[max(0, len(p) - n + 1):]                   # the n-grams that end in a new token
            assert all(grams.count(g) == 1 for g in new), (n, seq)


def test_logprobs_are_log_softmax_of_transformers_scores(model, prompts, hf):
    kw = dict(repetition_penalty=1.3, no_repeat_ngram_size=2)
    got = generate(model, prompts, max_new_tokens=NEW, return_logprobs=True, **kw)
    assert isinstance(got, Generation) and got.ids == generate(model, prompts, max_new_tokens=NEW, **kw)
    pad = min(set(range(V)) - {t for row in got.ids for t in row})
    ids, scores = hf_greedy(hf, prompts, pad=pad, **kw)
    assert ids == got.ids
    ref = torch.stack([torch.log_softmax(s, -1) for s in scores], 1)           # (B, NEW, V)
    expected = ref.gather(2, torch.tensor(ids)[..., None])[..., 0]
    torch.testing.assert_close(torch.tensor(got.logprobs), expected, atol=1e-5, rtol=1e-5)
    assert all(len(lp) == len(r) for lp, r in zip(got.logprobs, got.ids))


# --------------------------------------------------------------------------- a slow reference


def reference_scores(model, seq: list[int], *, repetition_penalty=1.0, no_repeat_ngram_size=0, do_sample=False,
                     temperature=1.0, top_k=0, top_p=1.0):
    """The (V,) scores the next token of ``seq`` is picked from: a full forward on the whole row,
    then the controls written out per id."""
    with torch.no_grad():
        logits = model(torch.tensor([seq])).logits[0, -1].float().clone()
    for t in set(seq):
        logits[t] = logits[t] * repetition_penalty if logits[t] < 0 else logits[t] / repetition_penalty
    n = no_repeat_ngram_size
    if n:
        for i in range(len(seq) - n + 1):
            if seq[i:i + n - 1] == seq[len(seq) - n + 1:]:
                logits[seq[i + n - 1]] = float("-inf")
    if do_sample:
        logits = filter_logits(logits / temperature, top_k=top_k, top_p=top_p)
    return logits


@pytest.mark.parametrize("use_cache", [True, False])
def test_sampled_logprobs_equal_a_full_recompute(model, prompts, use_cache):
    kw = dict(repetition_penalty=1.2, no_repeat_ngram_size=2, do_sample=True, temperature=0.8, top_k=50, top_p=0.9)
    got = generate(model, prompts, max_new_tokens=8, return_logprobs=True, seed=5, use_cache=use_cache, **kw)
    assert got.ids == generate(model, prompts, max_new_tokens=8, seed=5, **kw)
    for p, row, lps in zip(prompts, got.ids, got.logprobs):
        for k, (t, lp) in enumerate(zip(row, lps)):
            expected = torch.log_softmax(reference_scores(model, p + row[:k], **kw), -1)[t].item()
            assert lp == pytest.approx(expected, abs=1e-5) and lp > float("-inf")


# --------------------------------------------------------------------------- stop strings


class Scripted(torch.nn.Module):
    """A stand-in for a GPT that emits a fixed continuation per row (scripts[b][k] at step k), so
    that a test knows exactly which tokens and text come out."""

    def __init__(self, vocab_size: int, scripts: list[list[int]], prompt_lengths: list[int]) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(vocab_size=vocab_size, max_position=1024)
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.scripts, self.prompt_lengths = scripts, prompt_lengths

    def forward(self, input_ids, attention_mask, past_key_values=None, use_cache=False, logits_to_keep=1):
        logits = torch.zeros(input_ids.shape[0], 1, self.config.vocab_size)
        for b, n in enumerate(attention_mask.sum(1).tolist()):
            step = n - self.prompt_lengths[b]                       # tokens this row has produced
            if step < len(self.scripts[b]):
                logits[b, 0, self.scripts[b][step]] = 1.0
        return types.SimpleNamespace(logits=logits, extras={"past_key_values": ()})


@pytest.fixture(scope="module")
def tok():
    from fastembed.tokenizers import BPETokenizer

    text = ["stop the opera", "operas stop", "a naïve café", "over the lazy dog"] * 20
    return BPETokenizer.train(text, vocab_size=256 + 30 + 1, special_tokens=["<|endoftext|>"], progress=False)


def scripted(tok, texts: list[str], prompt: list[int]):
    scripts = [tok.encode(t).tolist() for t in texts]
    return Scripted(tok.vocab_size, scripts, [len(prompt)] * len(texts)), scripts


def ids_until(tok, ids: list[int], stops: list[str]) -> list[int]:
    """The reference: the shortest prefix of ``ids`` whose text holds a stop string."""
    for k in range(1, len(ids) + 1):
        if any(s in tok.decode(ids[:k]) for s in stops):
            return ids[:k]
    return ids


def test_stop_strings_end_each_row_where_the_text_first_holds_one(tok):
    texts = ["xx stopover and more", "the opera then stop it", "a naïve café, then more", "nothing here at all",
             "over the café now"]
    stops = ["pover", "ï", "era t", "af"]
    prompt = tok.encode("go").tolist()
    model, scripts = scripted(tok, texts, prompt)
    longest = max(len(s) for s in scripts)                        # the row without a stop string
    out = generate(model, [prompt] * len(texts), max_new_tokens=longest, stop_strings=stops, tokenizer=tok)
    assert out == [ids_until(tok, s, stops) for s in scripts]
    assert [len(r) < len(s) for r, s in zip(out, scripts)] == [True, True, True, False, True]
    alone = [[tok.decode([t]) for t in r] for r in out]
    # the cases it covers: "pover" across " stop" + "over"; "ï" in two byte-level tokens, neither
    # a character alone (and the second ends no other stop string); "af" inside one token, which
    # runs past it on both sides
    assert not any("pover" in a for a in alone[0])
    assert not any("ï" in a for a in alone[2]) and "ï" in tok.decode(out[2])
    assert "af" in alone[4][-1]
    assert len(scripts[3]) == longest
    plain = generate(model, [prompt] * len(texts), max_new_tokens=longest)
    assert [r[:len(s)] for r, s in zip(plain, scripts)] == scripts  # nothing ends without them


def test_stop_strings_merge_with_eos_and_the_text_is_cut_before_them(tok):
    texts = ["one then stop here", "two <|endoftext|> stop", "three four five six seven eight"]
    eot = tok.special_tokens["<|endoftext|>"]
    scripts = [tok.encode(t, allowed_special="all").tolist() for t in texts]
    prompt = "go"
    model = Scripted(tok.vocab_size, scripts, [len(tok.encode(prompt))] * 3)
    new = len(scripts[2])                                          # the longest, with no stop string
    out = generate_text(model, tok, [prompt] * 3, max_new_tokens=new, stop_strings=["stop"])
    assert out == ["one then ", "two ", texts[2]]                   # cut before it; the end token is not decoded
    ids = generate(model, [tok.encode(prompt).tolist()] * 3, max_new_tokens=new, stop_strings="stop",
                   eos_token_id=eot, tokenizer=tok)
    assert tok.decode(ids[0]).endswith("stop") and ids[1][-1] == eot and ids[2] == scripts[2]
    assert generate_text(model, tok, prompt, max_new_tokens=new, stop_strings="then") == "one "


def test_stop_strings_on_a_gpt_equal_the_reference(tok):
    model = tiny_gpt(tok.vocab_size)
    prompts = [tok.encode(t).tolist() for t in ("stop the", "a naïve", "over")]
    full = generate(model, prompts, max_new_tokens=NEW)
    text = tok.decode(full[0])
    stops = [text[5:7], text[11:12]]
    assert all(stops)
    assert generate(model, prompts, max_new_tokens=NEW, stop_strings=stops, tokenizer=tok) == [
        ids_until(tok, r, stops) for r in full]
    got = generate_text(model, tok, ["stop the", "a naïve", "over"], max_new_tokens=NEW, eos_token_id=(),
                        stop_strings=stops)
    for r, t in zip(full, got):
        whole = tok.decode(r)
        cut = min([whole.find(s) for s in stops if s in whole], default=len(whole))
        assert t == whole[:cut]


# --------------------------------------------------------------------------- renamed arguments, errors


def test_old_names_still_work_with_a_deprecation_warning(model, prompts):
    s = generate(model, prompts, max_new_tokens=5)[0][2]
    new = generate(model, prompts, max_new_tokens=NEW, eos_token_id=[s], pad_token_id=7)
    with pytest.warns(DeprecationWarning, match=r"generate\(stop_tokens=\.\.\.\) is deprecated.*eos_token_id"):
        assert generate(model, prompts, max_new_tokens=NEW, stop_tokens=[s], pad_token_id=7) == new
    with pytest.warns(DeprecationWarning, match=r"generate\(pad_id=\.\.\.\) is deprecated.*pad_token_id"):
        assert generate(model, prompts, max_new_tokens=NEW, eos_token_id=[s], pad_id=7) == new
    with pytest.raises(TypeError, match="both stop_tokens= and eos_token_id="):
        generate(model, prompts, max_new_tokens=NEW, stop_tokens=[s], eos_token_id=[s])
    with pytest.raises(TypeError, match="both pad_id= and pad_token_id="):
        generate(model, prompts, max_new_tokens=NEW, pad_id=1, pad_token_id=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # the new names: no warning
        generate(model, prompts, max_new_tokens=2, eos_token_id=s, pad_token_id=7)


def test_generate_text_old_name_still_works(tok):
    model = tiny_gpt(tok.vocab_size)
    new = generate_text(model, tok, "over", max_new_tokens=6, eos_token_id=())
    with pytest.warns(DeprecationWarning, match=r"generate_text\(stop_tokens=\.\.\.\)"):
        assert generate_text(model, tok, "over", max_new_tokens=6, stop_tokens=()) == new


@pytest.mark.parametrize("kw, match", [
    (dict(repetition_penalty=0.0), "repetition_penalty must be a finite number > 0"),
    (dict(repetition_penalty=-1.2), "repetition_penalty must be a finite number > 0"),
    (dict(repetition_penalty=float("nan")), "repetition_penalty must be a finite number > 0"),
    (dict(repetition_penalty="1.2"), "repetition_penalty must be a finite number > 0"),
    (dict(no_repeat_ngram_size=-1), r"no_repeat_ngram_size must be an int >= 0"),
    (dict(no_repeat_ngram_size=2.0), r"no_repeat_ngram_size must be an int >= 0"),
    (dict(stop_strings=["x"]), "stop_strings needs the tokenizer"),
    (dict(stop_strings="x"), "stop_strings needs the tokenizer"),
    (dict(stop_strings=[""], tokenizer=object()), "stop_strings must be a non-empty string"),
    (dict(stop_strings=[], tokenizer=object()), "stop_strings must be a non-empty string"),
    (dict(stop_strings=[1], tokenizer=object()), "stop_strings must be a non-empty string"),
    (dict(eos_token_id=V), f"eos_token_id {V} is not a token id"),
    (dict(pad_token_id=-1), "pad_token_id -1 is not a token id"),
])
def test_bad_controls_are_refused(model, kw, match):
    with pytest.raises(ValueError, match=match):
        generate(model, [[1, 2]], max_new_tokens=3, **kw)


def test_generate_text_refuses_logprobs(tok):
    with pytest.raises(ValueError, match=r"generate\(\.\.\., return_logprobs=True\)"):
        generate_text(tiny_gpt(tok.vocab_size), tok, "over", max_new_tokens=3, return_logprobs=True)
