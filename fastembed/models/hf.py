"""HuggingFace checkpoints in and out: BERT directories and GPT-2 state dicts.

A HF BERT directory holds ``config.json``, ``model.safetensors`` (or ``pytorch_model.bin``) and
the tokenizer's files (``tokenizer.json`` and/or ``vocab.txt``, which :mod:`fastembed.tokenizers.hf`
reads and writes); tensor names may carry the ``bert.`` prefix (BertForPreTraining & co.) or not
(BertModel). GPT-2 stores its projections as ``Conv1D`` (in, out) matrices, the transpose of
``nn.Linear``'s. Our models pack q, k and v into one projection; the conversion concatenates and
splits them. :func:`save_bert` and :func:`save_gpt2` write directories that
``transformers``' ``from_pretrained`` loads.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from ..io import atomic_write_bytes, atomic_write_text, read_json_object
from ..tokenizers.base import Tokenizer
from .bert import BertForPreTraining, BertModel
from .config import BertConfig, GPTConfig
from .gpt import GPT

PathLike = Union[str, os.PathLike]
logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- BERT

# our name -> HF name (inside one layer; "{}" is the layer index)
_BERT_LAYER = {
    "attn.out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
    "up": "intermediate.dense", "down": "output.dense", "ffn_norm": "output.LayerNorm",
}
_BERT_TOP = {
    "embeddings.word.weight": "embeddings.word_embeddings.weight",
    "embeddings.position.weight": "embeddings.position_embeddings.weight",
    "embeddings.token_type.weight": "embeddings.token_type_embeddings.weight",
    "embeddings.norm.weight": "embeddings.LayerNorm.weight", "embeddings.norm.bias": "embeddings.LayerNorm.bias",
    "pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias",
}
_BERT_HEADS = {
    "mlm_transform.weight": "cls.predictions.transform.dense.weight",
    "mlm_transform.bias": "cls.predictions.transform.dense.bias",
    "mlm_norm.weight": "cls.predictions.transform.LayerNorm.weight",
    "mlm_norm.bias": "cls.predictions.transform.LayerNorm.bias",
    "mlm_bias": "cls.predictions.bias",
    "nsp.weight": "cls.seq_relationship.weight", "nsp.bias": "cls.seq_relationship.bias",
}
# BertForPreTraining's parts that a checkpoint may lack (BertModel has no heads; BertForMaskedLM
# no NSP head and no pooler), each read or created fresh as a whole (our names)
HEAD_GROUPS = {"mlm": ("mlm_transform.weight", "mlm_transform.bias", "mlm_norm.weight", "mlm_norm.bias", "mlm_bias"),
               "nsp": ("nsp.weight", "nsp.bias"), "pooler": ("bert.pooler.weight", "bert.pooler.bias")}
MISSING_HEADS = ("error", "fresh")


# The fields a config.json must hold (HF names); the others have defaults.
BERT_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
GPT2_FIELDS = ("vocab_size", "n_embd", "n_layer", "n_head")


def _require(hf: dict[str, Any], fields: tuple[str, ...], what: str, source: Any) -> None:
    """ValueError naming ``source`` and every missing field (was a bare KeyError: 'vocab_size')."""
    if not isinstance(hf, dict):
        raise ValueError(f"{source} must hold a JSON object of config fields, not {type(hf).__name__}")
    missing = [f for f in fields if f not in hf]
    if missing:
        raise ValueError(f"{source} lacks the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                         f"a {what} config needs {', '.join(fields)}")


def bert_config_from_hf(hf: dict[str, Any], *, source: Any = "the config", **overrides: Any) -> BertConfig:
    """Our BertConfig from a HF BERT ``config.json`` dict; ``source`` names it in errors."""
    _require(hf, BERT_FIELDS, "BERT", source)
    act = hf.get("hidden_act", "gelu")
    if act != "gelu":
        raise ValueError(f"hidden_act {act!r} is not supported; fastembed's BERT uses exact GELU ('gelu')")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"position_embedding_type {hf['position_embedding_type']!r} is not supported (only 'absolute')")
    fields = dict(vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"], num_layers=hf["num_hidden_layers"],
                  num_heads=hf["num_attention_heads"], intermediate_size=hf["intermediate_size"],
                  max_position=hf.get("max_position_embeddings", 512), type_vocab_size=hf.get("type_vocab_size", 2),
                  hidden_dropout=hf.get("hidden_dropout_prob", 0.1),
                  attention_dropout=hf.get("attention_probs_dropout_prob", 0.1),
                  layer_norm_eps=hf.get("layer_norm_eps", 1e-12), initializer_range=hf.get("initializer_range", 0.02),
                  pad_token_id=hf.get("pad_token_id", 0) or 0)
    fields.update(overrides)
    return BertConfig(**fields)


def bert_config_to_hf(cfg: BertConfig, architecture: str) -> dict[str, Any]:
    return {"architectures": [architecture], "model_type": "bert", "vocab_size": cfg.vocab_size,
            "hidden_size": cfg.hidden_size, "num_hidden_layers": cfg.num_layers,
            "num_attention_heads": cfg.num_heads, "intermediate_size": cfg.intermediate_size,
            "hidden_act": "gelu", "hidden_dropout_prob": cfg.hidden_dropout,
            "attention_probs_dropout_prob": cfg.attention_dropout, "max_position_embeddings": cfg.max_position,
            "type_vocab_size": cfg.type_vocab_size, "initializer_range": cfg.initializer_range,
            "layer_norm_eps": cfg.layer_norm_eps, "pad_token_id": cfg.pad_token_id,
            "position_embedding_type": "absolute"}


def bert_state_from_hf(sd: dict[str, torch.Tensor], cfg: BertConfig, *, heads: bool,
                       missing_heads: str = "error") -> dict[str, torch.Tensor]:
    """A HF BERT state dict (with or without the ``bert.`` prefix; old ``gamma``/``beta`` names
    too) in our names. ``heads`` also converts the pretraining heads (``cls.*``); without them
    the pooler is optional (left out when the checkpoint has none). ``missing_heads="fresh"``
    leaves out the ``HEAD_GROUPS`` the checkpoint lacks (a group found only in part is still an
    error: the file is damaged, not a different architecture)."""
    sd = {re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", k)): v
          for k, v in sd.items()}
    enc = {k[len("bert."):]: v for k, v in sd.items() if k.startswith("bert.")} or sd
    out: dict[str, torch.Tensor] = {}
    take = _Taker(enc)
    for ours, theirs in _BERT_TOP.items():
        if ours.startswith("pooler.") and (not heads or missing_heads == "fresh") and theirs not in enc:
            continue                                # saved without a pooler (add_pooling_layer=False)
        out[ours] = take(theirs)
    for i in range(cfg.num_layers):
        p = f"encoder.layer.{i}."
        for wb in ("weight", "bias"):
            out[f"layers.{i}.attn.qkv.{wb}"] = torch.cat(
                [take(p + f"attention.self.{n}.{wb}") for n in ("query", "key", "value")])
            for ours, theirs in _BERT_LAYER.items():
                out[f"layers.{i}.{ours}.{wb}"] = take(p + f"{theirs}.{wb}")
    take.raise_missing("BERT encoder")
    if not heads:
        return out
    out = {"bert." + k: v for k, v in out.items()}
    take = _Taker(sd)
    for ours, theirs in _BERT_HEADS.items():
        if missing_heads == "fresh" and not any(_BERT_HEADS[n] in sd for g in HEAD_GROUPS.values() if ours in g
                                                 for n in g):
            continue                                # the whole group is absent: the loader makes it fresh
        out[ours] = take(theirs)
    take.raise_missing("BERT pretraining heads (load a BertModel, or pass missing_heads=\"fresh\" to create "
                      "the missing heads)")
    return out


def bert_state_to_hf(model: Union[BertModel, BertForPreTraining]) -> dict[str, torch.Tensor]:
    """Our BERT's weights in HF names: ``bert.``-prefixed with ``cls.*`` for the pretraining model."""
    heads = isinstance(model, BertForPreTraining)
    enc = model.bert if heads else model
    sd = {k: v.detach() for k, v in enc.state_dict().items()}
    cfg = enc.config
    out: dict[str, torch.Tensor] = {}
    for ours, theirs in _BERT_TOP.items():
        if ours in sd:
            out[theirs] = sd[ours]
    C = cfg.hidden_size
    for i in range(cfg.num_layers):
        p = f"encoder.layer.{i}."
        for wb in ("weight", "bias"):
            for j, n in enumerate(("query", "key", "value")):
                out[p + f"attention.self.{n}.{wb}"] = sd[f"layers.{i}.attn.qkv.{wb}"][j * C:(j + 1) * C].clone()
            for ours, theirs in _BERT_LAYER.items():
                out[p + f"{theirs}.{wb}"] = sd[f"layers.{i}.{ours}.{wb}"]
    if not heads:
        return out
    out = {"bert." + k: v for k, v in out.items()}
    hsd = model.state_dict()
    for ours, theirs in _BERT_HEADS.items():
        out[theirs] = hsd[ours].detach()
    return out  # cls.predictions.decoder.{weight,bias} are tied to the embedding and the bias: HF re-ties them


