"""Task heads on a BERT encoder, and the model that joins them: :class:`FineTuneModel`.

Three heads, the three ways BERT's paper (Devlin et al. 2019, section 4) reads its output:

    sequence classification   pooled [CLS] = tanh(W·h[CLS])  -> dropout -> Linear(C, L)      (B, L)
    span QA                   every token h_t                -> Linear(C, 2)                 (B, T, 2)
                              channel 0 scores "the answer starts here", channel 1 "ends here"
    token classification      every token h_t                -> dropout -> Linear(C, L)      (B, T, L)

Shapes: B = batch, T = tokens, C = the encoder's hidden size (4C for "concat_last_4"),
L = number of labels. A head's ``forward(hidden, pooled, mask)`` returns logits and its
``loss(logits, mask, **targets)`` the mean cross-entropy.

:class:`FineTuneModel` runs the encoder and the head. ``freeze_encoder=True`` is BERT's
feature-based approach: the encoder's parameters get ``requires_grad=False`` and it always runs
in eval mode (no dropout) under ``torch.no_grad()``, so no activation is kept for a backward and
only the head learns. ``False`` fine-tunes end to end. ``layers`` picks which hidden states the
head reads, by :mod:`fastembed.features`' names (BERT's Table 7 compares these for NER with a
frozen encoder): ``"last"``, ``"second_to_last"``, ``"sum_last_4"``, ``"concat_last_4"``,
``"embeddings"`` (the embedding layer's output, before any attention), or ``"scalar_mix"``
(ELMo's learned softmax-weighted sum of every layer and a scale, a :class:`ScalarMix` trained with
the head, at the head's learning rate; with a frozen encoder it is the only part besides the
head that learns).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Optional

from .._optional import require_torch
from ..features import LAYER_STRATEGIES, ScalarMix, combine_layers, layer_indices, pool
from ..features import feature_width as _feature_width
from ..models.output import ModelOutput

torch = require_torch("fastembed.finetune")
nn, F = torch.nn, torch.nn.functional

LAYER_CHOICES = tuple(x for x in LAYER_STRATEGIES if x != "all")   # "all" is 4-D: no head reads it


def check_layers(layers: str) -> None:
    if layers not in LAYER_CHOICES:
        raise ValueError(f"layers must be one of {LAYER_CHOICES}, got {layers!r}")


def feature_width(layers: str, hidden_size: int, num_layers: int) -> int:
    """Width of the features ``layers`` gives an encoder (4C for a concat of four layers)."""
    check_layers(layers)
    return _feature_width(layers, hidden_size, num_layers)


class SequenceClassificationHead(nn.Module):
    """One label per sequence (or sequence pair): dropout on the pooled [CLS], then a linear layer.

    ``pooling="pooler"`` (BERT's choice) takes the encoder's pooler output tanh(W·h[CLS]);
    ``"mean"`` averages the real tokens' states instead (what sentence-transformers checkpoints
    such as all-MiniLM-L6-v2 were trained to make meaningful).
    """

    def __init__(self, hidden_size: int, num_labels: int, *, dropout: float = 0.1, pooling: str = "pooler") -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"sequence classification needs at least 2 labels, got {num_labels}")
        if pooling not in ("pooler", "mean"):
            raise ValueError(f"pooling must be 'pooler' or 'mean', got {pooling!r}")
        self.pooling = pooling
        self.needs_hidden = pooling == "mean"                      # the token states, or only the pooled [CLS]
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)
        _init(self.out)

    def forward(self, hidden: "torch.Tensor", pooled: Optional["torch.Tensor"], mask: "torch.Tensor") -> "torch.Tensor":
        if self.pooling == "pooler":
            if pooled is None:
                raise ValueError("pooling='pooler' needs an encoder with a pooler (BertModel(add_pooler=True))")
            x = pooled
        else:
            x = pool(hidden, mask, "mean")
        return self.out(self.drop(x))                              # (B, L)

    def loss(self, logits: "torch.Tensor", mask: "torch.Tensor", labels: "torch.Tensor") -> "torch.Tensor":
        return F.cross_entropy(logits.float(), labels)


class SpanHead(nn.Module):
    """Extractive QA: a start score and an end score for every token (Linear(C, 2)).

    The loss is the mean of two cross-entropies over the tokens of each row, one for the start
    position and one for the end (padding excluded). A row whose answer is not in its window
    points both at position 0, the [CLS] token.
    """

    needs_hidden = True

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.out = nn.Linear(hidden_size, 2)
        _init(self.out)

    def forward(self, hidden: "torch.Tensor", pooled: Optional["torch.Tensor"], mask: "torch.Tensor") -> "torch.Tensor":
        logits = self.out(hidden)                                  # (B, T, 2)
        return logits.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(logits.dtype).min)

    def loss(self, logits: "torch.Tensor", mask: "torch.Tensor", start_positions: "torch.Tensor",
             end_positions: "torch.Tensor") -> "torch.Tensor":
        T = logits.shape[1]
        if int(start_positions.max()) >= T or int(end_positions.max()) >= T or int(start_positions.min()) < 0:
            raise ValueError(f"start/end positions must lie in [0, {T}) for a batch of {T} tokens")
        logits = logits.float()
        return 0.5 * (F.cross_entropy(logits[..., 0], start_positions) + F.cross_entropy(logits[..., 1], end_positions))


class TokenClassificationHead(nn.Module):
    """One label per token: dropout, then a linear layer on each token's state.

    ``lstm_hidden`` > 0 puts a one-layer bidirectional LSTM of that width (per direction) before
    the linear layer: the small tagger BERT's paper trains on frozen features, which lets the
    embedding-layer features (no attention yet) see their neighbours. Positions labelled -100
    (padding, a word's second and later pieces, [CLS]/[SEP]) are not scored.
    """

    needs_hidden = True

    def __init__(self, hidden_size: int, num_labels: int, *, dropout: float = 0.1, lstm_hidden: int = 0) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"token classification needs at least 1 label, got {num_labels}")
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(hidden_size, lstm_hidden, batch_first=True, bidirectional=True) if lstm_hidden > 0 else None
        self.out = nn.Linear(2 * lstm_hidden if self.lstm is not None else hidden_size, num_labels)
        _init(self.out)

    def forward(self, hidden: "torch.Tensor", pooled: Optional["torch.Tensor"], mask: "torch.Tensor") -> "torch.Tensor":
        x = self.drop(hidden)
        if self.lstm is not None:                                   # run over the real tokens only
            lengths = mask.sum(1).clamp_min(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True, total_length=hidden.shape[1])
            x = self.drop(x)
        return self.out(x)                                          # (B, T, L)

    def loss(self, logits: "torch.Tensor", mask: "torch.Tensor", labels: "torch.Tensor") -> "torch.Tensor":
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels have shape {tuple(labels.shape)}; expected {tuple(logits.shape[:2])}")
        if not bool((labels != -100).any()):                        # nothing to score: a zero that still has a graph
            return logits.sum() * 0.0
        return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)


def _init(linear: "nn.Linear", std: float = 0.02) -> None:
    nn.init.normal_(linear.weight, 0.0, std)                        # BERT's initialisation
    nn.init.zeros_(linear.bias)


class FineTuneModel(nn.Module):
    """An encoder (:class:`fastembed.models.BertModel`) and a head, trained end to end or with the
    encoder frozen.

    ``forward(input_ids, token_type_ids, attention_mask, **targets)`` returns a ModelOutput with
    ``logits`` (the head's) and, when targets are given (``labels``, or ``start_positions`` and
    ``end_positions``), ``loss``. :meth:`encode` and :meth:`head_forward` are the two halves, for
    callers that cache a frozen encoder's output.
    """

    def __init__(self, encoder: "nn.Module", head: "nn.Module", *, freeze_encoder: bool = False,
                 layers: str = "last") -> None:
        super().__init__()
        check_layers(layers)
        if layers != "last" and getattr(head, "pooling", None) == "pooler":
            raise ValueError(f"the pooler reads the last layer only; use pooling='mean' with layers={layers!r}")
        layer_indices(layers, encoder.config.num_layers)           # enough layers for the name
        self.encoder, self.head = encoder, head
        self.freeze_encoder, self.layers = bool(freeze_encoder), layers
        self.mix = ScalarMix(encoder.config.num_layers + 1) if layers == "scalar_mix" else None
        if self.freeze_encoder:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> "FineTuneModel":
        super().train(mode)
        if self.freeze_encoder:                                     # a frozen encoder never drops out
            self.encoder.eval()
        return self

    def encode(self, input_ids: "torch.Tensor", token_type_ids: Optional["torch.Tensor"] = None,
               attention_mask: Optional["torch.Tensor"] = None) -> tuple["torch.Tensor", Optional["torch.Tensor"]]:
        """(features (B, T, C'), pooled (B, C) or None) for the head: what the encoder gives, before
        anything trainable outside it (with ``layers="scalar_mix"`` every hidden state, stacked
        (B, T, L+1, C), which :meth:`head_forward` mixes)."""
        with torch.no_grad() if self.freeze_encoder else nullcontext():
            out = self.encoder(input_ids, token_type_ids, attention_mask, output_hidden_states=self.layers != "last")
        if self.layers == "last":
            hidden = out.last_hidden_state
        elif self.mix is not None:
            hidden = torch.stack(tuple(out.hidden_states), dim=2)
        else:
            hidden = combine_layers(out.hidden_states, self.layers)
        return hidden, out.extras.get("pooler_output")

    def head_forward(self, hidden: "torch.Tensor", pooled: Optional["torch.Tensor"], attention_mask: "torch.Tensor",
                     **targets: Any) -> ModelOutput:
        if self.mix is not None:
            hidden = self.mix(hidden)
        logits = self.head(hidden, pooled, attention_mask)
        targets = {k: v for k, v in targets.items() if v is not None}
        loss = self.head.loss(logits, attention_mask, **targets) if targets else None
        return ModelOutput(loss=loss, logits=logits)

    def forward(self, input_ids: "torch.Tensor", token_type_ids: Optional["torch.Tensor"] = None,
                attention_mask: Optional["torch.Tensor"] = None, **targets: Any) -> ModelOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden, pooled = self.encode(input_ids, token_type_ids, attention_mask)
        return self.head_forward(hidden, pooled, attention_mask, **targets)


def make_head(kind: str, hidden_size: int, num_labels: int = 2, **options: Any) -> "nn.Module":
    """The head for a task kind: ``"sequence"``, ``"span"`` (``num_labels`` unused) or ``"token"``;
    ``options`` go to its constructor."""
    if kind == "sequence":
        return SequenceClassificationHead(hidden_size, num_labels, **options)
    if kind == "span":
        return SpanHead(hidden_size, **options)
    if kind == "token":
        return TokenClassificationHead(hidden_size, num_labels, **options)
    raise ValueError(f"unknown head kind {kind!r}: expected 'sequence', 'span' or 'token'")
