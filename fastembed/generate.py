"""Text generation with a GPT: greedy decoding and sampling, batched, with a KV cache.

A language model gives the distribution of the next token; generation is the loop around it::

    ids = prompt
    repeat max_new_tokens times:
        logits = model(ids)[:, -1]          (B, V): the scores of the token after the last one
        next   = pick(logits)               greedy argmax, or a sample (below)
        ids    = ids + [next]               ... until a stop token ends the row

**Picking.** Greedy takes the argmax. Sampling divides the logits by ``temperature`` (< 1 sharpens,
> 1 flattens), keeps the ``top_k`` most likely tokens, then the nucleus: the smallest set of
tokens whose probabilities add up to at least ``top_p`` (Holtzman et al. 2020, "The Curious Case
of Neural Text Degeneration"), and draws from the softmax of what is left.

**KV cache.** A causal model's keys and values at earlier positions never change, so the first
call runs the whole prompt and keeps them (``past_key_values``), and every later call feeds only
the newest token: one position of work per step instead of the whole sequence again.
``use_cache=False`` recomputes everything each step: slower, the same tokens.

**Batches of prompts of different lengths** are padded on the LEFT, so that every row's next
token is in the last column::

    input_ids          attention_mask
    pad pad  a  b  c   0 0 1 1 1      then one column per step:  x | 1
     d   e   f  g  h   1 1 1 1 1                                 y | 1

The mask hides the pads (as keys) and the positions count real tokens only (see GPT.forward),
so each row computes what it would alone. A row that produces one of ``stop_tokens`` is finished:
its output ends with that token, and until every row is done it keeps feeding ``pad_id`` with
mask 0, which no other row can see.

Text in, text out: :func:`generate_text`; few-shot prompts (the in-context learning of GPT-3,
Brown et al. 2020): :func:`few_shot_prompt`; a model directory: :func:`load_generator`.

Left out on purpose: beam search, repetition penalties, stop *strings*, speculative decoding,
and a preallocated cache (the cache grows by one ``torch.cat`` per step).
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ._optional import require_torch
from .tokenizers.base import Tokenizer

torch = require_torch("fastembed.generate")

__all__ = ["generate", "generate_text", "few_shot_prompt", "load_generator", "filter_logits", "pick_next"]

Prompts = Union["torch.Tensor", Sequence[Sequence[int]], Sequence[int]]
Callback = Callable[[int, list[Optional[int]]], Any]


def generate(model: Any, prompts: Prompts, *, max_new_tokens: int, do_sample: bool = False,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, stop_tokens: Union[int, Sequence[int]] = (),
             pad_id: Optional[int] = None, use_cache: bool = True,
             seed: Union[int, "torch.Generator", None] = None,
             callback: Optional[Callback] = None) -> list[list[int]]:
    """Continue each prompt by up to ``max_new_tokens`` tokens; returns the new ids of each row.

    ``prompts``: a list of prompts (each a list or array of token ids; lengths may differ), a
    single prompt (a flat list of ids or a 1-D tensor) or a (B, T) tensor; the result is always
    a list with one list of ids per prompt, without the prompt.

    Greedy unless ``do_sample``; then ``temperature`` > 0, ``top_k`` (0: no limit) and ``top_p``
    in (0, 1] shape the distribution (:func:`filter_logits`). ``seed``: an int or a
    ``torch.Generator`` to draw from, so that a run can be repeated without touching torch's
    global random state (None: the global state).

    A row ends after emitting one of ``stop_tokens`` (an id or several; kept as the row's last id) or after
    ``max_new_tokens``. ``pad_id`` fills the left padding and finished rows (default: the smallest
    stop token, else 0; it is masked out, so any id works). ``callback(step, new)`` is called
    once per step with one entry per row: the id that row just produced, or None once it has
    finished; stream with it.

    The model runs in eval mode under ``torch.inference_mode()``; its training flag is restored
    afterwards. ValueError for bad arguments, and when the longest prompt + ``max_new_tokens`` is
    longer than the model's ``max_position``.
    """
    rows = _prompt_lists(prompts)
    cfg = model.config
    _check_args(rows, cfg.vocab_size, cfg.max_position, max_new_tokens=max_new_tokens, temperature=temperature,
                top_k=top_k, top_p=top_p)
    stop = {_check_id("stop token", t, cfg.vocab_size) for t in _as_tuple(stop_tokens)}
    pad = (min(stop) if stop else 0) if pad_id is None else _check_id("pad_id", pad_id, cfg.vocab_size)
    device = next(model.parameters()).device
    generator = _generator(seed, device) if do_sample else None

    def pick(logits: torch.Tensor) -> torch.Tensor:
        return pick_next(logits, do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p,
                         generator=generator)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return _decode(model, rows, pick, max_new_tokens=max_new_tokens, stop=stop, pad=pad, device=device,
                           use_cache=use_cache, callback=callback)
    finally:
        model.train(was_training)


def _decode(model: Any, rows: list[list[int]], pick: Callable[[torch.Tensor], torch.Tensor], *,
            max_new_tokens: int, stop: set[int], pad: int, device: torch.device, use_cache: bool,
            callback: Optional[Callback]) -> list[list[int]]:
    """The decoding loop of :func:`generate` (module docstring), on checked arguments."""
    B, T = len(rows), max(len(r) for r in rows)
    ids = torch.full((B, T), pad, dtype=torch.long)                # (B, T) prompts, left-padded
    mask = torch.zeros((B, T), dtype=torch.long)                   # (B, T) 1 = real token
    for b, r in enumerate(rows):
        ids[b, T - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[b, T - len(r):] = 1
    ids, mask = ids.to(device), mask.to(device)
    out: list[list[int]] = [[] for _ in rows]
    done = [False] * B
    past, feed = None, ids                                         # what the next forward call reads
    for step in range(max_new_tokens):
        if use_cache:
            o = model(feed, attention_mask=mask, past_key_values=past, use_cache=True, logits_to_keep=1)
            past = o.extras["past_key_values"]                     # per layer (k, v), each (B, Tseen, H, D)
        else:
            o = model(ids, attention_mask=mask, logits_to_keep=1)  # the whole sequence, every step
        chosen = pick(o.logits[:, -1].float()).tolist()            # (B,) from the last position's (B, V)
        new = [None if d else t for t, d in zip(chosen, done)]
        for b, t in enumerate(new):
            if t is not None:
                out[b].append(t)
                done[b] = t in stop
        if callback is not None:
            callback(step, new)
        if all(done) or step == max_new_tokens - 1:
            break
        feed = torch.tensor([[pad if t is None else t] for t in new], dtype=torch.long, device=device)  # (B, 1)
        alive = torch.tensor([[0 if d else 1] for d in done], dtype=torch.long, device=device)          # (B, 1)
        mask = torch.cat([mask, alive], 1)                         # (B, T + step + 1): cached + the fed one
        if not use_cache:
            ids = torch.cat([ids, feed], 1)
    return out


# --------------------------------------------------------------------------- picking the next token


def pick_next(logits: torch.Tensor, *, do_sample: bool = False, temperature: float = 1.0, top_k: int = 0,
              top_p: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B, V) logits -> (B,) token ids: the argmax, or a draw from the filtered softmax."""
    if not do_sample:
        return logits.argmax(-1)
    probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), -1)
    if generator is not None and generator.device != probs.device:
        probs = probs.to(generator.device)                         # e.g. a CPU generator for a GPU model
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(logits.device)


