"""fastembed predict: run a fine-tuned model (classifier, tagger, QA) over lines of input, one JSON
line out per line in."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from . import _common as c

log = logging.getLogger(__name__)

DESCRIPTION = """\
Run a fine-tuned model over lines of input, writing one JSON line per input line.

  fastembed predict --model runs/sst2/model --input reviews.txt -o labels.jsonl
  echo "John Smith lives in Paris." | fastembed predict --model runs/conll/model --input -
  fastembed predict --model runs/squad/model --input questions.jsonl -o answers.jsonl

The model directory is finetune's OUT/model, or a BERT that transformers fine-tuned itself
(BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering).

Input (UTF-8, one input per line; a final newline does not add an empty input):
  classifier, tagger   plain text, one text per line; or JSON lines {"text": ...}, with
                       "text_pair" for a pair, or for a tagger {"words": [...]} (pre-split words)
  question answering   JSON lines {"question": ..., "context": ...}
The input is JSON lines when its first line is a JSON object; then every line must be one.

Output line i is the result for input line i: {"label", "score"} (classifier), a list of
{"entity", "start", "end", "text", "score"} with character offsets (tagger), or
{"answer", "start", "end", "score"} (QA). -o FILE is written atomically; without it the lines
go to stdout."""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="run a fine-tuned classifier, tagger or QA model over lines of text",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_model(p, "a fine-tuned model: finetune's OUT/model, or transformers' own")
    c.add_input(p, "UTF-8, one text (or JSON object) per line", stdin=True)
    c.add_out(p, "the JSON-lines file (default: stdout)", required=False)
    p.add_argument("--batch-tokens", type=c.positive_int, default=None, metavar="N",
                   help="padded tokens per batch (default: 4096)")
    p.add_argument("--workers", type=c.positive_int, default=None, metavar="N",
                   help="batches run side by side on the CPU (default: one per thread, at most 8)")
    c.add_device(p, "cpu")
    c.add_precision(p)
    c.add_common(p, progress=False)
    c.set_command(p, run, {"batch_tokens": "--batch-tokens"})
    return p


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
    lines = c.read_lines(args.input)                     # a missing file fails before the model loads
    try:
        import fastembed.predict as predict
    except ImportError as e:
        return c.missing(e)
    from ..io import atomic_write_text, check_writable_target

    out = None if args.out is None or c.is_stdin(args.out) else check_writable_target(args.out)
    t0 = time.perf_counter()
    try:
        pipeline = predict.load(args.model, threads=args.threads, workers=args.workers,
                                batch_tokens=args.batch_tokens, device=args.device or "cpu",
                                precision=args.precision)
    except ImportError as e:                             # torch is missing: one line
        return c.missing(e)
    task = pipeline.spec["task"]
    results = predict_lines(pipeline, task, parse_lines(lines, task))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out, text)
    log.info(f"{len(results):,} inputs ({task}) -> {out if out is not None else 'stdout'} "
             f"in {time.perf_counter() - t0:.1f}s")
    return 0
