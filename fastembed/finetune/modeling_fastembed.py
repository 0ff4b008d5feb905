"""transformers classes for fastembed's fine-tuning heads that transformers has no class for.

This file is not imported by fastembed. :func:`fastembed.finetune.export.save_model` copies it
into a fine-tuned model directory whose head transformers cannot express (mean pooling, layers
other than the last, a scalar mix of every layer, an LSTM tagger), and config.json's
``auto_map`` points transformers at it, so that

    AutoModelForSequenceClassification.from_pretrained(d, trust_remote_code=True)

(or ...ForTokenClassification / ...ForQuestionAnswering) builds the same head and gives the same
logits as fastembed's FineTuneModel. It needs only torch and transformers, and the weights keep
transformers' names: ``bert.*`` is a standard BertModel, then ``classifier.*`` / ``qa_outputs.*``,
``lstm.*`` (a bidirectional LSTM) and ``scalar_mix.scalars`` / ``scalar_mix.gamma``.

What the head reads is config.json's ``fastembed`` object:

    layers        "last", "second_to_last", "sum_last_4", "concat_last_4" (4C wide), "embeddings"
                  (hidden_states[0]) or "scalar_mix" (gamma * sum_j softmax(scalars)_j * hidden_states[j],
                  Peters et al. 2018)
    head_options  sequence: "pooling" ("mean" over the real tokens, or "pooler"), "dropout";
                  token: "dropout", "lstm_hidden" (0 = no LSTM)

The span head here scores every position, padding included, as BertForQuestionAnswering does
(fastembed's own SpanHead sets padded positions to the dtype's minimum): compare the real tokens.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import (QuestionAnsweringModelOutput, SequenceClassifierOutput,
                                           TokenClassifierOutput)
from transformers.models.bert.modeling_bert import BertModel, BertPreTrainedModel

WIDTH = {"concat_last_4": 4}


def _options(config) -> dict:
    fe = getattr(config, "fastembed", None)
    if not isinstance(fe, dict) or "layers" not in fe:
        raise ValueError("config.json has no 'fastembed' object with 'layers': this class reads a directory "
                         "written by fastembed.finetune.export.save_model")
    if fe.get("encoder"):
        raise ValueError(f"this directory holds only the head; its encoder is the directory {fe['encoder']!r}. "
                         "Load it with fastembed.finetune.export.load_model, or save the whole model "
                         "(finetune(..., save_full_model=True) / --save-full-model)")
    return fe


class ScalarMix(nn.Module):
    def __init__(self, num_entries: int) -> None:
        super().__init__()
        self.scalars = nn.Parameter(torch.zeros(num_entries))
        self.gamma = nn.Parameter(torch.tensor(1.0))

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:      # (B, T, L+1, C) -> (B, T, C)
        w = torch.softmax(self.scalars, 0).to(stacked.dtype)
        return self.gamma.to(stacked.dtype) * torch.einsum("...lc,l->...c", stacked, w)


class _FastembedBert(BertPreTrainedModel):
    """A BertModel and the features its head reads (``layers``)."""

    def _build_encoder(self, config, *, pooler: bool) -> None:
        fe = _options(config)
        self.layers = fe["layers"]
        self.bert = BertModel(config, add_pooling_layer=pooler)
        self.scalar_mix = ScalarMix(config.num_hidden_layers + 1) if self.layers == "scalar_mix" else None
        self.feature_width = WIDTH.get(self.layers, 1) * config.hidden_size

    def _features(self, input_ids, attention_mask, token_type_ids, **kwargs):
        out = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        output_hidden_states=self.layers != "last", return_dict=True, **kwargs)
        if self.layers == "last":
            return out.last_hidden_state, out.pooler_output
        hs = out.hidden_states                                      # embeddings first, then every layer
        if len(hs) != self.config.num_hidden_layers + 1:
            raise RuntimeError(f"expected {self.config.num_hidden_layers + 1} hidden states, got {len(hs)}")
        if self.layers == "second_to_last":
            h = hs[-2]
        elif self.layers == "sum_last_4":
            h = hs[-4] + hs[-3] + hs[-2] + hs[-1]
        elif self.layers == "concat_last_4":
            h = torch.cat(hs[-4:], dim=-1)
        elif self.layers == "embeddings":
            h = hs[0]
        elif self.layers == "scalar_mix":
            h = self.scalar_mix(torch.stack(tuple(hs), dim=2))
        else:
            raise ValueError(f"unknown layers {self.layers!r} in config.json's fastembed object")
        return h, out.pooler_output


def _mask(input_ids, attention_mask):
    return torch.ones_like(input_ids) if attention_mask is None else attention_mask


class FastembedBertForSequenceClassification(_FastembedBert):
    def __init__(self, config) -> None:
        super().__init__(config)
        opts = _options(config).get("head_options", {})
        self.num_labels, self.pooling = config.num_labels, opts.get("pooling", "mean")
        self._build_encoder(config, pooler=self.pooling == "pooler")
        self.dropout = nn.Dropout(opts.get("dropout", 0.1))
        self.classifier = nn.Linear(self.feature_width, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        mask = _mask(input_ids, attention_mask)
        h, pooled = self._features(input_ids, mask, token_type_ids, **kwargs)
        if self.pooling == "pooler":
            x = pooled
        else:                                                       # the mean of the real tokens' states
            m = (mask != 0).to(h.dtype).unsqueeze(-1)
            x = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        logits = self.classifier(self.dropout(x))                   # (B, L)
        loss = nn.functional.cross_entropy(logits.float(), labels.view(-1)) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


class FastembedBertForTokenClassification(_FastembedBert):
    def __init__(self, config) -> None:
        super().__init__(config)
        opts = _options(config).get("head_options", {})
        self.num_labels = config.num_labels
        self._build_encoder(config, pooler=False)
        self.dropout = nn.Dropout(opts.get("dropout", 0.1))
        lstm_hidden = int(opts.get("lstm_hidden", 0))
        self.lstm = nn.LSTM(self.feature_width, lstm_hidden, batch_first=True, bidirectional=True) \
            if lstm_hidden > 0 else None
        self.classifier = nn.Linear(2 * lstm_hidden if self.lstm is not None else self.feature_width,
                                    config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        mask = _mask(input_ids, attention_mask)
        h, _ = self._features(input_ids, mask, token_type_ids, **kwargs)
        x = self.dropout(h)
        if self.lstm is not None:                                   # over the real tokens only
            lengths = mask.sum(1).clamp_min(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True, total_length=h.shape[1])
            x = self.dropout(x)
        logits = self.classifier(x)                                 # (B, T, L)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits)


class FastembedBertForQuestionAnswering(_FastembedBert):
    def __init__(self, config) -> None:
        super().__init__(config)
        self._build_encoder(config, pooler=False)
        self.qa_outputs = nn.Linear(self.feature_width, 2)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, start_positions=None,
                end_positions=None, **kwargs):
        h, _ = self._features(input_ids, _mask(input_ids, attention_mask), token_type_ids, **kwargs)
        logits = self.qa_outputs(h)                                 # (B, T, 2)
        start, end = (x.squeeze(-1).contiguous() for x in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = 0.5 * (nn.functional.cross_entropy(start.float(), start_positions)
                          + nn.functional.cross_entropy(end.float(), end_positions))
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)
