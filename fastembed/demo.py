"""``fastembed demo``: the main job, end to end, on data that needs no download.

What exists so far: the native core (checked against numpy and known answers: kernels, random
streams, error translation, fork safety) and the byte-level BPE tokenizer (trained on the shared
corpus when it is present, else on the Python standard library's own source, which every machine
has). The later stages (pretrain, finetune, embed, generate) have their own commands; the demo
does not run them yet and says so.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from . import _native
from .cli import format_info

LATER_STAGES = {
    "word2vec": "skip-gram / CBOW word vectors",
    "pretrain": "BERT (masked LM + next sentence) or GPT (next token)",
    "finetune": "classification, sentence pairs, QA spans, NER; frozen or end to end",
    "embed": "sentence embeddings of lines of text",
    "generate": "text from a GPT model",
}

# Random123's known-answer vector for Philox4x32-10 with counter 0 and key 0.
PHILOX_KAT = [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


def _step(i: int, n: int, title: str) -> None:
    print(f"\n[{i}/{n}] {title}")


def _check_axpy() -> bool:
    n = 4_000_000
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    want = y.astype(np.float64) + 0.5 * x.astype(np.float64)
    t0 = time.perf_counter()
    _native.axpy(0.5, x, y)
    dt = time.perf_counter() - t0
    err = float(np.max(np.abs(y - want)))
    ok = err <= 1e-6 * float(np.max(np.abs(want)))
    print(f"  axpy, {n:,} float32 on {_native.get_num_threads()} threads: max |error| vs float64 numpy "
          f"{err:.1e} in {dt * 1e3:.1f} ms -> {'ok' if ok else 'WRONG'}")
    return ok


def _check_philox() -> bool:
    kat = [int(v) for v in _native.philox_u32(0, 4)]
    ok_kat = kat == PHILOX_KAT
    threads = _native.get_num_threads()
    a = _native.philox_uniform(42, 1_000_003, offset=7)
    _native.set_num_threads(1)
    try:
        b = _native.philox_uniform(42, 1_000_003, offset=7)
    finally:
        _native.set_num_threads(threads)
    ok_threads = bool(np.array_equal(a, b))
    print(f"  Philox4x32-10: Random123 known answer {'ok' if ok_kat else 'WRONG'}; "
          f"same bits on 1 and {threads} threads: {'ok' if ok_threads else 'WRONG'}; "
          f"mean of 1M uniforms {a.mean():.4f}")
    return ok_kat and ok_threads


def _check_errors() -> bool:
    try:
        _native.axpy(1.0, np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.float32))
    except TypeError as e:
        print(f"  a wrong dtype raises TypeError: {e}")
        return True
    print("  a wrong dtype did not raise: WRONG")
    return False


def _check_fork() -> bool:
    if not hasattr(os, "fork"):
        print("  no fork() on this platform: skipped")
        return True
    _native._C._testing.parallel_sum(1_000_000, 1)  # start the parent's thread pool first
    pid = os.fork()
    if pid == 0:  # child: this is where GNU OpenMP would deadlock without the fork guard
        total, _ = _native._C._testing.parallel_sum(1_000_000, 1)
        os._exit(0 if total == 1_000_000 * 999_999 // 2 else 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ok = os.waitstatus_to_exitcode(status) == 0
            print(f"  a forked child ran a parallel loop after the parent had: {'ok' if ok else 'WRONG'}")
            return ok
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("  a forked child hung in a parallel loop: WRONG")
    return False


def _demo_corpus() -> tuple[str, list[str]]:
    """Tiny Shakespeare from the shared data if present, else ~2 MB of the stdlib's source."""
    from ._data import data_dir

    root = data_dir()
    shakespeare = root / "corpora" / "tinyshakespeare" / "input.txt" if root else None
    if shakespeare is not None and shakespeare.is_file():
        return "Tiny Shakespeare (shared data)", shakespeare.read_text(encoding="utf-8").splitlines(keepends=True)
    import sysconfig
    from pathlib import Path

    lines: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        if sum(map(len, lines)) > 2_000_000:
            break
    return "the Python standard library's source", lines


def _tokenizer_step() -> bool:
    from .tokenizers import BPETokenizer

    name, lines = _demo_corpus()
    nbytes = sum(len(s.encode()) for s in lines)
    t0 = time.perf_counter()
    tok = BPETokenizer.train(lines, vocab_size=2048, special_tokens=["<|endoftext|>"], trace=True, progress=False)
    dt = time.perf_counter() - t0
    print(f"  trained byte-level BPE on {name}: {nbytes / 1e6:.1f} MB, {len(tok.rules):,} merges in {dt:.2f} s")
    first = ", ".join(f"{s['bytes']!r}" for s in tok.trace[:8])
    print(f"  first merges (most frequent pairs first): {first}")
    sample = lines[len(lines) // 2].strip() or "To be, or not to be, that is the question."
    ids = tok.encode(sample)
    pieces = "|".join(tok.decode_single_token_bytes(i).decode("utf-8", "replace") for i in ids)
    print(f"  {sample[:60]!r}\n    -> {len(ids)} tokens: {pieces[:100]}")
    t0 = time.perf_counter()
    all_ids = tok.encode_batch(lines)
    dt = time.perf_counter() - t0
    n_tokens = sum(len(a) for a in all_ids)
    ok = all(tok.decode_bytes(a) == s.encode() for a, s in zip(all_ids, lines))
    print(f"  encoded the corpus: {n_tokens:,} tokens, {nbytes / n_tokens:.2f} bytes per token, "
          f"{nbytes / dt / 1e6:.0f} MB/s; decode(encode(x)) == x on every line: {'ok' if ok else 'WRONG'}")
    unseen = "Tokenizers never fail: naïve café, 東京, emoji 😀, bytes \x00\xff."
    back = tok.decode(tok.encode(unseen))
    print(f"  unseen text round-trips through byte tokens: {'ok' if back == unseen else 'WRONG'}")
    return ok and back == unseen


def run_demo() -> int:
    print("fastembed demo: pretrain, then fine-tune")
    steps = 4
    _step(1, steps, "build")
    print("  " + format_info(_native.build_info()).replace("\n", "\n  "))

    _step(2, steps, "native core self-check")
    results = [_check_axpy(), _check_philox(), _check_errors(), _check_fork()]
    if _native.cuda_available():
        print("  CUDA: a GPU is visible; run `pytest -m cuda` for the CUDA checks")

    _step(3, steps, "tokenizer: byte-level BPE")
    results.append(_tokenizer_step())

    _step(4, steps, "later pipeline stages")
    for name, what in LATER_STAGES.items():
        print(f"  {name:<10} {what}: `fastembed {name} --help` (not part of this demo yet)")

    ok = all(results)
    print(f"\ndemo {'ok' if ok else 'FAILED'}: native core and tokenizer checked; the later stages are not in the demo yet.")
    sys.stdout.flush()
    return 0 if ok else 1
