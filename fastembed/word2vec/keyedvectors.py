"""Word vectors and the tools to look inside them: neighbours, analogies (3CosAdd and 3CosMul),
the odd one out, and evaluation on analogy and similarity benchmarks. In the spirit of gensim's
``KeyedVectors`` so its users feel at home."""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

Key = Any  # a word (str) or a token id (int)


class KeyedVectors:
    """A vocabulary (``index_to_key``, ``key_to_index``) and its vectors ``(V, D)`` float32.

    ``vectors`` is the array itself (no copy): a trained :class:`~fastembed.word2vec.Word2Vec`
    shares it with the trainer, and :meth:`load` can memory-map it.

    >>> kv = KeyedVectors(["king", "queen", "man", "woman"], np.array(
    ...     [[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    >>> kv.analogy("man", "king", "woman")          # man : king :: woman : ?
    'queen'
    >>> round(kv.similarity("king", "queen"), 3)
    0.5
    """

    def __init__(self, keys: Sequence[Key] = (), vectors: Any = None, counts: Any = None) -> None:
        keys = list(keys)
        if vectors is None:
            vectors = np.zeros((len(keys), 0), dtype=np.float32)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise ValueError(f"KeyedVectors: vectors must be (len(keys), D) = ({len(keys)}, D), got {vectors.shape}")
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
        self.index_to_key: list[Key] = keys
        self.key_to_index: dict[Key, int] = {}
        for i, k in enumerate(keys):
            if k in self.key_to_index:
                raise ValueError(f"KeyedVectors: key {k!r} appears twice (indices {self.key_to_index[k]} and {i})")
            self.key_to_index[k] = i
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self._norms: np.ndarray | None = None

    # ---------------------------------------------------------------------------------- lookup

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key: Key) -> bool:
        return key in self.key_to_index

    def get_index(self, key: Key) -> int:
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"word {key!r} is not in the vocabulary ({len(self)} words)") from None

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        i = self.get_index(key)
        return self.unit_vectors()[i] if norm else self.vectors[i]

    def __getitem__(self, key: Key | Sequence[Key]) -> np.ndarray:
        if isinstance(key, (list, tuple)):
            return self.vectors[[self.get_index(k) for k in key]]
        return self.vectors[self.get_index(key)]

    def unit_vectors(self) -> np.ndarray:
        """The vectors scaled to unit length (zero vectors stay zero); cached until :meth:`fill_norms`
        is called again (do so after changing ``vectors`` in place)."""
        if self._norms is None or self._norms.shape[0] != len(self):
            self.fill_norms()
        assert self._norms is not None
        return self.vectors / self._norms[:, None]

    def fill_norms(self) -> None:
        # Squares summed in float64 (einsum casts in buffered chunks, no float64 copy of the matrix):
        # in float32 a value above 1.8e19 overflowed the sum, and the word's scores became NaN.
        n = np.sqrt(np.einsum("ij,ij->i", self.vectors, self.vectors, dtype=np.float64))
        with np.errstate(over="ignore"):  # a length beyond float32 (values near 3e38) is inf: a zero unit vector
            self._norms = np.where(n > 0, n, 1.0).astype(np.float32)

    # ----------------------------------------------------------------------------- similarity

    def similarity(self, a: Key, b: Key) -> float:
        """Cosine similarity of two words."""
        u, v = self.get_vector(a, norm=True), self.get_vector(b, norm=True)
        return float(np.dot(u, v))

    def _limit(self, restrict_vocab: int | None) -> int:
        return len(self) if restrict_vocab is None else max(0, min(int(restrict_vocab), len(self)))

    def most_similar(self, positive: Key | Sequence[Any] = (), negative: Key | Sequence[Any] = (), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[Key, float]]:
        """The ``topn`` words closest (cosine) to the mean of the unit vectors of ``positive`` minus
        those of ``negative`` (words or vectors), excluding the query words: 3CosAdd.
        ``restrict_vocab`` searches only the first (most frequent) N words."""
        positive = [positive] if isinstance(positive, (str, int, np.ndarray)) else list(positive)
        negative = [negative] if isinstance(negative, (str, int, np.ndarray)) else list(negative)
        if not positive and not negative:
            raise ValueError("most_similar: give at least one positive or negative word")
        unit = self.unit_vectors()
        query = np.zeros(self.vector_size, dtype=np.float64)
        exclude = set()
        for sign, items in ((1.0, positive), (-1.0, negative)):
            for w in items:
                if isinstance(w, np.ndarray):
                    query += sign * w / max(float(np.linalg.norm(w)), 1e-12)
                else:
                    i = self.get_index(w)
                    exclude.add(i)
                    query += sign * unit[i]
        query /= max(float(np.linalg.norm(query)), 1e-12)
        limit = self._limit(restrict_vocab)
        scores = unit[:limit] @ query.astype(np.float32)
        return self._top(scores, exclude, topn)

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int) -> list[tuple[Key, float]]:
        k = min(len(scores), topn + len(exclude))
        if k <= 0:
            return []
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in idx if i not in exclude][:topn]

    def most_similar_cosmul(self, positive: Sequence[Key] = (), negative: Sequence[Key] = (), topn: int = 10,
                            restrict_vocab: int | None = None) -> list[tuple[Key, float]]:
        """3CosMul (Levy & Goldberg, "Linguistic Regularities in Sparse and Explicit Word
        Representations", 2014): argmax Π cos'(x, p) / (Π cos'(x, n) + 0.001) with
        cos' = (cos + 1) / 2 in [0, 1]."""
        unit = self.unit_vectors()
        limit = self._limit(restrict_vocab)
        sub = unit[:limit]
        exclude = set()
        num = np.ones(limit, dtype=np.float64)
        den = np.ones(limit, dtype=np.float64)
        for items, acc in ((positive, num), (negative, den)):
            for w in ([items] if isinstance(items, (str, int)) else items):
                i = self.get_index(w)
                exclude.add(i)
                acc *= (sub @ unit[i] + 1.0) / 2.0
        scores = num / (den + 0.001) if len(negative) else num
        return self._top(scores, exclude, topn)

    def analogy(self, a: Key, b: Key, c: Key, method: str = "3cosadd", topn: int = 1,
                restrict_vocab: int | None = None) -> Any:
        """``a`` is to ``b`` as ``c`` is to ?: the word nearest b − a + c ("3cosadd") or by
        3CosMul ("3cosmul"). Returns the word (topn=1) or a list of (word, score)."""
        if method == "3cosadd":
            res = self.most_similar(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
        elif method == "3cosmul":
            res = self.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
        else:
            raise ValueError(f"analogy: method must be '3cosadd' or '3cosmul', got {method!r}")
        return res[0][0] if topn == 1 and res else res

    def doesnt_match(self, words: Iterable[Key]) -> Key:
        """The word furthest from the mean of the others' unit vectors."""
        words = list(words)
        if len(words) < 2:
            raise ValueError("doesnt_match: give at least two words")
        unit = self.unit_vectors()[[self.get_index(w) for w in words]]
        mean = unit.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        return words[int(np.argmin(unit @ mean))]

    # ----------------------------------------------------------------------------- evaluation

    def evaluate_analogies(self, path: str | os.PathLike, restrict_vocab: int = 30000, case_insensitive: bool = True,
                           method: str = "3cosadd") -> dict[str, Any]:
        """Accuracy on an analogy file in Google's ``questions-words.txt`` format (``: section``
        lines, then ``a b c d`` questions: a is to b as c is to d).

        A question counts as seen when its four words are among the first ``restrict_vocab`` words;
        the answer is the best word (outside a, b, c) in that range. Returns ``accuracy`` (over
        seen questions), ``coverage`` (seen / total), ``correct``, ``seen``, ``total`` and
        ``sections`` (name -> the same counts)."""
        from .evaluation import evaluate_analogies

        return evaluate_analogies(self, path, restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
                                  method=method)

    def evaluate_similarity(self, path: str | os.PathLike, case_insensitive: bool = True,
                            delimiter: str | None = None) -> dict[str, Any]:
        """Spearman and Pearson correlation between cosine similarity and human scores on a
        ``word1 word2 score`` file (WordSim-353, SimLex-999; ``#`` comment lines and one header line
        without a number are skipped). Pairs with an unknown word are left out and counted in
        ``oov_ratio``."""
        from .evaluation import evaluate_similarity

        return evaluate_similarity(self, path, case_insensitive=case_insensitive, delimiter=delimiter)

    # -------------------------------------------------------------------------------- files

    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False) -> None:
        """word2vec's text or binary format (word2vec.c, gensim ``load_word2vec_format``), written
        atomically."""
        from .io import save_word2vec_format

        save_word2vec_format(self, path, binary=binary)

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool = False, limit: int | None = None,
                             encoding: str = "utf-8", unicode_errors: str = "strict") -> "KeyedVectors":
        """Read word2vec's text or binary format (the first ``limit`` words when given)."""
        from .io import load_word2vec_format

        return load_word2vec_format(cls, path, binary=binary, limit=limit, encoding=encoding,
                                    unicode_errors=unicode_errors)

    def save(self, path: str | os.PathLike) -> None:
        """fastembed's own format: ``path`` (JSON: vocabulary and counts) and ``path.vectors.npy``,
        both written atomically; :meth:`load` can memory-map the vectors."""
        from .io import save_native

        save_native(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, mmap: str | None = None) -> "KeyedVectors":
        """Load :meth:`save`'s files; ``mmap="r"`` maps the vectors read-only instead of reading them."""
        from .io import load_native

        return load_native(cls, path, mmap=mmap)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, {self.vector_size} dimensions)"
