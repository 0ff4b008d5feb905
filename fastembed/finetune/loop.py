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
   and printed through ``log``.
3. Load the encoder and tokenizer from ``model_dir`` (a HuggingFace BERT directory, or an
   already loaded ``(BertModel, WordPieceTokenizer)`` pair, which is then trained in place), put
   the task's head on it (:class:`.heads.FineTuneModel`). A classification head reads BERT's
   pooled [CLS] unless :func:`default_pooling` finds a reason for the mean of the tokens (a
   sentence-transformers directory that pools by the mean, no pooler, layers other than the last).
4. AdamW (weight decay 0.01 on weight matrices only, :func:`fastembed.training.optim.param_groups`),
   linear warmup over the first ``warmup`` of the steps (a fraction, or a step count when >= 1),
   then linear decay to 0; gradient norm clipped to 1. The training rows are shuffled every
   epoch (seeded) and padded per batch.
5. After each epoch: predict the dev set, score it; when the task's metric improves, the model is
   saved atomically to ``out_dir/checkpoints/`` (only the best is kept); ``patience`` epochs
   without improvement stop the run early. An ``out_dir`` that already holds a run
   (``results.json`` or checkpoints) is refused before anything is read, as ``pretrain`` refuses
   a fresh run over checkpoints: nothing of an earlier run is overwritten.

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
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from .._optional import require_torch
from .._progress import ProgressBar
from ..io import atomic_write_text
from .heads import FineTuneModel, feature_width, make_head
from .tasks import Task, get_task

torch = require_torch("fastembed.finetune")

