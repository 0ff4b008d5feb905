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
the prompts. --stream prints the tokens as they come (one prompt after the other)."""


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
    c.add_seed(p, "sampling, to repeat a run", None)
    p.add_argument("--stream", action="store_true", help="print tokens as they are generated (default: off)")
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
    model, tok = load_generator(args.model)
    eos = tok.eos_token_id                         # GPT-2's <|endoftext|>
    stop = () if eos is None else (eos,)
    seed: Optional[torch.Generator] = None
    if args.seed is not None:                      # one generator for all prompts: a run repeats as a whole
        seed = torch.Generator(device=next(model.parameters()).device).manual_seed(args.seed)
    options: dict[str, Any] = dict(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy,
                                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed,
                                   stop_tokens=stop)
    if not args.stream:
        texts = generate_text(model, tok, prompts, **options)
        for k, (prompt, text) in enumerate(zip(prompts, texts)):
            print(("" if k == 0 else SEPARATOR + "\n") + prompt + text)
        return 0
    for k, prompt in enumerate(prompts):
        if k:
            print(SEPARATOR)
        sys.stdout.write(prompt)
        sys.stdout.flush()
        # A token may end in the middle of a UTF-8 character: the decoder keeps the partial bytes
        # until the rest arrives.
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def show(step: int, new: list[Optional[int]]) -> None:
            t = new[0]
            if t is not None and t not in stop:
                sys.stdout.write(utf8.decode(tok.decode_single_token_bytes(t)))
                sys.stdout.flush()

        generate(model, [tok.encode(prompt)], callback=show, **options)
        print(utf8.decode(b"", final=True))
    return 0
