"""What every fastembed model's forward returns, and the contract the training loop relies on.

A pretraining model's ``forward(**batch)`` returns a :class:`ModelOutput`. Losses come as *sums*
with the number of items summed over (``counts``), one entry per objective ("mlm", "nsp", "lm"),
so the training loop can normalise by the count over all micro-batches and all ranks: two
processes with half a batch each then take exactly the step that one process with the whole
batch takes. ``loss`` is the plain mean over this batch (the sum over objectives of
``loss_sums[k] / counts[k]``), for people calling the model directly.

Models also expose ``loss_counts(batch) -> dict[str, int]``: the counts a batch will give,
computed from its labels without running the model (the loop needs them before the backward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class ModelOutput:
    loss: Optional[Any] = None                                  # scalar tensor: mean loss over this batch
    loss_sums: dict[str, Any] = field(default_factory=dict)     # objective -> summed loss (scalar tensor)
    counts: dict[str, Any] = field(default_factory=dict)        # objective -> items summed over (int tensor)
    correct: dict[str, Any] = field(default_factory=dict)       # objective -> correct predictions (int tensor)
    logits: Optional[Any] = None                                # task logits (see each model's docstring)
    last_hidden_state: Optional[Any] = None                     # (B, T, hidden) after the last layer
    hidden_states: Optional[tuple] = None                       # embeddings first, then each layer
    extras: dict[str, Any] = field(default_factory=dict)        # model-specific: nsp_logits, pooler_output, past_key_values


def mean_loss(loss_sums: dict[str, Any], counts: dict[str, Any]) -> Any:
    """Σ over objectives of sum / max(count, 1)."""
    total = None
    for k, s in loss_sums.items():
        term = s / counts[k].clamp_min(1) if hasattr(counts[k], "clamp_min") else s / max(int(counts[k]), 1)
        total = term if total is None else total + term
    return total
