"""BERT and GPT on PyTorch, with :func:`fastembed.ops.attention` inside, and ELMo's biLSTM language model.

>>> from fastembed.models import BertConfig, BertForPreTraining
>>> model = BertForPreTraining(BertConfig.preset("tiny", vocab_size=1000))
>>> sum(p.numel() for p in model.parameters()) > 0
True
"""

from .bert import BertForPreTraining, BertModel
from .config import BertConfig, ELMoConfig, GPTConfig
from .elmo import ELMo, load_elmo, save_elmo
from .gpt import GPT
from .output import ModelOutput

__all__ = ["BertConfig", "BertForPreTraining", "BertModel", "ELMo", "ELMoConfig", "GPT", "GPTConfig", "ModelOutput",
           "load_elmo", "save_elmo"]
