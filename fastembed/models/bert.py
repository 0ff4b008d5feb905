"""BERT: a bidirectional transformer encoder (Devlin et al. 2019), and its pretraining model.

    embeddings = LayerNorm(token + position + segment)          then dropout
    each layer:  h = LayerNorm(h + Dropout(Attention(h)))       post-LayerNorm, as in the paper
                 h = LayerNorm(h + Dropout(W2·GELU(W1·h)))
    pooler     = tanh(W·h[CLS])

:class:`BertForPreTraining` adds the two surrogate tasks: masked-LM (predict the tokens hidden at
~15% of the positions; the output layer is tied to the token embeddings and only the masked
positions are scored, so the big vocabulary matmul runs on 15% of the tokens) and next-sentence
prediction (a 2-way classifier on the pooled [CLS]).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import epilogue
from .attention import SelfAttention
from .config import BertConfig
from .loss import linear_cross_entropy
from .output import ModelOutput, mean_loss
from .precision import linear_mm_parts


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position = nn.Embedding(cfg.max_position, cfg.hidden_size)
        self.token_type = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.hidden_dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        x = self.word(input_ids) + self.token_type(token_type_ids) + self.position(position_ids)
        return self.drop(self.norm(x))


class BertLayer(nn.Module):
    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attn = SelfAttention(cfg.hidden_size, cfg.num_heads, cfg.attention_dropout, cfg.attn_impl)
        self.attn_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.up = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.down = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.ffn_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.hidden_dropout)

    def forward(self, h: torch.Tensor, key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        if self.attn.impl == "fused" and not self.training and epilogue.usable(h):
            return self._forward_inference(h, key_padding_mask)
        a, _ = self.attn(h, key_padding_mask=key_padding_mask)
        h = self.attn_norm(h + self.drop(a))
        return self.ffn_norm(h + self.drop(self.down(F.gelu(self.up(h)))))

    def _forward_inference(self, h: torch.Tensor, key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``forward`` in eval mode without autograd, on the CPU in float32: each product runs
        without its bias and one native pass applies bias + GELU or bias + residual + LayerNorm
        (:mod:`fastembed.ops.epilogue`), instead of PyTorch's two or three passes."""
        B, T, C = h.shape
        y, _ = self.attn(h, key_padding_mask=key_padding_mask, project=False)
        a, s = linear_mm_parts(self.attn.out, y.view(B * T, C))     # s: an int8 product's row scales
        epilogue.bias_residual_layer_norm_(a, self.attn.out.bias, h.reshape(B * T, C), self.attn_norm.weight,
                                           self.attn_norm.bias, self.attn_norm.eps, row_scale=s)
        u, s = linear_mm_parts(self.up, a)
        epilogue.bias_gelu_(u, self.up.bias, row_scale=s)
        d, s = linear_mm_parts(self.down, u)
        epilogue.bias_residual_layer_norm_(d, self.down.bias, a, self.ffn_norm.weight, self.ffn_norm.bias,
                                           self.ffn_norm.eps, row_scale=s)
        return d.view(B, T, C)


class BertModel(nn.Module):
    """The encoder. ``forward`` returns a ModelOutput with ``last_hidden_state`` (B, T, C),
    ``extras["pooler_output"]`` (B, C) and, with ``output_hidden_states=True``, ``hidden_states``:
    the embeddings' output first, then every layer's (num_layers + 1 tensors)."""

    def __init__(self, config: BertConfig, *, add_pooler: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_layers))
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooler else None
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, token_type_ids: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None,
                output_hidden_states: bool = False) -> ModelOutput:
        B, T = check_ids(input_ids, self.config.vocab_size, self.config.max_position)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if position_ids is None:
            position_ids = torch.arange(T, device=input_ids.device)[None, :]
        key_padding = None
        if attention_mask is not None:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected {(B, T)} like input_ids")
            key_padding = attention_mask == 0                     # True = padded key
        h = self.embeddings(input_ids, token_type_ids, position_ids)
        states = [h] if output_hidden_states else None
        for layer in self.layers:
            h = layer(h, key_padding)
            if states is not None:
                states.append(h)
        pooled = torch.tanh(self.pooler(h[:, 0])) if self.pooler is not None else None
        return ModelOutput(last_hidden_state=h, hidden_states=tuple(states) if states else None,
                           extras={"pooler_output": pooled})


