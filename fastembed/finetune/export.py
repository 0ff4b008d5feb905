"""Fine-tuned models as HuggingFace model directories: :func:`save_model` writes one,
:func:`load_model` reads it back (and reads transformers' own fine-tuned BERT directories).

    save_model(model, tokenizer, {"task": "classify", "labels": ["neg", "pos"], "max_length": 128}, "runs/sst2/model")
    model, tokenizer, spec = load_model("runs/sst2/model")
    # and in transformers, with the same logits:
    AutoModelForSequenceClassification.from_pretrained("runs/sst2/model")

A directory holds:

    config.json         the BERT config (fastembed.models.hf.bert_config_to_hf) with transformers'
                        ``architectures``, ``id2label`` / ``label2id`` (not for qa),
                        ``classifier_dropout``, and a ``"fastembed"`` object: task, layers,
                        head_options, max_length, doc_stride, max_query_length, max_answer_length,
                        freeze_encoder, encoder (null, or the encoder directory of a head-only save)
                        and ``trained`` (epoch, step and dev scores of the saved epoch, when known)
    model.safetensors   transformers' tensor names: ``bert.*`` (the encoder), then ``classifier.*``
                        or ``qa_outputs.*``; ``lstm.*`` and ``scalar_mix.{scalars,gamma}`` for the
                        heads that have them
    tokenizer files     through ``Tokenizer.save_pretrained`` (tokenizer.json, vocab.txt, ...)
    modeling_fastembed.py   only for the heads transformers has no class for (below)

Standard heads are transformers' own classes, weight for weight (the formulas were checked
against transformers/models/bert/modeling_bert.py):

    ours                                                transformers
    sequence head, pooling="pooler", layers="last"      BertForSequenceClassification: dropout on the
                                                        pooler output, ``classifier``
    token head without LSTM, layers="last"              BertForTokenClassification: dropout, ``classifier``
    span head, layers="last"                            BertForQuestionAnswering: ``qa_outputs``, split
                                                        into start and end logits

One difference: our SpanHead sets the logits of padded positions to the dtype's minimum, and
transformers' QA head does not mask; the logits of real tokens are equal. Token and QA classes in
transformers have no pooler (``add_pooling_layer=False``), so a save of those heads leaves the
pooler out, as does a head that does not read it.

Heads transformers has no class for (mean pooling, the default for sentence-transformers models
such as all-MiniLM-L6-v2; layers other than the last; a scalar mix; an LSTM tagger) ship a small,
self-contained ``modeling_fastembed.py`` (:mod:`fastembed.finetune.modeling_fastembed`, which needs
only torch and transformers) and name its classes in config.json's ``auto_map``: transformers'
documented way to load a custom architecture, so
``AutoModelFor...from_pretrained(d, trust_remote_code=True)`` gives equal logits. We chose this
over a fastembed-only format because the weights stay in transformers' names (``bert.*`` is a
standard BertModel that any BERT tool reads) and the whole head is a few dozen lines anyone can
read before trusting it.

Frozen runs: a model whose encoder was frozen can be saved head only (``full=False``, the
default when ``spec["encoder"]`` names the encoder directory): model.safetensors then holds only
the head's (and scalar mix's) tensors, a few KB instead of the whole encoder, and config.json's
``fastembed.encoder`` records the encoder directory as an absolute path, so the model loads from
any working directory (a relative path written by hand is taken against the working directory);
:func:`load_model` loads the encoder from there, and if it has moved, the error names it. transformers cannot load such a directory (its encoder would be
random): save with ``full=True`` (``finetune(..., save_full_model=True)``) for that. Its
config.json names the remote-code classes in ``auto_map``, which refuse it with that advice when
loaded with ``trust_remote_code=True``.

Writing is atomic: the directory is written under a temporary name beside ``out`` and renamed
into place, and a model already there is swapped out by two renames (a crash between them leaves
no ``out`` but the previous model under ``.NAME.old-PID``); a crash never leaves a half-written
directory under the final name.

:func:`load_model` also reads a directory that transformers wrote itself
(``BertForSequenceClassification(...).save_pretrained(d)`` plus a tokenizer): the task follows
``architectures`` ("classify", "ner" or "qa"), the labels ``id2label``, and the prediction
settings take their defaults (max_length 128, 384 for QA as finetune uses, or the model's
positions if fewer; doc_stride 128, max_query_length 64, max_answer_length 30).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Optional, Union

from .._optional import require_torch
from ..io import atomic_write_text, read_json_object
from .heads import (FineTuneModel, SequenceClassificationHead, SpanHead, TokenClassificationHead, check_layers,
                    feature_width, make_head)

torch = require_torch("fastembed.finetune")

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
CONFIG_FILE, WEIGHTS_FILE, REMOTE_CODE = "config.json", "model.safetensors", "modeling_fastembed.py"
DEFAULTS = {"max_length": 128, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30}
QA_MAX_LENGTH = 384   # finetune's default for qa; with 128 a 128-token stride would not fit a window
HEAD_KIND = {"classify": "sequence", "pair": "sequence", "ner": "token", "qa": "span"}
_SUFFIX = {"sequence": "ForSequenceClassification", "token": "ForTokenClassification",
           "span": "ForQuestionAnswering"}
_OUT_NAME = {"sequence": "classifier", "token": "classifier", "span": "qa_outputs"}
# transformers' own class -> (our task, head kind); a fastembed directory says its task itself
_STANDARD_TASK = {"Bert" + s: (t, k) for t, k, s in (("classify", "sequence", _SUFFIX["sequence"]),
                                                      ("ner", "token", _SUFFIX["token"]),
                                                      ("qa", "span", _SUFFIX["span"]))}
_LEFTOVER = re.compile(r"^\.(.+)\.(tmp|old)-\d+$")

# --------------------------------------------------------------------------- what a head is in transformers


def head_kind(head: Any) -> str:
    """"sequence", "token" or "span" for one of :mod:`.heads`' head classes."""
    for cls, kind in ((SequenceClassificationHead, "sequence"), (TokenClassificationHead, "token"),
                      (SpanHead, "span")):
        if isinstance(head, cls):
            return kind
    raise TypeError(f"cannot export a {type(head).__name__} head: expected one of fastembed.finetune.heads' heads")


