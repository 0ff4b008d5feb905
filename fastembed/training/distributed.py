"""Data-parallel training over ``torch.distributed``, launched by ``torchrun``; a no-op in one process.

``torchrun --nproc_per_node=N script.py`` starts N processes and tells each its place through
environment variables: ``RANK`` (0..WORLD_SIZE-1 over all machines), ``WORLD_SIZE`` and
``LOCAL_RANK`` (which GPU on this machine). A script written as::

    rank, world_size, device = init_distributed()
    model = build_model().to(device)
    train(model, data, config)          # wraps the model in DDP itself when world_size > 1
    destroy()

runs unchanged as ``python script.py`` (one process, nothing initialised) or under torchrun.
Each rank trains on its own share of every global batch (``data.get_batch(step, rank=...,
world_size=...)``); DistributedDataParallel averages the gradients over ranks during the backward.

The helpers below (:func:`rank_and_world`, :func:`all_reduce_sum`, :func:`barrier`,
:func:`all_gather_object`) fall back to the one-process answer when torch.distributed is not
initialised, so the training loop never has to ask.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from .._optional import require_torch

torch = require_torch("fastembed.training")
dist = torch.distributed
DDP = torch.nn.parallel.DistributedDataParallel


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_distributed(device: Optional[str] = None) -> tuple[int, int, "torch.device"]:
    """Join the process group torchrun describes; return ``(rank, world_size, device)``.

    ``device`` defaults to ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``. The backend
    follows the device: NCCL for GPUs, gloo for CPUs. Without torchrun's variables (a plain
    ``python script.py``) nothing is initialised and ``(0, 1, device)`` comes back.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, dev
    if not _active():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend, rank=int(os.environ["RANK"]),
                                world_size=int(os.environ["WORLD_SIZE"]), **kwargs)
    return dist.get_rank(), dist.get_world_size(), dev


def wrap(model: "torch.nn.Module", *, find_unused_parameters: bool = False) -> "torch.nn.Module":
    """Wrap ``model`` (already on its device) in DistributedDataParallel; unchanged in one process.

    DDP broadcasts rank 0's parameters and buffers at construction, so every rank starts from
    the same weights. ``find_unused_parameters=True`` makes DDP walk the autograd graph after
    every forward to find parameters that got no gradient; without it a parameter missing from
    some step's graph (a head whose loss was skipped) makes DDP hang or raise. It costs time on
    every step, so it is off: fastembed models keep every objective in the graph (a loss with
    no labelled items is a zero sum, not a skipped term). Turn it on for models that don't.
    """
    if not _active() or dist.get_world_size() == 1 or isinstance(model, DDP):
        return model
    device = next(model.parameters()).device
    device_ids = [device] if device.type == "cuda" else None
    return DDP(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def unwrap(model: "torch.nn.Module") -> "torch.nn.Module":
    """The model inside a DDP wrapper (or the model itself): the one with ``config``,
    ``loss_counts`` and the parameter names checkpoints use."""
    return model.module if isinstance(model, DDP) else model


def rank_and_world() -> tuple[int, int]:
    return (dist.get_rank(), dist.get_world_size()) if _active() else (0, 1)


def is_main() -> bool:
    """True on rank 0, and in a one-process run: the process that logs and saves."""
    return rank_and_world()[0] == 0


def all_reduce_sum(t: "torch.Tensor") -> "torch.Tensor":
    """Sum ``t`` over ranks in place (NCCL needs it on the GPU) and return it."""
    if _active() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_object(obj: Any) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (pickled: keep it small)."""
    if not _active():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if _active() and dist.get_world_size() > 1:
        dist.barrier()


def destroy() -> None:
    """Leave the process group (after a barrier, so no rank exits while others still talk)."""
    if _active():
        barrier()
        dist.destroy_process_group()
