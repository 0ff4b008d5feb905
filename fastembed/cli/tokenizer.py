"""fastembed tokenizer: train, encode, decode and explain tokenizers from the shell.

    fastembed tokenizer train --input corpus.txt --vocab-size 8000 -o tok.json [--special '<|endoftext|>']
    fastembed tokenizer train --kind wordpiece --input corpus.txt --vocab-size 8000 -o bert-tok/
    fastembed tokenizer encode -t tok.json "some text"        # ids on stdout
    fastembed tokenizer encode -t tok.json --input big.txt -o ids.npy
    fastembed tokenizer decode -t tok.json 464 3290 318
    fastembed tokenizer explain -t tok.json lowering         # BPE only

--kind bpe (the default) trains a byte-level BPE and writes fastembed's JSON file. --kind
wordpiece learns a BERT vocabulary (fastembed.tokenizers.WordPieceTokenizer.train) with BERT's
special tokens [PAD] [UNK] [CLS] [SEP] [MASK] first; -o names a directory (HuggingFace's
tokenizer files, vocab.txt among them), a vocab.txt (a name ending in .txt) or a HF
tokenizer.json (.json). fastembed pretrain bert --tokenizer takes any of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _common as c

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")   # WordPieceTokenizer's defaults, in BERT's order
TRAIN_DESCRIPTION = "Train a tokenizer on text files, each line on its own.\n\n" + "\n".join(
    line for line in __doc__.split("\n\n", 1)[1].split("\n") if "tokenizer encode" not in line
    and "tokenizer decode" not in line and "tokenizer explain" not in line)
TOKENIZER_HELP = ("a file from tokenizer train, a HF tokenizer.json or vocab.txt, or a directory holding one "
                  "(a HF model directory)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenizer", help="train, encode, decode and explain BPE and WordPiece tokenizers",
                       description="Train, encode, decode and explain byte-level BPE and WordPiece tokenizers.")
    cmds = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)

    t = cmds.add_parser("train", help="train a tokenizer on text files (each line on its own)",
                        description=TRAIN_DESCRIPTION,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_input(t, "UTF-8 text files, each line on its own", stdin=True, nargs="+", required="later")
    c.add_old_positional(t, "FILE")
    t.add_argument("--kind", choices=("bpe", "wordpiece"), default="bpe",
                   help="bpe: byte-level BPE (GPT); wordpiece: a BERT vocabulary (default: %(default)s)")
    t.add_argument("--vocab-size", type=c.positive_int, required=True, metavar="N",
                   help="entries in all; bpe: 256 bytes + merges + special tokens; required")
    t.add_argument("--min-frequency", type=c.positive_int, default=2, metavar="N",
                   help="stop when the best pair occurs fewer times (default: %(default)s)")
    t.add_argument("--special", action="append", default=[], metavar="TOKEN",
                   help="a special token, repeatable (default: none for bpe; wordpiece always has BERT's "
                        "[PAD] [UNK] [CLS] [SEP] [MASK] first and adds these after them)")
    t.add_argument("--pattern", default="gpt2",
                   help="bpe: pre-tokenizer pattern, gpt2, cl100k or a regular expression (default: %(default)s)")
    t.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True,
                   help="wordpiece: lower-case and strip accents, as uncased BERT (default: on)")
    c.add_out(t, "bpe: the tokenizer file (JSON); wordpiece: a directory, a vocab.txt or a tokenizer.json",
              old=("--output",))
    t.add_argument("--show-merges", type=int, default=0, metavar="N", help="bpe: print the first N merges (default: 0)")
    c.add_common(t)
    c.set_command(t, _train, {"special_tokens": "--special", "files": "--input", "texts": "--input"})

    e = cmds.add_parser("encode", help="text to token ids",
                        description="Token ids of a text, or of a file as one text: on stdout, or a .npy file.")
    _add_tokenizer(e)
    e.add_argument("text", nargs="?", help="text to encode (or use --input)")
    c.add_input(e, "encode this file instead of TEXT (default: TEXT)", stdin=True, required=False,
                old=("-f", "--file"))
    c.add_out(e, "write the ids as a .npy file (default: print them)", required=False, old=("--output",))
    e.add_argument("--allow-special", action="store_true",
                   help="turn special-token text into special tokens (default: off, encoded as text)")
    c.add_common(e, progress=False)
    c.set_command(e, _encode)

    d = cmds.add_parser("decode", help="token ids to text", description="The text of token ids.")
    _add_tokenizer(d)
    d.add_argument("ids", nargs="*", type=int, help="token ids (or use --input)")
    c.add_input(d, "read the ids from this file instead, white-space separated or a .npy (default: IDS)",
                stdin=True, required=False)
    c.add_quiet(d)
    c.set_command(d, _decode)

    x = cmds.add_parser("explain", help="the merges that encode one word (BPE only)",
                        description="The merges that encode one pre-token, step by step (byte-level BPE only: "
                                    "a WordPiece vocabulary has no merges).")
    _add_tokenizer(x)
    x.add_argument("word", help="one pre-token, e.g. ' lowering'")
    c.add_quiet(x)
    c.set_command(x, _explain)


def _add_tokenizer(p: argparse.ArgumentParser) -> None:
    c.add_tokenizer(p, TOKENIZER_HELP)


def _load(path: Path):
    from ..tokenizers import from_pretrained

    return from_pretrained(path)


def _stdin_lines():
    import io

    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")


def _train(args: argparse.Namespace) -> int:
    from ..io import check_writable_target

    files = [p for p in args.input if not c.is_stdin(p)]
    texts = _stdin_lines() if len(files) < len(args.input) else None
    if args.kind == "bpe":
        if not args.lowercase:
            raise ValueError("--no-lowercase is for --kind wordpiece; byte-level BPE keeps the text as it is")
        from ..tokenizers import BPETokenizer

        check_writable_target(args.out)   # before training, not after an hour of it
        tok = BPETokenizer.train(texts, files=files, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                                 special_tokens=args.special, pattern=args.pattern, trace=args.show_merges > 0,
                                 progress=c.progress(args))
        tok.save(args.out)
        print(f"trained {tok.n_vocab:,} tokens ({len(tok.rules):,} merges, {len(tok.special_tokens)} special); "
              f"wrote {args.out}")
        for step in (tok.trace or [])[: args.show_merges]:
            left, right = (tok.decode_single_token_bytes(i) for i in step["pair"])
            print(f"  {step['token']:>6}  {left!r} + {right!r} -> {step['bytes']!r}  (count {step['count']:,})")
        return 0

    for flag, given in (("--pattern", args.pattern != "gpt2"), ("--show-merges", args.show_merges > 0)):
        if given:
            raise ValueError(f"{flag} is for --kind bpe; a WordPiece vocabulary has no pattern or merges")
    from ..tokenizers import WordPieceTokenizer

    out = Path(args.out)
    if out.suffix in (".txt", ".json"):
        check_writable_target(out)
    specials = list(BERT_SPECIALS) + [s for s in args.special if s not in BERT_SPECIALS]
    tok = WordPieceTokenizer.train(texts, files=files, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                                   lowercase=args.lowercase, special_tokens=specials, progress=c.progress(args))
    if out.suffix == ".txt":
        tok.save(out)
    elif out.suffix == ".json":
        from ..tokenizers.hf import write_tokenizer_json

        write_tokenizer_json(tok, out)
    else:
        tok.save_pretrained(out)
    print(f"trained a WordPiece vocabulary of {tok.vocab_size:,} entries ({len(specials)} special); wrote {out}")
    return 0


def _encode(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from ..io import atomic_write_bytes
    from ..tokenizers import BPETokenizer

    if (args.text is None) == (args.input is None):
        raise ValueError("give either TEXT or --input FILE")
    tok = _load(args.tokenizer)
    # Byte-level BPE encodes a file's bytes as they are and takes tiktoken's special-token sets;
    # WordPiece needs text, and its template adds [CLS] and [SEP].
    byte_level = isinstance(tok, BPETokenizer)
    if args.input is None:
        text = args.text
    else:
        data = c.read_bytes(args.input)
        text = data if byte_level else c.decode_utf8(data, f"--input {args.input}")
    if byte_level:
        ids = tok.encode(text, allowed_special="all" if args.allow_special else (), disallowed_special=())
    else:
        ids = tok.encode(text, split_special_tokens=not args.allow_special)
    if args.out:
        buf = io.BytesIO()
        np.save(buf, ids)
        atomic_write_bytes(args.out, buf.getvalue())
        print(f"{len(ids):,} tokens -> {args.out}")
    else:
        print(" ".join(map(str, ids.tolist())))
    return 0


def _read_ids(path: Path) -> list[int]:
    if not c.is_stdin(path) and Path(path).suffix == ".npy":
        import numpy as np

        return np.load(path).ravel().tolist()
    words = c.decode_utf8(c.read_bytes(path), f"--input {path}").split()
    try:
        return [int(w) for w in words]
    except ValueError:
        bad = next(w for w in words if not w.lstrip("-").isdigit())
        raise ValueError(f"--input {path}: {bad!r} is not a token id; expected integers separated by white "
                         "space") from None


def _decode(args: argparse.Namespace) -> int:
    if bool(args.ids) == (args.input is not None):
        raise ValueError("give either IDS or --input FILE")
    ids = args.ids if args.input is None else _read_ids(args.input)
    sys.stdout.write(_load(args.tokenizer).decode(ids) + "\n")
    return 0


def _explain(args: argparse.Namespace) -> int:
    steps = _load(args.tokenizer).explain(args.word)
    print("start:", " ".join(repr(p) for p in steps[0]["parts"]))
    for s in steps[1:]:
        left, right = s["merge"]
        print(f"rank {s['rank']:>6}: {left!r} + {right!r} -> " + " ".join(repr(p) for p in s["parts"]))
    return 0
