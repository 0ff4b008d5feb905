"""The fine-tuning loop: :func:`finetune` trains a head (and, unless frozen, the encoder) on a
task's training set and scores it on the dev set after every epoch.

    from fastembed.finetune import finetune
    results = finetune("pair", "models/minilm", "glue/RTE/train.tsv", "glue/RTE/dev.tsv",
                       freeze_encoder=False, epochs=3, out_dir="runs/rte")
    results["epochs"]    # [{"epoch": 1, "train_loss": ..., "dev": {"accuracy": ...}}, ...]

One run, step by step:

1. Read the data (paths through the task's reader, or lists of examples), optionally keep a
   random ``max_train`` of the training examples, build the label set from the training labels.
2. Encode; every truncation, empty word or unfindable answer is counted in ``results["data"]``
   and logged (``logging.getLogger("fastembed.finetune.loop")`` at INFO; the library prints
   nothing itself, the ``fastembed`` command shows these lines).
3. Load the encoder and tokenizer from ``model_dir`` (a HuggingFace BERT directory, or an
   already loaded ``(BertModel, WordPieceTokenizer)`` pair, which is then trained in place), put
   the task's head on it (:class:`.heads.FineTuneModel`). A classification head reads BERT's
   pooled [CLS] unless :func:`default_pooling` finds a reason for the mean of the tokens (a
   sentence-transformers directory that pools by the mean, no pooler, layers other than the last).
4. AdamW (weight decay 0.01 on weight matrices only, :func:`fastembed.training.optim.param_groups`),
   linear warmup over the first ``warmup_steps`` steps (default: ``warmup_ratio`` = 0.1 of all
   steps; transformers' two names), then linear decay to 0; gradient norm clipped to 1. The
   training rows are shuffled every epoch (seeded) and padded per batch.
5. After each epoch: predict the dev set, score it; when the task's metric improves, the model is
   saved atomically to ``out_dir/model/``, a HuggingFace model directory that transformers'
   ``AutoModelFor...`` classes load with equal logits (:mod:`.export`; only the best epoch is
   kept). A frozen run stores only the head there, with a reference to ``model_dir`` (a few KB
   instead of the whole encoder), unless ``save_full_model=True`` or the encoder was passed as
   loaded objects; a run trained end to end always stores the whole model. ``patience`` epochs
   without improvement stop the run early. An ``out_dir`` that already holds a run
   (``results.json``, ``model/`` or an older run's ``checkpoints/``) is refused before anything is
   read, as ``pretrain`` refuses a fresh run over checkpoints: nothing of an earlier run is
   overwritten.

Learning rates. End to end (``freeze_encoder=False``): ``lr`` = 5e-5 by default (BERT's
paper searched 5e-5, 3e-5, 2e-5), and the head uses ``head_lr`` = ``lr`` unless given. Frozen:
only the head trains, with ``lr`` = 1e-3 by default (Adam's usual rate for a small network
trained from scratch: the head is new, and nothing pretrained can be disturbed by a large step).

With a frozen encoder (eval mode, no dropout) the encoder's output for a row never changes, so
by default (``cache_encoder=None``) it is computed once per training and dev row and kept in
memory: epochs after the first cost only the head. Memory: rows x tokens x feature width x 4
bytes (only the pooled vector for a [CLS]-pooler classifier).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from .._optional import require_torch
from .._progress import ProgressBar
from ..io import atomic_write_text
from .heads import FineTuneModel, feature_width, make_head
from .tasks import Task, get_task

torch = require_torch("fastembed.finetune")
logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
DEFAULT_LR = {True: 1e-3, False: 5e-5}                 # freeze_encoder -> lr
DEFAULT_MAX_LENGTH = {"classify": 128, "pair": 128, "ner": 128, "qa": 384}
DEFAULT_WARMUP_RATIO = 0.1
MODEL_SUBDIR = "model"                                 # out_dir/model: the best epoch's model (export.py)
TARGETS = ("labels", "start_positions", "end_positions")

# --------------------------------------------------------------------------- batches


def collate(features: Sequence[dict], idx: Sequence[int], device: Any = "cpu", *, targets: bool = True) -> dict:
    """Rows ``idx`` of ``features`` as padded tensors: ``input_ids``, ``token_type_ids``,
    ``attention_mask`` (B, T), and the targets (``labels`` (B,) or (B, T) padded with -100,
    ``start_positions``/``end_positions`` (B,))."""
    rows = [features[i] for i in idx]
    B, T = len(rows), max(len(f["input_ids"]) for f in rows)
    ids, types, mask = np.zeros((B, T), np.int64), np.zeros((B, T), np.int64), np.zeros((B, T), np.int64)
    for r, f in enumerate(rows):
        n = len(f["input_ids"])
        ids[r, :n], types[r, :n], mask[r, :n] = f["input_ids"], f["token_type_ids"], 1
    batch = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
    if targets and "labels" in rows[0]:
        if np.ndim(rows[0]["labels"]) == 0:
            batch["labels"] = np.array([f["labels"] for f in rows], np.int64)
        else:
            lab = np.full((B, T), -100, np.int64)
            for r, f in enumerate(rows):
                lab[r, :len(f["labels"])] = f["labels"]
            batch["labels"] = lab
    for k in ("start_positions", "end_positions"):
        if targets and k in rows[0]:
            batch[k] = np.array([f[k] for f in rows], np.int64)
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


class FrozenCache:
    """A frozen encoder's output for each row, computed the first time the row is seen.

    Exact: a frozen encoder runs in eval mode (no dropout), so a row's states never change. Kept
    per row without padding, and re-padded for whatever batch the row lands in later.
    """

    def __init__(self, model: FineTuneModel) -> None:
        self.model, self.rows = model, {}
        self.keep_hidden = getattr(model.head, "needs_hidden", True)

    def __call__(self, batch: dict, idx: Sequence[int]) -> tuple[Optional["torch.Tensor"], Optional["torch.Tensor"]]:
        if any(i not in self.rows for i in idx):
            hidden, pooled = self.model.encode(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
            lengths = batch["attention_mask"].sum(1).tolist()
            for r, i in enumerate(idx):
                self.rows[i] = (hidden[r, :lengths[r]].clone() if self.keep_hidden else None,
                                pooled[r].clone() if pooled is not None else None)
            return hidden, pooled
        got = [self.rows[i] for i in idx]
        hidden = torch.nn.utils.rnn.pad_sequence([h for h, _ in got], batch_first=True) if self.keep_hidden else None
        pooled = torch.stack([p for _, p in got]) if got[0][1] is not None else None
        return hidden, pooled


def _run(model: FineTuneModel, batch: dict, idx: Sequence[int], cache: Optional[FrozenCache]) -> Any:
    """``model(**batch)``, or the head on the cached encoder output of rows ``idx``."""
    targets = {k: batch[k] for k in TARGETS if k in batch}
    if cache is None:
        return model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"], **targets)
    hidden, pooled = cache(batch, idx)
    return model.head_forward(hidden, pooled, batch["attention_mask"], **targets)


def predict(model: FineTuneModel, features: Sequence[dict], *, batch_size: int = 64, device: Any = "cpu",
            cache: Optional[FrozenCache] = None) -> list[np.ndarray]:
    """The head's logits for every feature, as numpy, unpadded: (L,), (T, L) or (T, 2).
    Rows are batched by length (less padding) and returned in the order of ``features``."""
    model.eval()
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    out: list[Any] = [None] * len(features)
    with torch.no_grad():
        for a in range(0, len(order), batch_size):
            chunk = order[a:a + batch_size]
            batch = collate(features, chunk, device, targets=False)
            logits = _run(model, batch, chunk, cache).logits.float().cpu().numpy()
            for r, i in enumerate(chunk):
                out[i] = logits[r] if logits.ndim == 2 else logits[r, :len(features[i]["input_ids"])]
    return out

# --------------------------------------------------------------------------- optimizer and step


def make_finetune_optimizer(model: FineTuneModel, lr: float, head_lr: float,
                            weight_decay: float) -> "torch.optim.AdamW":
    """AdamW with the head's groups (and a scalar mix's) at ``head_lr`` and the (trainable)
    encoder's at ``lr``; each group remembers its peak rate as ``base_lr`` for the schedule."""
    from ..training.optim import param_groups

    groups = []
    for module, rate in ((model.head, head_lr), (model.mix, head_lr), (model.encoder, lr)):
        if module is None:
            continue
        for g in param_groups(module, weight_decay):               # a frozen encoder gives no group
            g["base_lr"] = g["lr"] = rate
            groups.append(g)
    on_cpu = all(p.device.type == "cpu" for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=head_lr, foreach=True if on_cpu else None)


