"""How much memory a pretraining step will want, estimated before anything big is allocated.

A user-chosen size (``--batch-size``, ``--max-length``, ``--set hidden_size=...``) drives the big
allocations of a run: the parameters with their gradients and AdamW moments (4 copies), the
activations the backward keeps (per token and layer, about 8 x hidden + 2 x intermediate floats;
the reference attention adds its heads x seq_len scores), and BERT's vocabulary logits at the
masked positions. The estimate is rough (within a factor of about 2, on the low side: the
allocator, temporaries and the framework are not counted) and exists to refuse a run that
cannot fit *before* it starts allocating, not to plan one that nearly fits.
"""

from __future__ import annotations

from typing import Any

from .._memory import available_bytes as host_available
from .._memory import format_bytes  # noqa: F401  (one unit style for every memory message)

FLOAT = 4   # bytes: parameters, gradients, moments and activations are float32 (bf16 autocast not counted)


def parameter_count(kind: str, cfg: Any) -> int:
    """Parameters of a BERT (with its pretraining heads), GPT or ELMo of config ``cfg``."""
    if kind == "elmo":
        V, E, H, L = cfg.vocab_size, cfg.embed_size, cfg.hidden_size, cfg.num_layers
        layer = 4 * H * (E + H) + 8 * H + (H * E + E if H != E else 0)   # LSTM (two biases) + projection
        return V * E + V + 2 * L * layer
    V, H, L, I, P = cfg.vocab_size, cfg.hidden_size, cfg.num_layers, cfg.intermediate_size, cfg.max_position
    layer = 4 * H * H + 4 * H + 2 * H * I + I + H + 4 * H          # qkv + out, up + down, two norms
    n = V * H + P * H + 2 * H + L * layer
    if kind == "bert":
        n += cfg.type_vocab_size * H + (H * H + H) + (H * H + 3 * H + V) + (2 * H + 2)   # pooler, MLM, NSP
    return n


def step_bytes(kind: str, cfg: Any, *, rows: int, seq_len: int, mlm_probability: float = 0.15) -> dict[str, int]:
    """The estimate, by part: ``{"parameters": ..., "activations": ..., "logits": ...}`` in bytes,
    for micro-batches of ``rows`` sequences of ``seq_len`` tokens."""
    if kind == "elmo":   # per direction and layer: the LSTM's gates, cell and output, the projection, the sum
        E, H, L = cfg.embed_size, cfg.hidden_size, cfg.num_layers
        return {"parameters": 4 * FLOAT * parameter_count(kind, cfg),
                "activations": FLOAT * rows * seq_len * (2 * L * (6 * H + 3 * E) + 3 * E)}
    H, L, I = cfg.hidden_size, cfg.num_layers, cfg.intermediate_size
    per_token = L * (8 * H + 2 * I) + 2 * H
    if getattr(cfg, "attn_impl", "") == "reference":
        per_token += L * cfg.num_heads * seq_len * 2
    parts = {"parameters": 4 * FLOAT * parameter_count(kind, cfg),
             "activations": FLOAT * rows * seq_len * per_token}
    if kind == "bert":   # logits and their gradient at the masked positions only
        parts["logits"] = 2 * FLOAT * int(rows * seq_len * mlm_probability + 1) * cfg.vocab_size
    return parts


def available_bytes(device: Any) -> int | None:
    """Memory free for this process on ``device`` (a torch.device), None when it cannot be told."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        try:
            # free on the device plus what torch's caching allocator holds but does not use
            return int(torch.cuda.mem_get_info(device)[0]) + int(torch.cuda.memory_reserved(device)
                                                                 - torch.cuda.memory_allocated(device))
        except (RuntimeError, AssertionError):
            return None
    return host_available()   # MemAvailable, capped by a cgroup limit
