"""word2vec: skip-gram and CBOW with negative sampling on the native core, and the tools to read
the vectors (neighbours, analogies, evaluation, files, pictures).

>>> from fastembed.word2vec import Word2Vec
>>> corpus = [["the", "king", "rules"], ["the", "queen", "rules"]] * 50
>>> model = Word2Vec(corpus, vector_size=16, min_count=1, epochs=2, workers=1, progress=False)
>>> model.wv["king"].shape
(16,)
"""

from .keyedvectors import KeyedVectors
from .model import Word2Vec
from .plot import plot_pairs

__all__ = ["KeyedVectors", "Word2Vec", "plot_pairs"]
