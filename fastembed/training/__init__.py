"""Pretraining: one loop for every fastembed model (BERT's MLM + NSP, GPT's causal LM) and any data.

The loop (:func:`train`) only knows two small interfaces:

- the model: ``model(**batch)`` returns a ``ModelOutput`` whose losses are *sums* per objective
  with their item counts, and ``model.loss_counts(batch)`` gives those counts up front;
- the data: ``data.get_batch(step, *, rank, world_size)`` returns this rank's share of the
  global batch for optimizer step ``step``, a pure function of (seed, step).

From those it builds the step that is the same whether the global batch runs in one process,
in micro-batches (gradient accumulation) or on many ranks (DDP via ``torchrun``): every loss is
divided by its item count over the whole global batch. Around the step: AdamW with weight decay
on weight matrices only (:mod:`.optim`), a warmup + linear/cosine schedule computed from the
step, gradient clipping, optional bf16 autocast, metrics in ``metrics.jsonl`` (:mod:`.metrics`),
periodic evaluation (:mod:`.evaluate`) and atomic checkpoints that resume bit for bit
(:mod:`.checkpoint`, :mod:`.rng`).

    from fastembed.training import TrainConfig, train
    rows = train(model, data, TrainConfig(steps=10_000, lr=1e-4, warmup_steps=1_000, out_dir="runs/bert"),
                 eval_data=dev)
    # killed? run the same line with resume=True
"""

from .._optional import require_torch

require_torch("fastembed.training")

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from .distributed import init_distributed  # noqa: E402
from .evaluate import evaluate  # noqa: E402
from .loop import TrainConfig, train  # noqa: E402
from .optim import lr_schedule, make_optimizer, param_groups, set_lr  # noqa: E402

__all__ = ["TrainConfig", "train", "evaluate", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
           "make_optimizer", "param_groups", "lr_schedule", "set_lr", "init_distributed"]