PathLike = Union[str, os.PathLike]
DEFAULT_LR = {True: 1e-3, False: 5e-5}                 # freeze_encoder -> lr
DEFAULT_MAX_LENGTH = {"classify": 128, "pair": 128, "ner": 128, "qa": 384}
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
    """Refuse an ``out_dir`` that holds a run already (its ``results.json`` or checkpoints)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is a file")
    held = [name for name in ("results.json", "checkpoints") if (out / name).exists()]
    if held:
        raise ValueError(f"{out} already holds a run ({' and '.join(held)}): choose another output directory "
                         "(--out), or delete that run first; fine-tuning does not overwrite one")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)

# --------------------------------------------------------------------------- the loop


def finetune(task: str, model_dir: Union[PathLike, tuple], train_data: Any, dev_data: Any, *,
             freeze_encoder: bool = False, epochs: int = 3, batch_size: int = 32, lr: Optional[float] = None,
             head_lr: Optional[float] = None, warmup: float = 0.1, weight_decay: float = 0.01,
             grad_clip: Optional[float] = 1.0, max_length: Optional[int] = None, seed: int = 0,
             patience: Optional[int] = None, out_dir: Optional[PathLike] = None, progress: Optional[bool] = None,
             max_train: Optional[int] = None, max_dev: Optional[int] = None, labels: Any = None,
             layers: str = "last", head_options: Optional[dict] = None, encoder_overrides: Optional[dict] = None,
             doc_stride: int = 128, max_query_length: int = 64, max_answer_length: int = 30,
             cache_encoder: Optional[bool] = None, device: Any = None,
             log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Fine-tune the BERT in ``model_dir`` on ``task`` ("classify", "pair", "ner", "qa") and
    return the per-epoch dev metrics (see the module docstring for the recipe and defaults).

    ``train_data``/``dev_data``: a file the task's reader takes (GLUE .tsv, CoNLL, SQuAD .json)
    or a list of examples (:mod:`.readers`). ``labels``: the label names (or a count) when they
    should not be inferred from the training data. ``layers``/``head_options`` choose the
    features and configure the head (:mod:`.heads`), ``encoder_overrides`` set encoder config
    fields (e.g. ``hidden_dropout=0.0``). ``max_length`` defaults to 128 (384 for qa), or the
    model's positions if fewer.

    Returns ``{"task", "metric", "epochs": [{"epoch", "train_loss", "dev", "train_seconds", "seconds"}, ...],
    "best": {"epoch", "dev"}, "stopped_early", "data": {"train": report, "dev": report},
    "checkpoint", ...}``; with ``out_dir`` also written to ``out_dir/results.json``.
    """
    from ..training.checkpoint import save_checkpoint
    from ..training.optim import lr_schedule
    from ..training.rng import seed_all

    log = log or _stderr
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
    log(f"finetune {t.name}: {len(train_ex):,} of {len(train_all):,} training examples, "
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
            log(f"finetune {t.name}: {split}: {m}")
    if not train_f:
        raise ValueError("no training rows are left after encoding (see the messages above)")

    # 3. model
    seed_all(seed)
    num_labels = len(label_set) if label_set is not None else 0
    C = feature_width(layers, encoder.config.hidden_size, encoder.config.num_layers)
    head_options = dict(head_options or {})
    if t.head_kind == "sequence" and "pooling" not in head_options:
        head_options["pooling"] = default_pooling(model_dir, encoder, layers)
        log(f"finetune {t.name}: the head reads {POOLING_SAYS[head_options['pooling']]}")
    head = make_head(t.head_kind, C, num_labels, **head_options)
    model = FineTuneModel(encoder, head, freeze_encoder=freeze_encoder, layers=layers).to(device)
    use_cache = freeze_encoder if cache_encoder is None else (cache_encoder and freeze_encoder)
    train_cache = FrozenCache(model) if use_cache else None
    dev_cache = FrozenCache(model) if use_cache else None

    # 4. optimizer and schedule
    optimizer = make_finetune_optimizer(model, lr, head_lr, weight_decay)
    steps_per_epoch = math.ceil(len(train_f) / batch_size)
    total = epochs * steps_per_epoch
    warmup_steps = int(warmup) if warmup >= 1 else int(round(warmup * total))
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(out)                      # the run loads on its own (load_finetuned)

    results: dict[str, Any] = {
        "task": t.name, "metric": t.metric, "model_dir": None if isinstance(model_dir, tuple) else str(model_dir),
        "freeze_encoder": bool(freeze_encoder), "layers": layers, "lr": lr, "head_lr": head_lr,
        "batch_size": batch_size, "max_length": max_length, "seed": seed,
        "labels": label_set.names if label_set is not None else None,
        "data": {"train": train_rep, "dev": dev_rep, "train_examples": len(train_ex),
                 "train_tokens": int(sum(len(f["input_ids"]) for f in train_f)),
                 "train_examples_available": len(train_all), "dev_examples": len(dev_ex)},
        "epochs": [], "best": None, "stopped_early": False, "checkpoint": None,
    }
    spec = {"task": t.name, "head_kind": t.head_kind, "num_labels": num_labels, "labels": results["labels"],
            "layers": layers, "head_options": head_options, "freeze_encoder": bool(freeze_encoder),
            "encoder_config": encoder.config.to_dict(), "max_length": max_length}
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
            log(f"finetune {t.name}: epoch {epoch}: train loss {row['train_loss']:.4f}, dev {t.metric} "
                f"{dev[t.metric]:.4f} ({row['seconds']:.1f}s)")
            if dev[t.metric] > best:
                best, since_best = dev[t.metric], 0
                results["best"] = {"epoch": epoch, "dev": dev}
                if out is not None:
                    ckpt = save_checkpoint(out, step, model, extra_state={"finetune": spec, "epoch": epoch, "dev": dev},
                                           keep_last=1)
                    results["checkpoint"] = str(ckpt)
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    results["stopped_early"] = epoch < epochs
                    log(f"finetune {t.name}: no dev improvement for {patience} epoch(s); stopping")
                    break
    if out is not None:
        atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    return results


def load_finetuned(path: PathLike, device: Any = "cpu") -> tuple[FineTuneModel, Any, dict]:
    """(model, tokenizer, state) of a fine-tuning run's best checkpoint (``out_dir`` of
    :func:`finetune`); ``state["finetune"]`` holds the task, labels and layers."""
    from ..models import BertConfig, BertModel
    from ..models.hf import load_wordpiece
    from ..training.checkpoint import load_checkpoint, resolve_checkpoint

    ckpt = resolve_checkpoint(path)
    state_file = ckpt / "state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{state_file} is corrupt: {e}") from None
    spec = state.get("finetune") if isinstance(state, dict) else None
    if spec is None:
        raise ValueError(f"{ckpt} is not a fine-tuning checkpoint (its state.json has no 'finetune' entry)")
    encoder = BertModel(BertConfig.from_dict(spec["encoder_config"]))
    C = feature_width(spec["layers"], encoder.config.hidden_size, encoder.config.num_layers)
    head = make_head(spec["head_kind"], C, spec["num_labels"], **spec["head_options"])
    model = FineTuneModel(encoder, head, freeze_encoder=spec["freeze_encoder"], layers=spec["layers"]).to(device)
    load_checkpoint(ckpt, model)
    return model.eval(), load_wordpiece(ckpt.parents[1]), state
