"""BERT pretraining batches: packed NSP/SOP instances, dynamically masked per optimizer step.

:class:`BertPretrainingData` holds the instances (see :mod:`fastembed.data.instances`) and
serves the batch of any step: the global batch of step ``s`` is a pure function of
``(seed, s)`` (see :mod:`fastembed.data.order`), and its MLM masking is drawn fresh for that
step from ``np.random.default_rng((seed, s, 1))``: RoBERTa's dynamic masking (Liu et al. 2019)
instead of BERT's fixed masks duplicated ``dupe_factor`` times. Padding is trimmed to the longest
row of the global batch, so every rank builds tensors of one shape.

>>> from fastembed.tokenizers import WordPieceTokenizer
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "ran", "."])
>>> docs = [["the cat sat.", "the dog ran."], ["the dog sat.", "the cat ran."]]
>>> data = BertPretrainingData.from_documents(docs, tok, max_length=16, batch_size=2, seed=0)
>>> batch = data.get_batch(0)
>>> sorted(batch), tuple(batch["input_ids"].shape)
(['attention_mask', 'input_ids', 'labels', 'next_sentence_label', 'token_type_ids'], (2, 11))
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._optional import require_torch
from ..tokenizers.base import Tokenizer
from .._renamed import UNSET, renamed_arg, renamed_attribute
from .documents import read_documents
from .instances import Instances, create_instances
from .mlm import mask_tokens
from .order import BatchOrder, Ordered
from .specials import special_ids

# Third entry of the seed tuples, so the streams of different purposes never coincide
# (the epoch permutations use the 2-tuple (seed, epoch)).
_MASK, _CREATE, _SPLIT, _EVAL = 1, 2, 3, 4

__all__ = ["BertPretrainingData", "Instances", "create_instances"]


class BertPretrainingData(Ordered):
    """Instances plus the rules that turn step numbers into masked batches.

    ``vocab_size`` and ``mask_id`` drive the masking; random replacements are drawn from
    ``random_ids`` (default: every id except [PAD], [CLS], [SEP] and [MASK];
    :meth:`from_documents` also leaves out the tokenizer's other special tokens).
    """

    def __init__(self, instances: Instances, *, vocab_size: int, mask_id: int, batch_size: int = 32, seed: int = 0,
                 mlm_probability: float = 0.15, random_ids: np.ndarray | None = None) -> None:
        if len(instances) == 0:
            raise ValueError("there are no instances: the documents hold no text to make sentence pairs of")
        self.instances = instances
        self.order = BatchOrder(len(instances), batch_size=batch_size, seed=seed)
        self.vocab_size, self.mask_id = int(vocab_size), int(mask_id)
        self.mlm_probability = float(mlm_probability)
        if random_ids is None:
            specials = [instances.pad_id, instances.cls_id, instances.sep_id, self.mask_id]
            random_ids = np.setdiff1d(np.arange(self.vocab_size), specials)
        self.random_ids = np.asarray(random_ids, dtype=np.int64)

    @classmethod
    def from_documents(cls, documents: Sequence[Sequence[str]], tokenizer: Tokenizer, *,
                       max_length: int | None = None, nsp: str = "random", short_seq_prob: float = 0.1,
                       seed: int = 0, batch_size: int = 32, mlm_probability: float = 0.15,
                       max_seq_len: Any = UNSET) -> "BertPretrainingData":
        """Tokenize documents of sentence strings (one native call, special-token text as text)
        and build instances with ``np.random.default_rng((seed, 0, 2))``. ``max_length``: tokens
        per instance, special tokens included (default 128; ``max_seq_len=``, its old name, still
        works for one release with a DeprecationWarning)."""
        max_length = renamed_arg("BertPretrainingData.from_documents", "max_seq_len", max_seq_len, "max_length",
                                 max_length)
        max_length = 128 if max_length is None else max_length
        ids = special_ids(tokenizer)
        documents = [list(doc) for doc in documents]
        sentences = [s for doc in documents for s in doc]
        flat = tokenizer.encode_flat(sentences, split_special_tokens=True)
        encoded = np.split(flat.ids, flat.starts[1:-1]) if sentences else []
        docs, k = [], 0
        for doc in documents:
            docs.append(encoded[k:k + len(doc)])
            k += len(doc)
        rng = np.random.default_rng((seed, 0, _CREATE))
        instances = create_instances(docs, max_length=max_length, cls_id=ids["cls"], sep_id=ids["sep"], rng=rng,
                                     short_seq_prob=short_seq_prob, nsp=nsp, pad_id=ids["pad"])
        specials = set(tokenizer.all_special_ids) | set(ids.values())
        random_ids = np.setdiff1d(np.arange(tokenizer.vocab_size), sorted(specials))
        return cls(instances, vocab_size=tokenizer.vocab_size, mask_id=ids["mask"], batch_size=batch_size, seed=seed,
                   mlm_probability=mlm_probability, random_ids=random_ids)

    @classmethod
    def from_file(cls, path: str | os.PathLike, tokenizer: Tokenizer, **kwargs: Any) -> "BertPretrainingData":
        """From a file in BERT's format (one sentence per line, blank line between documents);
        ``kwargs`` go to :meth:`from_documents`."""
        if "max_seq_len" in kwargs:
            old, new = kwargs.pop("max_seq_len"), kwargs.pop("max_length", None)
            kwargs["max_length"] = renamed_arg("BertPretrainingData.from_file", "max_seq_len", old, "max_length", new)
        return cls.from_documents(read_documents(path), tokenizer, **kwargs)

    # ------------------------------------------------------------------ sizes

    def __len__(self) -> int:
        return len(self.instances)

    @property
    def max_length(self) -> int:
        """Tokens per instance, padding included."""
        return self.instances.max_length

    max_seq_len = renamed_attribute("BertPretrainingData", "max_seq_len", "max_length")

    @property
    def tokens_per_step(self) -> int:
        """batch_size × max_length: the token positions of one step before padding is trimmed
        (the way the BERT paper counts, 256 × 512 = 128k tokens per batch)."""
        return self.batch_size * self.max_length

    # ------------------------------------------------------------------ batches

    def get_batch(self, step: int, *, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
        """This rank's rows of the global batch of ``step``, as int64 torch tensors with HF's names:
        input_ids, token_type_ids, attention_mask (1 = real token), labels (-100 where not
        masked), next_sentence_label (0 = B follows A)."""
        torch = require_torch("BertPretrainingData.get_batch")
        return {k: torch.from_numpy(v) for k, v in self.numpy_batch(step, rank=rank, world_size=world_size).items()}

    def numpy_batch(self, step: int, *, rank: int = 0, world_size: int = 1) -> dict[str, np.ndarray]:
        """:meth:`get_batch` as numpy arrays."""
        rows = self.order.rows(rank=rank, world_size=world_size)
        index = self.order.indices(step)
        batch = self._make_batch(index, np.random.default_rng((self.seed, int(step), _MASK)))
        return {k: np.ascontiguousarray(v[rows]) for k, v in batch.items()}

    def eval_batches(self, n_batches: int | None = None, *, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Batches over the instances in their stored order (the last one may be short), with
        masks fixed per batch (``default_rng((seed, i, 4))``) so every evaluation sees the same
        inputs. ``n_batches`` limits how many (default: all)."""
        torch = require_torch("BertPretrainingData.eval_batches")
        b = batch_size or self.batch_size
        total = -(-len(self) // b)
        for i in range(total if n_batches is None else min(n_batches, total)):
            index = np.arange(i * b, min((i + 1) * b, len(self)))
            batch = self._make_batch(index, np.random.default_rng((self.seed, i, _EVAL)))
            yield {k: torch.from_numpy(v) for k, v in batch.items()}

    def _make_batch(self, index: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        inst = self.instances
        lengths = inst.lengths[index].astype(np.int64)[:, None]
        seg = inst.segment_start[index].astype(np.int64)[:, None]
        width = int(lengths.max())
        ids = inst.ids[index, :width].astype(np.int64)
        pos = np.arange(width)[None, :]
        attention = pos < lengths
        token_type = (pos >= seg) & attention
        special = ~attention | (pos == 0) | (pos == seg - 1) | (pos == lengths - 1)
        masked, labels = mask_tokens(ids, special_mask=special, vocab_size=self.vocab_size, mask_id=self.mask_id,
                                     rng=rng, probability=self.mlm_probability, random_ids=self.random_ids)
        return {"input_ids": masked, "token_type_ids": token_type.astype(np.int64),
                "attention_mask": attention.astype(np.int64), "labels": labels,
                "next_sentence_label": inst.labels[index].astype(np.int64)}

    # ------------------------------------------------------------------ held-out data

    def split(self, dev_fraction: float, seed: int | None = None) -> tuple["BertPretrainingData", "BertPretrainingData"]:
        """(train, dev) over disjoint instances: a random ``dev_fraction`` of them (at least one)
        goes to dev. Both keep this object's settings. Instances of one document can land on
        both sides; for a stricter held-out set, split the documents before building."""
        if not 0.0 < dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
        n = len(self)
        n_dev = max(1, int(round(n * dev_fraction)))
        if n_dev >= n:
            raise ValueError(f"{n} instances are too few to hold out {dev_fraction:.0%} and keep some for training")
        perm = np.random.default_rng((self.seed if seed is None else seed, 0, _SPLIT)).permutation(n)
        return self._subset(np.sort(perm[n_dev:])), self._subset(np.sort(perm[:n_dev]))

    def _subset(self, index: np.ndarray) -> "BertPretrainingData":
        return BertPretrainingData(self.instances.select(index), vocab_size=self.vocab_size, mask_id=self.mask_id,
                                   batch_size=self.batch_size, seed=self.seed, mlm_probability=self.mlm_probability,
                                   random_ids=self.random_ids)

    def __repr__(self) -> str:
        labels = self.instances.labels
        return (f"BertPretrainingData(instances={len(self)}, max_length={self.max_length}, "
                f"batch_size={self.batch_size}, negatives={float(labels.mean()) if len(labels) else 0:.1%})")