def filter_logits(logits: torch.Tensor, *, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """(..., V) logits with the tokens outside the top-k and outside the nucleus set to -inf.

    The nucleus is the smallest set of most likely tokens whose probabilities reach ``top_p``;
    it always holds at least the most likely token.

    >>> import torch
    >>> logits = torch.tensor([0.5, 0.25, 0.125, 0.125]).log()
    >>> filter_logits(logits, top_p=0.75).isfinite().tolist()      # 0.5 + 0.25 reaches 0.75
    [True, True, False, False]
    >>> filter_logits(logits, top_p=0.8).isfinite().tolist()       # ... and 0.8 needs one more
    [True, True, True, False]
    >>> filter_logits(logits, top_k=1).isfinite().tolist()
    [True, False, False, False]
    """
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]   # the k-th largest logit of each row
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        probs, order = torch.sort(torch.softmax(logits, -1), dim=-1, descending=True, stable=True)
        before = probs.cumsum(-1) - probs                          # mass of the more likely tokens
        drop_sorted = before >= top_p                              # the set already reached top_p without it
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)   # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _generator(seed: Union[int, torch.Generator, None], device: torch.device) -> Optional[torch.Generator]:
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int or a torch.Generator, got {seed!r}")
    return torch.Generator(device=device).manual_seed(int(seed))


