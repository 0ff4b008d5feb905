"""Pretrain BERT (masked LM + next sentence), GPT (next token) or ELMo (a forward and a backward
LM) on a text corpus: the whole run.

From Python or from the shell (``fastembed pretrain``, fastembed/cli/pretrain.py), in one process or many::

    from fastembed.training.pretrain import pretrain
    metrics = pretrain("bert", corpus="wiki.txt", tokenizer="bert-base-uncased/", out_dir="runs/bert",
                       config="mini", steps=10_000)
    # continued (domain-adaptive) pretraining: config, weights and tokenizer from a model directory
    metrics = pretrain("bert", corpus="legal.txt", init_from="all-MiniLM-L6-v2/", out_dir="runs/legal", steps=2_000)
    # torchrun --nproc_per_node=2 -m fastembed.cli pretrain bert --input wiki.txt ... (same run, 2 ranks)

:func:`pretrain` strings the library's pieces together, in this order:

1. :func:`~.distributed.init_distributed`: under torchrun each process learns its rank and
   ``batch_size`` stays the *global* batch; alone, nothing happens.
2. :func:`load_tokenizer` (:func:`fastembed.tokenizers.from_pretrained`): a HuggingFace tokenizer
   directory (``tokenizer.json``, or BERT's ``vocab.txt`` with its ``tokenizer_config.json``, or
   GPT-2's ``vocab.json`` + ``merges.txt``; a model directory this module wrote is one), a
   ``bpe.json`` (``BPETokenizer.save``) or HF ``tokenizer.json`` file, or any other file as a BERT
   vocabulary, one entry per line (WordPiece, lower-cased unless it is a ``vocab.txt`` beside a
   ``tokenizer_config.json`` that says otherwise). BERT needs a WordPiece vocabulary with [CLS],
   [SEP], [MASK], [PAD] and [UNK]: a BPE tokenizer is refused for BERT, since the model directory
   the run writes is for ``fastembed finetune`` and ``embed``, which tokenize with WordPiece.
3. :func:`model_config`: a preset (tiny/mini/small/base) or a JSON file (our field names, or a
   HuggingFace ``config.json``), then ``overrides``. ``vocab_size`` is always the tokenizer's
   size, BERT's ``pad_token_id`` its [PAD], and ``max_position`` at least ``max_length``. With
   ``init_from`` instead, :func:`init_source`: the directory's config and tokenizer, checked
   against a ``tokenizer`` or ``config`` the caller gave.
4. The data. BERT: :func:`bert_documents` reads each corpus file in BERT's format (one sentence
   per line, a blank line between documents); a file with no blank line whose lines are long
   (over ``LONG_LINE`` = 200 characters on average) is prose with one document per line instead,
   each line split into sentences by :func:`~fastembed.data.split_sentences`. GPT and ELMo: the files'
   token stream (:class:`~fastembed.data.GPTBlocks`; blank lines separate documents, each ended
   by ``<|endoftext|>``, or by ``[SEP]`` for a tokenizer that has that and not the other, such as
   BERT's WordPiece). A tokenizer with neither does not stop a run: the documents are then
   joined with no separator, and a warning says so. ``dev_fraction`` of the
   instances (BERT) or the last blocks (GPT) are held out for evaluation. A ``batch_size``
   larger than the training set, or a step whose estimated memory (:mod:`._budget`: weights,
   gradients and AdamW moments, activations, BERT's logits) exceeds what the device has free,
   is refused before the model is built.
5. The model, from ``torch.manual_seed(seed)`` so every rank and every rerun starts alike (with
   ``init_from``: read from the directory, fresh heads drawn from that seed);
   :func:`~.loop.train`; then rank 0 writes the final model to ``out_dir/model/``.

Progress lines and warnings go to this module's ``logging`` logger on rank 0 (the command line
configures the "fastembed" logger); the library prints nothing.

``out_dir`` afterwards::

    run.json          the run's arguments, resolved model config, tokenizer fingerprint and, with
                      init_from, the starting directory's path and sha256 (model_dir_fingerprint)
    metrics.jsonl     one row per log step / evaluation (see .metrics)
    checkpoints/      atomic, resumable checkpoints (see .checkpoint)
    model/            config.json + model.safetensors that transformers' BertForPreTraining /
                      GPT2LMHeadModel.from_pretrained and fastembed.models.hf.load_bert /
                      load_gpt2 read, plus the tokenizer's HF files (Tokenizer.save_pretrained:
                      tokenizer.json, tokenizer_config.json, special_tokens_map.json, and
                      vocab.txt for WordPiece or vocab.json + merges.txt for GPT-2's pattern).
                      ELMo has no HuggingFace format: its directory is fastembed's own
                      (fastembed.models.elmo.save_elmo / load_elmo), with the same tokenizer files

**Checkpoints** come every ``save_every`` steps and at the end; the default (None) is
``min(1000, max(1, steps // 10))``, so a short run saves about ten times. Ctrl-C saves the last
finished step before it stops the run (:mod:`.loop`), so an interrupted run loses nothing.

**Resume** (``resume=True``) continues from ``out_dir``'s latest checkpoint (the step and the
checkpoint's path are logged), exactly where an
interrupted run would have gone (same batches, same dropout). It is refused when the arguments
that shape the model (kind, config, overrides, tokenizer, the ``init_from`` directory's
contents) differ from ``run.json``'s; the checkpoint's weights replace the directory's. Other
changes are allowed: ``steps`` extends (or shortens) the run, and a changed corpus, batch or
sequence length only warns, since the batches then no longer continue the old sequence (a
changed ``seed`` is refused by the loop). The learning-rate
schedule is a function of the step and of ``steps``: extending a run with a decaying schedule
changes the rates of the steps still to come. A fresh run into an ``out_dir`` that already holds
checkpoints is refused (resume it, or pick another directory).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from .._optional import require_torch
from .._renamed import UNSET, renamed_arg
from .._version import __version__
from ..data import BertPretrainingData, GPTBlocks, eot_id, read_documents, special_ids, split_sentences
from ..data.documents import read_text
from ..data.instances import NSP_MODES
from ..io import atomic_write_text, read_json_object
from ..models import BertConfig, BertForPreTraining, ELMo, ELMoConfig, GPT, GPTConfig
from ..models.elmo import MODEL_TYPE as ELMO_MODEL_TYPE
from ..models.elmo import save_elmo
from ..models.hf import (bert_config_from_hf, gpt_config_from_hf, load_bert, load_gpt2, read_model_config, save_bert,
                         save_gpt2)
from ..tokenizers import from_pretrained
from ..tokenizers.base import Tokenizer
from ..tokenizers.hf import tokenizer_json
from .checkpoint import latest_checkpoint
from .distributed import barrier, init_distributed, is_main
from .loop import TrainConfig, train

torch = require_torch("fastembed.training.pretrain")
logger = logging.getLogger(__name__)

__all__ = ["pretrain", "load_tokenizer", "model_config", "init_source", "build_data", "bert_documents",
           "save_pretrained", "check_resume", "check_batch", "default_save_every", "tokenizer_fingerprint",
           "model_dir_fingerprint", "unigram_log_prior", "tokenizer_difference"]

PathLike = Union[str, os.PathLike]
KINDS = ("bert", "gpt", "elmo")
MODELS = {"bert": (BertConfig, BertForPreTraining), "gpt": (GPTConfig, GPT), "elmo": (ELMoConfig, ELMo)}
SCHEDULES = ("linear", "cosine", "constant")
RUN_FILE, MODEL_DIR = "run.json", "model"
LONG_LINE = 200                                  # mean characters per line above which a file is prose
DEFAULT_CONFIG, DEFAULT_MAX_LENGTH = "mini", 128
# Config fields that change how a model trains but not the function its weights compute: the only
# ones ``overrides`` may change in a model read from ``init_from``.
TRAINING_FIELDS = ("hidden_dropout", "attention_dropout", "attn_impl", "mlm_unmasked_weight")

# Per-kind defaults for lr / schedule when not given: BERT's paper (1e-4, linear decay),
# GPT-2 small as nanoGPT trains it (6e-4, cosine), and for ELMo's LSTMs the 1e-3 that Adam-trained
# LSTM language models commonly use (ELMo itself used Adagrad), with a cosine decay.
DEFAULTS = {"bert": {"lr": 1e-4, "schedule": "linear"}, "gpt": {"lr": 6e-4, "schedule": "cosine"},
            "elmo": {"lr": 1e-3, "schedule": "cosine"}}
# Arguments that decide which batches a step sees; changing them on resume only warns.
DATA_ARGS = ("corpus", "max_length", "batch_size", "dev_fraction", "nsp", "mlm_probability")
# run.json files written before the renames hold the old names
OLD_ARG_NAMES = {"max_length": "seq_len", "warmup_steps": "warmup"}



def pretrain(kind: str, *, corpus: Union[PathLike, Sequence[PathLike]], out_dir: PathLike, steps: int,
             tokenizer: Optional[PathLike] = None, config: Optional[Union[str, PathLike]] = None,
             init_from: Optional[PathLike] = None, batch_size: int = 32, max_length: Optional[int] = None,
             lr: Optional[float] = None, warmup_steps: Optional[int] = None, warmup_ratio: Optional[float] = None,
             schedule: Optional[str] = None, weight_decay: float = 0.01, grad_accum: int = 1, bf16: bool = False,
             seed: int = 0, eval_every: int = 1000, eval_batches: int = 10, save_every: int | None = None,
             log_every: int = 10, dev_fraction: float = 0.01, nsp: str = "random", mlm_probability: float = 0.15,
             resume: bool = False, overrides: Optional[dict[str, Any]] = None, device: Optional[str] = None,
             progress: Optional[bool] = None, verbose: Optional[bool] = None, seq_len: Any = UNSET,
             warmup: Any = UNSET) -> dict[str, Any]:
    """Pretrain a ``kind`` ("bert", "gpt" or "elmo") model on ``corpus`` and save it; return the final metrics.

    ``corpus``: one or more UTF-8 text files. ``tokenizer``: see :func:`load_tokenizer`.
    ``config``: a preset name or a JSON file (:func:`model_config`; default "mini");
    ``overrides`` sets config fields on top, e.g. ``{"hidden_dropout": 0.0}``.

    ``init_from``: continued pretraining from a HuggingFace BERT or GPT-2 model directory (ours,
    ``OUT/model/`` of an earlier run, or any compatible one). The model's config and weights come
    from it, and so does the tokenizer when the directory holds one (``tokenizer`` is then
    optional; one that is given must have the same vocabulary, special tokens and settings). A
    ``config`` that is given must agree with the directory's; ``overrides`` may change only
    ``TRAINING_FIELDS`` (dropout, attention implementation). A BERT without MLM/NSP heads (an HF
    BertModel such as all-MiniLM-L6-v2) gets fresh ones (:func:`fastembed.models.hf.load_bert`),
    the fresh MLM bias set to the training data's log unigram frequencies (:func:`unigram_log_prior`).
    The dev set is evaluated before the first step too (a step-0 row in ``metrics.jsonl``).

    ``batch_size`` is the global batch of one optimizer step (over all ranks and ``grad_accum``
    micro-batches); ``max_length`` (default 128) is the tokens per BERT sentence pair or GPT block.
    ``lr`` and ``schedule`` default by kind (``DEFAULTS``); ``warmup_steps`` counts optimizer
    steps, ``warmup_ratio`` is the same as a share of ``steps`` (give one; default 1% of
    ``steps``). ``eval_every``/``save_every``/``log_every`` count optimizer steps (evaluation and
    a checkpoint also come at the end; ``save_every=None``: ``default_save_every(steps)``, ``0``:
    only at the end); ``dev_fraction=0`` holds out nothing and skips evaluation. ``nsp``
    ("random": BERT's next sentence; "swap": ALBERT's sentence order) and ``mlm_probability`` are
    BERT's and ignored for GPT.

    Progress goes to the ``logging`` logger of this module (rank 0 only; configure the
    "fastembed" logger to see it); nothing is printed. Deprecated, kept for one release with a
    DeprecationWarning: ``seq_len`` (now ``max_length``), ``warmup`` (now ``warmup_steps``) and
    ``verbose`` (False logs the summary lines at DEBUG instead of INFO).

    Returns ``{"step", "train": last train row, "dev": last dev row or None, "out_dir",
    "model_dir"}``. Bad input raises ValueError or OSError with a message that names the problem.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "elmo" and init_from is not None:
        raise ValueError("init_from continues a HuggingFace BERT or GPT-2 model; an ELMo run starts from random "
                         "weights (continue an interrupted ELMo run with resume=True / --resume)")
    max_length = renamed_arg("pretrain", "seq_len", seq_len, "max_length", max_length)
    max_length = DEFAULT_MAX_LENGTH if max_length is None else max_length
    warmup_steps = renamed_arg("pretrain", "warmup", warmup, "warmup_steps", warmup_steps)
    if verbose is not None:
        warnings.warn("pretrain(verbose=...) is deprecated: pretrain reports through logging (the logger "
                      f"{logger.name!r}); configure that instead", DeprecationWarning, stacklevel=2)
    lr = DEFAULTS[kind]["lr"] if lr is None else lr
    schedule = DEFAULTS[kind]["schedule"] if schedule is None else schedule
    warmup_steps = _warmup_steps(warmup_steps, warmup_ratio, steps)
    save_every = default_save_every(steps) if save_every is None else save_every
    corpus = [Path(corpus)] if isinstance(corpus, (str, os.PathLike)) else [Path(p) for p in corpus]
    _check_args(kind, corpus=corpus, steps=steps, batch_size=batch_size, max_length=max_length,
                warmup_steps=warmup_steps, schedule=schedule, grad_accum=grad_accum, dev_fraction=dev_fraction, nsp=nsp)
    if tokenizer is None and init_from is None:
        raise ValueError("pass tokenizer= (a tokenizer file or directory), or init_from= a model directory that "
                         "holds its tokenizer")
    out = Path(out_dir)
    _, world, dev = init_distributed(device)
    say = _reporter(verbose)

    # tokenizer and model config first: cheap, and enough to refuse a mismatched resume early
    if init_from is not None:
        tok, cfg, tokenizer_path = init_source(kind, init_from, tokenizer=tokenizer, config=config,
                                               overrides=overrides, max_length=max_length)
    else:
        tok, tokenizer_path = load_tokenizer(tokenizer), tokenizer
    if kind == "bert" and tok.template is None:
        raise ValueError(f"tokenizer {tokenizer_path} puts no [CLS] / [SEP] around texts (it has no template, as a "
                         "BPE tokenizer); BERT pretraining needs a WordPiece vocabulary (a vocab.txt, one token per "
                         "line, with [CLS], [SEP], [MASK], [PAD] and [UNK]): fastembed finetune and embed read the "
                         "model directory's vocab.txt and build [CLS] A [SEP] B [SEP] inputs with its template")
    ids = special_ids(tok) if kind == "bert" else {}
    if init_from is None:
        cfg = model_config(kind, DEFAULT_CONFIG if config is None else config, vocab_size=tok.vocab_size,
                           seq_len=max_length, pad_id=ids.get("pad"), overrides=overrides)
    args = {"corpus": [os.path.abspath(p) for p in corpus],
            "tokenizer": None if tokenizer is None else os.path.abspath(tokenizer),
            "config": None if config is None else str(config),
            "init_from": None if init_from is None else os.path.abspath(init_from),
            "overrides": dict(overrides or {}), "steps": steps, "batch_size": batch_size,
            "max_length": max_length, "lr": lr, "warmup_steps": warmup_steps, "schedule": schedule,
            "weight_decay": weight_decay, "grad_accum": grad_accum, "bf16": bf16, "seed": seed,
            "eval_every": eval_every, "eval_batches": eval_batches, "save_every": save_every, "log_every": log_every,
            "dev_fraction": dev_fraction, "nsp": nsp, "mlm_probability": mlm_probability}
    run = {"kind": kind, "args": args, "model_config": cfg.to_dict(), "tokenizer": tokenizer_fingerprint(tok),
           "init_from": None if init_from is None else model_dir_fingerprint(init_from),
           "world_size": world, "fastembed": __version__}
    resume_from = None
    if resume:
        resume_from = latest_checkpoint(out)
        if resume_from is None:
            raise FileNotFoundError(f"nothing to resume: {out} holds no checkpoint (run without --resume to start)")
        check_resume(out / RUN_FILE, run, say)
    elif latest_checkpoint(out) is not None:
        raise ValueError(f"{out} already holds checkpoints of a run: resume it (--resume) or choose another "
                         "output directory")

    data, dev_data, what = build_data(kind, corpus, tok, seq_len=max_length, batch_size=batch_size, seed=seed,
                                      dev_fraction=dev_fraction, nsp=nsp, mlm_probability=mlm_probability,
                                      say=say, tokenizer_path=tokenizer_path)
    check_batch(kind, cfg, data, batch_size=batch_size, seq_len=max_length,
                per_micro_batch=batch_size // (world * grad_accum), mlm_probability=mlm_probability, device=dev)

    # model: every rank draws the same initial (or fresh-head) weights; a resumed run loads its checkpoint over them
    torch.manual_seed(seed)
    if init_from is None:
        model = MODELS[kind][1](cfg)
    else:
        model = _load_init(kind, init_from, cfg)
        if "mlm" in getattr(model, "fresh_heads", ()) and resume_from is None:
            with torch.no_grad():
                model.mlm_bias.copy_(unigram_log_prior(data, tok))
    model = model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    source = f"from {init_from}" if init_from is not None else str(DEFAULT_CONFIG if config is None else config)
    shape = (f"{cfg.num_layers} layers per direction, {cfg.embed_size} embedding, {cfg.hidden_size} LSTM cells"
             if kind == "elmo" else f"{cfg.num_layers} layers, {cfg.hidden_size} hidden, {cfg.num_heads} heads")
    say(f"pretrain {kind}: {type(model).__name__} {source} ({shape}), {n_params / 1e6:.2f}M parameters, "
        f"vocabulary {cfg.vocab_size:,} ({type(tok).__name__})")
    say(f"data: {what}; batch {batch_size} ({world} rank x {grad_accum} micro-batch x "
        f"{batch_size // (world * grad_accum)} rows), {steps:,} steps on {dev}")
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / RUN_FILE, json.dumps(run, indent=1) + "\n")
    if resume_from is not None:
        say(f"resume: from step {int(resume_from.name.split('_')[1]):,}, checkpoint {resume_from}")

    if dev_data is not None:   # one pass over the dev set at most: no instance counted twice
        eval_batches = min(eval_batches, max(1, int(dev_data.steps_per_epoch)))
    rows = train(model, data, TrainConfig(
        steps=steps, lr=lr, weight_decay=weight_decay, warmup_steps=warmup_steps, schedule=schedule,
        grad_accum=grad_accum, bf16=bf16, seed=seed, log_every=log_every, eval_every=eval_every,
        eval_batches=eval_batches, eval_at_start=init_from is not None, save_every=save_every, out_dir=str(out),
        progress=progress), eval_data=dev_data, resume=resume_from if resume_from is not None else False)

    model_dir = out / MODEL_DIR
    if is_main():
        save_pretrained(model, tok, model_dir)
    barrier()  # every rank returns once the model directory is complete
    last = {r["split"]: r for r in rows}
    result = {"step": max((r["step"] for r in rows), default=0), "train": last.get("train"),
              "dev": last.get("dev"), "out_dir": str(out), "model_dir": str(model_dir)}
    say(_summary(result))
    return result