def load_bert(path: PathLike, *, pretraining: bool = False, missing_heads: str = "error",
              **overrides: Any) -> Union[BertModel, BertForPreTraining]:
    """A HF BERT directory as our :class:`BertModel` (or :class:`BertForPreTraining` with
    ``pretraining=True``). ``overrides`` set config fields, e.g. ``attn_impl="sdpa"`` or
    ``hidden_dropout=0.0``. A checkpoint saved without a pooler (HF's ``add_pooling_layer=False``)
    gives a BertModel without one (``pooler_output`` None; fine-tuning then pools by the mean).

    ``pretraining=True`` needs the ``cls.*`` heads and the pooler in the checkpoint (ours and HF's
    BertForPreTraining have them), unless ``missing_heads="fresh"``: then the MLM head, the NSP
    head and the pooler that a checkpoint lacks (a BertModel has none of them, BertForMaskedLM
    lacks NSP and the pooler) are created fresh, drawn from torch's generator (seed it first),
    the MLM head as :meth:`BertForPreTraining.init_fresh_mlm_head` says (its decoder is always
    the word embeddings); ``model.fresh_heads`` names them and one log line says so."""
    if missing_heads not in MISSING_HEADS:
        raise ValueError(f"missing_heads must be one of {MISSING_HEADS}, got {missing_heads!r}")
    path = Path(path)
    hf = _read_config(path, "bert")
    cfg = bert_config_from_hf(hf, source=path / "config.json", **overrides)
    sd = read_weights(path)
    _check_shapes(hf, sd, path, "bert")     # before the model is built: a wrong size must not allocate
    state = bert_state_from_hf(sd, cfg, heads=pretraining, missing_heads=missing_heads)
    if not pretraining:
        model = BertModel(cfg, add_pooler="pooler.weight" in state)
        _load_exact(model, state, path)
        return model
    model = BertForPreTraining(cfg)
    fresh = tuple(g for g, names in HEAD_GROUPS.items() if not any(n in state for n in names))
    _load_exact(model, state, path, fresh=[n for g in fresh for n in HEAD_GROUPS[g]])
    if "mlm" in fresh:
        model.init_fresh_mlm_head()
    model.fresh_heads = fresh
    if fresh:
        names = {"mlm": "MLM head", "nsp": "NSP head", "pooler": "pooler"}
        logger.info("%s has no %s: created fresh%s", path, " or ".join(names[g] for g in fresh),
                    " (the MLM decoder tied to the word embeddings, its transform the identity)" if "mlm" in fresh
                    else "")
    return model