def train_step(model: FineTuneModel, optimizer: "torch.optim.Optimizer", batch: dict, idx: Sequence[int], *,
               lr_scale: float, grad_clip: Optional[float], cache: Optional[FrozenCache] = None) -> float:
    """One optimizer step on one batch: loss, backward, clip, every group at ``base_lr * lr_scale``."""
    loss = _run(model, batch, idx, cache).loss
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], grad_clip)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * lr_scale
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())

# --------------------------------------------------------------------------- data


def _load(model_dir: Union[PathLike, tuple], overrides: Optional[dict]) -> tuple[Any, Any]:
    """(encoder, tokenizer) from a HF BERT directory, or the pair itself when already loaded."""
    from ..models.hf import load_bert, load_wordpiece

    if isinstance(model_dir, tuple):
        if overrides:
            raise ValueError("encoder_overrides apply when loading from a directory, not to a loaded encoder")
        return model_dir
    return load_bert(model_dir, **(overrides or {})), load_wordpiece(model_dir)


POOLING_SAYS = {"pooler": "BERT's pooled [CLS] (tanh(W·h[CLS]))", "mean": "the mean of the real tokens' states"}


def default_pooling(model_dir: Union[PathLike, tuple], encoder: Any, layers: str) -> str:
    """A classification head's pooling when none is given: "mean" for a sentence-transformers
    directory whose Pooling module averages tokens (its pooler was never trained: all-MiniLM-L6-v2
    frozen with the pooler scores 51% on SST-2, with the mean 79%), for an encoder without a
    pooler, and for layers other than the last (the pooler reads the last layer); else BERT's
    "pooler"."""
    from ..embedder import sentence_transformers_config

    if layers != "last" or getattr(encoder, "pooler", None) is None:
        return "mean"
    if not isinstance(model_dir, tuple) and sentence_transformers_config(model_dir)["pooling"] == "mean":
        return "mean"
    return "pooler"


