"""BPE training on ``text.txt`` (about 30 MB) with the GPT-2 pattern: fastembed against rustbpe
and HF tokenizers, at 8k and 32k vocabularies.

Each trainer runs in its own child process, so the table can show the memory training added:
the child's peak RSS during training (Linux: the peak is reset through /proc/self/clear_refs once
the text is read and split into lines) minus its RSS at that moment. Throughput is MB of training text
per second of wall time, everything in training included (pre-tokenizing, counting, merging; not
importing the library or reading the file). The
trainers take turns for ``--repeats`` rounds; the table gives each one's median time and its largest
peak.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from .harness import Recorder, Stats, benchmark_corpus, optional_import

NAME = "bpe_train"
DESCRIPTION = "BPE training, GPT-2 pattern, 8k/32k vocab (MB/s, peak MB): fastembed vs rustbpe vs HF"
# The GPT-2 pattern without possessive quantifiers, for regex engines that lack them.
GPT2_PLAIN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vocab", type=int, nargs="+", default=None, help="vocabulary sizes (default 8192 32768)")
    parser.add_argument("--mb", type=float, default=None, help="use only the first MB of text.txt")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per trainer, interleaved (default 3; 1 with --quick); median time, largest peak")


def _train(impl: str, path: str, mb: float | None, vocab: int, threads: int, queue) -> None:
    # The library is imported before the clock and the memory baseline: loading a module is not
    # training (fastembed's import, with numpy's, takes about 0.2 s; rustbpe's almost nothing).
    if impl == "fastembed":
        import fastembed
        from fastembed.tokenizers import BPETokenizer

        fastembed.set_num_threads(threads)
    elif impl == "rustbpe":
        import rustbpe
    else:
        import tokenizers
        from tokenizers import pre_tokenizers, trainers
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
        tok = BPETokenizer.train(lines, vocab_size=vocab, min_frequency=2, progress=False)
        n = tok.n_vocab
    elif impl == "rustbpe":
        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(iter(lines), vocab, pattern=GPT2_PLAIN)
        n = vocab
    else:
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
    repeats = args.repeats or (1 if args.quick else 3)
    for vocab in vocabs:
        case = f"vocab {vocab:,}, {threads} threads"
        runs: dict[str, list[tuple[float, float | None, int, int]]] = {impl: [] for impl in impls}
        for _ in range(repeats):  # interleaved rounds, so a slow spell of the machine hits every trainer
            for impl in impls:
                if not available[impl]:
                    continue
                queue = ctx.Queue()
                child = ctx.Process(target=_train, args=(impl, path, mb, vocab, threads, queue))
                child.start()
                runs[impl].append(queue.get())
                child.join()
        for impl in impls:
            incumbent = impl == "rustbpe"
            if not available[impl]:
                recorder.skip(case=case, impl=impl, missing=impl.replace("hf-", ""), incumbent=incumbent)
                continue
            times = sorted(r[0] for r in runs[impl])
            peaks = [r[1] for r in runs[impl] if r[1] is not None]
            n, nbytes = runs[impl][0][2], runs[impl][0][3]
            stats = Stats(median=statistics.median(times), min=times[0], max=times[-1],
                          mean=statistics.fmean(times), repeats=len(times), number=1)
            recorder.add(case=case, impl=impl, incumbent=incumbent,
                         note=(f"+{max(peaks):,.0f} MB peak" if peaks else "peak n/a") + f", {n:,} tokens",
                         stats=stats, work=nbytes, unit="MB/s")