def save_bert(model: Union[BertModel, BertForPreTraining], path: PathLike, *, tokenizer: Optional[Tokenizer] = None,
              vocab: Optional[Sequence[str]] = None) -> None:
    """Write ``config.json`` + ``model.safetensors`` that ``transformers.BertModel /
    BertForPreTraining.from_pretrained`` loads, and with ``tokenizer`` (or ``vocab``, the entries
    of a WordPiece vocabulary holding BERT's five special tokens) the tokenizer's HF files
    (``Tokenizer.save_pretrained``: tokenizer.json, vocab.txt and the settings files)."""
    if tokenizer is not None and vocab is not None:
        raise ValueError("pass tokenizer= or vocab=, not both")
    if vocab is not None:  # first: a vocabulary without BERT's special tokens is refused before any file
        from ..tokenizers import WordPieceTokenizer

        tokenizer = WordPieceTokenizer(list(vocab))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arch = "BertForPreTraining" if isinstance(model, BertForPreTraining) else "BertModel"
    cfg = model.config
    write_weights(path, bert_state_to_hf(model))
    atomic_write_text(path / "config.json", json.dumps(bert_config_to_hf(cfg, arch), indent=2) + "\n")
    if tokenizer is not None:
        tokenizer.save_pretrained(path)


def read_model_config(path: PathLike, model_type: str, **overrides: Any) -> Union[BertConfig, GPTConfig]:
    """The config of the HF model directory ``path`` (``model_type`` "bert" or "gpt2"), as the
    loaders read it, without reading the weights."""
    path = Path(path)
    hf = _read_config(path, model_type)
    from_hf = bert_config_from_hf if model_type == "bert" else gpt_config_from_hf
    return from_hf(hf, source=path / "config.json", **overrides)


