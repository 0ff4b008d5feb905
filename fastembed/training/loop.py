"""The pretraining loop: one function, :func:`train`, generic over models and data.

One optimizer step, for a global batch spread over ``world_size`` ranks and split on each rank
into ``grad_accum`` micro-batches:

1. ``batch = data.get_batch(step, rank=rank, world_size=world_size)``: a pure function of
   (data seed, step), so a checkpoint's data position is just its step.
2. ``N_k = Σ model.loss_counts(micro_batch)[k]``, summed over micro-batches and then over ranks
   (one small all-reduce): the number of items (masked tokens, sentence pairs...) objective
   ``k`` averages over in the *whole* global batch.
3. For each micro-batch: ``loss = Σ_k loss_sums[k] / N_k * world_size``; backward. DDP averages
   gradients over ranks (hence ``* world_size``) and syncs only on the last micro-batch. The
   summed gradient is then exactly the gradient of the global-batch mean, however the rows
   were split and however many labelled items each rank happened to get.
4. Clip the gradient norm, set the learning rate for this step, ``optimizer.step()``.

Every ``log_every`` steps a row goes to ``metrics.jsonl`` (see :mod:`.metrics`), every
``eval_every`` steps and at the end (and with ``eval_at_start`` before the first step of a fresh
run, as step 0) the model is evaluated on ``eval_data`` (:mod:`.evaluate`),
every ``save_every`` steps and at the end a checkpoint is written (:mod:`.checkpoint`).
Resuming restores weights, AdamW moments, the step and every rank's generators, so a resumed run
continues bit for bit where the interrupted one would have gone.

Ctrl-C (KeyboardInterrupt) in a one-process run saves a checkpoint of the last finished step
before it propagates (``save_on_interrupt``), so an interrupted run keeps its work: an interrupt
inside step k+1's forward or backward saves step k with the generator states step k+1 started
from (what resuming needs to redo it exactly); one that lands inside the optimizer update itself,
where the weights are half-updated, saves nothing and says so (both on the logger of this module). Under torchrun no rank saves on
an interrupt (a rank that stopped cannot join the collective a save needs).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from .._optional import require_torch
from .._progress import ProgressBar
from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .distributed import DDP, all_gather_object, all_reduce_sum, barrier, is_main, rank_and_world, unwrap, wrap
from .evaluate import Totals, evaluate, to_device
from .metrics import MetricsLog, read_metrics
from .optim import lr_schedule, make_optimizer, set_lr
from .rng import get_rng_state, seed_all, set_rng_state

torch = require_torch("fastembed.training")
logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    steps: int                                # optimizer steps in the whole run (not counting micro-batches)
    lr: float = 1e-4                          # peak learning rate, reached at the end of warmup
    weight_decay: float = 0.01                # on weight matrices only (see optim.param_groups)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8                         # PyTorch's default; BERT's reference AdamW used 1e-6
    warmup_steps: int = 0
    schedule: str = "linear"                  # "linear" (BERT), "cosine" (GPT) or "constant" after warmup
    min_lr_ratio: float = 0.0                 # the schedule ends at lr * min_lr_ratio
    grad_clip: Optional[float] = 1.0          # max global gradient norm; None or 0 turns clipping off
    grad_accum: int = 1                       # micro-batches per step: each rank's batch is split in this many
    bf16: bool = False                        # torch.autocast to bfloat16 on the model's device type
    seed: int = 0                             # rank r seeds its generators (dropout) with seed + r
    log_every: int = 10                       # 0: log only the last step
    eval_every: int = 0                       # 0: evaluate only at the end (when eval_data is given)
    eval_batches: int = 10
    eval_at_start: bool = False               # also evaluate before the first step (a fresh run only): step 0
    save_every: int = 0                       # 0: save only at the end (when out_dir is set)
    keep_last: Optional[int] = 2              # checkpoints kept on disk; None keeps all
    save_on_interrupt: bool = True            # Ctrl-C saves the last finished step first (one process only)
    out_dir: Optional[str] = None             # checkpoints/ and metrics.jsonl; None writes nothing
    progress: Optional[bool] = None           # progress bar on rank 0; None: when stderr is a terminal


def split_batch(batch: dict, n: int) -> list[dict]:
    """Split every tensor of ``batch`` along dim 0 into ``n`` equal micro-batches."""
    sizes = {k: v.shape[0] for k, v in batch.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batch tensors disagree on the batch dimension (dim 0): {sizes}")
    rows = next(iter(sizes.values()), 0)
    if n < 1 or rows % n:
        raise ValueError(f"a batch of {rows} rows does not split into grad_accum={n} equal micro-batches")
    if n == 1:
        return [batch]
    parts = {k: v.split(rows // n) for k, v in batch.items()}
    return [{k: parts[k][i] for k in batch} for i in range(n)]


def count_tokens(batch: dict) -> Any:
    """Real tokens in a batch: Σ attention_mask, else input_ids.numel(), else the number of rows."""
    if "attention_mask" in batch:
        return batch["attention_mask"].sum()
    if "input_ids" in batch:
        return batch["input_ids"].numel()
    return next(iter(batch.values())).shape[0]


def _due(done: int, every: int, last: int) -> bool:
    return done == last or (every > 0 and done % every == 0)


def _resume(resume: Union[bool, str, os.PathLike], raw: "torch.nn.Module", optimizer: Any, config: TrainConfig,
            data_seed: Any, rank: int, world: int) -> tuple[int, float, list[dict]]:
    """Load the checkpoint into ``raw`` and ``optimizer``, restore this rank's generators; return
    (step, elapsed seconds, metrics rows up to that step)."""
    out_dir = Path(config.out_dir) if config.out_dir else None
    if resume is True and out_dir is None:
        raise ValueError("resume=True continues from config.out_dir, which is not set")
    state = load_checkpoint(resolve_checkpoint(out_dir if resume is True else resume), raw, optimizer)
    if state.get("data_seed") is not None and data_seed is not None and state["data_seed"] != data_seed:
        raise ValueError(f"checkpoint {state['path']} was trained on data seed {state['data_seed']}, "
                         f"this data has seed {data_seed}")
    start = int(state["step"])
    rngs = state.get("rng") or []
    if len(rngs) == world:
        set_rng_state(rngs[rank])
    else:
        warnings.warn(f"checkpoint has generator states for {len(rngs)} ranks, this run has {world}: "
                      "reseeding, so dropout will not match an uninterrupted run", stacklevel=3)
        seed_all(config.seed + rank + 1_000_003 * start)
    rows = [] if out_dir is None else [r for r in read_metrics(out_dir / "metrics.jsonl") if r.get("step", 0) <= start]
    return start, float(state.get("elapsed", 0.0)), rows


def _accumulate_gradients(model: "torch.nn.Module", micro: list[dict], world: int, bf16: bool,
                          totals: Optional[Totals]) -> Any:
    """Steps 2 and 3 of the module docstring: leave the global-batch mean's gradient in ``.grad``.
    Adds each micro-batch's output to ``totals`` (if given); returns the tokens seen on this rank."""
    raw = unwrap(model)
    device = next(raw.parameters()).device
    counts: dict[str, int] = {}
    for mb in micro:
        for k, c in raw.loss_counts(mb).items():
            counts[k] = counts.get(k, 0) + int(c)
    keys = sorted(counts)  # every rank must report the same objectives: the tensor lines up by key
    summed = all_reduce_sum(torch.tensor([counts[k] for k in keys], dtype=torch.int64, device=device))
    global_counts = dict(zip(keys, summed.tolist()))

    tokens = 0
    for i, mb in enumerate(micro):
        # DDP all-reduces gradients during every backward unless told not to: only the last one syncs
        sync = model.no_sync() if isinstance(model, DDP) and i < len(micro) - 1 else nullcontext()
        with sync:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                out = model(**mb)
            missing = set(out.loss_sums) - set(global_counts)
            if missing:
                raise KeyError(f"the model returned losses for {sorted(missing)} but loss_counts() "
                               f"gave counts only for {keys}")
            loss = sum(s / max(global_counts[k], 1) for k, s in out.loss_sums.items()) * world
            loss.backward()
        if totals is not None:
            totals.add(out)
        tokens = tokens + count_tokens(mb)
    return tokens


