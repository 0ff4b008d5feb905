"""fastembed: the "pretrain, then fine-tune" pipeline of modern NLP with a C++/CUDA core.

Byte-level BPE and WordPiece tokenizers, word2vec (skip-gram with negative sampling), GPT and
BERT pretraining, fine-tuning and features. ``import fastembed`` needs only numpy; PyTorch is
needed by the model, training and fine-tuning parts (``pip install 'fastembed[torch]'``).

>>> import fastembed
>>> fastembed.get_num_threads() >= 1
True
"""

from ._native import build_info, get_num_threads, set_num_threads
from ._version import __version__

__all__ = ["__version__", "build_info", "get_num_threads", "set_num_threads"]