def load_wordpiece(path: PathLike) -> Any:
    """The WordPieceTokenizer of a HF BERT directory (``tokenizer.json``, or ``vocab.txt`` with
    lower-casing from ``tokenizer_config.json``): :func:`fastembed.tokenizers.from_pretrained`,
    which says what it looked for in a directory without one, and refuses a BPE tokenizer."""
    from ..tokenizers import WordPieceTokenizer

    return WordPieceTokenizer.from_pretrained(path)

# --------------------------------------------------------------------------- GPT-2

_GPT_BLOCK = {"ln1": "ln_1", "ln2": "ln_2", "attn.qkv": "attn.c_attn", "attn.out": "attn.c_proj",
              "up": "mlp.c_fc", "down": "mlp.c_proj"}
_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def gpt_config_from_hf(hf: dict[str, Any], *, source: Any = "the config", **overrides: Any) -> GPTConfig:
    """Our GPTConfig from a HF GPT-2 ``config.json`` dict; ``source`` names it in errors."""
    _require(hf, GPT2_FIELDS, "GPT-2", source)
    act = hf.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"activation_function {act!r} is not supported; fastembed's GPT uses tanh GELU ('gelu_new')")
    C = hf["n_embd"]
    fields = dict(vocab_size=hf["vocab_size"], hidden_size=C, num_layers=hf["n_layer"], num_heads=hf["n_head"],
                  intermediate_size=hf.get("n_inner") or 4 * C, max_position=hf.get("n_positions", 1024),
                  hidden_dropout=hf.get("resid_pdrop", 0.1), attention_dropout=hf.get("attn_pdrop", 0.1),
                  layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5), initializer_range=hf.get("initializer_range", 0.02))
    fields.update(overrides)
    return GPTConfig(**fields)


def gpt_config_to_hf(cfg: GPTConfig, eos_token_id: Optional[int] = None) -> dict[str, Any]:
    """HF's GPT2Config fields; ``eos_token_id`` (also the bos) is the end-of-text id, None when the
    vocabulary has none (GPT2Config would otherwise assume GPT-2's 50256)."""
    return {"bos_token_id": eos_token_id, "eos_token_id": eos_token_id, "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": cfg.vocab_size,
            "n_positions": cfg.max_position, "n_embd": cfg.hidden_size, "n_layer": cfg.num_layers,
            "n_head": cfg.num_heads, "n_inner": cfg.intermediate_size, "activation_function": "gelu_new",
            "resid_pdrop": cfg.hidden_dropout, "embd_pdrop": cfg.hidden_dropout, "attn_pdrop": cfg.attention_dropout,
            "layer_norm_epsilon": cfg.layer_norm_eps, "initializer_range": cfg.initializer_range,
            "tie_word_embeddings": True}


