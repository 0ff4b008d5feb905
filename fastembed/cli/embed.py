"""fastembed embed: one vector per line of a text file, written as a .npy matrix."""

from __future__ import annotations

import argparse
import logging
import warnings

from . import _common as c

log = logging.getLogger(__name__)

DESCRIPTION = """\
Embed lines of text with a model directory into a .npy file.

  fastembed embed --model all-MiniLM-L6-v2/ --input lines.txt -o vectors.npy
  cat lines.txt | fastembed embed --model DIR --input - -o v.npy --max-length 128 --pooling cls --no-normalize

Row i of the (N, C) float32 output is line i of the input (UTF-8, newline-separated; a final
newline ends the last line, it does not add an empty one; an empty line embeds as [CLS] [SEP]).
Lines longer than --max-length tokens are truncated, and a warning says which. The output is
written atomically."""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("embed", help="embed lines of text with a model directory into a .npy file",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_model(p, "HF BERT (config.json, model.safetensors, vocab.txt), e.g. sentence-transformers'")
    c.add_input(p, "UTF-8 text, one text per line", stdin=True)
    c.add_out(p, "the .npy file: (lines, C) float32", old=("--output",))
    c.add_batch_size(p, "texts per forward pass", 32)
    c.add_max_length(p, "per text (default: the model directory's, else max_position)")
    p.add_argument("--pooling", choices=("mean", "cls"), help="default: the model directory's, else mean")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="unit-length vectors (default: the model directory's, else on)")
    c.add_device(p, "cpu")
    c.add_precision(p)
    c.add_common(p)
    c.set_command(p, run, {"model_dir": "--model"})
    return p


def run(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    texts = c.read_lines(args.input)
    try:
        from ..embedder import Embedder, TruncationWarning
    except ImportError as e:   # torch is missing: say so in one line
        return c.missing(e)
    from ..io import atomic_write_bytes, check_writable_target

    check_writable_target(args.out)
    emb = Embedder(args.model, pooling=args.pooling, normalize=args.normalize, max_length=args.max_length,
                   batch_size=args.batch_size, threads=args.threads, device=args.device or "cpu",
                   precision=args.precision)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)      # reported below, by line number
        vectors, report = emb.encode(texts, progress=c.progress(args), return_report=True)
    buf = io.BytesIO()
    np.save(buf, vectors)
    atomic_write_bytes(args.out, buf.getvalue())
    if report.num_truncated:
        shown = ", ".join(str(i + 1) for i in report.truncated[:10]) + (", ..." if report.num_truncated > 10 else "")
        log.warning(f"{report.num_truncated} of {len(texts)} lines were longer than {emb.max_length} tokens and "
                    f"were truncated (lines {shown})")
    print(f"{len(texts):,} lines -> {args.out} ({vectors.shape[0]} x {vectors.shape[1]} float32; "
          f"pooling {emb.pooling}, {'normalised' if emb.normalize else 'not normalised'}, "
          f"max_length {emb.max_length})")
    return 0
