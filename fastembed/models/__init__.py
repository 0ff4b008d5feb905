"""BERT and GPT on PyTorch, with :func:`fastembed.ops.attention` inside.

>>> from fastembed.models import BertConfig, BertForPreTraining
>>> model = BertForPreTraining(BertConfig.preset("tiny", vocab_size=1000))
>>> sum(p.numel() for p in model.parameters()) > 0
True
"""

from .bert import BertForPreTraining, BertModel
from .config import BertConfig, GPTConfig
from .gpt import GPT
from .output import ModelOutput

__all__ = ["BertConfig", "BertForPreTraining", "BertModel", "GPT", "GPTConfig", "ModelOutput"]