# --------------------------------------------------------------------------- pieces


def default_save_every(steps: int) -> int:
    """Steps between checkpoints when not given: about ten per run, at most 1000 steps apart.

    >>> default_save_every(50), default_save_every(5), default_save_every(100_000)
    (5, 1, 1000)
    """
    return min(1000, max(1, steps // 10))


def check_batch(kind: str, cfg: Union[BertConfig, GPTConfig], data: Any, *, batch_size: int, seq_len: int,
                per_micro_batch: int, mlm_probability: float = 0.15, device: Any = "cpu") -> None:
    """Refuse a ``batch_size`` larger than the training set, and a step whose estimated memory
    (:mod:`._budget`) exceeds what ``device`` has free; ValueError says which and by how much."""
    from . import _budget

    parts = _budget.step_bytes(kind, cfg, rows=per_micro_batch, seq_len=seq_len, mlm_probability=mlm_probability)
    need = sum(parts.values())
    estimate = f"about {_budget.format_bytes(need)} (" + ", ".join(
        f"{k} {_budget.format_bytes(v)}" for k, v in parts.items()) + ")"
    what = "sentence-pair instances" if kind == "bert" else f"sequences of {seq_len} tokens"
    if batch_size > len(data):
        raise ValueError(f"--batch-size {batch_size} is larger than the training set, {len(data):,} {what}: "
                         f"every step would repeat instances; use --batch-size {len(data)} or less (a step of "
                         f"{batch_size} would need {estimate} of memory)")
    free = _budget.available_bytes(device if hasattr(device, "type") else torch.device(device))
    if free is not None and need > free:
        raise ValueError(f"--batch-size {batch_size} x --max-length {seq_len} needs {estimate} for one step of a "
                         f"{cfg.num_layers}-layer, {cfg.hidden_size}-wide model with {cfg.vocab_size:,} tokens, but "
                         f"{device} has {_budget.format_bytes(free)} free: lower --batch-size (or raise "
                         "--grad-accum), --max-length or the model size")


def load_tokenizer(path: PathLike) -> Tokenizer:
    """The tokenizer at ``path`` (see the module docstring, step 2); errors name the path."""
    p = Path(path)
    try:
        return from_pretrained(p)
    except ValueError as e:  # e.g. "mask_token '[MASK]' is not in the vocabulary": say which file
        msg = str(e)
        raise ValueError(msg if str(p) in msg else f"tokenizer {p}: {msg}") from None


def tokenizer_fingerprint(tok: Tokenizer) -> dict[str, Any]:
    """Type, size and a sha256 of everything that decides the ids (the tokenizer's HF
    tokenizer.json: vocabulary, merges in rank order, pattern or normalizer, added tokens,
    template), to recognise the tokenizer on resume, however it was loaded."""
    text = json.dumps(tokenizer_json(tok), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {"type": type(tok).__name__, "vocab_size": tok.vocab_size,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def model_config(kind: str, config: Union[str, PathLike], *, vocab_size: int, seq_len: int,
                 pad_id: Optional[int] = None,
                 overrides: Optional[dict[str, Any]] = None) -> Union[BertConfig, GPTConfig]:
    """The model config of a run: preset or JSON file, then ``overrides``, then the tokenizer's sizes.

    ``config`` is a preset name (``BertConfig.PRESETS``) or a JSON file of config fields (our
    names, as ``BertConfig.to_dict()`` writes them, fields left out taking the dataclass
    defaults; or a HuggingFace ``config.json`` with its ``model_type``). ``vocab_size`` (and
    BERT's ``pad_token_id``, when ``pad_id`` is given) come from the tokenizer: a file's values
    are replaced, an override that disagrees is an error. ``max_position`` is raised to
    ``seq_len`` unless set explicitly, in which case it must be at least ``seq_len``.

    >>> cfg = model_config("gpt", "tiny", vocab_size=300, seq_len=2048, overrides={"hidden_dropout": 0})
    >>> cfg.num_layers, cfg.hidden_size, cfg.vocab_size, cfg.max_position, cfg.hidden_dropout
    (2, 128, 300, 2048, 0.0)
    """
    cls = MODELS[kind][0]
    if str(config) in cls.PRESETS:
        fields, explicit = cls.preset(str(config)).to_dict(), set()
    else:
        path = Path(config)
        if not path.is_file():
            raise ValueError(f"config {str(config)!r} is neither a preset ({', '.join(cls.PRESETS)}) nor a JSON file")
        d = read_json_object(path, "a JSON object of config fields")
        if "model_type" in d and kind == "elmo":   # an ELMo directory's config.json (fastembed's own)
            if d["model_type"] != ELMO_MODEL_TYPE:
                raise ValueError(f"config file {path} is for model_type {d['model_type']!r}; elmo needs "
                                 f"{ELMO_MODEL_TYPE!r} (or a JSON object of ELMoConfig fields)")
            d = {k: v for k, v in d.items() if k not in ("model_type", "architectures")}
            explicit = {"max_position"}
        elif "model_type" in d:  # a HuggingFace config.json
            want = "bert" if kind == "bert" else "gpt2"
            if d["model_type"] != want:
                raise ValueError(f"config file {path} is for model_type {d['model_type']!r}; {kind} needs {want!r}")
            d = (bert_config_from_hf if kind == "bert" else gpt_config_from_hf)(d, source=f"config file {path}").to_dict()
            explicit = {"max_position"}
        else:
            explicit = set(d)
        fields = {**dataclasses.asdict(cls()), **d}
    overrides = _coerce_overrides(cls, overrides)
    tokenizer_fields = {"vocab_size": vocab_size}
    if kind == "bert" and pad_id is not None:
        tokenizer_fields["pad_token_id"] = pad_id
    for key, value in tokenizer_fields.items():
        if key in overrides and overrides[key] != value:
            raise ValueError(f"{key} comes from the tokenizer ({value}); it cannot be set to {overrides[key]}")
    fields.update(overrides)
    fields.update(tokenizer_fields)
    explicit |= set(overrides)
    if "max_position" not in explicit:
        fields["max_position"] = max(fields["max_position"], seq_len)
    elif fields["max_position"] < seq_len:
        raise ValueError(f"max_position {fields['max_position']} is shorter than seq_len {seq_len}")
    return cls.from_dict(fields)


def init_source(kind: str, init_from: PathLike, *, tokenizer: Optional[PathLike] = None,
                config: Optional[Union[str, PathLike]] = None, overrides: Optional[dict[str, Any]] = None,
                max_length: int = DEFAULT_MAX_LENGTH) -> tuple[Tokenizer, Union[BertConfig, GPTConfig], PathLike]:
    """(tokenizer, model config, where the tokenizer came from) of a run that starts from the model
    directory ``init_from`` (see :func:`pretrain`); ValueError for a tokenizer, ``config`` or
    ``overrides`` that disagrees with the directory, or a ``max_length`` beyond its positions."""
    d = Path(init_from)
    cls = BertConfig if kind == "bert" else GPTConfig
    overrides = _coerce_overrides(cls, overrides)
    cfg = read_model_config(d, "bert" if kind == "bert" else "gpt2")
    shape = {k: v for k, v in overrides.items() if k not in TRAINING_FIELDS and getattr(cfg, k, v) != v}
    if shape:
        raise ValueError(f"overrides {', '.join(f'{k}={v!r}' for k, v in shape.items())} would change the model "
                         f"read from {d} ({', '.join(f'{k} {getattr(cfg, k, None)!r}' for k in shape)} in its "
                         f"config.json); with init_from only the training fields {', '.join(TRAINING_FIELDS)} "
                         "can be set")
    cfg = cls.from_dict({**cfg.to_dict(), **overrides})

    given = None if tokenizer is None else load_tokenizer(tokenizer)
    if _holds_tokenizer(d):
        tok, source = load_tokenizer(d), d
        why = None if given is None else tokenizer_difference(given, tok)
        if why is not None:
            raise ValueError(f"tokenizer={str(tokenizer)!r} differs from the one in {d} ({why}): the model's "
                             f"embeddings are indexed by its own vocabulary; leave it out to use {d}'s")
    elif given is not None:
        tok, source = given, tokenizer
    else:
        raise ValueError(f"{d} holds no tokenizer (tokenizer.json, vocab.txt, or vocab.json + merges.txt): pass "
                         "the tokenizer the model was trained with")
    if tok.vocab_size != cfg.vocab_size:
        raise ValueError(f"tokenizer {source} has {tok.vocab_size:,} tokens but the model in {d} has vocab_size "
                         f"{cfg.vocab_size:,}: they do not belong together")

    if config is not None:
        pad = special_ids(tok)["pad"] if kind == "bert" else None
        want = model_config(kind, config, vocab_size=tok.vocab_size, seq_len=max_length, pad_id=pad)
        fields = ["vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "layer_norm_eps"]
        fields += ["type_vocab_size"] if kind == "bert" else []
        fields += [] if str(config) in cls.PRESETS else ["max_position"]   # a preset's follows max_length
        diffs = [f"{k} {getattr(want, k)!r} vs {getattr(cfg, k)!r}" for k in fields if getattr(want, k) != getattr(cfg, k)]
        if diffs:
            raise ValueError(f"config={str(config)!r} disagrees with the model in {d}: {'; '.join(diffs)} (the given "
                             f"config vs {d / 'config.json'}); leave it out to use the directory's")
    if max_length > cfg.max_position:
        raise ValueError(f"max_length {max_length} is longer than the model in {d} allows: it has "
                         f"{cfg.max_position} positions (max_position_embeddings / n_positions in its config.json)")
    return tok, cfg, source


def tokenizer_difference(a: Tokenizer, b: Tokenizer) -> Optional[str]:
    """None when ``a`` and ``b`` turn every text into the same ids (:func:`tokenizer_fingerprint`),
    else what differs first: the size, a token, or the settings around the vocabulary."""
    if tokenizer_fingerprint(a)["sha256"] == tokenizer_fingerprint(b)["sha256"]:
        return None
    if type(a) is not type(b):
        return f"{type(a).__name__} vs {type(b).__name__}"
    if a.vocab_size != b.vocab_size:
        return f"{a.vocab_size:,} tokens vs {b.vocab_size:,}"
    for i in range(a.vocab_size):
        if a.id_to_token(i) != b.id_to_token(i):
            return f"id {i} is {a.id_to_token(i)!r} vs {b.id_to_token(i)!r}"
    if a.all_special_ids != b.all_special_ids:
        return f"special token ids {a.all_special_ids} vs {b.all_special_ids}"
    return "the same vocabulary but other settings: lower-casing, normalization, pre-tokenization or template"


def model_dir_fingerprint(path: PathLike) -> dict[str, Any]:
    """The model directory a run started from: its path and a sha256 of its config.json and
    weights, so that resuming can check it is the same model (the checkpoint's weights win)."""
    d = Path(path)
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        f = d / name
        if f.is_file():
            h.update(name.encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
    return {"path": os.path.abspath(d), "sha256": h.hexdigest()}


def unigram_log_prior(data: Any, tok: Tokenizer) -> Any:
    """log p(token) over the real, non-special tokens of BERT training ``data`` (what masked
    positions hold), add-one smoothed so tokens the data lacks keep a finite value; float32 (V,).

    The bias a fresh MLM head starts from: the usual initialisation of an output layer's bias to
    the log class prior, so that the head predicts the data's base rates before it has learnt
    anything (the loss of a unigram model, about 6.3 nats on wikitext-2 with BERT's vocabulary,
    instead of ln V = 10.3 for uniform predictions). Without it the head's first steps go to
    learning token frequencies, with large gradients flowing back into the pretrained encoder.
    Computed from the training split only: the dev loss at step 0 stays a held-out number."""
    inst = data.instances
    ids = torch.from_numpy(inst.ids.astype("int64"))
    real = torch.arange(ids.shape[1])[None, :] < torch.from_numpy(inst.lengths.astype("int64"))[:, None]
    counts = torch.bincount(ids[real], minlength=tok.vocab_size).double()
    counts[tok.all_special_ids] = 0
    counts += 1.0
    return (counts / counts.sum()).log().float()


def build_data(kind: str, corpus: Sequence[PathLike], tok: Tokenizer, *, seq_len: int, batch_size: int, seed: int,
               dev_fraction: float, nsp: str = "random", mlm_probability: float = 0.15, say: Any = None,
               tokenizer_path: PathLike = "the tokenizer") -> tuple[Any, Any, str]:
    """(train data, dev data or None, a line describing them) for ``kind`` (module docstring, step 4)."""
    say = say or _reporter(None)
    if kind == "bert":
        data = BertPretrainingData.from_documents(bert_documents(corpus), tok, max_length=seq_len, nsp=nsp,
                                                  seed=seed, batch_size=batch_size, mlm_probability=mlm_probability)
        what = f"{len(data):,} sentence-pair instances of <= {seq_len} tokens ({nsp} NSP)"
    else:
        data = GPTBlocks.from_files(corpus, tok, max_length=seq_len, batch_size=batch_size, seed=seed,
                                    separator=_gpt_separator(tok, tokenizer_path, say))
        what = f"{len(data):,} blocks of {seq_len} tokens from {len(data.tokens):,} tokens"
    dev_data = None
    if dev_fraction > 0:
        data, dev_data = data.split(dev_fraction)
        what += f" ({len(data):,} train, {len(dev_data):,} dev)"
    return data, dev_data, what


def bert_documents(paths: Sequence[PathLike]) -> list[list[str]]:
    """The documents (lists of sentences) of BERT corpus files (module docstring, step 4)."""
    documents: list[list[str]] = []
    for path in paths:
        lines = read_text(path).splitlines()
        docs = read_documents(lines)
        n_chars = [len(s) for doc in docs for s in doc]
        if len(docs) == 1 and sum(n_chars) / len(n_chars) > LONG_LINE:  # prose: one document per line
            docs = [split_sentences(line) for line in docs[0]]
        documents += docs
    return documents


def save_pretrained(model: Any, tok: Tokenizer, path: PathLike) -> None:
    """The model in HuggingFace format plus the tokenizer's files (module docstring, ``model/``)."""
    path = Path(path)
    if isinstance(model, BertForPreTraining):
        save_bert(model, path)
    elif isinstance(model, ELMo):
        save_elmo(model, path)
    else:
        save_gpt2(model, path, eos_token_id=_eot(tok))
    tok.save_pretrained(path)


def check_resume(run_file: Path, run: dict[str, Any], say: Any) -> None:
    """Refuse to resume when kind, model config or tokenizer differ from the saved ``run.json``;
    warn when the data arguments do. No ``run.json`` (a run started by ``train`` itself): no check."""
    if not run_file.is_file():
        return
    try:
        saved = json.loads(run_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{run_file} is corrupt ({e}); it records the run's arguments") from None
    diffs = []
    if saved.get("kind") != run["kind"]:
        diffs.append(f"kind: {saved.get('kind')!r} in the run, {run['kind']!r} now")
    old_cfg, new_cfg = saved.get("model_config") or {}, run["model_config"]
    diffs += [f"{k}: {old_cfg.get(k)!r} in the run, {new_cfg.get(k)!r} now"
              for k in sorted(set(old_cfg) | set(new_cfg)) if old_cfg.get(k) != new_cfg.get(k)]
    old_init, new_init = saved.get("init_from"), run.get("init_from")
    if (old_init or {}).get("sha256") != (new_init or {}).get("sha256"):
        if old_init and new_init and old_init.get("path") == new_init.get("path"):
            diffs.append(f"init_from: {new_init['path']} holds other weights or another config than when the run "
                         "started")
        else:
            diffs.append(f"init_from: {(old_init or {}).get('path')} in the run, {(new_init or {}).get('path')} now")
    old_tok, new_tok = saved.get("tokenizer") or {}, run["tokenizer"]
    if old_tok.get("sha256") != new_tok["sha256"]:
        diffs.append(f"tokenizer: {old_tok.get('type')} of {old_tok.get('vocab_size')} tokens in the run, "
                     f"a different {new_tok['type']} of {new_tok['vocab_size']} now")
    old_args, new_args = saved.get("args", {}), run["args"]
    if diffs:
        started = (f"--init-from {old_args['init_from']}" if old_args.get("init_from") else
                   f"--config {old_args.get('config') or DEFAULT_CONFIG}") + "".join(
            f" --set {k}={json.dumps(v)}" for k, v in (old_args.get("overrides") or {}).items())
        raise ValueError(f"cannot resume {run_file.parent}: it was started with {started}, and these arguments "
                         "make a different model: " + "; ".join(diffs))
    changed = [k for k in DATA_ARGS if old_args.get(k, old_args.get(OLD_ARG_NAMES.get(k, k))) != new_args[k]]
    if changed:
        say(f"resuming with different {', '.join(changed)} than the run: the batches will not continue the run's "
            "sequence", err=True)


# --------------------------------------------------------------------------- helpers


def _check_args(kind: str, *, corpus: list[Path], steps: int, batch_size: int, max_length: int, warmup_steps: int,
                schedule: str, grad_accum: int, dev_fraction: float, nsp: str) -> None:
    if not corpus:
        raise ValueError("no corpus files given")
    for p in corpus:
        if not p.is_file():
            raise FileNotFoundError(f"corpus file {p} {'is a directory' if p.is_dir() else 'does not exist'}")
    for name, v, low in (("steps", steps, 1), ("batch_size", batch_size, 1), ("max_length", max_length, 1),
                         ("grad_accum", grad_accum, 1), ("warmup_steps", warmup_steps, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    if kind == "bert" and nsp not in NSP_MODES:
        raise ValueError(f"nsp must be one of {NSP_MODES}, got {nsp!r}")


def _warmup_steps(warmup_steps: Optional[int], warmup_ratio: Optional[float], steps: int) -> int:
    """Warmup in optimizer steps from ``warmup_steps`` or ``warmup_ratio`` (transformers' rounding
    up), 1% of ``steps`` when neither is given."""
    if warmup_ratio is None:
        return steps // 100 if warmup_steps is None else warmup_steps
    if warmup_steps is not None:
        raise ValueError("pass warmup_steps or warmup_ratio, not both")
    if isinstance(warmup_ratio, bool) or not isinstance(warmup_ratio, (int, float)) or not 0 <= warmup_ratio <= 1:
        raise ValueError(f"warmup_ratio must be a number in [0, 1], got {warmup_ratio!r}")
    return math.ceil(warmup_ratio * steps) if isinstance(steps, int) else 0


def _coerce_overrides(cls: type, overrides: Optional[dict[str, Any]]) -> dict[str, Any]:
    """``overrides`` with ints given for float fields as floats (--set hidden_dropout=0 means 0.0)."""
    overrides = dict(overrides or {})
    defaults = dataclasses.asdict(cls())
    for key, value in overrides.items():
        if isinstance(defaults.get(key), float) and isinstance(value, int) and not isinstance(value, bool):
            overrides[key] = float(value)
    return overrides


def _holds_tokenizer(path: PathLike) -> bool:
    """Whether the model directory ``path`` holds tokenizer files (from_pretrained's first choices)."""
    d = Path(path)
    return any((d / f).is_file() for f in ("tokenizer.json", "vocab.txt", "bpe.json", "vocab.json"))


def _load_init(kind: str, path: PathLike, cfg: Union[BertConfig, GPTConfig]) -> Any:
    """The model of ``path`` with ``cfg``'s training fields; a BERT's missing heads made fresh."""
    overrides = {k: getattr(cfg, k) for k in TRAINING_FIELDS if hasattr(cfg, k)}
    if kind == "bert":
        model = load_bert(path, pretraining=True, missing_heads="fresh", **overrides)
    else:
        model = load_gpt2(path, **overrides)
    if model.config != cfg:   # init_source read the same file: only a file changed in between gets here
        raise ValueError(f"{path} changed while the run started: its config now differs from the one checked")
    return model


def _eot(tok: Tokenizer) -> Optional[int]:
    """The id of <|endoftext|>, or None when the tokenizer has none."""
    try:
        return eot_id(tok)
    except ValueError:
        return None


def _gpt_separator(tok: Tokenizer, path: PathLike, say: Any) -> Union[str, int, None]:
    """"eot" when the tokenizer has <|endoftext|>; else its [SEP] id (a WordPiece vocabulary, as an
    ELMo on BERT's pieces reads); else None, with a warning."""
    if _eot(tok) is not None:
        return "eot"
    if tok.sep_token_id is not None:
        say(f"documents are separated by the tokenizer's {tok.id_to_token(tok.sep_token_id)} token "
            "(it has no <|endoftext|>)")
        return int(tok.sep_token_id)
    say(f"tokenizer {path} has no <|endoftext|> token, so documents are joined with no separator "
        "between them (train it with --special '<|endoftext|>' to mark where each document ends)", err=True)
    return None


def _reporter(verbose: Optional[bool]) -> Any:
    """say(msg, err=False): a line on this module's logger from rank 0, a warning with ``err``;
    the deprecated ``verbose=False`` moves the other lines to DEBUG."""
    level = logging.DEBUG if verbose is False else logging.INFO

    def say(msg: str, *, err: bool = False) -> None:
        if is_main():
            logger.log(logging.WARNING if err else level, msg)

    return say


def _summary(result: dict[str, Any]) -> str:
    parts = [f"done: step {result['step']:,}"]
    for split in ("train", "dev"):
        row = result[split]
        if row:
            extra = f", perplexity {row['perplexity']:.2f}" if "perplexity" in row else ""
            parts.append(f"{split} loss {row['loss']:.4f}{extra}")
    return ", ".join(parts) + f"; model in {result['model_dir']}"

