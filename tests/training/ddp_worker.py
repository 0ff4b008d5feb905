"""The toy trained on two gloo ranks, each with half of every global batch (see test_ddp.py).

Run as ``torchrun --nproc_per_node=2 ddp_worker.py OUT_DIR``, or call :func:`run_rank` in
processes whose environment says RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, as torchrun would.
"""

from __future__ import annotations

import sys

import torch

from fastembed.training import TrainConfig, init_distributed, train
from fastembed.training.distributed import destroy
from tests.training.toy import ToyData, make_model

# Shared with the one-process run in test_ddp.py (which uses grad_accum=1: the whole batch at once).
CONFIG = dict(steps=4, lr=1e-2, warmup_steps=1, log_every=1, eval_every=2, eval_batches=2)
BATCH = 8


def run_rank(out_dir: str) -> None:
    torch.set_num_threads(1)  # tiny model; and one thread keeps a forked child clear of OpenMP's pool
    rank, world_size, device = init_distributed("cpu")
    assert world_size == 2, world_size
    model = make_model(seed=rank, dropout=0.0).to(device)  # different inits: DDP must broadcast rank 0's
    try:
        train(model, ToyData(batch_size=BATCH), TrainConfig(**CONFIG, grad_accum=2, out_dir=out_dir),
              eval_data=ToyData(seed=1, batch_size=BATCH))
    finally:
        destroy()


if __name__ == "__main__":
    run_rank(sys.argv[1])
