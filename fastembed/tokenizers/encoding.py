"""What tokenizing a batch gives: :class:`BatchEncoding` (the model inputs, a dict, as in
transformers), :class:`Encoding` (one row, as in HF tokenizers), and :class:`Flat` (many texts'
tokens in one array, the form the native encoders return)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

import numpy as np


class Flat(NamedTuple):
    """Many texts' tokens, concatenated: row i is ``ids[starts[i]:starts[i + 1]]``. ``offsets``
    ((N, 2) code-point spans into each text) and ``words`` (index of the pre-tokenized word each
    token comes from, within its text) are None unless asked for."""

    ids: np.ndarray
    starts: np.ndarray
    offsets: Optional[np.ndarray]
    words: Optional[np.ndarray]


@dataclass
class Encoding:
    """One row of model input, as HF ``tokenizers.Encoding`` has it. ``word_ids`` and
    ``sequence_ids`` hold -1 where HF has None (special tokens, padding); ``offsets`` are
    (start, end) code-point spans into the row's own text ((0, 0) for special tokens and padding).
    ``overflowing`` holds the further rows of a truncated text (``return_overflowing=True``)."""

    ids: np.ndarray
    type_ids: np.ndarray
    attention_mask: np.ndarray
    special_tokens_mask: np.ndarray
    offsets: Optional[np.ndarray] = None
    word_ids: Optional[np.ndarray] = None
    sequence_ids: Optional[np.ndarray] = None
    overflowing: list["Encoding"] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class BatchEncoding(dict):
    """The model inputs of a batch: a dict (``input_ids``, ``attention_mask``, ``token_type_ids``,
    and when asked ``special_tokens_mask``, ``offset_mapping``, ``overflow_to_sample_mapping``)
    that ``model(**batch)`` takes, plus per-row access: ``batch[i]`` is an :class:`Encoding`,
    ``batch.word_ids(i)`` / ``batch.sequence_ids(i)`` are lists with None as in HF.

    Padded batches hold 2-D arrays (int64, or torch tensors with ``return_tensors="pt"``);
    unpadded ones lists of 1-D int64 arrays.
    """

    def __init__(self, data: Mapping[str, Any], words: Any, sequences: Any) -> None:
        super().__init__(data)
        self._words = words
        self._sequences = sequences

    def __getitem__(self, key: Union[str, int]) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        if not isinstance(key, (int, np.integer)) or isinstance(key, bool):
            raise TypeError(f"index a BatchEncoding with a key such as 'input_ids' or a row number, got {key!r}")
        i = int(key)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} is outside the batch of {n}")
        row = {k: np.asarray(v[i]) for k, v in self.items() if k != "overflow_to_sample_mapping"}
        return Encoding(ids=row["input_ids"], type_ids=row["token_type_ids"], attention_mask=row["attention_mask"],
                        special_tokens_mask=row.get("special_tokens_mask", np.zeros(0, np.int64)),
                        offsets=row.get("offset_mapping"), word_ids=np.asarray(self._words[i]),
                        sequence_ids=np.asarray(self._sequences[i]))

    def __len__(self) -> int:  # rows, as len(batch["input_ids"])
        return len(super().__getitem__("input_ids"))

    def word_ids(self, i: int = 0) -> list[Optional[int]]:
        """The word each token of row ``i`` comes from (None for special tokens and padding)."""
        return [None if w < 0 else int(w) for w in np.asarray(self._words[i]).tolist()]

    def sequence_ids(self, i: int = 0) -> list[Optional[int]]:
        """0 for tokens of the first text, 1 for the pair's, None for special tokens and padding."""
        return [None if s < 0 else int(s) for s in np.asarray(self._sequences[i]).tolist()]
