"""The word2vec trainer: skip-gram or CBOW with negative sampling on the native core, with a
gensim-like API (``Word2Vec(sentences, vector_size=..., ...)``, ``model.wv``)."""

from __future__ import annotations

import collections
import math
import os
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .._memory import check_allocation, format_bytes
from .._native import _C, get_num_threads, require_cuda
from .._progress import ProgressBar, run_native
from .keyedvectors import KeyedVectors


# Mean −log σ per (input, output) pair above which an epoch counts as diverged: a pair scored 30
# the wrong way (σ ≈ 1e-13) on average means the vectors have blown up.
DIVERGED_MEAN_LOSS = 30.0
CUDA_WHAT = "Word2Vec(device='cuda')"


class Word2Vec:
    """Train word vectors with skip-gram (``sg=1``) or CBOW (``sg=0``) and negative sampling.

    Input, one of:
      - ``sentences``: an iterable of token lists (``[["the", "cat"], ...]``), or of integer
        arrays of token ids (e.g. from :class:`fastembed.tokenizers.BPETokenizer`; the keys are
        then the ids);
      - ``corpus_file``: a text file, one sentence per line, words separated by whitespace, read
        natively (the fast path). Lines of any length are trained whole (no truncation).

    Parameters follow gensim: ``vector_size``, ``window`` (the maximum; each centre word draws
    its window from [1, window]), ``negative`` samples from unigram^``ns_exponent``, ``sample``
    (frequent-word subsampling threshold, 0 disables), ``min_count`` and ``max_vocab_size``
    (keep the most frequent), ``epochs``, ``alpha`` falling linearly to ``min_alpha`` over all
    epochs, ``workers`` (Hogwild shares; default :func:`fastembed.get_num_threads`), ``seed``,
    ``cbow_mean``. Skip-gram shares negatives within a window by default (``shared_negatives``, as
    in pWord2Vec: one draw for the context words before the centre, one for those after, the pairs
    still trained in turn): about 1.5× faster than fresh negatives per (centre, context) pair,
    with gensim's analogy and similarity scores in ``python -m benchmarks word2vec``;
    ``shared_negatives=False`` gives word2vec.c's and gensim's per-pair draws.

    ``callbacks``: callables ``f(model, epoch, loss)`` or objects with ``on_epoch_end(model)``
    (gensim style), run after each epoch. ``model.epoch_losses`` holds each epoch's summed loss
    (−log σ over all positive and negative pairs, summed in float64) and ``model.epoch_stats``
    the words, pairs and seconds; a non-finite loss, or a mean loss per pair above 30 (vectors
    blown up), raises FloatingPointError (training diverged: lower alpha).

    One worker gives bit-identical vectors for a seed; with several, updates race (Hogwild) and
    runs differ in the last bits, as in word2vec.c and gensim.

    ``device="cuda"`` trains on the GPU (same semantics; one warp per centre word, Hogwild across
    warps, never bitwise repeatable; ``workers`` is ignored there); the default is ``"cpu"``.
    """

    def __init__(self, sentences: Iterable[Any] | None = None, corpus_file: str | os.PathLike | None = None, *,
                 vector_size: int = 100, window: int = 5, negative: int = 5, sample: float = 1e-3,
                 min_count: int = 5, max_vocab_size: int | None = None, epochs: int = 5, sg: int = 1,
                 alpha: float = 0.025, min_alpha: float = 1e-4, workers: int | None = None, seed: int = 1,
                 cbow_mean: int = 1, ns_exponent: float = 0.75, shared_negatives: bool | None = None,
                 callbacks: Sequence[Any] = (), progress: bool | None = None, device: str = "cpu") -> None:
        def positive_int(name: str, value: Any, lo: int = 1) -> int:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise ValueError(f"Word2Vec: {name} must be an integer >= {lo}, got {value!r}")
            return int(value)

        self.vector_size = positive_int("vector_size", vector_size)
        self.window = positive_int("window", window)
        self.negative = positive_int("negative", negative)
        self.min_count = positive_int("min_count", min_count)
        self.epochs = positive_int("epochs", epochs)
        self.max_vocab_size = None if max_vocab_size is None else positive_int("max_vocab_size", max_vocab_size)
        self.workers = get_num_threads() if workers is None else positive_int("workers", workers)
        if not (isinstance(sample, (int, float)) and sample >= 0):
            raise ValueError(f"Word2Vec: sample must be >= 0, got {sample!r}")
        if not (alpha > 0 and min_alpha >= 0 and math.isfinite(alpha) and math.isfinite(min_alpha)):
            raise ValueError(f"Word2Vec: alpha must be > 0 and min_alpha >= 0, both finite, got {alpha!r}, "
                             f"{min_alpha!r}")
        if isinstance(ns_exponent, bool) or not isinstance(ns_exponent, (int, float, np.number)) \
                or not math.isfinite(ns_exponent):
            raise ValueError(f"Word2Vec: ns_exponent must be a finite number, got {ns_exponent!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise ValueError(f"Word2Vec: seed must be an integer in [0, 2**64), got {seed!r}")
        if sg not in (0, 1):
            raise ValueError(f"Word2Vec: sg must be 1 (skip-gram) or 0 (CBOW), got {sg!r}")
        if shared_negatives and not sg:
            raise ValueError("Word2Vec: shared_negatives applies to skip-gram (sg=1) only")
        if shared_negatives is None:
            shared_negatives = bool(sg)
        if device not in ("cpu", "cuda"):
            raise ValueError(f"Word2Vec: device must be 'cpu' or 'cuda', got {device!r}")
        if device == "cuda":
            require_cuda(CUDA_WHAT)  # fail before reading the corpus
        self.device = device
        self.sample, self.alpha, self.min_alpha = float(sample), float(alpha), float(min_alpha)
        self.sg, self.cbow_mean, self.ns_exponent = int(sg), int(cbow_mean), float(ns_exponent)
        self.shared_negatives = bool(shared_negatives)
        self.seed = int(seed)
        self.callbacks = list(callbacks)
        self.progress = progress
        self.wv = KeyedVectors()
        self.syn1neg: np.ndarray | None = None
        self.corpus_total_words = 0  # all words of the corpus, in the vocabulary or not (as gensim)
        self.epoch_losses: list[float] = []
        self.epoch_stats: list[dict[str, Any]] = []
        self._ids: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        if sentences is not None and corpus_file is not None:
            raise ValueError("Word2Vec: give sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences=sentences, corpus_file=corpus_file)
            self.train()

    # ----------------------------------------------------------------------------- vocabulary

    def build_vocab(self, sentences: Iterable[Any] | None = None, corpus_file: str | os.PathLike | None = None) -> None:
        """Count words, keep those with ``min_count`` or more (at most ``max_vocab_size``, most
        frequent first), encode the corpus as ids and initialise the vectors."""
        if (sentences is None) == (corpus_file is None):
            raise ValueError("build_vocab: give exactly one of sentences or corpus_file")
        if corpus_file is not None:
            path = os.fspath(corpus_file)
            if os.path.isdir(path):
                raise IsADirectoryError(f"Word2Vec: corpus_file {path!r} is a directory, expected a text file "
                                        "(one sentence per line)")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Word2Vec: corpus_file {path!r} does not exist")
            # The native passes hold the whole file in memory.
            check_allocation(os.path.getsize(path), f"Word2Vec: reading corpus_file {path!r} whole")
            words, counts, total, lines = run_native(lambda p: _C.w2v_count_file(path, p),
                                                     desc="word2vec: counting", unit="B", show=self.progress)
            keys, counts = self._trim(words, counts, total, int(lines))
            self.corpus_total_words = int(total)
            vocab = [k.encode("utf-8", "surrogateescape") for k in keys]
            # Encoding holds the file, the shards' ids (reserved at a word per 6 bytes, grown if there
            # are more), the merged int32 ids and an int64 offset per line.
            n_ids, size = int(counts.sum()), os.path.getsize(path)
            check_allocation(size + max(4 * size // 6, 4 * n_ids) + 4 * n_ids + 16 * (int(lines) + 1),
                             f"Word2Vec: encoding corpus_file {path!r} ({n_ids:,} words in the vocabulary)")
            ids, offsets = run_native(lambda p: _C.w2v_encode_file(path, vocab, p), desc="word2vec: encoding",
                                      unit="B", show=self.progress)
        else:
            keys, counts, ids, offsets = self._from_sentences(sentences)
        self.wv = KeyedVectors(keys, self._init_vectors(len(keys)), counts=counts)
        self.syn1neg = np.zeros((len(keys), self.vector_size), dtype=np.float32)
        self._ids, self._offsets = ids, offsets
        self.corpus_words = int(offsets[-1] - offsets[0])  # in the vocabulary (trained on)
        self.corpus_sentences = len(offsets) - 1

    def _trim(self, keys: Sequence[Any], counts: np.ndarray, total: int, lines: int) -> tuple[list[Any], np.ndarray]:
        if total == 0:
            raise ValueError("Word2Vec: the corpus is empty (no words)")
        keep = np.flatnonzero(np.asarray(counts) >= self.min_count)
        if self.max_vocab_size is not None:
            keep = keep[: self.max_vocab_size]
        if len(keep) == 0:
            raise ValueError(f"Word2Vec: no word occurs min_count={self.min_count} times or more "
                             f"({len(keys)} distinct words, the most frequent {int(np.max(counts))} times)")
        kept_counts = np.ascontiguousarray(np.asarray(counts)[keep], dtype=np.int64)
        self._check_memory(len(keep), int(kept_counts.sum()), lines)
        return [keys[i] for i in keep], kept_counts

    def _check_memory(self, V: int, n_ids: int, lines: int) -> None:
        # Called once the vocabulary is known, before the corpus is encoded or a matrix allocated:
        # vector_size=10**9 was an OOM kill, not an error.
        matrices = 2 * V * self.vector_size * 4       # wv.vectors and syn1neg, float32
        corpus = 4 * n_ids + 8 * (lines + 1)           # int32 ids, an int64 offset per sentence
        check_allocation(matrices + corpus,
                         f"Word2Vec: vector_size={self.vector_size} x {V:,} words (two float32 matrices, "
                         f"{format_bytes(matrices)}) plus the corpus ids ({format_bytes(corpus)})",
                         hint="lower vector_size, or shrink the vocabulary with min_count or max_vocab_size")

    def _from_sentences(self, sentences: Iterable[Any]) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
        if isinstance(sentences, (str, bytes)):
            raise TypeError("Word2Vec: sentences must be an iterable of token lists, not a string")
        sents = []
        counter: collections.Counter = collections.Counter()
        for s in sentences:
            if isinstance(s, np.ndarray):
                if not np.issubdtype(s.dtype, np.integer):
                    raise TypeError(f"Word2Vec: a sentence array must hold integer ids, got dtype {s.dtype}")
                s = s.tolist()
            elif isinstance(s, (str, bytes)):
                raise TypeError("Word2Vec: each sentence must be a list of tokens, got a string "
                                "(split it first, e.g. text.split())")
            else:
                s = list(s)
            counter.update(s)
            sents.append(s)
        keys_all = sorted(counter, key=lambda k: (-counter[k], str(k)))
        counts_all = np.array([counter[k] for k in keys_all], dtype=np.int64)
        self.corpus_total_words = int(counts_all.sum())
        keys, counts = self._trim(keys_all, counts_all, self.corpus_total_words, len(sents))
        index = {k: i for i, k in enumerate(keys)}
        ids_list: list[int] = []
        offsets = [0]
        for s in sents:
            before = len(ids_list)
            ids_list.extend(index[t] for t in s if t in index)
            if len(ids_list) > before:
                offsets.append(len(ids_list))
        return keys, counts, np.array(ids_list, dtype=np.int32), np.array(offsets, dtype=np.int64)

    def _check_worker_memory(self) -> None:
        # Each CPU thread draws the negatives of a whole sentence up front (shared negatives:
        # `negative` per side of each word), so negative=10**9 or a corpus that is one giant line
        # asks for sentence length x draws x 4 bytes per thread.
        assert self._offsets is not None
        lengths = np.diff(self._offsets)
        longest = int(lengths.max()) if len(lengths) else 0
        threads = max(1, min(self.workers, get_num_threads(), len(lengths)))
        draws = (2 if self.sg else 1) * self.negative if self.shared_negatives else 0
        per_thread = 4 * longest * (1 + draws) + 4 * self.negative + 8 * self.vector_size
        check_allocation(threads * per_thread,
                         f"Word2Vec: negative={self.negative} on sentences of up to {longest:,} words "
                         f"({threads} threads, each drawing the negatives of a whole sentence)",
                         hint="lower negative, or split the corpus into shorter lines")

    def _init_vectors(self, V: int) -> np.ndarray:
        # gensim 4's initialisation: uniform in [-1, 1) / vector_size (word2vec.c uses half that).
        # In place, so the peak is one matrix, as _check_memory counts.
        v = np.random.default_rng(self.seed).random((V, self.vector_size), dtype=np.float32)
        v *= 2.0
        v -= 1.0
        v /= self.vector_size
        return v

    # ------------------------------------------------------------------------------- training

    def train(self, epochs: int | None = None) -> "Word2Vec":
        """Train ``epochs`` (default: the constructor's) epochs on the corpus given to build_vocab."""
        if self._ids is None or self.syn1neg is None:
            raise RuntimeError("Word2Vec.train: call build_vocab first (or pass sentences / corpus_file)")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1):
            raise ValueError(f"Word2Vec.train: epochs must be an integer >= 1, got {epochs!r}")
        epochs = self.epochs if epochs is None else int(epochs)
        if self.device == "cpu":
            self._check_worker_memory()
        # The GPU trainer holds its own copy of the weights and corpus for this call; the vectors
        # come back after every epoch, so callbacks see them.
        gpu = None
        if self.device == "cuda":
            gpu = require_cuda(CUDA_WHAT).Word2VecCuda(self.wv.vectors, self.syn1neg, self._ids, self._offsets,
                                                       self.wv.counts)
        for cb in self.callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(self)
        # One bar over all epochs: a log gets a line every interval even when epochs are shorter.
        bar = ProgressBar(epochs * self.corpus_words, desc=f"word2vec ({epochs} epochs)", unit="words",
                          show=self.progress)
        try:
            for e in range(epochs):
                bar.update_to(e * self.corpus_words, bar.total, epoch=f"{e + 1}/{epochs}")
                t0 = time.perf_counter()
                if gpu is None:
                    res = run_native(
                        lambda p, e=e: _C.w2v_train_epoch(
                            self.wv.vectors, self.syn1neg, self._ids, self._offsets, self.wv.counts, bool(self.sg),
                            bool(self.cbow_mean), self.shared_negatives, self.window, self.negative, epochs, e,
                            self.sample, self.alpha, self.min_alpha, self.ns_exponent, self.seed, self.workers, p),
                        desc="word2vec", unit="words", bar=bar, base=e * self.corpus_words)
                else:
                    res = gpu.train_epoch(bool(self.sg), bool(self.cbow_mean), self.shared_negatives, self.window,
                                          self.negative, epochs, e, self.sample, self.alpha, self.min_alpha,
                                          self.ns_exponent, self.seed)
                    gpu.download(self.wv.vectors, self.syn1neg)
                    bar.update_to((e + 1) * self.corpus_words, bar.total)
                seconds = time.perf_counter() - t0
                loss = float(res["loss"])
                mean = loss / max(res["pairs"], 1)
                if not math.isfinite(loss) or mean > DIVERGED_MEAN_LOSS:
                    raise FloatingPointError(f"Word2Vec: epoch {e + 1} has loss {loss:.4g} ({mean:.4g} per pair; a fresh "
                                             f"model has about 0.69): training diverged (alpha={self.alpha} too large?)")
                self.epoch_losses.append(loss)
                self.epoch_stats.append({"epoch": len(self.epoch_losses), "loss": loss, "pairs": res["pairs"],
                                         "mean_loss": loss / max(res["pairs"], 1), "trained_words": res["trained_words"],
                                         "corpus_words": self.corpus_words, "seconds": seconds,
                                         "words_per_second": self.corpus_words / seconds if seconds > 0 else float("inf")})
                for cb in self.callbacks:
                    if hasattr(cb, "on_epoch_end"):
                        cb.on_epoch_end(self)
                    elif callable(cb):
                        cb(self, len(self.epoch_losses) - 1, loss)
        finally:
            bar.close()
        self.wv.fill_norms()
        for cb in self.callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(self)
        return self

    def get_latest_training_loss(self) -> float:
        """The loss of the last epoch (gensim returns a running sum; ours resets each epoch)."""
        return self.epoch_losses[-1] if self.epoch_losses else 0.0

    def __repr__(self) -> str:
        return (f"Word2Vec({len(self.wv)} words, vector_size={self.vector_size}, "
                f"{'skip-gram' if self.sg else 'CBOW'}, window={self.window}, negative={self.negative})")


Callback = Callable[["Word2Vec", int, float], None]