def head_options(head: Any) -> dict[str, Any]:
    """The constructor options that rebuild ``head`` (make_head's ``options``)."""
    kind = head_kind(head)
    if kind == "sequence":
        return {"pooling": head.pooling, "dropout": head.drop.p}
    if kind == "token":
        return {"dropout": head.drop.p, "lstm_hidden": head.lstm.hidden_size if head.lstm is not None else 0}
    return {}


def is_standard(kind: str, layers: str, options: dict[str, Any]) -> bool:
    """Whether transformers' own Bert{For...} class computes this head (see the module docstring)."""
    if layers != "last":
        return False
    if kind == "sequence":
        return options.get("pooling", "pooler") == "pooler"
    if kind == "token":
        return not options.get("lstm_hidden", 0)
    return kind == "span"


def architecture(kind: str, layers: str, options: dict[str, Any]) -> str:
    """The class name config.json's ``architectures`` gives: transformers' or modeling_fastembed's."""
    return ("Bert" if is_standard(kind, layers, options) else "FastembedBert") + _SUFFIX[kind]


def describe(kind: str, layers: str, options: dict[str, Any], *, head_only: bool) -> str:
    """One sentence on what transformers can do with a saved model of this head (for the log)."""
    if head_only:
        return ("the head only, with a reference to the encoder directory: fastembed's load_model reads it, "
                "transformers cannot (save the whole model for that: save_full_model=True / --save-full-model)")
    arch = architecture(kind, layers, options)
    if arch.startswith("Bert"):
        return f"the whole model, which transformers loads as {arch}"
    return (f"the whole model; transformers has no class for this head (layers={layers!r}, "
            f"{', '.join(f'{k}={v!r}' for k, v in options.items())}), so {REMOTE_CODE} ships with it: "
            f"AutoModel{_SUFFIX[kind]}.from_pretrained(dir, trust_remote_code=True)")


