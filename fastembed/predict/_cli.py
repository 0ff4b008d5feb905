"""``fastembed predict``: run a fine-tuned model over lines of input, writing one JSON line per input line.

    fastembed predict --model runs/sst2/model --input reviews.txt --out labels.jsonl
    echo "John Smith lives in Paris." | fastembed predict --model runs/conll/model --input -
    fastembed predict --model runs/squad/model --input questions.jsonl -o answers.jsonl

Input (UTF-8, one input per line; a final newline does not add an empty input):

    classifier, tagger   plain text, one text per line; or JSON lines {"text": ...}, with
                         "text_pair" for a pair, or for a tagger {"words": [...]} (pre-split words)
    question answering   JSON lines {"question": ..., "context": ...}

The input is JSON lines when its first line is a JSON object; then every line must be one. Output
line i is the result for input line i: ``{"label", "score"}`` (classifier), a list of
``{"entity", "start", "end", "text", "score"}`` (tagger), ``{"answer", "start", "end", "score"}``
(QA). ``--out FILE`` is written atomically (no half-written file on an error or Ctrl-C); without
it the lines go to stdout. PyTorch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

PREDICT_HELP = "run a fine-tuned model (classifier, tagger, QA) over lines of text; JSON lines out"


def add_parser(sub: argparse._SubParsersAction, help: str = PREDICT_HELP) -> argparse.ArgumentParser:
    """Add ``predict`` to a subcommand set (``fastembed``'s); returns its parser."""
    p = sub.add_parser("predict", help=help, description=__doc__.splitlines()[0],
                       epilog="Every option's default is in its help.")
    p.add_argument("--model", type=Path, required=True, metavar="DIR",
                   help="fine-tuned model directory (finetune's OUT/model, or transformers' own); required")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="UTF-8 input, one text (or JSON object) per line; - reads stdin; required")
    p.add_argument("--out", "-o", default=None, metavar="FILE",
                   help="JSON-lines file to write, atomically (default: stdout; - is stdout too)")
    p.add_argument("--batch-tokens", type=int, default=None, metavar="N",
                   help="padded tokens per batch (default: fastembed.predict.DEFAULT_BATCH_TOKENS, 4096)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch and fastembed threads (default: as configured)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="batches run side by side on the CPU (default: one per thread, at most 8)")
    p.add_argument("--device", default="cpu", help="default: %(default)s")
    p.add_argument("--quiet", action="store_true", help="no summary line on stderr (default: one)")
    p.set_defaults(func=run)
    return p


def read_input(name: str) -> list[str]:
    """The lines of ``name`` (``-``: stdin), split on "\\n" only, a "\\r" before it dropped."""
    if name == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(name)
        if path.is_dir():
            raise IsADirectoryError(f"--input {path} is a directory, expected a file (one input per line)")
        if not path.exists():
            raise FileNotFoundError(f"--input {path} does not exist")
        data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"--input {name} is not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} "
                         f"(line {line})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def parse_lines(lines: list[str], task: str) -> list[Any]:
    """Each line as the pipeline's input: a str (plain text) or a dict (a JSON line)."""
    if not lines:
        return []
    first = _json_object(lines[0])
    if first is None:
        if task == "qa":
            raise ValueError('--input line 1: question answering takes JSON lines {"question": ..., "context": ...}')
        return list(lines)
    keys = {"qa": ("question", "context"), "ner": ("text", "words")}.get(task, ("text", "text_pair"))
    out = []
    for n, line in enumerate(lines, start=1):
        obj = first if n == 1 else _json_object(line)
        if obj is None:
            raise ValueError(f"--input line {n} is not a JSON object, but line 1 is: JSON-lines input needs one "
                             "object per line")
        if not any(k in obj for k in keys) or set(obj) - set(keys):
            raise ValueError(f"--input line {n}: a {task} input is an object with "
                             f"{' and/or '.join(repr(k) for k in keys)}, got keys {sorted(obj)}")
        w = obj.get("words")
        if w is not None and not (isinstance(w, list) and all(isinstance(x, str) for x in w)):
            raise ValueError(f"--input line {n}: 'words' must be a list of str (pre-split words), got {w!r:.60}")
        out.append(obj)
    return out


def _json_object(line: str) -> Any:
    if not line.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def predict_lines(pipeline: Any, task: str, items: list[Any]) -> list[Any]:
    """The pipeline's result for every parsed input line, in order."""
    if not items:
        return []
    if task != "ner":
        return pipeline(items)                            # str and dict inputs alike
    out: list[Any] = [None] * len(items)
    texts = [i for i, x in enumerate(items) if isinstance(x, str) or "text" in x]
    words = sorted(set(range(len(items))) - set(texts))
    if texts:
        got = pipeline([items[i] if isinstance(items[i], str) else items[i]["text"] for i in texts])
        for i, r in zip(texts, got):
            out[i] = r
    if words:
        got = pipeline(words=[items[i]["words"] for i in words])    # a list of sentences: one result each
        for i, r in zip(words, got):
            out[i] = r
    return out


def run(args: argparse.Namespace) -> int:
    lines = read_input(args.input)                        # a missing file fails before the model loads
    from . import load
    from ..io import atomic_write_text, check_writable_target

    out = None if args.out in (None, "-") else check_writable_target(args.out)
    t0 = time.perf_counter()
    pipeline = load(args.model, threads=args.threads, workers=args.workers, batch_tokens=args.batch_tokens,
                    device=args.device)
    task = pipeline.spec["task"]
    results = predict_lines(pipeline, task, parse_lines(lines, task))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out, text)
    if not args.quiet:
        print(f"fastembed predict: {len(results):,} inputs ({task}) -> {out if out is not None else 'stdout'} "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0