class BertForPreTraining(nn.Module):
    """BERT with its masked-LM and next-sentence heads.

    ``forward(input_ids, token_type_ids, attention_mask, labels, next_sentence_label)`` (HF's
    names): ``labels`` (B, T) holds the original token at masked positions and -100 elsewhere;
    ``next_sentence_label`` (B,) is 0 when segment B follows A, 1 when it does not. Objectives:
    "mlm" (cross-entropy summed over masked positions), "nsp" (summed over rows) and, when
    ``config.mlm_unmasked_weight`` > 0, "mlm_unmasked" (every other real position predicts its
    own token, weighted). The vocabulary logits are formed at the scored positions only, a block
    at a time, and not returned (:func:`fastembed.models.loss.linear_cross_entropy`); without
    labels ``logits`` holds them at every position (B, T, V).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        C = config.hidden_size
        self.mlm_transform = nn.Linear(C, C)
        self.mlm_norm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.nsp = nn.Linear(C, 2)
        for m in (self.mlm_transform, self.mlm_norm, self.nsp):
            init_weights(m, config.initializer_range)
        # the heads a loader created here instead of reading them (fastembed.models.hf.load_bert
        # with missing_heads="fresh"): a subset of ("mlm", "nsp", "pooler")
        self.fresh_heads: tuple[str, ...] = ()

    @torch.no_grad()
    def init_fresh_mlm_head(self) -> None:
        """Start a new MLM head on a pretrained encoder as the identity: dense = I (bias 0) and
        the head's LayerNorm a copy of the encoder's last LayerNorm, so the tied decoder scores
        the encoder's output against the word embeddings as it is, in the encoder's own scale
        (GELU only damps the negative coordinates), instead of through a random projection that
        adds noise to every logit. ``mlm_bias`` stays 0; :func:`fastembed.training.pretrain`
        sets it to the training data's log unigram frequencies.

        Measured on held-out wikitext-2 (benchmarks/continued_pretraining.py's dev split) from
        all-MiniLM-L6-v2, whose hidden states were never trained to predict tokens: MLM loss
        10.74 nats with BERT's random init of the head (6.68 with the unigram-prior bias), 10.50
        with the identity (6.16 with the prior; uniform is ln 30522 = 10.33), which also
        predicts the token at the masked positions whose input was kept (about 5%)."""
        self.mlm_transform.weight.copy_(torch.eye(self.config.hidden_size))
        self.mlm_transform.bias.zero_()
        last = self.bert.layers[-1].ffn_norm if len(self.bert.layers) else self.bert.embeddings.norm
        self.mlm_norm.weight.copy_(last.weight)
        self.mlm_norm.bias.copy_(last.bias)
        self.mlm_bias.zero_()

    def _mlm_transform(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlm_norm(F.gelu(self.mlm_transform(h)))

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for hidden states (..., C); the output layer is the token embedding."""
        return F.linear(self._mlm_transform(h), self.bert.embeddings.word.weight, self.mlm_bias)

    def _mlm_loss(self, h: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed cross-entropy, correct predictions) of the MLM head on hidden states (n, C)."""
        return linear_cross_entropy(self._mlm_transform(h), self.bert.embeddings.word.weight, target,
                                    bias=self.mlm_bias)

    def loss_counts(self, batch: dict[str, Any]) -> dict[str, int]:
        """The ``counts`` that ``forward(**batch)`` will report, from the labels alone."""
        counts = {}
        labels = batch.get("labels")
        if labels is not None:
            counts["mlm"] = int((labels != -100).sum())
            if self.config.mlm_unmasked_weight > 0:
                other = labels == -100
                if batch.get("attention_mask") is not None:
                    other &= batch["attention_mask"] != 0
                counts["mlm_unmasked"] = int(other.sum())
        if batch.get("next_sentence_label") is not None:
            counts["nsp"] = int(batch["next_sentence_label"].shape[0])
        return counts

    def forward(self, input_ids: torch.Tensor, token_type_ids: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, labels: Optional[torch.Tensor] = None,
                next_sentence_label: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None,
                output_hidden_states: bool = False) -> ModelOutput:
        out = self.bert(input_ids, token_type_ids, attention_mask, position_ids, output_hidden_states)
        h, pooled = out.last_hidden_state, out.extras["pooler_output"]
        nsp_logits = self.nsp(pooled)
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, torch.Tensor] = {}
        correct: dict[str, torch.Tensor] = {}
        logits = None
        if labels is None:
            logits = self.mlm_logits(h)
        else:
            if labels.shape != input_ids.shape:
                raise ValueError(f"labels has shape {tuple(labels.shape)}; expected {tuple(input_ids.shape)} like input_ids")
            chosen = labels != -100
            sums["mlm"], correct["mlm"] = self._mlm_loss(h[chosen], labels[chosen])
            counts["mlm"] = chosen.sum()
            w = self.config.mlm_unmasked_weight
            if w > 0:
                other = ~chosen if attention_mask is None else ~chosen & (attention_mask != 0)
                s, c = self._mlm_loss(h[other], input_ids[other])
                sums["mlm_unmasked"], correct["mlm_unmasked"], counts["mlm_unmasked"] = w * s, c, other.sum()
        if next_sentence_label is not None:
            sums["nsp"] = F.cross_entropy(nsp_logits.float(), next_sentence_label, reduction="sum")
            counts["nsp"] = torch.tensor(next_sentence_label.shape[0], device=nsp_logits.device)
            correct["nsp"] = (nsp_logits.argmax(-1) == next_sentence_label).sum()
        return ModelOutput(loss=mean_loss(sums, counts) if sums else None, loss_sums=sums, counts=counts,
                           correct=correct, logits=logits, last_hidden_state=h, hidden_states=out.hidden_states,
                           extras={"nsp_logits": nsp_logits, "pooler_output": pooled})


def init_weights(m: nn.Module, std: float) -> None:
    """BERT's and GPT-2's initialisation: N(0, std) weights, zero biases, unit LayerNorm."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, std)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, std)
        if m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def check_ids(input_ids: Any, vocab_size: int, max_position: int) -> tuple[int, int]:
    """(B, T) of a valid id batch, or a ValueError/TypeError that says what is wrong."""
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(f"input_ids must be a torch.Tensor of shape (batch, length), got {type(input_ids).__name__}")
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch, length), got {tuple(input_ids.shape)}")
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"input_ids must be int64 (or int32), got {input_ids.dtype}")
    B, T = input_ids.shape
    if T > max_position:
        raise ValueError(f"sequence length {T} exceeds the model's max_position {max_position}")
    if input_ids.device.type == "cpu" and input_ids.numel():
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(f"token id {hi if hi >= vocab_size else lo} is outside the vocabulary [0, {vocab_size})")
    return B, T