def head_state_to_hf(model: FineTuneModel) -> dict[str, "torch.Tensor"]:
    """The head's (and scalar mix's) tensors in the names of transformers / modeling_fastembed."""
    out_name = _OUT_NAME[head_kind(model.head)]
    sd: dict[str, torch.Tensor] = {}
    for k, v in model.head.state_dict().items():
        if k.startswith("out."):
            sd[out_name + k[len("out"):]] = v.detach()
        elif k.startswith("lstm."):
            sd[k] = v.detach()
        else:
            raise ValueError(f"the head has a tensor {k!r} that the exported format does not name")
    if model.mix is not None:
        sd.update({"scalar_mix." + k: v.detach() for k, v in model.mix.state_dict().items()})
    return sd


def _split_head_state(sd: dict[str, "torch.Tensor"], kind: str, source: Any) -> tuple[dict, dict]:
    """transformers-named head tensors back into (head state, scalar mix state) in our names."""
    out_name, head, mix = _OUT_NAME[kind], {}, {}
    for k, v in sd.items():
        if k.startswith(out_name + "."):
            head["out" + k[len(out_name):]] = v
        elif k.startswith("lstm."):
            head[k] = v
        elif k.startswith("scalar_mix."):
            mix[k[len("scalar_mix."):]] = v
        else:
            raise ValueError(f"{source}: unexpected tensor {k!r} for a {kind} head (expected {out_name}.*, lstm.*, "
                             "scalar_mix.* besides bert.*)")
    return head, mix

# --------------------------------------------------------------------------- save


def save_model(model: FineTuneModel, tokenizer: Any, spec: dict[str, Any], out: PathLike, *,
               full: Optional[bool] = None, trained: Optional[dict[str, Any]] = None) -> Path:
    """Write ``model`` (a :class:`.heads.FineTuneModel`) and ``tokenizer`` to the directory ``out``
    as described in the module docstring, atomically; returns ``out``.

    ``spec``: ``task`` ("classify", "pair", "ner", "qa"), ``labels`` (the label names; None for
    qa), and optionally ``max_length``, ``doc_stride``, ``max_query_length``, ``max_answer_length``
    (the settings predictions should use) and ``encoder`` (the directory the frozen encoder was
    loaded from). ``full``: True writes the whole model; False the head only, which needs a frozen
    encoder and ``spec["encoder"]``; None (default) picks head only exactly when both are there.
    ``trained`` (epoch, step, dev scores) is recorded as it is. Layers and head options are read
    from the model itself."""
    from ..models.hf import bert_config_to_hf, bert_state_to_hf, write_weights

    if not isinstance(model, FineTuneModel):
        raise TypeError(f"save_model takes a FineTuneModel, got {type(model).__name__}")
    task = spec.get("task")
    if task not in HEAD_KIND:
        raise ValueError(f"spec['task'] must be one of {sorted(HEAD_KIND)}, got {task!r}")
    kind = head_kind(model.head)
    if HEAD_KIND[task] != kind:
        raise ValueError(f"task {task!r} takes a {HEAD_KIND[task]} head, but the model has a {kind} head")
    labels = _labels_for(spec.get("labels"), model, kind)
    encoder_dir = spec.get("encoder")
    if full is None:
        full = not (model.freeze_encoder and encoder_dir)
    if not full:
        if not model.freeze_encoder:
            raise ValueError("a head-only save needs a frozen encoder: an encoder trained end to end differs from "
                             "the directory it was loaded from (save with full=True)")
        if not encoder_dir:
            raise ValueError("a head-only save needs spec['encoder'], the directory the encoder was loaded from")
    options = head_options(model.head)
    layers = model.layers
    arch = architecture(kind, layers, options)
    remote = arch.startswith("Fastembed") or not full
    reads_pooler = options.get("pooling") == "pooler"

    tensors = {}
    if full:
        enc = bert_state_to_hf(model.encoder)
        tensors = {"bert." + k: v for k, v in enc.items() if reads_pooler or not k.startswith("pooler.")}
    tensors.update(head_state_to_hf(model))

    cfg = bert_config_to_hf(model.encoder.config, arch)
    if kind != "span":
        cfg["classifier_dropout"] = options["dropout"]
        cfg["id2label"] = {str(i): name for i, name in enumerate(labels)}
        cfg["label2id"] = {name: i for i, name in enumerate(labels)}
    if remote:
        cfg["auto_map"] = {"AutoModel" + _SUFFIX[kind]: f"{REMOTE_CODE[:-3]}.FastembedBert{_SUFFIX[kind]}"}
    fe = {"task": task, "layers": layers, "head_options": options, "freeze_encoder": model.freeze_encoder,
          "encoder": None if full else os.path.abspath(os.fspath(encoder_dir))}   # loads from any working directory
    for k, default in DEFAULTS.items():
        v = spec.get(k)
        fe[k] = int(v) if v is not None else default
    if trained is not None:
        fe["trained"] = trained
    cfg["fastembed"] = fe

    def write(d: Path) -> None:
        write_weights(d, tensors)
        atomic_write_text(d / CONFIG_FILE, json.dumps(cfg, indent=2, default=float) + "\n")
        if remote:
            shutil.copyfile(Path(__file__).with_name(REMOTE_CODE), d / REMOTE_CODE)
        tokenizer.save_pretrained(d)

    out = Path(out)
    write_directory(out, write)
    logger.debug("saved %s to %s", describe(kind, layers, options, head_only=not full), out)
    return out


