"""BPE training on ``text.txt`` (about 30 MB) with the GPT-2 pattern: fastembed against rustbpe
and HF tokenizers, at 8k and 32k vocabularies.

Each trainer runs in its own child process, so the table can show the memory training added:
the child's peak RSS during training (Linux: the peak is reset through /proc/self/clear_refs once
the text is read and split into lines) minus its RSS at that moment. Throughput is MB of training text
per second of wall time, everything included (reading, pre-tokenizing, counting, merging).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

from .harness import Recorder, Stats, benchmark_corpus, optional_import

NAME = "bpe_train"
DESCRIPTION = "BPE training, GPT-2 pattern, 8k/32k vocab (MB/s, peak MB): fastembed vs rustbpe vs HF"
# The GPT-2 pattern without possessive quantifiers, for regex engines that lack them.
GPT2_PLAIN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vocab", type=int, nargs="+", default=None, help="vocabulary sizes (default 8192 32768)")
    parser.add_argument("--mb", type=float, default=None, help="use only the first MB of text.txt")


def _train(impl: str, path: str, mb: float | None, vocab: int, threads: int, queue) -> None:
    text = open(path, encoding="utf-8").read()
    if mb is not None:
        text = text[: int(mb * 1e6)]
    lines = text.splitlines(keepends=True)
    rss_before_mb = _status_mb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM, the peak RSS, to the current RSS
    except OSError:
        rss_before_mb = None
    start = time.perf_counter()
    if impl == "fastembed":
        import fastembed
        from fastembed.tokenizers import BPETokenizer

        fastembed.set_num_threads(threads)
        tok = BPETokenizer.train(lines, vocab_size=vocab, min_frequency=2, progress=False)
        n = tok.n_vocab
    elif impl == "rustbpe":
        import rustbpe

        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(iter(lines), vocab, pattern=GPT2_PLAIN)
        n = vocab
    else:
        import tokenizers
        from tokenizers import pre_tokenizers, trainers

        tok = tokenizers.Tokenizer(tokenizers.models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(lines, trainer)
        n = tok.get_vocab_size()
    elapsed = time.perf_counter() - start
    peak_mb = None if rss_before_mb is None else _status_mb("VmHWM") - rss_before_mb
    queue.put((elapsed, peak_mb, n, len(text.encode("utf-8"))))


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    import fastembed

    path = str(benchmark_corpus("text.txt"))
    mb = args.mb if args.mb is not None else (2.0 if args.quick else None)
    vocabs = args.vocab or ([1024] if args.quick else [8192, 32768])
    threads = max(2, fastembed.get_num_threads())
    impls = ["fastembed", "rustbpe", "hf-tokenizers"]
    available = {"fastembed": True, "rustbpe": optional_import("rustbpe") is not None,
                 "hf-tokenizers": optional_import("tokenizers") is not None}
    ctx = multiprocessing.get_context("spawn")
    for vocab in vocabs:
        case = f"vocab {vocab:,}, {threads} threads"
        for impl in impls:
            incumbent = impl == "rustbpe"
            if not available[impl]:
                recorder.skip(case=case, impl=impl, missing=impl.replace("hf-", ""), incumbent=incumbent)
                continue
            queue = ctx.Queue()
            child = ctx.Process(target=_train, args=(impl, path, mb, vocab, threads, queue))
            child.start()
            elapsed, peak_mb, n, nbytes = queue.get()
            child.join()
            recorder.add(case=case, impl=impl, incumbent=incumbent, note=(f"+{peak_mb:,.0f} MB peak" if peak_mb is not None else "peak n/a")
                         + f", {n:,} tokens",
                         stats=Stats(median=elapsed, min=elapsed, max=elapsed, mean=elapsed, repeats=1, number=1),
                         work=nbytes, unit="MB/s")
