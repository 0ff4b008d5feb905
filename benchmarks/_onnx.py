"""ONNX Runtime as production embedding services run it (Qdrant's fastembed, sentence-transformers'
ONNX backend): a BERT directory exported with ``torch.onnx.export``, optionally quantized with ONNX
Runtime's dynamic int8, tokenized with HF ``tokenizers``, mean-pooled and normalised in numpy.

The embed benchmark uses it as a second incumbent. What it does, per call, is what such a
service does: tokenize every text (the directory's tokenizer.json pads every row to 128 by
default: that is turned off, and each batch is padded to its own longest row), sort the rows by
length, run batches of ``batch_size``, mean-pool over the real tokens, normalise, and put the
vectors back in input order.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export(model_dir: Path, out: Path, *, check_texts: list[str]) -> Path:
    """``model_dir``'s BertModel as ONNX (last_hidden_state; batch and sequence axes dynamic), checked
    against transformers on ``check_texts``: a mismatch above 1e-4 raises, so no timing runs on a
    broken export."""
    import onnxruntime as ort
    import torch
    import transformers

    bert = transformers.AutoModel.from_pretrained(str(model_dir)).eval()

    class Hidden(torch.nn.Module):   # three tensors in, last_hidden_state out: a graph with named inputs
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = Hidden().eval().requires_grad_(False)
    tok = tokenizer(model_dir, max_length=128)
    feed = _pad(tok.encode_batch(check_texts))
    args = tuple(torch.from_numpy(feed[k]) for k in INPUTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    axes = {k: {0: "batch", 1: "sequence"} for k in INPUTS}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python conditions in transformers' masking code; for an encoder with
        # an attention mask they take one branch for every input (the check below and the cosine
        # over every benchmark text would show otherwise).
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(out), input_names=list(INPUTS), output_names=["last_hidden_state"],
                          dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "sequence"}}, opset_version=17,
                          dynamo=False)
        want = model(*args).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    diff = float(np.abs(got - want).max())
    if diff > 1e-4:
        raise RuntimeError(f"the ONNX export of {model_dir} differs from transformers by {diff:.2e} (> 1e-4)")
    return out


def quantize_int8(fp32: Path, out: Path) -> Path:
    """ONNX Runtime's dynamic quantization: int8 weights per tensor, activations scaled per call."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)       # its advice to pre-process first, printed on every call
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return out


def tokenizer(model_dir: Path, *, max_length: int) -> Any:
    """The directory's HF tokenizer.json, truncating at ``max_length``, without its fixed padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def _pad(encodings: list[Any]) -> dict[str, np.ndarray]:
    """A batch padded to its longest row (int64, as the exported graph takes)."""
    T = max(len(e.ids) for e in encodings)
    feed = {k: np.zeros((len(encodings), T), dtype=np.int64) for k in INPUTS}
    for i, e in enumerate(encodings):
        n = len(e.ids)
        feed["input_ids"][i, :n] = e.ids
        feed["attention_mask"][i, :n] = e.attention_mask
        feed["token_type_ids"][i, :n] = e.type_ids
    return feed


class OnnxEmbedder:
    """Normalised mean-pooled sentence vectors from an ONNX BERT on ``threads`` intra-op threads."""

    def __init__(self, onnx_path: Path, model_dir: Path, *, max_length: int, batch_size: int, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(os.fspath(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.tok = tokenizer(model_dir, max_length=max_length)
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tok.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out: np.ndarray | None = None
        for a in range(0, len(order), self.batch_size):
            rows = order[a:a + self.batch_size]
            feed = _pad([encodings[i] for i in rows])
            hidden = self.session.run(None, feed)[0]                      # (B, T, C)
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vec = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), vec.shape[1]), dtype=np.float32)
            out[rows] = vec
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)