def _labels_for(labels: Any, model: FineTuneModel, kind: str) -> Optional[list[str]]:
    if kind == "span":
        return None
    n = model.head.out.out_features
    if labels is None:
        raise ValueError(f"spec['labels'] must name the {n} labels of a {kind} head")
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"spec['labels'] names {len(labels)} labels but the head has {n} outputs")
    if len(set(labels)) != n:
        raise ValueError(f"spec['labels'] repeats a name: {labels}")
    return labels


def write_directory(out: Path, write: Any) -> None:
    """Call ``write(tmp)`` on an empty temporary directory beside ``out``, then rename it to ``out``
    (replacing a directory already there); nothing is left under ``out``'s name if ``write`` fails."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"cannot save a model to {out}: it is a file, expected a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    for p in out.parent.iterdir():                                  # left by a run killed mid-save
        m = _LEFTOVER.match(p.name)
        if m and m.group(1) == out.name and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    tmp.mkdir()
    try:
        write(tmp)
        if out.exists():
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(out.parent)


def _fsync_dir(d: Path) -> None:
    try:                                                            # the renames reach the disk (POSIX)
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

# --------------------------------------------------------------------------- load


def load_model(path: PathLike, device: Any = "cpu") -> tuple[FineTuneModel, Any, dict[str, Any]]:
    """(model, tokenizer, spec) of a directory :func:`save_model` wrote, or of a transformers
    fine-tuned BERT directory (see the module docstring).

    ``model`` is a :class:`.heads.FineTuneModel` in eval mode on ``device``, ``tokenizer`` the
    directory's WordPiece tokenizer, ``spec`` a dict with ``task``, ``labels`` (None for qa),
    ``max_length``, ``doc_stride``, ``max_query_length``, ``max_answer_length``, and
    ``head_kind``, ``num_labels``, ``layers``, ``head_options``, ``freeze_encoder``,
    ``encoder`` (the referenced encoder directory or None), ``encoder_config``, ``architecture``
    and ``trained`` (when recorded)."""
    from ..models.hf import bert_config_from_hf, load_bert, load_wordpiece

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; expected a fine-tuned model directory with {CONFIG_FILE}")
    if not (path / CONFIG_FILE).is_file():
        sub = path / "model"
        hint = f" (a finetune out_dir? its model is {sub})" if (sub / CONFIG_FILE).is_file() else ""
        raise FileNotFoundError(f"{path / CONFIG_FILE} does not exist; expected a fine-tuned model directory{hint}")
    hf = read_json_object(path / CONFIG_FILE, "a JSON object of config fields")
    if hf.get("model_type", "bert") != "bert":
        raise ValueError(f"{path} holds a {hf['model_type']} model; load_model reads fine-tuned BERT directories")
    spec = _read_spec(hf, path)
    kind = spec["head_kind"]
    cfg = bert_config_from_hf(hf, source=path / CONFIG_FILE)

    if spec["encoder"] is None:
        encoder = load_bert(path)                                   # the bert.* tensors of this directory
    else:
        encoder = _load_referenced_encoder(spec["encoder"], path, cfg)
    head_sd, mix_sd = _split_head_state(_head_tensors(path), kind, path / WEIGHTS_FILE)
    if "out.weight" not in head_sd:
        raise ValueError(f"{path / WEIGHTS_FILE} holds no {_OUT_NAME[kind]}.weight: it is not a fine-tuned "
                         f"{spec['architecture']} directory")
    if kind != "span":
        rows = head_sd["out.weight"].shape[0]
        if spec["labels"] is None:
            spec["labels"] = [f"LABEL_{i}" for i in range(rows)]
        if len(spec["labels"]) != rows:
            raise ValueError(f"{path / CONFIG_FILE} names {len(spec['labels'])} labels (id2label) but "
                             f"{_OUT_NAME[kind]}.weight has {rows} rows")
    spec["num_labels"] = len(spec["labels"]) if spec["labels"] is not None else 0
    if spec["max_length"] > encoder.config.max_position:
        spec["max_length"] = encoder.config.max_position
    C = feature_width(spec["layers"], encoder.config.hidden_size, encoder.config.num_layers)
    try:
        head = make_head(kind, C, spec["num_labels"], **spec["head_options"])
    except TypeError as e:
        raise ValueError(f"{path / CONFIG_FILE}: fastembed.head_options {spec['head_options']} do not fit a "
                         f"{kind} head ({e})") from None
    model = FineTuneModel(encoder, head, freeze_encoder=spec["freeze_encoder"], layers=spec["layers"])
    _load_part(model.head, head_sd, "head", path)
    if model.mix is not None:
        _load_part(model.mix, mix_sd, "scalar_mix", path)
    elif mix_sd:
        raise ValueError(f"{path / WEIGHTS_FILE} holds scalar_mix tensors but layers is {spec['layers']!r}")
    spec["encoder_config"] = encoder.config.to_dict()
    return model.to(device).eval(), load_wordpiece(path), spec


def _read_spec(hf: dict[str, Any], path: Path) -> dict[str, Any]:
    """The spec from config.json: the ``fastembed`` object, or transformers' fields alone."""
    source = path / CONFIG_FILE
    archs = hf.get("architectures") or []
    arch = archs[0] if isinstance(archs, list) and archs else None
    fe = hf.get("fastembed")
    if fe is None:                                                  # a directory transformers wrote
        if arch not in _STANDARD_TASK:
            raise ValueError(f"{source}: architectures is {archs!r}; load_model reads "
                             f"{', '.join(_STANDARD_TASK)} directories, or fastembed's own")
        task, kind = _STANDARD_TASK[arch]
        dropout = hf.get("classifier_dropout")
        dropout = hf.get("hidden_dropout_prob", 0.1) if dropout is None else dropout
        options = {"sequence": {"pooling": "pooler", "dropout": dropout}, "token": {"dropout": dropout},
                   "span": {}}[kind]
        spec = {"task": task, "layers": "last", "head_options": options, "freeze_encoder": False, "encoder": None,
                **DEFAULTS}
        if task == "qa":
            spec["max_length"] = QA_MAX_LENGTH          # room for a question and a context window
    else:
        if not isinstance(fe, dict):
            raise ValueError(f"{source}: 'fastembed' must be a JSON object, not {type(fe).__name__}")
        task = fe.get("task")
        if task not in HEAD_KIND:
            raise ValueError(f"{source}: fastembed.task must be one of {sorted(HEAD_KIND)}, got {task!r}")
        kind = HEAD_KIND[task]
        layers = fe.get("layers", "last")
        try:
            check_layers(layers)
        except ValueError as e:
            raise ValueError(f"{source}: fastembed.{e}") from None
        options = fe.get("head_options") or {}
        if not isinstance(options, dict):
            raise ValueError(f"{source}: fastembed.head_options must be a JSON object, not {type(options).__name__}")
        encoder = fe.get("encoder")
        if encoder is not None and not isinstance(encoder, str):
            raise ValueError(f"{source}: fastembed.encoder must be a directory name or null, got {encoder!r}")
        spec = {"task": task, "layers": layers, "head_options": options,
                "freeze_encoder": bool(fe.get("freeze_encoder", False)), "encoder": encoder}
        for k, default in DEFAULTS.items():
            v = fe.get(k, default)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{source}: fastembed.{k} must be a positive int, got {v!r}")
            spec[k] = v
        if "trained" in fe:
            spec["trained"] = fe["trained"]
    spec["head_kind"] = kind
    spec["architecture"] = arch or architecture(kind, spec["layers"], spec["head_options"])
    spec["labels"] = _id2label(hf, source) if kind != "span" else None
    return spec