# --------------------------------------------------------------------------- argument checks


def _prompt_lists(prompts: Prompts) -> list[list[int]]:
    """Prompts as lists of Python ints: a (B, T) or (T,) tensor, a list of prompts, or one flat prompt."""
    if isinstance(prompts, torch.Tensor):
        if prompts.dim() not in (1, 2):
            raise ValueError(f"prompt tensor must be (T,) or (B, T), got shape {tuple(prompts.shape)}")
        prompts = (prompts[None] if prompts.dim() == 1 else prompts).tolist()
    elif isinstance(prompts, (str, bytes)):
        raise TypeError("generate takes token ids; use generate_text for text")
    prompts = list(prompts)
    if not prompts:
        raise ValueError("no prompts given")
    if all(isinstance(t, numbers.Integral) for t in prompts):     # one prompt, as a flat list of ids
        prompts = [prompts]
    return [[int(t) for t in p] for p in prompts]


def _check_args(rows: list[list[int]], vocab_size: int, max_position: int, *, max_new_tokens: int,
                temperature: float, top_k: int, top_p: float) -> None:
    if not isinstance(max_new_tokens, numbers.Integral) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r} (for the argmax use greedy decoding: "
                         "do_sample=False)")
    if not isinstance(top_k, numbers.Integral) or isinstance(top_k, bool) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0: no limit), got {top_k!r}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1: no limit), got {top_p!r}")
    for i, r in enumerate(rows):
        if not r:
            raise ValueError(f"prompt {i} is empty; generation needs at least one token to continue "
                             f"(e.g. the end-of-text token)")
        bad = [t for t in r if not 0 <= t < vocab_size]
        if bad:
            raise ValueError(f"prompt {i} holds token id {bad[0]}, outside the model's vocabulary 0..{vocab_size - 1}")
    longest = max(len(r) for r in rows)
    if longest + max_new_tokens > max_position:
        raise ValueError(f"the longest prompt ({longest} tokens) + max_new_tokens ({max_new_tokens}) = "
                         f"{longest + max_new_tokens} tokens, more than the model's max_position {max_position}")


def _as_tuple(ids: Union[int, Sequence[int]]) -> tuple[int, ...]:
    return (ids,) if isinstance(ids, numbers.Integral) else tuple(ids)


def _check_id(what: str, t: Any, vocab_size: int) -> int:
    if not isinstance(t, numbers.Integral) or isinstance(t, bool) or not 0 <= t < vocab_size:
        raise ValueError(f"{what} {t!r} is not a token id of the model's vocabulary 0..{vocab_size - 1}")
    return int(t)


# --------------------------------------------------------------------------- text level


