"""fastembed pretrain: pretrain BERT, GPT or ELMo on a text corpus from the shell, alone or under torchrun.

The parser is built in full whatever the command (it imports nothing heavy); fastembed.training,
whose import loads torch, is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import _common as c

HELP = "pretrain BERT (masked LM + next sentence), GPT (next token) or ELMo (forward + backward LM)"
DESCRIPTION = """\
Pretrain BERT, GPT or ELMo on a text corpus, alone or under torchrun.

  fastembed pretrain bert --input wiki.txt --tokenizer vocab.txt --config mini --steps 10000 --out runs/bert
  fastembed pretrain gpt --input a.txt b.txt --tokenizer tok.json --config tiny --steps 2000 --out runs/gpt \\
      --max-length 256 --set hidden_dropout=0.0
  fastembed pretrain elmo --input a.txt --tokenizer tok.json --config tiny --steps 2000 --out runs/elmo
  fastembed pretrain bert ... --out runs/bert --resume            # continue from the latest checkpoint
  fastembed pretrain bert --init-from all-MiniLM-L6-v2/ --input domain.txt --steps 2000 --out runs/adapted
  torchrun --nproc_per_node=2 -m fastembed.cli pretrain bert ...  # the same run on 2 ranks

--batch-size is the global batch of one optimizer step, whatever the number of ranks and
--grad-accum. The run writes OUT/metrics.jsonl, OUT/checkpoints/ and, at the end, OUT/model/
(HuggingFace format plus the tokenizer), the directory that finetune --model and generate --model
take. ELMo has no HuggingFace format: its OUT/model/ is fastembed's own (config.json with
"model_type": "fastembed-elmo", model.safetensors, the tokenizer), read by
fastembed.models.elmo.load_elmo; ELMo trains on GPT's blocks (the forward LM predicts the next
token, the backward LM the previous one).

--init-from DIR (bert and gpt) continues pretraining from a HuggingFace BERT or GPT-2 directory
(pretrain's own OUT/model/, or any compatible one): its config, weights and tokenizer are used
(--config and --tokenizer may be left out; given, they must agree with it), and a BERT without
MLM or NSP heads gets fresh ones, said in the log."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Every option's default is in its help; the run's files are described in "
                              "fastembed.training.pretrain.")
    p.add_argument("kind", choices=["bert", "gpt", "elmo"],
                   help="bert: masked LM + next sentence; gpt: next token; elmo: biLSTM forward + backward LM")
    c.add_input(p, "UTF-8 text files (BERT: one sentence per line, a blank line between documents)", nargs="+",
                old=("--corpus",))
    c.add_tokenizer(p, "gpt, elmo: BPE .json (tokenizer train); bert: a WordPiece vocab.txt or directory (tokenizer train "
                       "--kind wordpiece); or a HF tokenizer.json, or a directory holding one of these (default: "
                       "--init-from's; required without it)", required=False)
    p.add_argument("--config", default=None, metavar="PRESET_OR_JSON",
                   help="preset (tiny, mini, small, base; elmo: tiny, mini, small) or a JSON config (default: "
                        "--init-from's, else mini)")
    p.add_argument("--init-from", type=Path, default=None, metavar="DIR",
                   help="continue pretraining from this HuggingFace BERT or GPT-2 directory; not for elmo "
                        "(default: none, random weights)")
    p.add_argument("--steps", type=int, required=True, metavar="N", help="optimizer steps in the whole run; required")
    c.add_out(p, "the run directory (a fresh run refuses one that holds checkpoints)", kind="dir")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --out (default: off, a fresh run)")
    c.add_batch_size(p, "global batch per optimizer step, at most the training set", 32)
    c.add_max_length(p, "BERT's sentence pairs, GPT's and ELMo's blocks (default: 128)", None, old=("--seq-len",))
    p.add_argument("--lr", type=float, default=None, metavar="X", help="peak learning rate (default: bert 1e-4, gpt 6e-4, "
                   "elmo 1e-3)")
    c.add_renamed(p, "--warmup-steps", ("--warmup",), type=int, default=None, metavar="N",
                  help="warm the learning rate up over N steps (default: 1%% of --steps)")
    p.add_argument("--warmup-ratio", type=float, default=None, metavar="R",
                   help="warm up over this fraction of --steps instead (default: use --warmup-steps)")
    p.add_argument("--schedule", choices=["linear", "cosine", "constant"], default=None,
                   help="after warmup (default: bert linear, gpt and elmo cosine)")
    p.add_argument("--weight-decay", type=float, default=0.01, metavar="X", help="AdamW weight decay (default: %(default)s)")
    p.add_argument("--grad-accum", type=int, default=1, metavar="N",
                   help="micro-batches per step on each rank (default: %(default)s)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (default: off, float32)")
    c.add_seed(p, "model init, dropout and data order", 0)
    p.add_argument("--eval-every", type=int, default=1000, metavar="N",
                   help="steps between evaluations, also at the end (default: %(default)s)")
    p.add_argument("--eval-batches", type=int, default=10, metavar="N", help="dev batches per evaluation (default: %(default)s)")
    p.add_argument("--save-every", type=int, default=None, metavar="N",
                   help="steps between checkpoints, also at the end and on Ctrl-C (default: min(1000, "
                        "max(1, steps // 10)); 0: only at the end)")
    p.add_argument("--log-every", type=int, default=10, metavar="N", help="steps between metrics rows (default: %(default)s)")
    p.add_argument("--dev-fraction", type=float, default=0.01, metavar="X",
                   help="held out for evaluation, 0: none (default: %(default)s)")
    p.add_argument("--nsp", choices=["random", "swap"], default="random",
                   help="bert: next sentence (random) or sentence order (swap) (default: %(default)s)")
    p.add_argument("--mlm-probability", type=float, default=0.15, metavar="X",
                   help="bert: share of tokens predicted (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="set a model config field, e.g. hidden_dropout=0 (repeatable; default: none)")
    c.add_device(p, "cuda:LOCAL_RANK when available, else cpu")
    c.add_common(p)
    c.set_command(p, run, {"corpus": "--input", "seq_len": "--max-length", "out_dir": "--out", "overrides": "--set",
                           "warmup": "--warmup-steps"})


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """--set items as a dict: values are JSON (numbers, true/false, null) or else plain strings.

    >>> parse_overrides(["hidden_dropout=0", "attn_impl=sdpa", "layer_norm_eps=1e-6"])
    {'hidden_dropout': 0, 'attn_impl': 'sdpa', 'layer_norm_eps': 1e-06}
    """
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    try:
        from ..training.distributed import destroy
        from ..training.pretrain import pretrain
    except ImportError as e:   # torch is missing: say so in one line
        return c.missing(e)
    c.torch_threads(args)
    pretrain(args.kind, corpus=args.input, tokenizer=args.tokenizer, out_dir=args.out, config=args.config,
             init_from=args.init_from, steps=args.steps, batch_size=args.batch_size, max_length=args.max_length,
             lr=args.lr, warmup_steps=args.warmup_steps, warmup_ratio=args.warmup_ratio,
             schedule=args.schedule, weight_decay=args.weight_decay, grad_accum=args.grad_accum, bf16=args.bf16,
             seed=args.seed, eval_every=args.eval_every, eval_batches=args.eval_batches, save_every=args.save_every,
             log_every=args.log_every, dev_fraction=args.dev_fraction, nsp=args.nsp,
             mlm_probability=args.mlm_probability, resume=args.resume, overrides=parse_overrides(args.overrides),
             device=args.device, progress=c.progress(args))
    destroy()  # only after success: a rank that failed alone must not wait in a barrier for the others
    return 0
