"""Masked language modelling: choose positions to predict and corrupt them by BERT's 80/10/10 rule.

BERT (Devlin et al. 2019, section 3.1 and appendix C.2) picks 15% of the input tokens to predict.
A chosen token is replaced by ``[MASK]`` 80% of the time, by a random token 10% of the time and
left unchanged 10% of the time; the loss is taken at the chosen positions only. Never showing
``[MASK]`` for some targets keeps the model from learning that only ``[MASK]`` positions matter
(fine-tuning inputs have no ``[MASK]``), and the random tokens make it check every input token.

Choice is per position (a Bernoulli draw, as in HF's DataCollatorForLanguageModeling), plus one
rule of our own: a row with any maskable token gets at least one chosen position, so no row
contributes nothing to the loss. Special positions ([CLS], [SEP], [PAD]) are never chosen, and
random replacements are never special tokens.

>>> rng = np.random.default_rng(0)
>>> ids = np.array([[2, 7, 8, 9, 3, 0]])          # [CLS] a b c [SEP] [PAD]
>>> special = np.array([[1, 0, 0, 0, 1, 1]], bool)
>>> masked, labels = mask_tokens(ids, special_mask=special, vocab_size=10, mask_id=4, rng=rng)
>>> bool(((labels != -100) <= ~special).all())   # only ordinary tokens are targets
True
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -100  # label of positions that are not predicted (torch's cross_entropy default)


def mask_tokens(input_ids: np.ndarray, *, special_mask: np.ndarray, vocab_size: int, mask_id: int,
                rng: np.random.Generator, probability: float = 0.15, mask_frac: float = 0.8,
                random_frac: float = 0.1, random_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Choose and corrupt MLM targets; returns ``(masked_ids, labels)``, both int64 (B, T).

    input_ids: (B, T) token ids. special_mask: (B, T) bool, True where a position must never be
    chosen ([CLS], [SEP], [PAD]). Each other position is chosen with ``probability``; of the
    chosen, ``mask_frac`` become ``mask_id``, ``random_frac`` a token drawn uniformly from
    ``random_ids`` and the rest stay. ``random_ids`` defaults to every id below ``vocab_size``
    except ``mask_id`` and the ids found at special positions of this batch; pass it explicitly
    (e.g. all non-special ids of the tokenizer) to make it independent of the batch.
    ``labels`` holds the original id at chosen positions and -100 elsewhere.
    """
    ids = np.asarray(input_ids)
    special = np.asarray(special_mask, dtype=bool)
    if ids.ndim != 2 or special.shape != ids.shape:
        raise ValueError(f"input_ids must be (B, T) and special_mask the same shape; got {ids.shape} and {special.shape}")
    if not 0.0 < probability <= 1.0:
        raise ValueError(f"probability must be in (0, 1], got {probability}")
    if mask_frac < 0 or random_frac < 0 or mask_frac + random_frac > 1.0 + 1e-12:
        raise ValueError(f"mask_frac and random_frac must be >= 0 with a sum <= 1, got {mask_frac} and {random_frac}")
    if random_ids is None:
        random_ids = np.setdiff1d(np.arange(vocab_size), np.append(np.unique(ids[special]), mask_id))
    random_ids = np.asarray(random_ids, dtype=np.int64).reshape(-1)
    if random_frac > 0 and len(random_ids) == 0:
        raise ValueError("random_ids is empty: there is no token to draw random replacements from")

    maskable = ~special
    chosen = (rng.random(ids.shape) < probability) & maskable
    # Rows where the draw chose nothing but something could be chosen: choose one maskable
    # position uniformly (the argmax of uniform scores over the maskable positions).
    scores = np.where(maskable, rng.random(ids.shape), -1.0)
    empty = ~chosen.any(axis=1) & maskable.any(axis=1)
    rows = np.flatnonzero(empty)
    chosen[rows, scores[rows].argmax(axis=1)] = True

    u = rng.random(ids.shape)
    to_mask = chosen & (u < mask_frac)
    to_random = chosen & (u >= mask_frac) & (u < mask_frac + random_frac)
    masked = ids.astype(np.int64, copy=True)
    masked[to_mask] = mask_id
    n_random = int(to_random.sum())
    if n_random:
        masked[to_random] = random_ids[rng.integers(0, len(random_ids), size=n_random)]
    labels = np.where(chosen, ids, IGNORE_INDEX).astype(np.int64)
    return masked, labels
