"""GPT: a decoder-only transformer trained to predict the next token (GPT-2's layout).

    h = token + position embeddings                               then dropout
    each block:  h = h + Dropout(Attention(LayerNorm(h)))          causal: position t sees 0..t
                 h = h + Dropout(W2·GELU_tanh(W1·LayerNorm(h)))    pre-LayerNorm, as in GPT-2
    logits = LayerNorm(h) · Eᵀ                                     tied to the token embedding E

``past_key_values`` carries each layer's keys and values from earlier calls (a KV cache), so
generation feeds one new token at a time; the attention op's bottom-right causal alignment lets
the new queries see every cached key. :meth:`GPT.decoder` is the lean version generation uses:
a preallocated cache and fewer ops per token (``fastembed/models/gpt_decode.py``).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SelfAttention
from .bert import check_ids, init_weights
from .config import GPTConfig
from .loss import linear_cross_entropy
from .output import ModelOutput, mean_loss

Cache = tuple[tuple[torch.Tensor, torch.Tensor], ...]


class GPTBlock(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn = SelfAttention(cfg.hidden_size, cfg.num_heads, cfg.attention_dropout, cfg.attn_impl)
        self.ln2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.up = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.down = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.drop = nn.Dropout(cfg.hidden_dropout)

    def forward(self, h: torch.Tensor, key_padding_mask: Optional[torch.Tensor], past: Any) -> tuple[torch.Tensor, Any]:
        a, present = self.attn(self.ln1(h), causal=True, key_padding_mask=key_padding_mask, past=past)
        h = h + self.drop(a)
        h = h + self.drop(self.down(F.gelu(self.up(self.ln2(h)), approximate="tanh")))
        return h, present


class GPT(nn.Module):
    """GPT-2-style language model.

    ``forward(input_ids, labels=None, attention_mask=None, past_key_values=None, use_cache=False)``:
    ``labels`` (B, T) are the targets *already aligned* with the inputs (labels[:, t] is the token
    that should follow input_ids[:, :t+1]; -100 = not scored), as :class:`fastembed.data.GPTBlocks`
    produces them. Objective "lm": cross-entropy summed over scored positions, computed blockwise
    without forming the logits (:func:`fastembed.models.loss.linear_cross_entropy`); ``logits``
    (B, T, V) are returned when no labels are given (``logits_to_keep=k``: the last k positions only,
    (B, k, V), which is all that generation needs).
    ``attention_mask`` (B, Tpast + T), 1 = real token, for left-padded batches in generation; the
    positions then count real tokens only. With ``use_cache`` the cache is in
    ``extras["past_key_values"]``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        C = config.hidden_size
        self.wte = nn.Embedding(config.vocab_size, C)
        self.wpe = nn.Embedding(config.max_position, C)
        self.drop = nn.Dropout(config.hidden_dropout)
        self.blocks = nn.ModuleList(GPTBlock(config) for _ in range(config.num_layers))
        self.ln_f = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.apply(lambda m: init_weights(m, config.initializer_range))
        for block in self.blocks:  # GPT-2: residual projections scaled by 1/sqrt(2·layers)
            nn.init.normal_(block.attn.out.weight, 0.0, config.initializer_range / (2 * config.num_layers) ** 0.5)
            nn.init.normal_(block.down.weight, 0.0, config.initializer_range / (2 * config.num_layers) ** 0.5)

    def loss_counts(self, batch: dict[str, Any]) -> dict[str, int]:
        labels = batch.get("labels")
        return {} if labels is None else {"lm": int((labels != -100).sum())}

    def forward(self, input_ids: torch.Tensor, labels: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, past_key_values: Optional[Cache] = None,
                use_cache: bool = False, output_hidden_states: bool = False, logits_to_keep: int = 0) -> ModelOutput:
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[1]
        B, T = check_ids(input_ids, self.config.vocab_size, self.config.max_position - past_len)
        key_padding = None
        if attention_mask is None:
            pos = torch.arange(past_len, past_len + T, device=input_ids.device)[None, :]
        else:
            if attention_mask.shape != (B, past_len + T):
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected "
                                 f"{(B, past_len + T)} (cached + new positions)")
            key_padding = attention_mask == 0
            pos = (attention_mask.long().cumsum(1) - 1).clamp_min(0)[:, past_len:]
        h = self.drop(self.wte(input_ids) + self.wpe(pos))
        states = [h] if output_hidden_states else None
        presents = []
        for i, block in enumerate(self.blocks):
            past = past_key_values[i] if past_key_values is not None else (None if not use_cache else _empty(h, block))
            h, present = block(h, key_padding, past)
            presents.append(present)
            if states is not None:
                states.append(h)
        h = self.ln_f(h)
        if states is not None:
            states[-1] = h        # GPT-2 convention: the last hidden state is after the final LayerNorm
        sums, counts, correct = {}, {}, {}
        logits = None
        if labels is None:    # logits_to_keep = k > 0: only the last k positions (generation needs one)
            logits = F.linear(h[:, -logits_to_keep:] if logits_to_keep > 0 else h, self.wte.weight)
        else:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels has shape {tuple(labels.shape)}; expected {tuple(input_ids.shape)} like input_ids")
            target = labels.reshape(-1)
            sums["lm"], correct["lm"] = linear_cross_entropy(h.reshape(-1, h.shape[-1]), self.wte.weight, target)
            counts["lm"] = (target != -100).sum()
        extras = {"past_key_values": tuple(presents)} if use_cache else {}
        return ModelOutput(loss=mean_loss(sums, counts) if sums else None, loss_sums=sums, counts=counts,
                           correct=correct, logits=logits, last_hidden_state=h,
                           hidden_states=tuple(states) if states else None, extras=extras)

    def decoder(self, batch: int, max_length: int, *, precision: str = "fp32", attn: Optional[str] = None) -> Any:
        """A :class:`fastembed.models.gpt_decode.KVDecoder` for ``batch`` rows of up to ``max_length``
        positions: the inference-only forward pass generation runs (call it under
        ``torch.inference_mode()`` with the model in eval mode)."""
        from .gpt_decode import KVDecoder

        return KVDecoder(self, batch, max_length, precision=precision, attn=attn)


def _empty(h: torch.Tensor, block: GPTBlock) -> tuple[torch.Tensor, torch.Tensor]:
    """A zero-length cache entry, so the first call with ``use_cache`` returns the keys and values."""
    a = block.attn
    z = h.new_empty(h.shape[0], 0, a.num_heads, a.head_dim)
    return z, z
