"""Model shapes as dataclasses, with named presets.

Presets (layers / hidden / heads): ``tiny`` 2/128/2, ``mini`` 4/256/4, ``small`` 4/512/8 (BERT's
"small" of Turc et al. 2019; GPT small is 6/512/8), ``base`` = BERT-base 12/768/12 and GPT-2 124M
12/768/12. ``BertConfig.preset("mini", vocab_size=...)`` overrides any field.

``attn_impl`` picks the attention path: ``"fused"`` (fastembed.ops.attention, the default),
``"sdpa"`` (torch.nn.functional.scaled_dot_product_attention) or ``"reference"`` (the plain
PyTorch oracle that materialises the scores); all three compute the same function.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

ATTN_IMPLS = ("fused", "sdpa", "reference")

# name -> (layers, hidden, heads); the feed-forward width is 4 × hidden.
_BERT_PRESETS = {"tiny": (2, 128, 2), "mini": (4, 256, 4), "small": (4, 512, 8), "base": (12, 768, 12)}
_GPT_PRESETS = {"tiny": (2, 128, 2), "mini": (4, 256, 4), "small": (6, 512, 8), "base": (12, 768, 12)}


class _Config:
    PRESETS: ClassVar[dict[str, tuple[int, int, int]]] = {}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Any:
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.__name__} preset {name!r}; choose one of {sorted(cls.PRESETS)}")
        layers, hidden, heads = cls.PRESETS[name]
        fields = dict(num_layers=layers, hidden_size=hidden, num_heads=heads, intermediate_size=4 * hidden)
        fields.update(overrides)
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(names)}")
        return cls(**d)

    def _check(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{type(self).__name__}.{name} must be a positive int, got {v!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        for name in ("hidden_dropout", "attention_dropout"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{type(self).__name__}.{name} must be in [0, 1), got {p!r}")
        if self.attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {self.attn_impl!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass
class BertConfig(_Config):
    """BERT (Devlin et al. 2019): post-LayerNorm encoder, exact GELU, absolute positions, 2 segments.

    ``mlm_unmasked_weight`` > 0 adds a second MLM loss on the unmasked real positions (predict the
    token that is there), weighted by it; 0 (BERT's choice) scores masked positions only.
    """

    PRESETS: ClassVar[dict[str, tuple[int, int, int]]] = _BERT_PRESETS
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    pad_token_id: int = 0
    mlm_unmasked_weight: float = 0.0
    attn_impl: str = "fused"

    def __post_init__(self) -> None:
        self._check()


@dataclass
class GPTConfig(_Config):
    """GPT-2 (Radford et al. 2019): pre-LayerNorm decoder, tanh-approximated GELU, tied LM head."""

    PRESETS: ClassVar[dict[str, tuple[int, int, int]]] = _GPT_PRESETS
    vocab_size: int = 50257
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position: int = 1024
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    attn_impl: str = "fused"

    def __post_init__(self) -> None:
        self._check()


# name -> (layers per direction, embed_size, hidden_size). ELMo (Peters et al. 2018) has 2 layers of
# 4096-cell LSTMs projected to 512; these keep its shape (2 layers, cells wider than the
# token vectors) at sizes a CPU trains.
_ELMO_PRESETS = {"tiny": (2, 128, 128), "mini": (2, 256, 512), "small": (2, 512, 1024)}


@dataclass
class ELMoConfig:
    """ELMo's biLM (Peters et al. 2018): a token embedding shared by a forward and a backward
    LM, ``num_layers`` LSTM layers per direction (residual connections from layer 2 on), both
    LMs' softmax tied to the embedding.

    ``embed_size`` is the width of the token vectors and of every layer's output per direction
    (the features are twice that: forward and backward side by side); ``hidden_size`` is the LSTM
    cell. When they differ a linear projection brings each layer's output back to ``embed_size``,
    as ELMo projects its 4096 cells to 512. ``max_position`` is the longest input accepted: an LSTM
    has no position table, so it only bounds a batch (and is ``extract``'s default max_length).
    Presets (layers / embed / hidden): ``tiny`` 2/128/128, ``mini`` 2/256/512, ``small`` 2/512/1024.
    """

    PRESETS: ClassVar[dict[str, tuple[int, int, int]]] = _ELMO_PRESETS
    vocab_size: int = 30000
    embed_size: int = 256
    hidden_size: int = 512
    num_layers: int = 2
    max_position: int = 512
    dropout: float = 0.1
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_size", "hidden_size", "num_layers", "max_position"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"ELMoConfig.{name} must be a positive int, got {v!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ELMoConfig.dropout must be a number in [0, 1), got {self.dropout!r}")
        if isinstance(self.initializer_range, bool) or not isinstance(self.initializer_range, (int, float)) \
                or not self.initializer_range > 0:
            raise ValueError(f"ELMoConfig.initializer_range must be a positive number, got {self.initializer_range!r}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "ELMoConfig":
        if name not in cls.PRESETS:
            raise ValueError(f"unknown ELMoConfig preset {name!r}; choose one of {sorted(cls.PRESETS)}")
        layers, embed, hidden = cls.PRESETS[name]
        return cls(**{"num_layers": layers, "embed_size": embed, "hidden_size": hidden, **overrides})

    to_dict = _Config.to_dict
    from_dict = classmethod(_Config.from_dict.__func__)

    @property
    def feature_size(self) -> int:
        """Width of each of the biLM's layer representations: forward and backward, side by side."""
        return 2 * self.embed_size