def gpt_state_from_hf(sd: dict[str, torch.Tensor], cfg: GPTConfig) -> dict[str, torch.Tensor]:
    """A HF GPT-2 state dict (GPT2LMHeadModel's ``transformer.`` prefix or GPT2Model's none) in our
    names, Conv1D weights transposed to Linear's (out, in)."""
    body = {k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")} or sd
    take = _Taker(body)
    out = {"wte.weight": take("wte.weight"), "wpe.weight": take("wpe.weight"),
           "ln_f.weight": take("ln_f.weight"), "ln_f.bias": take("ln_f.bias")}
    for i in range(cfg.num_layers):
        for ours, theirs in _GPT_BLOCK.items():
            w = take(f"h.{i}.{theirs}.weight")
            out[f"blocks.{i}.{ours}.weight"] = w.t().contiguous() if theirs in _CONV1D else w
            out[f"blocks.{i}.{ours}.bias"] = take(f"h.{i}.{theirs}.bias")
    take.raise_missing("GPT-2")
    return out


def gpt_state_to_hf(model: GPT) -> dict[str, torch.Tensor]:
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    out = {f"transformer.{k}": sd[k] for k in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias")}
    for i in range(model.config.num_layers):
        for ours, theirs in _GPT_BLOCK.items():
            w = sd[f"blocks.{i}.{ours}.weight"]
            out[f"transformer.h.{i}.{theirs}.weight"] = w.t().contiguous() if theirs in _CONV1D else w
            out[f"transformer.h.{i}.{theirs}.bias"] = sd[f"blocks.{i}.{ours}.bias"]
    return out


def gpt_from_hf_state_dict(sd: dict[str, torch.Tensor], config: GPTConfig) -> GPT:
    model = GPT(config)
    _load_exact(model, gpt_state_from_hf(sd, config), "the GPT-2 state dict")
    return model


def load_gpt2(path: PathLike, **overrides: Any) -> GPT:
    """A HF GPT-2 directory (config.json + weights) as our :class:`GPT`."""
    path = Path(path)
    hf = _read_config(path, "gpt2")
    cfg = gpt_config_from_hf(hf, source=path / "config.json", **overrides)
    sd = read_weights(path)
    _check_shapes(hf, sd, path, "gpt2")
    model = GPT(cfg)
    _load_exact(model, gpt_state_from_hf(sd, cfg), path)
    return model


def save_gpt2(model: GPT, path: PathLike, *, eos_token_id: Optional[int] = None) -> None:
    """Write a directory that ``transformers.GPT2LMHeadModel.from_pretrained`` loads;
    ``eos_token_id``: the tokenizer's end-of-text id (see :func:`gpt_config_to_hf`)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_weights(path, gpt_state_to_hf(model))
    atomic_write_text(path / "config.json", json.dumps(gpt_config_to_hf(model.config, eos_token_id), indent=2) + "\n")

# --------------------------------------------------------------------------- files


class _Taker:
    """Pops names from a state dict, remembering the ones it did not find."""

    def __init__(self, sd: dict[str, torch.Tensor]) -> None:
        self.sd, self.missing = sd, []

    def __call__(self, name: str) -> torch.Tensor:
        if name not in self.sd:
            self.missing.append(name)
            return torch.empty(0)
        return self.sd[name]

    def raise_missing(self, what: str) -> None:
        if self.missing:
            more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
            raise ValueError(f"the checkpoint lacks {what} weights: {self.missing[:5]}{more}")


_KIND_NAMES = {"bert": ("BERT", "finetune/embed need a BERT model directory"),
               "gpt2": ("GPT", "generate needs a GPT-2 model directory")}


def _read_config(path: Path, want: str) -> dict[str, Any]:
    """config.json of a model directory that should hold a ``want`` ("bert" or "gpt2") model."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; expected a HuggingFace model directory with config.json")
    f = path / "config.json"
    if not f.exists():
        raise FileNotFoundError(f"{f} does not exist")
    hf = read_json_object(f, "a JSON object of config fields")
    kind = hf.get("model_type")
    if kind is not None and kind != want:
        holds = _KIND_NAMES.get(kind, (str(kind), ""))[0]
        raise ValueError(f"{path} holds a {holds} model (model_type {kind}); {_KIND_NAMES[want][1]}")
    return hf


# (HF tensor name without the model prefix, dim, config field) for the shapes a config decides
_SHAPE_FIELDS = {
    "bert": [("embeddings.word_embeddings.weight", 0, "vocab_size"),
             ("embeddings.word_embeddings.weight", 1, "hidden_size"),
             ("embeddings.position_embeddings.weight", 0, "max_position_embeddings"),
             ("embeddings.token_type_embeddings.weight", 0, "type_vocab_size"),
             ("encoder.layer.0.intermediate.dense.weight", 0, "intermediate_size")],
    "gpt2": [("wte.weight", 0, "vocab_size"), ("wte.weight", 1, "n_embd"), ("wpe.weight", 0, "n_positions"),
             ("h.0.mlp.c_fc.weight", 1, "n_inner")],
}
_PREFIXES = {"bert": "bert.", "gpt2": "transformer."}
_LAYER = {"bert": (re.compile(r"^encoder\.layer\.(\d+)\."), "num_hidden_layers"),
          "gpt2": (re.compile(r"^h\.(\d+)\."), "n_layer")}


def _check_shapes(hf: dict[str, Any], sd: dict[str, torch.Tensor], path: Path, kind: str) -> None:
    """Compare config.json with the weights' shapes *before* a model is built from the config: a
    config that says vocab_size 10**12 must be refused, not allocated. ValueError names the field."""
    prefix = _PREFIXES[kind]
    body = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)} or sd
    source = path / "config.json"
    for name, dim, field in _SHAPE_FIELDS[kind]:
        value = hf.get(field)
        if field == "n_inner" and value is None:
            value = 4 * hf["n_embd"]
        t = body.get(name)
        if value is None or t is None or t.dim() <= dim:
            continue                       # a missing tensor is reported by the loader, by name
        if t.shape[dim] != value:
            raise ValueError(f"{source} says {field} {value} but the weights' {name} has shape {tuple(t.shape)} "
                             f"({t.shape[dim]} along dim {dim}): is the checkpoint from another config?")
    pattern, field = _LAYER[kind]
    layers = {int(m.group(1)) for k in body if (m := pattern.match(k))}
    if layers and hf.get(field) != max(layers) + 1:
        raise ValueError(f"{source} says {field} {hf.get(field)} but the weights hold {max(layers) + 1} layers: "
                         "is the checkpoint from another config?")