def _id2label(hf: dict[str, Any], source: Path) -> Optional[list[str]]:
    """Label names in id order from ``id2label`` (string keys "0".."n-1", as transformers writes them)."""
    m = hf.get("id2label")
    if m is None:
        return None
    if not isinstance(m, dict):
        raise ValueError(f"{source}: id2label must be a JSON object of id -> name, not {type(m).__name__}")
    try:
        ids = sorted((int(k), str(v)) for k, v in m.items())
    except ValueError:
        raise ValueError(f"{source}: id2label keys must be integers, got {sorted(m)}") from None
    if [i for i, _ in ids] != list(range(len(ids))):
        raise ValueError(f"{source}: id2label must number its labels 0..{len(ids) - 1}, got ids {[i for i, _ in ids]}")
    return [name for _, name in ids]


def resolve_encoder(recorded: str, model_dir: Path) -> Path:
    """The encoder directory a head-only save recorded, as a path now (a relative one against the
    current working directory); FileNotFoundError naming it when it is no longer there."""
    p = Path(recorded).expanduser()
    where = p if p.is_absolute() else Path.cwd() / p
    if not (where / CONFIG_FILE).is_file():
        rel = "" if p.is_absolute() else f" (a relative path, looked for in the working directory {Path.cwd()})"
        raise FileNotFoundError(
            f"{model_dir} holds only a fine-tuned head; its encoder is the directory {recorded!r}{rel}, which "
            f"{'holds no ' + CONFIG_FILE if where.is_dir() else 'does not exist'}: was it moved or deleted? "
            f"Put the encoder back there, or set fastembed.encoder in {model_dir / CONFIG_FILE} to where it is now")
    return where


