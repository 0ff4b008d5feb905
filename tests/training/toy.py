"""A toy model and toy data that follow the contracts the training loop relies on.

ToyModel: embedding -> LayerNorm -> linear + tanh -> dropout, then two objectives like BERT's:
a per-token one ("mlm", or "lm" to get a perplexity) through an output layer tied to the
embedding, and a per-row one ("nsp") on the mean-pooled states. Labels are -100 where masked,
so every row (and every rank) contributes a different number of items: exactly the case the
count normalisation exists for.

ToyData: ``get_batch(step, rank=, world_size=)`` draws the global batch from a generator seeded
by (seed, step) and returns this rank's rows; the token label is a fixed function of the token,
the row label a function of the first token, so the model can learn both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fastembed.models.output import ModelOutput, mean_loss


@dataclass
class ToyConfig:
    vocab_size: int = 24
    hidden: int = 16
    n_classes: int = 3
    dropout: float = 0.1
    token_objective: str = "mlm"


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden)
        self.norm = nn.LayerNorm(config.hidden)
        self.proj = nn.Linear(config.hidden, config.hidden)
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden, config.vocab_size)
        self.lm_head.weight = self.embed.weight  # tied, as in BERT and GPT
        self.cls_head = nn.Linear(config.hidden, config.n_classes)

    def forward(self, input_ids, attention_mask, labels, cls_labels) -> ModelOutput:
        h = self.drop(torch.tanh(self.proj(self.norm(self.embed(input_ids)))))   # (B, T, H)
        logits = self.lm_head(h)                                                   # (B, T, V)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        cls_logits = self.cls_head((h * m).sum(1) / m.sum(1).clamp_min(1))      # (B, C)
        tok = self.config.token_objective
        sums = {tok: F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), reduction="sum"),
                "nsp": F.cross_entropy(cls_logits.float(), cls_labels, reduction="sum")}
        counts = {tok: (labels != -100).sum(), "nsp": (cls_labels != -100).sum()}
        correct = {tok: ((logits.argmax(-1) == labels) & (labels != -100)).sum(),
                   "nsp": ((cls_logits.argmax(-1) == cls_labels) & (cls_labels != -100)).sum()}
        return ModelOutput(loss=mean_loss(sums, counts), loss_sums=sums, counts=counts, correct=correct,
                           logits=logits)

    def loss_counts(self, batch: dict) -> dict[str, int]:
        return {self.config.token_objective: int((batch["labels"] != -100).sum()),
                "nsp": int((batch["cls_labels"] != -100).sum())}


class ToyData:
    def __init__(self, seed: int = 0, batch_size: int = 8, seq_len: int = 8, vocab_size: int = 24,
                 n_classes: int = 3, fixed: bool = False) -> None:
        self.seed, self.batch_size, self.seq_len = seed, batch_size, seq_len
        self.vocab_size, self.n_classes, self.fixed = vocab_size, n_classes, fixed

    def get_batch(self, step: int, *, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        if self.batch_size % world_size:
            raise ValueError(f"batch_size {self.batch_size} does not split over {world_size} ranks")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + (0 if self.fixed else step))
        B, T, V = self.batch_size, self.seq_len, self.vocab_size
        lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
        mask = (torch.arange(T) < lengths[:, None]).long()
        ids = torch.randint(1, V, (B, T), generator=g) * mask                      # 0 = padding
        picked = (torch.rand(B, T, generator=g) < 0.4) & mask.bool()
        labels = torch.where(picked, (ids * 5 + 3) % V, -100)
        cls_labels = torch.where(torch.rand(B, generator=g) < 0.7, ids[:, 0] % self.n_classes, -100)
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels, "cls_labels": cls_labels}
        per = B // world_size
        return {k: v[rank * per:(rank + 1) * per] for k, v in batch.items()}


class StopAt:
    """Data that raises KeyboardInterrupt when asked for step ``stop``: a Ctrl-C between steps."""

    def __init__(self, data: ToyData, stop: int) -> None:
        self.data, self.stop, self.seed = data, stop, data.seed

    def get_batch(self, step: int, **kw) -> dict[str, torch.Tensor]:
        if step == self.stop:
            raise KeyboardInterrupt
        return self.data.get_batch(step, **kw)


def make_model(seed: int = 0, **config) -> ToyModel:
    torch.manual_seed(seed)
    return ToyModel(ToyConfig(**config))


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