def read_weights(path: PathLike) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors`` (preferred) or ``pytorch_model.bin`` in a directory."""
    path = Path(path)
    st, pt = path / "model.safetensors", path / "pytorch_model.bin"
    if st.exists():
        from safetensors.torch import load_file
        try:
            return load_file(str(st))
        except Exception as e:  # safetensors raises its own error types for truncated/corrupt files
            raise ValueError(f"{st} could not be read ({type(e).__name__}: {e}); the file is corrupt or truncated") from None
    if pt.exists():
        try:
            return torch.load(pt, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"{pt} could not be read ({type(e).__name__}: {e})") from None
    raise FileNotFoundError(f"{path} holds neither model.safetensors nor pytorch_model.bin")


def write_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """``tensors`` as ``path/model.safetensors``, written atomically (from any device)."""
    from safetensors.torch import save

    atomic_write_bytes(path / "model.safetensors",
                       save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata={"format": "pt"}))


def _load_exact(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Any, fresh: Sequence[str] = ()) -> None:
    """Copy ``state`` into ``model``; every tensor but those named in ``fresh`` (which keep the
    model's own values) must be present and of the right shape."""
    own = model.state_dict()
    for k, v in state.items():
        if k not in own:
            raise ValueError(f"{source}: unexpected tensor {k!r}")
        if tuple(own[k].shape) != tuple(v.shape):
            raise ValueError(f"{source}: {k} has shape {tuple(v.shape)} but the config gives {tuple(own[k].shape)}; "
                             "is the checkpoint from another config?")
    missing = sorted(set(own) - set(state) - set(fresh))
    if missing:
        raise ValueError(f"{source}: no weights for {missing[:5]}")
    model.load_state_dict(state, strict=not fresh)