def generate_text(model: Any, tokenizer: Tokenizer, prompts: Union[str, Sequence[str]], *,
                  stop_tokens: Union[int, Sequence[int], None] = None, **kw: Any) -> Union[str, list[str]]:
    """:func:`generate` from text to text: the continuation of each prompt (without the prompt).

    ``stop_tokens`` defaults to the tokenizer's end-of-text token (``eos_token_id``: GPT-2's
    ``<|endoftext|>``) when it has one; a final stop token is not decoded. The other keywords go
    to :func:`generate` (``max_new_tokens`` is required). One string in, one string out; a list
    in, a list out.
    """
    single = isinstance(prompts, str)
    texts = [prompts] if single else list(prompts)
    if stop_tokens is None:
        eos = tokenizer.eos_token_id
        stop_tokens = () if eos is None else (eos,)
    stop = set(_as_tuple(stop_tokens))
    out = generate(model, [ids.tolist() for ids in tokenizer.encode_batch(texts)], stop_tokens=stop_tokens, **kw)
    texts = [tokenizer.decode(ids[:-1] if ids and ids[-1] in stop else ids) for ids in out]
    return texts[0] if single else texts


def few_shot_prompt(instruction: Optional[str], examples: Sequence[tuple[str, str]], query: str, *,
                    template: str = "{x} => {y}", sep: str = "\n") -> str:
    """A few-shot prompt: the instruction, one filled ``template`` line per (x, y) example, and
    the query's line cut where its answer would begin, for the model to complete.

    ``template`` holds ``{x}`` and then ``{y}`` once each. The open line is cut just before
    ``{y}``, less trailing spaces: byte-level BPE glues a space to the word after it (" ella" is
    one token), so a prompt that ends in a space asks for a token the model rarely saw.

    >>> print(few_shot_prompt("Translate English to Spanish.", [("she", "ella"), ("he", "él")], "cat",
    ...                       template="The translation of '{x}' to Spanish is '{y}'."))
    Translate English to Spanish.
    The translation of 'she' to Spanish is 'ella'.
    The translation of 'he' to Spanish is 'él'.
    The translation of 'cat' to Spanish is '
    >>> few_shot_prompt(None, [("sea otter", "loutre de mer")], "cheese")   # GPT-3's figure
    'sea otter => loutre de mer\\ncheese =>'
    """
    head, y, tail = template.partition("{y}")
    if not y or "{y}" in tail or head.count("{x}") != 1 or "{x}" in tail:
        raise ValueError(f"template must hold {{x}} and then {{y}}, once each; got {template!r}")
    lines = [instruction] if instruction else []
    for k, ex in enumerate(examples):
        if not (isinstance(ex, tuple) and len(ex) == 2):
            raise ValueError(f"example {k} must be an (x, y) pair, got {ex!r}")
        lines.append(head.replace("{x}", ex[0]) + ex[1] + tail)
    lines.append(head.replace("{x}", query).rstrip(" "))
    return sep.join(lines)


# --------------------------------------------------------------------------- model directories


def load_generator(model_dir: Union[str, os.PathLike]) -> tuple[Any, Any]:
    """(GPT in eval mode, BPETokenizer) of a model directory: HF-format GPT-2 weights
    (``config.json`` + ``model.safetensors``) with the tokenizer's files, as ``fastembed pretrain
    gpt`` writes them (``tokenizer.json`` & co.; older runs: ``bpe.json``) or as HF ships GPT-2
    (``vocab.json`` + ``merges.txt``), or OpenAI's ``encoder.json`` + ``vocab.bpe``
    (:func:`fastembed.tokenizers.from_pretrained`)."""
    from .models.hf import load_gpt2
    from .tokenizers import BPETokenizer

    path = Path(model_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; expected a GPT model directory")
    tok = BPETokenizer.from_pretrained(path)
    model = load_gpt2(path)
    if tok.vocab_size > model.config.vocab_size:
        raise ValueError(f"{path}: the tokenizer has {tok.vocab_size} tokens but the model only "
                         f"{model.config.vocab_size}; are they from different runs?")
    return model.eval(), tok
