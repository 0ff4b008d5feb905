"""``fastembed embed``: one vector per line of a text file, written as a .npy matrix.

    fastembed embed --model all-MiniLM-L6-v2/ --input lines.txt --output vectors.npy
    fastembed embed --model DIR --input lines.txt --output v.npy --max-length 128 --pooling cls --no-normalize

Row i of the (N, C) float32 output is line i of the input (UTF-8, "\\n"-separated; a final newline
ends the last line, it does not add an empty one; an empty line embeds as [CLS] [SEP]). Lines
longer than ``--max-length`` tokens are truncated, and a note on stderr says which. The output
is written atomically. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("embed", help="embed lines of text with a model directory into a .npy file",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, metavar="DIR",
                   help="HF BERT directory (config.json, model.safetensors, vocab.txt), e.g. sentence-transformers'")
    p.add_argument("--input", type=Path, required=True, metavar="FILE", help="UTF-8 text, one text per line")
    p.add_argument("--output", type=Path, required=True, metavar="FILE", help=".npy file to write: (lines, C) float32")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per forward pass (default 32)")
    p.add_argument("--max-length", type=int, metavar="N",
                   help="tokens per text, [CLS] and [SEP] included (default: the model directory's, else max_position)")
    p.add_argument("--pooling", choices=("mean", "cls"), help="default: the model directory's, else mean")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="unit-length vectors (default: the model directory's, else on)")
    p.add_argument("--threads", type=int, metavar="N", help="torch and fastembed threads (default: as configured)")
    p.set_defaults(func=_embed)
    return p


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, split on "\\n" only (a "\\r" before it is dropped)."""
    if path.is_dir():
        raise IsADirectoryError(f"--input {path} is a directory, expected a text file (one text per line)")
    if not path.exists():
        raise FileNotFoundError(f"--input {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"--input {path} is not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (line {line}); "
                         f"convert it first, e.g. iconv -f latin1 -t utf-8 {path} > {path}.utf8") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _embed(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    try:
        from .embedder import Embedder, TruncationWarning
    except ImportError as e:                                     # torch missing: say so, no traceback
        print(f"fastembed embed: {e}", file=sys.stderr)
        return 1
    from .io import atomic_write_bytes

    texts = read_lines(args.input)
    emb = Embedder(args.model, pooling=args.pooling, normalize=args.normalize, max_length=args.max_length,
                   batch_size=args.batch_size, threads=args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)      # reported below, by line number
        vectors, report = emb.encode(texts, return_report=True)
    buf = io.BytesIO()
    np.save(buf, vectors)
    atomic_write_bytes(args.output, buf.getvalue())
    if report.num_truncated:
        shown = ", ".join(str(i + 1) for i in report.truncated[:10]) + (", ..." if report.num_truncated > 10 else "")
        print(f"fastembed embed: note: {report.num_truncated} of {len(texts)} lines were longer than "
              f"{emb.max_length} tokens and were truncated (lines {shown})", file=sys.stderr)
    print(f"{len(texts):,} lines -> {args.output} ({vectors.shape[0]} x {vectors.shape[1]} float32; "
          f"pooling {emb.pooling}, {'normalised' if emb.normalize else 'not normalised'}, "
          f"max_length {emb.max_length})")
    return 0
