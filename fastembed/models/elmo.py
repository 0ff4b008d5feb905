"""ELMo: contextual word vectors from a deep bidirectional LSTM language model (Peters et al. 2018).

Two language models read the same token vectors, one left to right and one right to left::

    x_t = E[token_t]                                            shared by both directions
    forward  layer j:  f_j = LSTM_j→(f_{j-1}) (+ f_{j-1} from layer 2 on)     f_0 = x
    backward layer j:  b_j = LSTM_j←(b_{j-1}) (+ b_{j-1} from layer 2 on)     b_0 = x, read from the end
    forward LM:   p(token_{t+1} | tokens ≤ t) = softmax(E · f_L[t] + c)
    backward LM:  p(token_{t-1} | tokens ≥ t) = softmax(E · b_L[t] + c)

Both softmaxes are tied to the embedding E (and share one bias c); each direction is causal in
its own direction, so the two LMs can be trained together on the same text without either
seeing its answer. ELMo's representation of token t is then the L + 1 layers
``[x_t; x_t], [f_1; b_1], ..., [f_L; b_L]`` (each 2 × ``embed_size`` wide), which a task mixes with
its own learned weights (:class:`fastembed.features.ScalarMix`, ``extract(..., layers="scalar_mix")``).

Scaled to this machine, and where it departs from the paper:

* Token embeddings instead of ELMo's character CNN. The CNN's purpose was open-vocabulary input
  for a word-level model; fastembed's models read BPE or WordPiece pieces, which already spell
  any string, and a CNN plus highway layers over every character would cost more per token on a
  CPU than the LSTMs themselves.
* Each layer is a ``torch.nn.LSTM`` (oneDNN's fused kernel on a CPU) followed, when
  ``hidden_size`` differs from ``embed_size``, by a linear projection back to ``embed_size``.
  ELMo's LSTMP feeds the projected state back into the recurrence; PyTorch's ``proj_size`` does
  that too but falls off the oneDNN path (1.2-1.7 × slower per forward + backward in one
  measurement here: E 256, H 512, B 16, T 64, 2 threads), so the projection sits after the
  layer instead.
* The softmax is exact, computed blockwise without the (tokens × vocabulary) logits
  (:func:`fastembed.models.loss.linear_cross_entropy`); ELMo used a sampled softmax.

Training batches are GPT's (:class:`fastembed.data.GPTBlocks`): ``labels[:, t]`` is the token
after position t, which the forward LM predicts; the backward LM predicts ``input_ids[:, t-1]``
at every real position t ≥ 1. Padded batches are padded on the right; the backward LM reads each
row from its own last real token (rows are reversed within their lengths), so padding changes no
real position's output.

**Files.** There is no HuggingFace standard for ELMo (AllenNLP's options.json + HDF5 weights
belong to its character-CNN model), so :func:`save_elmo` writes fastembed's own directory:
``config.json`` (``"model_type": "fastembed-elmo"`` and the :class:`ELMoConfig` fields),
``model.safetensors`` (this module's parameter names) and, when given, the tokenizer's files;
:func:`load_elmo` reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..io import atomic_write_text, read_json_object
from .bert import check_ids
from .config import ELMoConfig
from .loss import linear_cross_entropy
from .output import ModelOutput, mean_loss

PathLike = Union[str, os.PathLike]
MODEL_TYPE = "fastembed-elmo"


class _Direction(nn.Module):
    """One direction's stack: L single-layer LSTMs, each with an optional projection, residual
    connections from the second layer on (ELMo's)."""

    def __init__(self, cfg: ELMoConfig) -> None:
        super().__init__()
        E, H = cfg.embed_size, cfg.hidden_size
        self.lstms = nn.ModuleList(nn.LSTM(E, H, batch_first=True) for _ in range(cfg.num_layers))
        self.projs = nn.ModuleList(nn.Linear(H, E) for _ in range(cfg.num_layers)) if H != E else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (B, T, E), reading ``x`` (B, T, E) left to right."""
        outs = []
        h = x
        for j, lstm in enumerate(self.lstms):
            o, _ = lstm(h)
            if self.projs is not None:
                o = self.projs[j](o)
            o = self.drop(o)
            h = o if j == 0 else o + h
            outs.append(h)
        return outs


class ELMo(nn.Module):
    """ELMo's biLM (module docstring).

    ``forward(input_ids, labels=None, attention_mask=None, token_type_ids=None,
    output_hidden_states=False)``: ``attention_mask`` (B, T), 1 = real token, padded on the right.
    With ``labels`` (aligned as GPT's: ``labels[:, t]`` follows ``input_ids[:, :t+1]``, -100 = not
    scored) the output holds the two LM losses as sums, "lm_fwd" (over the scored labels) and
    "lm_bwd" (over the real positions t ≥ 1, each predicting ``input_ids[:, t-1]``), with their
    counts and correct predictions. ``last_hidden_state`` is the top layer ``[f_L; b_L]``
    (B, T, 2·embed_size); ``output_hidden_states=True`` adds the L + 1 layers (the embedding
    duplicated first). ``token_type_ids`` exists for callers that pass BERT-style batches: ELMo
    has no segments, so it must be None or all zeros. ``logits`` stay None.
    """

    def __init__(self, config: ELMoConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        self.forward_lm = _Direction(config)
        self.backward_lm = _Direction(config)
        self.lm_bias = nn.Parameter(torch.zeros(config.vocab_size))     # the softmax bias, shared
        self.drop = nn.Dropout(config.dropout)
        nn.init.normal_(self.embed.weight, 0.0, config.initializer_range)

    @property
    def feature_size(self) -> int:
        """Width of each entry of ``hidden_states``: forward and backward side by side."""
        return self.config.feature_size

    def loss_counts(self, batch: dict[str, Any]) -> dict[str, int]:
        labels = batch.get("labels")
        if labels is None:
            return {}
        mask = batch.get("attention_mask")
        B, T = labels.shape
        bwd = B * max(T - 1, 0) if mask is None else int(((mask != 0).sum(1) - 1).clamp_min(0).sum())
        return {"lm_fwd": int((labels != -100).sum()), "lm_bwd": bwd}

    def forward(self, input_ids: torch.Tensor, labels: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, token_type_ids: Optional[torch.Tensor] = None,
                output_hidden_states: bool = False) -> ModelOutput:
        B, T = check_ids(input_ids, self.config.vocab_size, self.config.max_position)
        if token_type_ids is not None and bool((token_type_ids != 0).any()):
            raise ValueError("ELMo has no segment embeddings: token_type_ids must be None or all zeros")
        lengths = _lengths(attention_mask, B, T)
        rev = _reverser(lengths, T)                       # None: no padding, every row flips whole

        x = self.embed(input_ids)
        xd = self.drop(x)
        fwd = self.forward_lm(xd)
        bwd_rev = self.backward_lm(_flip(xd, rev))        # the backward LM works in reversed time

        sums, counts, correct = {}, {}, {}
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels has shape {tuple(labels.shape)}; expected {tuple(input_ids.shape)} like "
                                 "input_ids")
            W, b = self.embed.weight, self.lm_bias
            tf = labels.reshape(-1)
            sums["lm_fwd"], correct["lm_fwd"] = linear_cross_entropy(fwd[-1].reshape(-1, W.shape[1]), W, tf, bias=b)
            counts["lm_fwd"] = (tf != -100).sum()
            # reversed position s predicts the reversed token s + 1 (= input_ids[t - 1] for t = len - 1 - s)
            ids_rev = _flip(input_ids, rev)
            tb = torch.full_like(ids_rev, -100)
            tb[:, :-1] = ids_rev[:, 1:]
            if lengths is not None:
                tb[torch.arange(T, device=tb.device)[None, :] >= (lengths - 1)[:, None]] = -100
            tb = tb.reshape(-1)
            sums["lm_bwd"], correct["lm_bwd"] = linear_cross_entropy(bwd_rev[-1].reshape(-1, W.shape[1]), W, tb, bias=b)
            counts["lm_bwd"] = (tb != -100).sum()

        top = torch.cat([fwd[-1], _flip(bwd_rev[-1], rev)], dim=-1)
        states = None
        if output_hidden_states:
            states = (torch.cat([x, x], dim=-1),) + tuple(
                torch.cat([f, _flip(b, rev)], dim=-1) for f, b in zip(fwd[:-1], bwd_rev[:-1])) + (top,)
        return ModelOutput(loss=mean_loss(sums, counts) if sums else None, loss_sums=sums, counts=counts,
                           correct=correct, last_hidden_state=top, hidden_states=states)


def _lengths(mask: Optional[torch.Tensor], B: int, T: int) -> Optional[torch.Tensor]:
    """Each row's real length from a right-padded ``mask``; None when there is no padding."""
    if mask is None:
        return None
    if tuple(mask.shape) != (B, T):
        raise ValueError(f"attention_mask has shape {tuple(mask.shape)}; expected {(B, T)} like input_ids")
    real = mask != 0
    lengths = real.sum(1)
    if not bool((real == (torch.arange(T, device=mask.device)[None, :] < lengths[:, None])).all()):
        raise ValueError("attention_mask must be padded on the right (1s, then 0s in each row): the backward LM "
                         "starts at each row's last real token")
    return None if bool((lengths == T).all()) else lengths


def _reverser(lengths: Optional[torch.Tensor], T: int) -> Optional[torch.Tensor]:
    """(B, T) gather index that reverses each row within its length and leaves padding in place
    (its own inverse); None when every row is full (a plain flip)."""
    if lengths is None:
        return None
    t = torch.arange(T, device=lengths.device)[None, :]
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def _flip(x: torch.Tensor, rev: Optional[torch.Tensor]) -> torch.Tensor:
    """``x`` (B, T, ...) reversed along time, each row within its length when ``rev`` is given."""
    if rev is None:
        return x.flip(1)
    idx = rev.reshape(*rev.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


# --------------------------------------------------------------------------- files


def save_elmo(model: ELMo, path: PathLike, *, tokenizer: Any = None) -> None:
    """Write ``config.json`` + ``model.safetensors`` (and the tokenizer's files, when given) to
    the directory ``path``: fastembed's own format (module docstring), which :func:`load_elmo` reads."""
    from .hf import write_weights

    if not isinstance(model, ELMo):
        raise TypeError(f"save_elmo needs a fastembed ELMo model, got {type(model).__name__}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_weights(path, dict(model.state_dict()))
    cfg = {"model_type": MODEL_TYPE, "architectures": ["ELMo"], **model.config.to_dict()}
    atomic_write_text(path / "config.json", json.dumps(cfg, indent=2) + "\n")
    if tokenizer is not None:
        tokenizer.save_pretrained(path)


def read_elmo_config(path: PathLike, **overrides: Any) -> ELMoConfig:
    """The :class:`ELMoConfig` of a directory :func:`save_elmo` wrote, without reading the weights."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; expected an ELMo model directory with config.json")
    f = path / "config.json"
    if not f.is_file():
        raise FileNotFoundError(f"{f} does not exist; an ELMo model directory holds config.json and model.safetensors")
    d = read_json_object(f, "a JSON object of config fields")
    kind = d.pop("model_type", None)
    if kind != MODEL_TYPE:
        raise ValueError(f"{f} has model_type {kind!r}, not {MODEL_TYPE!r}: {path} does not hold a fastembed ELMo "
                         "model (BERT and GPT-2 directories load with fastembed.models.hf)")
    d.pop("architectures", None)
    return ELMoConfig.from_dict({**d, **overrides})


def load_elmo(path: PathLike, **overrides: Any) -> ELMo:
    """The :class:`ELMo` saved in ``path`` by :func:`save_elmo` (or ``pretrain elmo``'s
    ``OUT/model/``); ``overrides`` set config fields, e.g. ``dropout=0.0``. The weights' shapes are
    checked against config.json before the model is built."""
    from .hf import _load_exact, read_weights

    path = Path(path)
    cfg = read_elmo_config(path, **overrides)
    sd = read_weights(path)
    emb = sd.get("embed.weight")
    want = (cfg.vocab_size, cfg.embed_size)
    if emb is not None and tuple(emb.shape) != want:
        raise ValueError(f"{path / 'config.json'} gives vocab_size {cfg.vocab_size} and embed_size {cfg.embed_size} "
                         f"but the weights' embed.weight has shape {tuple(emb.shape)}: is the checkpoint from "
                         "another config?")
    model = ELMo(cfg)
    _load_exact(model, sd, path)
    return model
