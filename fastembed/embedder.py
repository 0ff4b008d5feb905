"""Sentence embeddings from a BERT model directory: texts in, one unit vector per text out.

    >>> emb = Embedder("all-MiniLM-L6-v2/")                       # doctest: +SKIP
    >>> emb.encode(["A man is eating food.", ""]).shape           # doctest: +SKIP
    (2, 384)

The directory is a HuggingFace BERT checkpoint (``config.json``, ``model.safetensors``,
``vocab.txt``), optionally with a sentence-transformers configuration beside it, whose settings
become the defaults: pooling from ``1_Pooling/config.json`` (the path that ``modules.json``
gives), normalisation when ``modules.json`` lists a ``Normalize`` module, ``max_length`` from
``sentence_bert_config.json``'s ``max_seq_length``. Without them: mean pooling (Reimers &
Gurevych 2019), normalised, up to the model's ``max_position`` tokens.

How ``encode`` spends its time, and what it saves compared with sentence-transformers:

- all texts are tokenized in one native call (those longer than ``max_length`` in a second one
  that cuts them with the tokenizer's truncation), then batches are formed from texts of similar
  *token* count (sentence-transformers sorts by characters, a looser proxy), each padded only to
  its longest text; the vectors are written back in input order, so the result does not depend on the
  batching (the fused attention skips padded keys, mean pooling reads real tokens only);
- fastembed's BERT projects q, k and v with one matmul and reads them in place; attention takes
  a (B, T) key mask, never an expanded (B, 1, T, T) one;
- the tanh pooler of the checkpoint is not part of a sentence embedding and is not computed;
- on the CPU, whole batches run side by side on worker threads, one core each, instead of one
  batch at a time split across the cores inside every operator (:mod:`fastembed._workers`).

Texts longer than ``max_length`` tokens are truncated to it (``[CLS]``, the first pieces,
``[SEP]``), never silently: ``last_report`` (or ``return_report=True``) lists them, and each call
that truncates gives one :class:`~fastembed.features.TruncationWarning`. An empty string embeds
as ``[CLS] [SEP]``, like in sentence-transformers: a valid vector, the same for every empty text.

Left out on purpose: max / weighted-mean / last-token pooling and Dense modules of
sentence-transformers (the constructor refuses a directory that needs them), text pairs, prompts.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ._optional import require_torch

torch = require_torch("fastembed.embedder")

import torch.nn.functional as F  # noqa: E402

from ._progress import ProgressBar  # noqa: E402
from ._workers import plan_workers, run_in_workers  # noqa: E402
from .features import (TruncationWarning, _positive_int, check_texts, length_buckets, pad_batch,  # noqa: E402
                       pool, tokenize_texts, warn_truncated)

__all__ = ["EncodeReport", "Embedder", "TruncationWarning"]

PathLike = Union[str, os.PathLike]

# sentence-transformers' legacy Pooling keys -> mode (the newer configs write "pooling_mode" directly)
_ST_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                    "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                    "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
_ST_KNOWN = ("Transformer", "Pooling", "Normalize")


@dataclass(frozen=True)
class EncodeReport:
    """What one ``encode`` call did: ``token_counts`` (N,) holds each text's tokens, [CLS] and
    [SEP] included, *before* truncation; ``truncated`` the input indices of the texts that were
    cut to ``max_length``."""

    num_texts: int
    max_length: int
    token_counts: np.ndarray = field(repr=False)
    truncated: np.ndarray

    @property
    def num_truncated(self) -> int:
        return len(self.truncated)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None


def _st_pooling(cfg: dict[str, Any], where: Path) -> str:
    mode = cfg.get("pooling_mode")
    if mode is None:
        mode = [m for k, m in _ST_POOLING_KEYS.items() if cfg.get(k)] or ["mean"]
    modes = [mode] if isinstance(mode, str) else list(mode)
    if len(modes) != 1 or modes[0] not in ("cls", "mean"):
        raise ValueError(f"{where} asks for pooling {modes}; Embedder supports 'cls' and 'mean' (pass pooling= to "
                         "choose one, knowing the vectors will differ from the model's)")
    return modes[0]


def sentence_transformers_config(path: PathLike) -> dict[str, Any]:
    """The settings a sentence-transformers directory gives: ``pooling``, ``normalize``,
    ``max_length``, ``lowercase`` (None where the directory says nothing). ValueError for a
    module Embedder does not apply (Dense, ...) or a pooling mode it lacks."""
    path = Path(path)
    out: dict[str, Any] = {"pooling": None, "normalize": None, "max_length": None, "lowercase": None}
    modules = path / "modules.json"
    if modules.exists():
        entries = _read_json(modules)
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in entries]
        unknown = [m.get("type") for m, k in zip(entries, kinds) if k not in _ST_KNOWN]
        if unknown:
            raise ValueError(f"{modules} lists {unknown}, which Embedder does not apply; its vectors would not be "
                             f"the model's (supported: {', '.join(_ST_KNOWN)})")
        out["normalize"] = "Normalize" in kinds
        for m, k in zip(entries, kinds):
            if k == "Pooling":
                cfg = path / m.get("path", "") / "config.json"
                if cfg.exists():
                    out["pooling"] = _st_pooling(_read_json(cfg), cfg)
    sbert = path / "sentence_bert_config.json"
    if sbert.exists():
        cfg = _read_json(sbert)
        out["max_length"] = cfg.get("max_seq_length")
        out["lowercase"] = cfg.get("do_lower_case")
    return out


class Embedder:
    """One vector per text from the BERT model in ``model_dir`` (see the module docstring).

    ``pooling`` "mean" or "cls", ``normalize`` (unit L2 length) and ``max_length`` (tokens, [CLS]
    and [SEP] included) default to what the directory's sentence-transformers files say, else
    "mean", True and the model's ``max_position``. ``threads`` sets both torch's and fastembed's
    thread counts (process-wide). ``device``: "cpu" or a CUDA device.

    On the CPU, ``encode`` runs several batches side by side, ``workers`` of them (default: one
    per thread of torch's count, at most 8), each worker with its share of the threads; small
    batches use the cores better this way than split inside each operator. ``workers=1`` runs
    the batches one after another, each with all the threads. The vectors do not depend on it
    (beyond float32 rounding in the matrix products).

    ``precision``: "fp32" (default), "bf16" or "int8" for the layers' matrix products
    (:func:`fastembed.models.precision.prepare`; LayerNorm, attention, pooling and normalisation
    stay float32). bf16 needs a CPU with AVX-512-BF16 or AMX: elsewhere a
    :class:`~fastembed.models.precision.PrecisionFallbackWarning` says so and float32 is used.
    ``self.precision`` is the precision in use.
    """

    def __init__(self, model_dir: PathLike, *, pooling: Optional[str] = None, normalize: Optional[bool] = None,
                 max_length: Optional[int] = None, batch_size: int = 32, threads: Optional[int] = None,
                 workers: Optional[int] = None, device: Any = "cpu", precision: str = "fp32") -> None:
        from .models.hf import load_bert, load_wordpiece
        from .models.precision import check_precision, prepare

        path = Path(model_dir)
        st = sentence_transformers_config(path)
        self.pooling = pooling if pooling is not None else st["pooling"] or "mean"
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {self.pooling!r}")
        self.normalize = bool(st["normalize"] is not False if normalize is None else normalize)  # no modules.json: on
        self.batch_size = _positive_int(batch_size, "batch_size")
        threads = None if threads is None else _positive_int(threads, "threads")
        check_precision(precision)
        self.workers = None if workers is None else _positive_int(workers, "workers")
        self.model = load_bert(path, attn_impl="fused", hidden_dropout=0.0, attention_dropout=0.0).eval()
        self.model.pooler = None                                # tanh(W·h[CLS]): not part of the embedding
        cfg = self.model.config
        limit = max_length if max_length is not None else st["max_length"] or cfg.max_position
        self.max_length = _positive_int(limit, "max_length")
        if not 2 <= self.max_length <= cfg.max_position:
            raise ValueError(f"max_length must be in [2, {cfg.max_position}] (the model's max_position), "
                             f"got {self.max_length}")
        self.device = torch.device(device)
        self.model.to(self.device)
        self.precision = prepare(self.model, precision, device=self.device)   # "fp32" after a fallback warning
        self.tokenizer = load_wordpiece(path)
        self.lowercase = bool(st["lowercase"])           # sentence-transformers lower-cases before tokenizing
        self.dim = cfg.hidden_size
        self.path = path
        self.last_report: Optional[EncodeReport] = None
        if threads is not None:                          # last: nothing changes when the arguments are wrong
            from ._native import set_num_threads

            torch.set_num_threads(threads)
            set_num_threads(threads)

    def encode(self, texts: Any, *, batch_size: Optional[int] = None, progress: Optional[bool] = None,
               return_report: bool = False) -> Any:
        """float32 (N, dim) vectors of ``texts`` (a list of str), row i for texts[i]; with
        ``return_report=True`` the pair (vectors, :class:`EncodeReport`), which ``last_report``
        keeps either way. ``progress`` draws a bar on stderr (default: when it is a terminal).
        TypeError for a bare string or a non-str item."""
        texts = check_texts(texts)
        bs = self.batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        if self.lowercase:
            texts = [t.lower() for t in texts]
        ids, counts = tokenize_texts(self.tokenizer, texts, self.max_length)
        report = EncodeReport(len(texts), self.max_length, counts, np.flatnonzero(counts > self.max_length))
        self.last_report = report
        warn_truncated(report.truncated, len(texts), self.max_length, "Embedder.last_report.truncated", stacklevel=2)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        chunks = length_buckets(np.minimum(counts, self.max_length), bs)
        workers, threads_each = self._plan(len(chunks))
        with ProgressBar(len(texts), desc="embed", unit="texts", show=progress) as bar:
            lock = threading.Lock()

            def embed(chunk: np.ndarray) -> None:
                with torch.inference_mode():
                    x, mask, padded = pad_batch([ids[i] for i in chunk], self.tokenizer.pad_token_id)
                    x, mask = x.to(self.device), mask.to(self.device)
                    h = self.model(x, attention_mask=mask if padded else None).last_hidden_state    # (b, T, C)
                    v = pool(h, mask, self.pooling)                                                 # (b, C)
                    if self.normalize:
                        v = F.normalize(v, p=2.0, dim=-1)
                    out[chunk] = v.float().cpu().numpy()
                with lock:
                    bar.update(len(chunk))

            if workers == 1:
                for chunk in chunks:
                    embed(chunk)
            else:
                run_in_workers(chunks, embed, workers=workers, threads_each=threads_each)
        return (out, report) if return_report else out

    def _plan(self, batches: int) -> tuple[int, int]:
        """(worker threads, threads each) for ``batches`` batches: on the CPU, by default one
        batch per core side by side (see :mod:`fastembed._workers`); on a GPU one stream of batches."""
        if self.device.type != "cpu":
            return 1, 1
        return plan_workers(torch.get_num_threads(), batches, self.workers)

    def __repr__(self) -> str:
        return (f"Embedder({str(self.path)!r}, dim={self.dim}, pooling={self.pooling!r}, normalize={self.normalize}, "
                f"max_length={self.max_length}, device={str(self.device)!r}, precision={self.precision!r})")
