"""Pretraining data for BERT and GPT: documents → token ids → batches a training loop can ask for.

The pieces, in the order data flows through them:

- :mod:`~fastembed.data.documents`: BERT's input format (one sentence per line, a blank line
  between documents) and a rule-based sentence splitter for raw text.
- :mod:`~fastembed.data.shards`: tokenize a corpus once into raw uint16/uint32 shards plus an
  ``index.json``, read back with ``np.memmap`` (:class:`TokenShards`).
- :mod:`~fastembed.data.mlm`: masked language modelling. 15% of the ordinary tokens are chosen
  as targets; of those, 80% are replaced by ``[MASK]``, 10% by a random token and 10% left as
  they are (the **80/10/10 rule**), so the model cannot rely on seeing ``[MASK]`` where it must
  predict, and must check every token it sees. Labels are -100 where nothing is predicted.
- :mod:`~fastembed.data.instances` / :mod:`~fastembed.data.bert`: sentence pairs
  ``[CLS] A [SEP] B [SEP]`` with a sentence-level label. **NSP** (next sentence prediction,
  BERT): B is A's true continuation (label 0) or text from a random other document (label 1).
  **swap** (sentence order prediction, ALBERT): B always follows A in the document, and half the
  pairs are presented in swapped order ``[CLS] B [SEP] A [SEP]`` (label 1), so the task is about
  order, not topic. :class:`BertPretrainingData` masks each step's batch afresh.
- :mod:`~fastembed.data.gpt`: :class:`GPTBlocks` cuts the token stream (documents separated by
  ``<|endoftext|>``) into fixed windows; labels are the inputs shifted by one.

Batches are a pure function of ``(seed, step)``: resuming at a step reproduces the batches of an
uninterrupted run, and with ``rank``/``world_size`` every data-parallel rank takes its own rows
of the same global batch (:mod:`~fastembed.data.order`). All randomness comes from numpy
Generators seeded from tuples; no global random state is read or changed.
"""

from .bert import BertPretrainingData
from .documents import documents_from_text, read_documents, split_sentences
from .gpt import GPTBlocks
from .instances import Instances, create_instances, truncate_pair
from .mlm import IGNORE_INDEX, mask_tokens
from .order import BatchOrder
from .shards import TokenShards, encode_documents, write_shards
from .specials import eot_id, special_ids

__all__ = [
    "BatchOrder", "BertPretrainingData", "GPTBlocks", "IGNORE_INDEX", "Instances", "TokenShards",
    "create_instances", "documents_from_text", "encode_documents", "eot_id", "mask_tokens", "read_documents",
    "special_ids", "split_sentences", "truncate_pair", "write_shards",
]