def _examples(task: Task, data: Any, what: str) -> list:
    if isinstance(data, (str, os.PathLike)):
        return task.read(data)
    return task.check_examples(data, what)


def subsample(examples: Sequence, n: Optional[int], seed: int) -> list:
    """``n`` examples drawn without replacement (seeded), in their original order; all if n is None."""
    if n is None or n >= len(examples):
        return list(examples)
    if n < 1:
        raise ValueError(f"max_train / max_dev must be >= 1, got {n}")
    pick = np.sort(np.random.default_rng(seed).choice(len(examples), n, replace=False))
    return [examples[i] for i in pick]


def check_out_dir(out_dir: PathLike) -> None:
    """Refuse an ``out_dir`` that holds a run already (its ``results.json``, ``model/`` or an
    older run's ``checkpoints/``)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is a file")
    held = [name for name in ("results.json", MODEL_SUBDIR, "checkpoints") if (out / name).exists()]
    if held:
        raise ValueError(f"{out} already holds a run ({' and '.join(held)}): choose another output directory "
                         "(--out), or delete that run first; fine-tuning does not overwrite one")


def _logger(log: Optional[Callable[[str], None]]) -> Callable[[str], None]:
    """Where the run's messages go: the module's logger, or (deprecated) the ``log`` callable."""
    if log is None:
        return logger.info
    warnings.warn("finetune(log=...) is deprecated and will be removed in the next release: the messages go to "
                  "logging.getLogger('fastembed.finetune.loop') (INFO); configure that logger instead",
                  DeprecationWarning, stacklevel=3)
    return log


def warmup_steps_for(total_steps: int, warmup_ratio: Optional[float], warmup_steps: Optional[int],
                     warmup: Optional[float]) -> int:
    """The number of warmup steps from transformers' two names (``warmup_steps`` wins; both given
    is a ValueError) or the deprecated ``warmup`` (a fraction below 1, a step count from 1)."""
    if warmup is not None:
        warnings.warn("finetune(warmup=...) is deprecated and will be removed in the next release: use "
                      "warmup_ratio= (a fraction of the steps) or warmup_steps= (a count)", DeprecationWarning,
                      stacklevel=3)
        if warmup_ratio is not None or warmup_steps is not None:
            raise ValueError("give warmup_ratio or warmup_steps, not the deprecated warmup as well")
        if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or warmup < 0:
            raise ValueError(f"warmup must be a number >= 0, got {warmup!r}")
        if warmup >= 1:
            warmup_steps = int(warmup)
        else:
            warmup_ratio = warmup
    if warmup_ratio is not None and warmup_steps is not None:
        raise ValueError(f"give warmup_ratio ({warmup_ratio}) or warmup_steps ({warmup_steps}), not both: "
                         "warmup_steps counts steps, warmup_ratio is a fraction of all steps")
    if warmup_steps is not None:
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        return warmup_steps
    ratio = DEFAULT_WARMUP_RATIO if warmup_ratio is None else warmup_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        raise ValueError(f"warmup_ratio must be a fraction in [0, 1], got {ratio!r} (warmup_steps= takes a count)")
    return int(round(ratio * total_steps))

# --------------------------------------------------------------------------- the loop


def finetune(task: str, model_dir: Union[PathLike, tuple], train_data: Any, dev_data: Any, *,
             freeze_encoder: bool = False, epochs: int = 3, batch_size: int = 32, lr: Optional[float] = None,
             head_lr: Optional[float] = None, warmup_ratio: Optional[float] = None,
             warmup_steps: Optional[int] = None, weight_decay: float = 0.01,
             grad_clip: Optional[float] = 1.0, max_length: Optional[int] = None, seed: int = 0,
             patience: Optional[int] = None, out_dir: Optional[PathLike] = None, progress: Optional[bool] = None,
             max_train: Optional[int] = None, max_dev: Optional[int] = None, labels: Any = None,
             layers: str = "last", head_options: Optional[dict] = None, encoder_overrides: Optional[dict] = None,
             doc_stride: int = 128, max_query_length: int = 64, max_answer_length: int = 30,
             cache_encoder: Optional[bool] = None, device: Any = None, save_full_model: bool = False,
             warmup: Optional[float] = None, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Fine-tune the BERT in ``model_dir`` on ``task`` ("classify", "pair", "ner", "qa") and
    return the per-epoch dev metrics (see the module docstring for the recipe and defaults).

    ``train_data``/``dev_data``: a file the task's reader takes (GLUE .tsv, CoNLL, SQuAD .json)
    or a list of examples (:mod:`.readers`). ``labels``: the label names (or a count) when they
    should not be inferred from the training data. ``layers``/``head_options`` choose the
    features and configure the head (:mod:`.heads`), ``encoder_overrides`` set encoder config
    fields (e.g. ``hidden_dropout=0.0``). ``max_length`` defaults to 128 (384 for qa), or the
    model's positions if fewer. ``doc_stride``, ``max_query_length`` (qa windows) and
    ``max_answer_length`` (qa decoding) are also recorded in the saved model for predictions.

    Warmup: ``warmup_ratio`` (default 0.1) of all steps, or ``warmup_steps`` steps when given
    (giving both is a ValueError). ``save_full_model``: with a frozen encoder, store the whole
    model in ``out_dir/model`` (which transformers can then load) instead of the head and a
    reference to ``model_dir``. Deprecated, removed in the next release: ``warmup`` (a fraction
    below 1, a step count from 1; use the two names above) and ``log`` (a callable that got each
    message; the messages now go to ``logging.getLogger("fastembed.finetune.loop")``).

    Returns ``{"task", "metric", "epochs": [{"epoch", "train_loss", "dev", "train_seconds", "seconds"}, ...],
    "best": {"epoch", "dev"}, "stopped_early", "data": {"train": report, "dev": report},
    "best_model_dir", ...}``: ``best_model_dir`` is ``out_dir/model`` once an epoch was saved (None
    without ``out_dir``), and ``checkpoint`` (kept for older callers) names the same directory;
    ``head_only`` says whether it holds only the head (a frozen run without ``save_full_model``).
    With ``out_dir`` the results are also written to ``out_dir/results.json``.
    """
    from ..training.optim import lr_schedule
    from ..training.rng import seed_all
    from .export import describe, head_kind, head_options as options_of, save_model

    say = _logger(log)
    t = get_task(task)
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 (or None for no early stopping), got {patience}")
    lr = DEFAULT_LR[bool(freeze_encoder)] if lr is None else lr
    head_lr = lr if head_lr is None else head_lr
    if lr <= 0 or head_lr <= 0:
        raise ValueError(f"learning rates must be > 0, got lr={lr}, head_lr={head_lr}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if out_dir is not None:
        check_out_dir(out_dir)

    # 1-2. data
    train_all = _examples(t, train_data, "train_data")
    dev_all = _examples(t, dev_data, "dev_data")
    train_ex, dev_ex = subsample(train_all, max_train, seed), subsample(dev_all, max_dev, seed + 1)
    say(f"finetune {t.name}: {len(train_ex):,} of {len(train_all):,} training examples, "
        f"{len(dev_ex):,} of {len(dev_all):,} dev examples")
    label_set = t.label_set(train_ex, labels)
    encoder, tokenizer = _load(model_dir, encoder_overrides)
    if max_length is None:
        max_length = min(DEFAULT_MAX_LENGTH[t.name], encoder.config.max_position)
    if max_length > encoder.config.max_position:
        raise ValueError(f"max_length={max_length} exceeds the model's {encoder.config.max_position} positions")
    opts = dict(doc_stride=doc_stride, max_query_length=max_query_length)
    train_f, train_rep = t.encode(train_ex, tokenizer, label_set, max_length=max_length, train=True, **opts)
    dev_f, dev_rep = t.encode(dev_ex, tokenizer, label_set, max_length=max_length, train=False, **opts)
    for split, rep in (("train", train_rep), ("dev", dev_rep)):
        for m in rep["messages"]:
            say(f"finetune {t.name}: {split}: {m}")
    if not train_f:
        raise ValueError("no training rows are left after encoding (see the messages above)")

    # 3. model
    seed_all(seed)
    num_labels = len(label_set) if label_set is not None else 0
    C = feature_width(layers, encoder.config.hidden_size, encoder.config.num_layers)
    head_options = dict(head_options or {})
    if t.head_kind == "sequence" and "pooling" not in head_options:
        head_options["pooling"] = default_pooling(model_dir, encoder, layers)
        say(f"finetune {t.name}: the head reads {POOLING_SAYS[head_options['pooling']]}")
    head = make_head(t.head_kind, C, num_labels, **head_options)
    model = FineTuneModel(encoder, head, freeze_encoder=freeze_encoder, layers=layers).to(device)
    use_cache = freeze_encoder if cache_encoder is None else (cache_encoder and freeze_encoder)
    train_cache = FrozenCache(model) if use_cache else None
    dev_cache = FrozenCache(model) if use_cache else None

    # 4. optimizer and schedule
    optimizer = make_finetune_optimizer(model, lr, head_lr, weight_decay)
    steps_per_epoch = math.ceil(len(train_f) / batch_size)
    total = epochs * steps_per_epoch
    warmup_steps = warmup_steps_for(total, warmup_ratio, warmup_steps, warmup)
    out = Path(out_dir) if out_dir is not None else None
    loaded = isinstance(model_dir, tuple)
    head_only = bool(freeze_encoder) and not save_full_model and not loaded
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if freeze_encoder and loaded and not save_full_model:
            say(f"finetune {t.name}: the encoder was passed as loaded objects, so there is no directory for the "
                "saved head to refer to: the whole model is saved")
        say(f"finetune {t.name}: the best epoch goes to {out / MODEL_SUBDIR}: "
            + describe(head_kind(head), layers, options_of(head), head_only=head_only))

    results: dict[str, Any] = {
        "task": t.name, "metric": t.metric, "model_dir": None if isinstance(model_dir, tuple) else str(model_dir),
        "freeze_encoder": bool(freeze_encoder), "layers": layers, "lr": lr, "head_lr": head_lr,
        "batch_size": batch_size, "max_length": max_length, "seed": seed,
        "labels": label_set.names if label_set is not None else None,
        "data": {"train": train_rep, "dev": dev_rep, "train_examples": len(train_ex),
                 "train_tokens": int(sum(len(f["input_ids"]) for f in train_f)),
                 "train_examples_available": len(train_all), "dev_examples": len(dev_ex)},
        "warmup_steps": warmup_steps, "head_only": head_only,
        "epochs": [], "best": None, "stopped_early": False, "best_model_dir": None, "checkpoint": None,
    }
    spec = {"task": t.name, "labels": results["labels"], "max_length": max_length, "doc_stride": doc_stride,
            "max_query_length": max_query_length, "max_answer_length": max_answer_length,
            "encoder": os.fspath(model_dir) if head_only else None}
    gen = np.random.default_rng(seed)
    step, best, since_best = 0, -math.inf, 0
    with ProgressBar(total, desc=f"finetune {t.name}", unit="steps", show=progress) as bar:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            order = gen.permutation(len(train_f))
            losses = []
            for a in range(0, len(order), batch_size):
                idx = order[a:a + batch_size].tolist()
                scale = lr_schedule(step, lr=1.0, warmup_steps=warmup_steps, total_steps=total)
                losses.append(train_step(model, optimizer, collate(train_f, idx, device), idx, lr_scale=scale,
                                         grad_clip=grad_clip, cache=train_cache))
                step += 1
                bar.update(1, epoch=epoch, loss=losses[-1])
            train_seconds = time.perf_counter() - t0
            outputs = predict(model, dev_f, batch_size=max(batch_size, 64), device=device, cache=dev_cache)
            dev = t.score(dev_ex, dev_f, outputs, label_set, max_answer_length=max_answer_length)
            dev.pop("predictions", None)
            row = {"epoch": epoch, "step": step, "train_loss": float(np.mean(losses)), "dev": dev,
                   "train_seconds": train_seconds, "seconds": time.perf_counter() - t0}
            results["epochs"].append(row)
            say(f"finetune {t.name}: epoch {epoch}: train loss {row['train_loss']:.4f}, dev {t.metric} "
                f"{dev[t.metric]:.4f} ({row['seconds']:.1f}s)")
            if dev[t.metric] > best:
                best, since_best = dev[t.metric], 0
                results["best"] = {"epoch": epoch, "dev": dev}
                if out is not None:
                    saved = save_model(model, tokenizer, spec, out / MODEL_SUBDIR, full=not head_only,
                                       trained={"epoch": epoch, "step": step, "dev": dev})
                    results["best_model_dir"] = results["checkpoint"] = str(saved)
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    results["stopped_early"] = epoch < epochs
                    say(f"finetune {t.name}: no dev improvement for {patience} epoch(s); stopping")
                    break
    if out is not None:
        atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    return results


def load_finetuned(path: PathLike, device: Any = "cpu") -> tuple[FineTuneModel, Any, dict]:
    """(model, tokenizer, state) of a fine-tuning run: ``path`` is its ``out_dir`` (or the
    ``out_dir/model`` directory itself, or any directory :func:`.export.save_model` wrote).
    ``state["finetune"]`` is :func:`.export.load_model`'s spec (task, labels, layers, prediction
    settings...), and ``state["epoch"]``, ``state["step"]``, ``state["dev"]`` say which epoch was
    saved, when recorded. A run of an earlier release (only ``out_dir/checkpoints/``) loads too."""
    from .export import CONFIG_FILE, load_model

    p = Path(path)
    if (p / CONFIG_FILE).is_file():
        model_dir = p
    elif (p / MODEL_SUBDIR / CONFIG_FILE).is_file():
        model_dir = p / MODEL_SUBDIR
    elif (p / "checkpoints").is_dir():
        return _load_checkpoint_run(p, device)
    else:
        raise FileNotFoundError(f"{p} holds no fine-tuned model: expected {p / MODEL_SUBDIR / CONFIG_FILE} (a "
                                f"finetune out_dir) or {p / CONFIG_FILE} (a model directory)")
    model, tokenizer, spec = load_model(model_dir, device)
    return model, tokenizer, {"finetune": spec, **spec.get("trained", {})}


def _load_checkpoint_run(path: Path, device: Any) -> tuple[FineTuneModel, Any, dict]:
    """A run saved by an earlier release: the best epoch as a training checkpoint in
    ``checkpoints/`` (the whole FineTuneModel) and the tokenizer in ``out_dir`` itself."""
    from ..models import BertConfig, BertModel
    from ..models.hf import load_wordpiece
    from ..training.checkpoint import load_checkpoint, resolve_checkpoint
    from .export import DEFAULTS

    ckpt = resolve_checkpoint(path)
    state_file = ckpt / "state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{state_file} is corrupt: {e}") from None
    spec = state.get("finetune") if isinstance(state, dict) else None
    if spec is None:
        raise ValueError(f"{ckpt} is not a fine-tuning checkpoint (its state.json has no 'finetune' entry)")
    for k, v in DEFAULTS.items():                                   # prediction settings it did not record
        spec.setdefault(k, v)
    encoder = BertModel(BertConfig.from_dict(spec["encoder_config"]))
    C = feature_width(spec["layers"], encoder.config.hidden_size, encoder.config.num_layers)
    head = make_head(spec["head_kind"], C, spec["num_labels"], **spec["head_options"])
    model = FineTuneModel(encoder, head, freeze_encoder=spec["freeze_encoder"], layers=spec["layers"]).to(device)
    load_checkpoint(ckpt, model)
    return model.eval(), load_wordpiece(ckpt.parents[1]), state
