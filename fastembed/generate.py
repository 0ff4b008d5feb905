"""Text generation with a GPT: greedy decoding and sampling, batched, with a KV cache.

A language model gives the distribution of the next token; generation is the loop around it::

    ids = prompt
    repeat max_new_tokens times:
        logits = model(ids)[:, -1]          (B, V): the scores of the token after the last one
        scores = process(logits)            repetition penalty, n-gram bans (below)
        next   = pick(scores)               greedy argmax, or a sample (below)
        ids    = ids + [next]               ... until an end token or a stop string ends the row

**Processing**, in transformers' order (the same names and rules as its logits processors):
``repetition_penalty`` (Keskar et al. 2019, CTRL) divides the positive logits and multiplies the
negative ones of every id already in the row, prompt included, once per id however often it occurs
(1.0: off; > 1 discourages repeats); ``no_repeat_ngram_size`` = n bans (-inf) every id that would
complete an n-gram already in the row, prompt included (0: off).

**Picking.** Greedy takes the argmax. Sampling divides the logits by ``temperature`` (< 1 sharpens,
> 1 flattens), keeps the ``top_k`` most likely tokens, then the nucleus: the smallest set of
tokens whose probabilities add up to at least ``top_p`` (Holtzman et al. 2020, "The Curious Case
of Neural Text Degeneration"), and draws from the softmax of what is left.

**KV cache.** A causal model's keys and values at earlier positions never change, so the first
call runs the whole prompt and keeps them, and every later call feeds only the newest token: one
position of work per step instead of the whole sequence again. A GPT runs through its lean
decoder (:meth:`fastembed.models.GPT.decoder`: a cache allocated once for prompt + new tokens and
written in place, few ops per token); other models through ``forward(past_key_values=...)``.
``use_cache=False`` recomputes everything each step: slower, the same tokens.

**Host round trips.** Without end tokens, stop strings, n-gram bans or a ``callback``, no row can
finish early: the chosen ids feed the next step where they are (on the device) and are read back
once at the end. Each of those controls needs the ids on the host every step (to see which rows
have finished, to stream them, or to look up the bans): one small read back per step.

**Batches of prompts of different lengths** are padded on the LEFT, so that every row's next
token is in the last column::

    input_ids          attention_mask
    pad pad  a  b  c   0 0 1 1 1      then one column per step:  x | 1
     d   e   f  g  h   1 1 1 1 1                                 y | 1

The mask hides the pads (as keys) and the positions count real tokens only (see GPT.forward),
so each row computes what it would alone; the pads are not part of the row for the repetition
penalty and the n-gram bans either. A row that produces one of ``eos_token_id`` is finished: its
output ends with that token, and until every row is done it keeps feeding ``pad_token_id`` with
mask 0, which no other row can see.

**Stop strings** end a row once the text of its continuation contains one. Only the row's last
few tokens are decoded (as many as the longest stop string has bytes: an occurrence that was not
there one token ago must end in the newest token), and only when the newest token could end a
stop string (its text holds a stop string's last character, or a piece of a character).

Text in, text out: :func:`generate_text`; few-shot prompts (the in-context learning of GPT-3,
Brown et al. 2020): :func:`few_shot_prompt`; a model directory: :func:`load_generator`.

Left out on purpose: beam search and speculative decoding.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

from ._optional import require_torch
from ._renamed import UNSET, renamed_arg
from .tokenizers.base import Tokenizer

torch = require_torch("fastembed.generate")

__all__ = ["generate", "generate_text", "Generation", "few_shot_prompt", "load_generator", "filter_logits",
           "pick_next"]

Prompts = Union["torch.Tensor", Sequence[Sequence[int]], Sequence[int]]
Callback = Callable[[int, list[Optional[int]]], Any]
TokenIds = Union[int, Sequence[int]]


class Generation(NamedTuple):
    """What ``generate(..., return_logprobs=True)`` returns: the new ids of each row and, one per
    id, its log-probability under the distribution it was picked from."""

    ids: list[list[int]]
    logprobs: list[list[float]]


def generate(model: Any, prompts: Prompts, *, max_new_tokens: int, do_sample: bool = False,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
             no_repeat_ngram_size: int = 0, eos_token_id: Optional[TokenIds] = None,
             pad_token_id: Optional[int] = None, stop_strings: Union[str, Sequence[str], None] = None,
             tokenizer: Optional[Tokenizer] = None, return_logprobs: bool = False, use_cache: bool = True,
             seed: Union[int, "torch.Generator", None] = None, callback: Optional[Callback] = None,
             precision: Optional[str] = None, stop_tokens: Any = UNSET,
             pad_id: Any = UNSET) -> Union[list[list[int]], Generation]:
    """Continue each prompt by up to ``max_new_tokens`` tokens; returns the new ids of each row.

    ``prompts``: a list of prompts (each a list or array of token ids; lengths may differ), a
    single prompt (a flat list of ids or a 1-D tensor) or a (B, T) tensor; the result is always
    a list with one list of ids per prompt, without the prompt.

    Greedy unless ``do_sample``; then ``temperature`` > 0, ``top_k`` (0: no limit) and ``top_p``
    in (0, 1] shape the distribution (:func:`filter_logits`). ``seed``: an int or a
    ``torch.Generator`` to draw from, so that a run can be repeated without touching torch's
    global random state (None: the global state). Before either, ``repetition_penalty`` (> 0,
    1.0: off) and ``no_repeat_ngram_size`` (0: off) change the logits as transformers' processors
    of the same names do (module docstring); greedy decoding with them gives transformers'
    ``generate`` tokens.

    A row ends after emitting one of ``eos_token_id`` (an id or several; kept as the row's last id),
    once the text of its continuation contains one of ``stop_strings`` (a string or several;
    needs ``tokenizer`` to decode; the ids that made the stop string are kept, as transformers
    keeps them, and :func:`generate_text` cuts the text before it), or after ``max_new_tokens``.
    ``pad_token_id`` fills the left padding and finished rows (default: the smallest end token,
    else 0; it is masked out, so any id works). ``callback(step, new)`` is called once per step
    with one entry per row: the id that row just produced, or None once it has finished; stream
    with it.

    ``return_logprobs=True`` returns a :class:`Generation` (ids, logprobs) instead of the ids: the
    log-probability of each chosen token under the distribution it was chosen from, that is after
    the repetition penalty and the n-gram bans and, when sampling, after temperature, top-k and
    top-p (the log_softmax of transformers' ``output_scores``). Computed on the device and read
    back once at the end.

    ``precision``: "fp32" (default), "bf16" or "int8", the dtype of the matrix products in the
    KV-cache decoder of a GPT (:mod:`fastembed.models.gpt_decode`: bf16 halves the bytes each
    token streams, int8 quarters them; LayerNorm, attention, softmax and argmax stay float32;
    greedy tokens then differ from fp32's where two candidates are within the rounding). None:
    the model's ``generation_precision`` attribute (:func:`load_generator` sets it), else "fp32".

    ``stop_tokens`` and ``pad_id`` are the old names of ``eos_token_id`` and ``pad_token_id``: they
    still work for one release, with a DeprecationWarning.

    The model runs in eval mode under ``torch.inference_mode()``; its training flag is restored
    afterwards. ValueError for bad arguments, and when the longest prompt + ``max_new_tokens`` is
    longer than the model's ``max_position``.
    """
    eos_token_id = renamed_arg("generate", "stop_tokens", stop_tokens, "eos_token_id", eos_token_id)
    pad_token_id = renamed_arg("generate", "pad_id", pad_id, "pad_token_id", pad_token_id)
    rows = _prompt_lists(prompts)
    cfg = model.config
    _check_args(rows, cfg.vocab_size, cfg.max_position, max_new_tokens=max_new_tokens, temperature=temperature,
                top_k=top_k, top_p=top_p)
    _check_controls(repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size)
    eos = {_check_id("eos_token_id", t, cfg.vocab_size) for t in _as_tuple(eos_token_id)}
    pad = (min(eos) if eos else 0) if pad_token_id is None else _check_id("pad_token_id", pad_token_id, cfg.vocab_size)
    stops = _stop_strings(stop_strings, tokenizer)
    precision = _check_precision(getattr(model, "generation_precision", "fp32") if precision is None else precision)
    device = next(model.parameters()).device
    if precision != "fp32":           # bf16 emulated (slower than float32), int8 off the CPU: say so, use float32
        from .models.precision import resolve_precision

        precision = resolve_precision(precision, device, stacklevel=2)
    generator = _generator(seed, device) if do_sample else None

    def scores_of(logits: torch.Tensor) -> torch.Tensor:
        """(B, V) processed logits -> (B, V) the scores of the distribution the token is picked from."""
        return filter_logits(logits / temperature, top_k=top_k, top_p=top_p) if do_sample else logits

    def pick(scores: torch.Tensor) -> torch.Tensor:
        return _draw(torch.softmax(scores, -1), generator) if do_sample else scores.argmax(-1)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            processors = _Processors(rows, cfg.vocab_size, device, repetition_penalty=repetition_penalty,
                                     no_repeat_ngram_size=no_repeat_ngram_size)
            out, logprobs = _decode(model, rows, processors, scores_of, pick, max_new_tokens=max_new_tokens,
                                    eos=eos, stops=stops, pad=pad, device=device, use_cache=use_cache,
                                    callback=callback, logprobs=return_logprobs, precision=precision)
    finally:
        model.train(was_training)
    return Generation(out, logprobs) if return_logprobs else out


def _decode(model: Any, rows: list[list[int]], processors: "_Processors",
            scores_of: Callable[[torch.Tensor], torch.Tensor], pick: Callable[[torch.Tensor], torch.Tensor], *,
            max_new_tokens: int, eos: set[int], stops: Optional["_StopStrings"], pad: int, device: torch.device,
            use_cache: bool, callback: Optional[Callback], logprobs: bool,
            precision: str) -> tuple[list[list[int]], list[list[float]]]:
    """The decoding loop of :func:`generate` (module docstring), on checked arguments.

    The chosen ids are read back to the host once per step only when something on the host needs
    them then: end tokens or stop strings (to see which rows have finished), a ``callback`` (to
    stream them) or the n-gram bans (their tables live on the host). Otherwise every row runs the
    full ``max_new_tokens``, the ids stay on the device, feed the next step from there, and are
    read back once at the end, as are the log-probabilities in every case."""
    B, T = len(rows), max(len(r) for r in rows)
    ids = torch.full((B, T), pad, dtype=torch.long)                # (B, T) prompts, left-padded
    mask = torch.zeros((B, T), dtype=torch.long)                   # (B, T) 1 = real token
    for b, r in enumerate(rows):
        ids[b, T - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[b, T - len(r):] = 1
    ids, mask = ids.to(device), mask.to(device)
    forward = _forward_of(model, B, T + max_new_tokens, use_cache=use_cache, precision=precision)
    on_host = callback is not None or bool(eos) or stops is not None or processors.n > 0
    out: list[list[int]] = [[] for _ in rows]
    done = [False] * B
    picks: list[torch.Tensor] = []                                 # per step (B,), when not on_host
    chosen_lp: list[torch.Tensor] = []                             # per step (B,): log p of the chosen ids
    feed, alive = ids, mask                                        # what the next forward call reads
    ones = torch.ones((B, 1), dtype=torch.long, device=device)
    for step in range(max_new_tokens):
        scores = scores_of(processors(forward(feed, alive)))       # (B, V) from the last position
        picked = pick(scores)                                      # (B,)
        if logprobs:
            chosen_lp.append(torch.log_softmax(scores, -1).gather(1, picked[:, None])[:, 0])
        if not on_host:                                            # no row can finish early
            picks.append(picked)
            if step == max_new_tokens - 1:
                break
            processors.update(picked, None)
            feed, alive = picked[:, None], ones
            continue
        chosen = picked.tolist()
        new = [None if d else t for t, d in zip(chosen, done)]
        for b, t in enumerate(new):
            if t is not None:
                out[b].append(t)
                done[b] = t in eos or (stops is not None and stops.ended(out[b]))
        if callback is not None:
            callback(step, new)
        if all(done) or step == max_new_tokens - 1:
            break
        processors.update(picked, new)
        feed = torch.tensor([[pad if t is None else t] for t in new], dtype=torch.long, device=device)  # (B, 1)
        alive = torch.tensor([[0 if d else 1] for d in done], dtype=torch.long, device=device)          # (B, 1)
    if not on_host:
        out = torch.stack(picks, 1).tolist()                       # (B, max_new_tokens): one read back
    if not logprobs:
        return out, []
    lp = torch.stack(chosen_lp, 1).tolist()                        # (B, steps): one read back
    return out, [row[:len(r)] for row, r in zip(lp, out)]         # a row's ids are its first steps


def _forward_of(model: Any, batch: int, max_length: int, *, use_cache: bool,
                precision: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``forward(feed, alive)``: the next (B, T) ids and their (B, T) mask (1 = real) -> the (B, V)
    float logits after them. A model with a ``decoder`` method (:meth:`GPT.decoder`: preallocated
    cache, lean step) runs through it; any other model through its ``forward`` with
    ``past_key_values``; ``use_cache=False`` recomputes the whole sequence every step."""
    if use_cache and hasattr(model, "decoder"):
        return model.decoder(batch, max_length, precision=precision)
    if precision != "fp32":
        why = "use_cache=False" if not use_cache else f"{type(model).__name__} has no decoder method"
        raise ValueError(f"precision={precision!r} needs the KV-cache decoder of a GPT ({why}); use precision='fp32'")
    seen: dict[str, Any] = {"ids": None, "mask": None, "past": None}

    def forward(feed: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
        mask = alive if seen["mask"] is None else torch.cat([seen["mask"], alive], 1)   # (B, all positions)
        seen["mask"] = mask
        if use_cache:
            o = model(feed, attention_mask=mask, past_key_values=seen["past"], use_cache=True, logits_to_keep=1)
            seen["past"] = o.extras["past_key_values"]             # per layer (k, v), each (B, Tseen, H, D)
        else:
            seen["ids"] = feed if seen["ids"] is None else torch.cat([seen["ids"], feed], 1)
            o = model(seen["ids"], attention_mask=mask, logits_to_keep=1)   # the whole sequence, every step
        return o.logits[:, -1].float()
    return forward


# --------------------------------------------------------------------------- processing the logits


class _Processors:
    """The repetition penalty and the n-gram bans of each row, with the state they keep between
    steps: a (B, V) device mask of the ids already in each row (updated on the device: no read
    back), and per row a table (n-1)-gram -> ids that followed it (on the host, from the ids the
    loop reads back anyway), so that a step's bans are one lookup per row, not a scan of the row.
    The bans are copied to the device right after that read back, while the device is idle, so
    that the step that applies them waits for nothing."""

    def __init__(self, rows: list[list[int]], vocab_size: int, device: torch.device, *, repetition_penalty: float,
                 no_repeat_ngram_size: int) -> None:
        self.penalty = float(repetition_penalty)
        self.n = int(no_repeat_ngram_size)
        self.device = device
        self.seen: Optional[torch.Tensor] = None                   # (B, V) bool: the id is in the row
        if self.penalty != 1.0:
            seen = torch.zeros((len(rows), vocab_size), dtype=torch.bool)
            for b, r in enumerate(rows):
                seen[b, r] = True
            self.seen = seen.to(device)
        self.rows = [list(r) for r in rows] if self.n else []      # prompt + generated, real tokens only
        self.followers: list[dict[tuple[int, ...], set[int]]] = [{} for _ in self.rows]
        for r, table in zip(self.rows, self.followers):
            for i in range(len(r) - self.n + 1):
                table.setdefault(tuple(r[i:i + self.n - 1]), set()).add(r[i + self.n - 1])
        self.bans = self._bans()

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, V) logits -> (B, V) processed, in transformers' order: penalty, then n-gram bans."""
        if self.seen is not None:
            p = self.penalty
            logits = torch.where(self.seen, torch.where(logits < 0, logits * p, logits / p), logits)
        if self.bans is not None:
            logits = logits.index_put(self.bans, torch.tensor(float("-inf"), device=logits.device))
        return logits

    def update(self, picked: torch.Tensor, new: Optional[list[Optional[int]]]) -> None:
        """Add the ids just chosen: ``picked`` (B,) on the device, ``new`` the same on the host
        (None for the rows that had finished); ``new`` may be None when there are no n-gram bans."""
        if self.seen is not None:
            self.seen.scatter_(1, picked[:, None], True)           # finished rows: harmless, never read
        if not self.n:
            return
        for t, r, table in zip(new, self.rows, self.followers):
            if t is not None:
                r.append(t)
                if len(r) >= self.n:
                    table.setdefault(tuple(r[len(r) - self.n:-1]), set()).add(t)
        self.bans = self._bans()

    def _bans(self) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        """(rows, ids) on the device: the ids that would complete an n-gram already in their row
        (None: none). Finished rows are banned from too: harmless, their picks are dropped."""
        at: list[int] = []
        banned: list[int] = []
        for b, (r, table) in enumerate(zip(self.rows, self.followers)):
            ids = table.get(tuple(r[len(r) - self.n + 1:]))        # after the last n-1 ids
            if ids:
                at.extend([b] * len(ids))
                banned.extend(ids)
        if not banned:
            return None
        return torch.tensor(at, device=self.device), torch.tensor(banned, device=self.device)


class _StopStrings:
    """Whether a row's continuation has just come to contain a stop string (module docstring)."""

    def __init__(self, stops: list[str], tokenizer: Tokenizer) -> None:
        self.stops, self.tokenizer = stops, tokenizer
        # An occurrence that was not there one token ago ends in the newest token; every token has
        # at least one byte, so the occurrence starts within the last (its byte length) tokens.
        self.window = max(len(s.encode("utf-8")) for s in stops)
        self.last_chars = {s[-1] for s in stops}
        # A tokenizer that joins tokens with spaces (WordPiece) makes a space no single token holds.
        self.always = any(c.isspace() for c in self.last_chars)
        self.may_end: dict[int, bool] = {}                         # token id -> can it end a stop string

    def ended(self, ids: list[int]) -> bool:
        t = ids[-1]
        may = self.may_end.get(t)
        if may is None:
            text = self.tokenizer.decode([t])
            # U+FFFD: the token holds part of a character (byte-level BPE), which may be a stop
            # string's last character: decode it in context to see.
            may = self.may_end[t] = self.always or "\ufffd" in text or any(c in text for c in self.last_chars)
        if not may:
            return False
        tail = self.tokenizer.decode(ids[-self.window:])
        return any(s in tail for s in self.stops)


def _stop_strings(stop_strings: Union[str, Sequence[str], None], tokenizer: Optional[Tokenizer]
                  ) -> Optional[_StopStrings]:
    if stop_strings is None:
        return None
    stops = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
    if not stops or not all(isinstance(s, str) and s for s in stops):
        raise ValueError(f"stop_strings must be a non-empty string or a list of them, got {stop_strings!r}")
    if tokenizer is None:
        raise ValueError("stop_strings needs the tokenizer that decodes the model's ids: pass tokenizer=, "
                         "or call generate_text")
    return _StopStrings(stops, tokenizer)


def _cut_at_stop_strings(text: str, stop_strings: Union[str, Sequence[str], None]) -> str:
    """The text before the first stop string in it."""
    stops = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings or ())
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[:min(found)] if found else text


# --------------------------------------------------------------------------- picking the next token


def pick_next(logits: torch.Tensor, *, do_sample: bool = False, temperature: float = 1.0, top_k: int = 0,
              top_p: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B, V) logits -> (B,) token ids: the argmax, or a draw from the filtered softmax."""
    if not do_sample:
        return logits.argmax(-1)
    return _draw(torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), -1), generator)


def _draw(probs: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """(B, V) probabilities -> (B,) ids drawn from them, on the device of ``probs``."""
    device = probs.device
    if generator is not None and generator.device != probs.device:
        probs = probs.to(generator.device)                         # e.g. a CPU generator for a GPU model
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(device)


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


def _as_tuple(ids: Optional[TokenIds]) -> tuple[int, ...]:
    if ids is None:
        return ()
    return (ids,) if isinstance(ids, numbers.Integral) else tuple(ids)


def _check_id(what: str, t: Any, vocab_size: int) -> int:
    if not isinstance(t, numbers.Integral) or isinstance(t, bool) or not 0 <= t < vocab_size:
        raise ValueError(f"{what} {t!r} is not a token id of the model's vocabulary 0..{vocab_size - 1}")
    return int(t)



def _check_precision(precision: Any) -> str:
    from .models.gpt_decode import PRECISIONS

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (the dtype of the decoder's matrix products), "
                         f"got {precision!r}")
    return precision


def _check_controls(*, repetition_penalty: float, no_repeat_ngram_size: int) -> None:
    if (not isinstance(repetition_penalty, numbers.Real) or isinstance(repetition_penalty, bool)
            or not math.isfinite(repetition_penalty) or repetition_penalty <= 0):
        raise ValueError(f"repetition_penalty must be a finite number > 0 (1.0: off; > 1 discourages repeats), "
                         f"got {repetition_penalty!r}")
    if (not isinstance(no_repeat_ngram_size, numbers.Integral) or isinstance(no_repeat_ngram_size, bool)
            or no_repeat_ngram_size < 0):
        raise ValueError(f"no_repeat_ngram_size must be an int >= 0 (0: off), got {no_repeat_ngram_size!r}")


# --------------------------------------------------------------------------- text level


def generate_text(model: Any, tokenizer: Tokenizer, prompts: Union[str, Sequence[str]], *,
                  eos_token_id: Optional[TokenIds] = None, stop_strings: Union[str, Sequence[str], None] = None,
                  stop_tokens: Any = UNSET, **kw: Any) -> Union[str, list[str]]:
    """:func:`generate` from text to text: the continuation of each prompt (without the prompt).

    ``eos_token_id`` defaults to the tokenizer's end-of-text token (GPT-2's ``<|endoftext|>``)
    when it has one (``()``: none); a final end token is not decoded. A continuation that came to
    hold one of ``stop_strings`` is cut just before the first of them: the text has no stop string,
    as it has no end token (the ids :func:`generate` returns keep both). The other keywords go to
    :func:`generate` (``max_new_tokens`` is required; the tokenizer is passed for the stop strings).
    One string in, one string out; a list in, a list out. ``stop_tokens`` is the old name of
    ``eos_token_id`` (DeprecationWarning).
    """
    eos_token_id = renamed_arg("generate_text", "stop_tokens", stop_tokens, "eos_token_id", eos_token_id)
    if kw.get("return_logprobs"):
        raise ValueError("generate_text returns text only; for log-probabilities call generate(..., "
                         "return_logprobs=True) on the token ids")
    single = isinstance(prompts, str)
    texts = [prompts] if single else list(prompts)
    if eos_token_id is None:
        eos = tokenizer.eos_token_id
        eos_token_id = () if eos is None else (eos,)
    eos_ids = set(_as_tuple(eos_token_id))
    out = generate(model, [ids.tolist() for ids in tokenizer.encode_batch(texts)], eos_token_id=eos_token_id,
                   stop_strings=stop_strings, tokenizer=tokenizer, **kw)
    texts = [_cut_at_stop_strings(tokenizer.decode(ids[:-1] if ids and ids[-1] in eos_ids else ids), stop_strings)
             for ids in out]
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


def load_generator(model_dir: Union[str, os.PathLike], *, precision: str = "fp32") -> tuple[Any, Any]:
    """(GPT in eval mode, BPETokenizer) of a model directory: HF-format GPT-2 weights
    (``config.json`` + ``model.safetensors``) with the tokenizer's files, as ``fastembed pretrain
    gpt`` writes them (``tokenizer.json`` & co.; older runs: ``bpe.json``) or as HF ships GPT-2
    (``vocab.json`` + ``merges.txt``), or OpenAI's ``encoder.json`` + ``vocab.bpe``
    (:func:`fastembed.tokenizers.from_pretrained`). ``precision`` ("fp32", "bf16" or "int8")
    becomes the model's ``generation_precision``, what :func:`generate` uses unless told otherwise;
    the weights stay float32 (the decoder makes its bf16 or int8 copies on first use)."""
    from .models.hf import load_gpt2
    from .tokenizers import BPETokenizer

    precision = _check_precision(precision)
    path = Path(model_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; expected a GPT model directory")
    tok = BPETokenizer.from_pretrained(path)
    model = load_gpt2(path)
    if tok.vocab_size > model.config.vocab_size:
        raise ValueError(f"{path}: the tokenizer has {tok.vocab_size} tokens but the model only "
                         f"{model.config.vocab_size}; are they from different runs?")
    model.generation_precision = precision
    return model.eval(), tok
