"""fastembed generate: continue prompts with a GPT model directory, from the shell."""

from __future__ import annotations

import argparse
import codecs
import sys
from typing import Any, Optional

from . import _common as c

SEPARATOR = "-" * 15
DESCRIPTION = """\
Continue prompts with a GPT model directory.

  fastembed generate --model runs/gpt/model --prompt "The meaning of life is"
  fastembed generate --model runs/gpt/model --prompt "Once upon a time" --prompt "In 1066," --greedy
  fastembed generate --model runs/gpt/model --input prompts.txt --stream --seed 0

--model: a directory written by fastembed pretrain gpt (OUT/model/) or a GPT-2 directory with
its tokenizer files. It samples by default, with nanoGPT's sample.py settings (temperature 0.8,
top-k 200); --greedy takes the most likely token instead. Each prompt is printed with its
continuation, which ends at <|endoftext|> or after --max-new-tokens; a line of dashes separates
the prompts. --stream prints the tokens as they come (one prompt after the other).

--repetition-penalty, --no-repeat-ngram-size and --stop are transformers' generation controls
under the same names: a continuation ends at the first --stop text, which is not printed."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate text with a GPT model directory", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_model(p, "pretrain gpt's OUT/model, or GPT-2 with encoder.json + vocab.bpe")
    p.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                   help="text to continue, repeatable (default: the lines of --input)")
    c.add_input(p, "prompts, one per line, after any --prompt (default: none)", stdin=True, required=False)
    p.add_argument("--max-new-tokens", type=c.positive_int, default=50,
                   help="most tokens to add to each prompt (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=200, help="sample from the k most likely tokens (default: 200; 0: all)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling: smallest set with this much "
                                                           "probability (default: 1, all)")
    p.add_argument("--greedy", action="store_true", help="take the most likely token, no sampling (default: off)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, metavar="X",
                   help="divide the scores of tokens already in the text by X (default: 1, off; 1.2 is common)")
    p.add_argument("--no-repeat-ngram-size", type=int, default=0, metavar="N",
                   help="never repeat an N-gram of the text (default: 0, off)")
    p.add_argument("--stop", action="append", default=None, metavar="TEXT",
                   help="end a continuation at TEXT (not printed), repeatable; \\n for a newline (default: none)")
    c.add_seed(p, "sampling, to repeat a run", None)
    p.add_argument("--stream", action="store_true", help="print tokens as they are generated (default: off)")
    c.add_precision(p, choices=("fp32", "bf16", "int8"), keeps="LayerNorm, attention, the KV cache and softmax")
    c.add_common(p, progress=False)
    c.set_command(p, run)


def run(args: argparse.Namespace) -> int:
    prompts = list(args.prompt or []) + (c.read_lines(args.input) if args.input is not None else [])
    if not prompts:
        raise ValueError("nothing to continue: give --prompt TEXT or --input FILE")
    try:
        from ..generate import generate, generate_text, load_generator
    except ImportError as e:   # torch is missing: say so in one line
        return c.missing(e)
    import torch

    c.torch_threads(args)
    model, tok = load_generator(args.model, precision=args.precision)
    eos = tok.eos_token_id                         # GPT-2's <|endoftext|>
    stop = () if eos is None else (eos,)
    seed: Optional[torch.Generator] = None
    if args.seed is not None:                      # one generator for all prompts: a run repeats as a whole
        seed = torch.Generator(device=next(model.parameters()).device).manual_seed(args.seed)
    stops = [s.replace("\\n", "\n").replace("\\t", "\t") for s in args.stop or []]
    if any(not s for s in stops):
        raise ValueError("--stop takes a non-empty text")
    options: dict[str, Any] = dict(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy,
                                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed,
                                   eos_token_id=stop, repetition_penalty=args.repetition_penalty,
                                   no_repeat_ngram_size=args.no_repeat_ngram_size)
    if not args.stream:
        texts = generate_text(model, tok, prompts, stop_strings=stops or None, **options)
        for k, (prompt, text) in enumerate(zip(prompts, texts)):
            print(("" if k == 0 else SEPARATOR + "\n") + prompt + text)
        return 0
    for k, prompt in enumerate(prompts):
        if k:
            print(SEPARATOR)
        sys.stdout.write(prompt)
        sys.stdout.flush()
        out = StopWriter(stops)
        # A token may end in the middle of a UTF-8 character: the decoder keeps the partial bytes
        # until the rest arrives.
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def show(step: int, new: list[Optional[int]]) -> None:
            t = new[0]
            if t is not None and t not in stop:
                out.write(utf8.decode(tok.decode_single_token_bytes(t)))

        generate(model, [tok.encode(prompt)], callback=show, stop_strings=stops or None, tokenizer=tok, **options)
        out.write(utf8.decode(b"", final=True))
        out.close()
        print()
    return 0


class StopWriter:
    """Streamed text to stdout, ending before the first stop string: the last len(longest stop) - 1
    characters wait until the next piece shows they do not begin one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops, self.keep = stops, max((len(s) for s in stops), default=1) - 1
        self.pending, self.done = "", False

    def write(self, text: str) -> None:
        if self.done or not text:
            return
        self.pending += text
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self._emit(self.pending[:cut])
            self.pending, self.done = "", True
            return
        ready = len(self.pending) - self.keep
        if ready > 0:
            self._emit(self.pending[:ready])
            self.pending = self.pending[ready:]

    def close(self) -> None:
        if not self.done:
            self._emit(self.pending)
        self.pending = ""

    @staticmethod
    def _emit(text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
