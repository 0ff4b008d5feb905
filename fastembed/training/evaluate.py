"""Add up a model's loss sums, counts and correct predictions over batches and ranks; evaluate.

A mean over a whole evaluation set is ``Σ loss_sums / Σ counts`` over every batch on every rank,
not a mean of per-batch means (batches hold different numbers of masked tokens). :class:`Totals`
keeps the three sums per objective on this rank, and :meth:`Totals.reduce` adds them over ranks
in one all-reduce and turns them into a metrics row.
"""

from __future__ import annotations

import math
from typing import Any

from .._optional import require_torch
from .distributed import all_reduce_sum, rank_and_world, unwrap

torch = require_torch("fastembed.training")


class Totals:
    """Per-objective sums of loss, items and correct predictions on this rank (float64)."""

    def __init__(self) -> None:
        self.loss: dict[str, Any] = {}
        self.count: dict[str, Any] = {}
        self.correct: dict[str, Any] = {}

    def add(self, out: Any) -> None:
        """Add one ``ModelOutput`` (values stay tensors on the device: no GPU sync here)."""
        for k, s in out.loss_sums.items():
            self.loss[k] = self.loss.get(k, 0) + s.detach().double()
            self.count[k] = self.count.get(k, 0) + torch.as_tensor(out.counts[k], dtype=torch.float64, device=s.device)
            if k in out.correct:
                c = torch.as_tensor(out.correct[k], dtype=torch.float64, device=s.device)
                self.correct[k] = self.correct.get(k, 0) + c

    def reduce(self, device: "torch.device", extra: tuple = ()) -> tuple[dict[str, float], list[float]]:
        """Sum over ranks; return ``({k}_loss, {k}_accuracy, loss[, perplexity]), extra summed``.

        ``loss`` is the sum of the per-objective means (what the model optimises); ``perplexity``
        is ``exp(lm_loss)`` when there is an "lm" objective, and for a bidirectional LM (ELMo's
        "lm_fwd" and "lm_bwd") each direction's ``lm_fwd_perplexity`` / ``lm_bwd_perplexity`` and
        their mean as ``perplexity``, the figure the ELMo paper reports. Every rank must hold the same
        objectives; ``extra`` values (e.g. a token count) ride along in the same all-reduce.
        """
        keys = sorted(self.loss)
        with_correct = [k for k in keys if k in self.correct]
        values = ([self.loss[k] for k in keys] + [self.count[k] for k in keys]
                  + [self.correct[k] for k in with_correct] + list(extra))
        flat = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device) for v in values])
        flat = all_reduce_sum(flat).tolist()
        n = len(keys)
        loss, count = dict(zip(keys, flat[:n])), dict(zip(keys, flat[n:2 * n]))
        correct = dict(zip(with_correct, flat[2 * n:2 * n + len(with_correct)]))
        row: dict[str, float] = {"loss": sum(loss[k] / max(count[k], 1) for k in keys)}
        for k in keys:
            row[f"{k}_loss"] = loss[k] / max(count[k], 1)
            if k in correct:
                row[f"{k}_accuracy"] = correct[k] / max(count[k], 1)
        if "lm" in keys:
            row["perplexity"] = math.exp(min(row["lm_loss"], 700.0))
        elif "lm_fwd" in keys and "lm_bwd" in keys:
            for k in ("lm_fwd", "lm_bwd"):
                row[f"{k}_perplexity"] = math.exp(min(row[f"{k}_loss"], 700.0))
            row["perplexity"] = (row["lm_fwd_perplexity"] + row["lm_bwd_perplexity"]) / 2
        return row, flat[2 * n + len(with_correct):]


def to_device(batch: dict, device: "torch.device") -> dict:
    return {k: v.to(device, non_blocking=True) if hasattr(v, "to") else v for k, v in batch.items()}


@torch.no_grad()
def evaluate(model: "torch.nn.Module", data: Any, batches: int, *, bf16: bool = False) -> dict[str, float]:
    """Mean loss and accuracy per objective over ``data.get_batch(i)`` for ``i < batches``.

    Runs with dropout off (``model.eval()``, restored afterwards) and without gradients; under
    torch.distributed each rank evaluates its share of every batch and the sums are combined.
    """
    raw = unwrap(model)  # the plain module: no DDP hooks or buffer broadcasts in evaluation
    rank, world = rank_and_world()
    device = next(raw.parameters()).device
    was_training = raw.training
    raw.eval()
    totals = Totals()
    try:
        for i in range(batches):
            batch = to_device(data.get_batch(i, rank=rank, world_size=world), device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                totals.add(raw(**batch))
    finally:
        raw.train(was_training)
    return totals.reduce(device)[0]