def _load_referenced_encoder(recorded: str, model_dir: Path, cfg: Any) -> Any:
    """The frozen encoder of a head-only save, checked against the config it was trained with."""
    from ..models.hf import load_bert

    where = resolve_encoder(recorded, model_dir)
    # what encoder_overrides may have changed for the run comes from our config.json, the weights from there
    encoder = load_bert(where, hidden_dropout=cfg.hidden_dropout, attention_dropout=cfg.attention_dropout,
                        layer_norm_eps=cfg.layer_norm_eps)
    shape = ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position",
             "type_vocab_size")
    diff = [f"{k} {getattr(encoder.config, k)} (was {getattr(cfg, k)})" for k in shape
            if getattr(encoder.config, k) != getattr(cfg, k)]
    if diff:
        raise ValueError(f"the encoder directory {where} that {model_dir} refers to has changed since the head was "
                         f"trained: {', '.join(diff)}")
    return encoder


def _head_tensors(path: Path) -> dict[str, "torch.Tensor"]:
    """Every tensor of the directory's weights except the encoder's (``bert.*``), without reading
    the encoder's from a safetensors file."""
    st = path / WEIGHTS_FILE
    if st.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(st), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys() if not k.startswith("bert.")}
        except Exception as e:     # safetensors raises its own error types for truncated/corrupt files
            raise ValueError(f"{st} could not be read ({type(e).__name__}: {e}); the file is corrupt or "
                             "truncated") from None
    from ..models.hf import read_weights

    return {k: v for k, v in read_weights(path).items() if not k.startswith("bert.")}


def _load_part(module: "torch.nn.Module", state: dict[str, "torch.Tensor"], what: str, path: Path) -> None:
    own = module.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or extra:
        raise ValueError(f"{path / WEIGHTS_FILE}: the {what} tensors do not fit the head config.json describes "
                         f"(missing {missing}, unexpected {extra})")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(f"{path / WEIGHTS_FILE}: {what} tensor {k} has shape {tuple(v.shape)}, config.json "
                             f"gives {tuple(own[k].shape)}")
    module.load_state_dict(state, strict=True)
