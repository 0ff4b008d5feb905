"""``fastembed tokenizer``: train, encode, decode and explain byte-level BPE from the shell.

    fastembed tokenizer train corpus.txt --vocab-size 8000 -o tok.json [--special '<|endoftext|>']
    fastembed tokenizer encode -t tok.json "some text"        # ids on stdout
    fastembed tokenizer encode -t tok.json -f big.txt -o ids.npy
    fastembed tokenizer decode -t tok.json 464 3290 318
    fastembed tokenizer explain -t tok.json lowering
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenizer", help="train, encode, decode and explain byte-level BPE tokenizers",
                       description=__doc__.splitlines()[0])
    cmds = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)

    t = cmds.add_parser("train", help="train a tokenizer on text files (each line on its own)")
    t.add_argument("files", nargs="+", type=Path, help="UTF-8 text files")
    t.add_argument("--vocab-size", type=int, required=True, help="tokens in all: 256 bytes + merges + specials")
    t.add_argument("--min-frequency", type=int, default=2, help="stop when the best pair occurs fewer times")
    t.add_argument("--special", action="append", default=[], metavar="TOKEN", help="a special token (repeatable)")
    t.add_argument("--pattern", default="gpt2", help="pre-tokenizer pattern (gpt2)")
    t.add_argument("-o", "--output", type=Path, required=True, help="tokenizer file to write (JSON)")
    t.add_argument("--show-merges", type=int, default=0, metavar="N", help="print the first N merges")
    t.set_defaults(func=_train)

    for name, helptext in (("encode", "text to token ids"), ("decode", "token ids to text"),
                           ("explain", "the merges that encode one word")):
        c = cmds.add_parser(name, help=helptext)
        c.add_argument("-t", "--tokenizer", type=Path, required=True,
                       help="tokenizer file (from train or save), or a byte-level BPE's HF tokenizer.json or directory")
        if name == "encode":
            c.add_argument("text", nargs="?", help="text to encode (or use -f)")
            c.add_argument("-f", "--file", type=Path, help="encode this file instead")
            c.add_argument("-o", "--output", type=Path, help="write the ids as a .npy file instead of printing")
            c.add_argument("--allow-special", action="store_true", help="turn special-token text into special tokens")
        elif name == "decode":
            c.add_argument("ids", nargs="+", type=int, help="token ids")
        else:
            c.add_argument("word", help="one pre-token, e.g. ' lowering'")
        c.set_defaults(func={"encode": _encode, "decode": _decode, "explain": _explain}[name])


def _load(path: Path):
    from . import BPETokenizer

    return BPETokenizer.from_pretrained(path)


def _train(args: argparse.Namespace) -> int:
    from . import BPETokenizer

    tok = BPETokenizer.train(files=args.files, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                             special_tokens=args.special, pattern=args.pattern, trace=args.show_merges > 0)
    tok.save(args.output)
    print(f"trained {tok.n_vocab:,} tokens ({len(tok.rules):,} merges, {len(tok.special_tokens)} special); "
          f"wrote {args.output}")
    for step in (tok.trace or [])[: args.show_merges]:
        left, right = (tok.decode_single_token_bytes(i) for i in step["pair"])
        print(f"  {step['token']:>6}  {left!r} + {right!r} -> {step['bytes']!r}  (count {step['count']:,})")
    return 0


def _encode(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io import atomic_write_bytes

    if (args.text is None) == (args.file is None):
        print("fastembed tokenizer encode: give either TEXT or -f FILE", file=sys.stderr)
        return 2
    tok = _load(args.tokenizer)
    text = args.file.read_bytes() if args.file else args.text
    ids = tok.encode(text, allowed_special="all" if args.allow_special else (), disallowed_special=())
    if args.output:
        import io

        buf = io.BytesIO()
        np.save(buf, ids)
        atomic_write_bytes(args.output, buf.getvalue())
        print(f"{len(ids):,} tokens -> {args.output}")
    else:
        print(" ".join(map(str, ids.tolist())))
    return 0


def _decode(args: argparse.Namespace) -> int:
    sys.stdout.write(_load(args.tokenizer).decode(args.ids) + "\n")
    return 0


def _explain(args: argparse.Namespace) -> int:
    steps = _load(args.tokenizer).explain(args.word)
    print("start:", " ".join(repr(p) for p in steps[0]["parts"]))
    for s in steps[1:]:
        left, right = s["merge"]
        print(f"rank {s['rank']:>6}: {left!r} + {right!r} -> " + " ".join(repr(p) for p in s["parts"]))
    return 0