def train(model: "torch.nn.Module", data: Any, config: TrainConfig, *, eval_data: Any = None,
          resume: Union[bool, str, os.PathLike] = False,
          callbacks: Iterable[Callable[[dict], Any]] = ()) -> list[dict]:
    """Train ``model`` on ``data`` for ``config.steps`` optimizer steps; return the metrics rows.

    ``model(**batch)`` must return a ``fastembed.models.output.ModelOutput`` and the model must
    have ``loss_counts(batch)``; ``data`` (and ``eval_data``) must have ``get_batch(step, *,
    rank, world_size)``. The model is trained in place, on the device it is on.

    ``resume=True`` continues from the latest checkpoint in ``config.out_dir`` (a path: from that
    checkpoint); a fresh run (``resume=False``) seeds the generators and starts an empty
    ``metrics.jsonl``. Under torchrun, call :func:`~.distributed.init_distributed` first; the
    model is wrapped in DDP here unless it already is. ``callbacks`` are called with each
    metrics row (train and dev), on every rank.
    """
    rank, world = rank_and_world()
    if world == 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RuntimeError("launched with WORLD_SIZE > 1 but torch.distributed is not initialised: call "
                           "fastembed.training.distributed.init_distributed() first and move the model to its device")
    raw = unwrap(model)
    if not callable(getattr(raw, "loss_counts", None)):
        raise TypeError(f"{type(raw).__name__} has no loss_counts(batch): the loop needs each objective's "
                        "item count before the forward (see fastembed.models.output)")
    device = next(raw.parameters()).device
    optimizer = make_optimizer(raw, config.lr, config.weight_decay, config.betas, config.eps)
    out_dir = Path(config.out_dir) if config.out_dir else None
    data_seed = getattr(data, "seed", None)

    start, elapsed_before, rows = 0, 0.0, []
    if resume:
        start, elapsed_before, rows = _resume(resume, raw, optimizer, config, data_seed, rank, world)
    else:
        seed_all(config.seed + rank)
    model = wrap(model)
    log = MetricsLog(out_dir / "metrics.jsonl", resume_step=start if resume else None) \
        if out_dir is not None and is_main() else None

    def emit(row: dict) -> None:
        rows.append(row)
        if log is not None:
            log.write(row)
        for callback in callbacks:
            callback(row)

    last: dict[str, dict] = {}
    tokens, window_s, t0 = torch.zeros((), dtype=torch.float64, device=device), 0.0, time.monotonic()
    bar = ProgressBar(config.steps, desc="train", unit="step", initial=start,
                      show=config.progress if rank == 0 else False)
    bar_closed = False
    on_interrupt = config.save_on_interrupt and out_dir is not None and world == 1
    # where an interrupt can land: (steps whose update is complete, generator states they leave,
    # whether the optimizer is inside an update), kept up to date for the save on Ctrl-C
    completed, saved, rng_at_completed, updating = start, start, None, False

    def save(done: int, rngs: list) -> Path:
        return save_checkpoint(out_dir, done, raw, optimizer, {
            "train_config": dataclasses.asdict(config), "data_seed": data_seed, "world_size": world,
            "elapsed": elapsed_before + time.monotonic() - t0, "metrics": last, "rng": rngs,
        }, keep_last=config.keep_last)

    if eval_data is not None and config.eval_at_start and not resume:
        emit({"step": 0, "split": "dev", **evaluate(model, eval_data, config.eval_batches, bf16=config.bf16),
              "elapsed": 0.0})
    model.train()
    try:
        for step in range(start, config.steps):
            if on_interrupt:
                rng_at_completed = get_rng_state()   # dropout of this step has not drawn yet
            t_step, done = time.monotonic(), step + 1
            log_now = _due(done, config.log_every, config.steps)
            batch = to_device(data.get_batch(step, rank=rank, world_size=world), device)
            micro = split_batch(batch, config.grad_accum)

            totals = Totals() if log_now else None
            tokens += _accumulate_gradients(model, micro, world, config.bf16, totals)

            grad_norm = None
            if config.grad_clip:
                grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), config.grad_clip)
            lr = lr_schedule(step, lr=config.lr, warmup_steps=config.warmup_steps, total_steps=config.steps,
                             kind=config.schedule, min_lr_ratio=config.min_lr_ratio)
            set_lr(optimizer, lr)
            updating = True
            optimizer.step()
            completed = done          # in this order: an interrupt between these lines saves nothing
            rng_at_completed = None
            updating = False
            optimizer.zero_grad(set_to_none=True)
            window_s += time.monotonic() - t_step

            postfix = {}
            if log_now:
                stats, (n_tokens,) = totals.reduce(device, extra=(tokens,))
                row = {"step": done, "split": "train", "lr": lr, **stats}
                if grad_norm is not None:
                    row["grad_norm"] = float(grad_norm)
                row["tokens_per_s"] = n_tokens / max(window_s, 1e-9)
                row["elapsed"] = elapsed_before + time.monotonic() - t0
                emit(row)
                last["train"] = row
                postfix = {"loss": row["loss"], "tok/s": f"{row['tokens_per_s']:,.0f}"}
                tokens.zero_()
                window_s = 0.0
            if eval_data is not None and _due(done, config.eval_every, config.steps):
                row = {"step": done, "split": "dev",
                       **evaluate(model, eval_data, config.eval_batches, bf16=config.bf16),
                       "elapsed": elapsed_before + time.monotonic() - t0}
                emit(row)
                last["dev"] = row
            if out_dir is not None and _due(done, config.save_every, config.steps):
                rngs = all_gather_object(get_rng_state())  # every rank's dropout stream
                if is_main():
                    save(done, rngs)
                saved = done
                barrier()  # no rank runs ahead (or exits) before the checkpoint exists
            bar.update(1, **postfix)
    except KeyboardInterrupt:
        bar.close()
        bar_closed = True
        if on_interrupt:
            _save_on_interrupt(save, completed, saved, rng_at_completed, updating)
        raise
    finally:
        if not bar_closed:
            bar.close()
        if log is not None:
            log.close()
    return rows


def _save_on_interrupt(save: Callable[[int, list], Path], completed: int, saved: int, rng: dict | None,
                       updating: bool) -> None:
    """Ctrl-C: checkpoint the ``completed`` steps unless they are saved already (see the module
    docstring); ``rng`` is the generator state they left (None: the current one)."""
    if updating:
        logger.warning("interrupted inside the optimizer update of step %d: the weights are half-updated, so no "
                       "checkpoint was saved (the last one is of step %d)", completed + 1, saved)
        return
    if completed <= saved:
        return
    path = save(completed, [rng if rng is not None else get_rng_state()])
    logger.warning("interrupted: saved checkpoint %s (step %d); continue with resume", path, completed)
