"""Tokenizer files and directories in and out: the one module of the package that reads or
writes them (HF ``tokenizer.json`` and its companions, BERT's ``vocab.txt``, GPT-2's
``vocab.json`` + ``merges.txt``, fastembed's ``bpe.json``, tiktoken rank files).

>>> import tempfile
>>> from fastembed.tokenizers import WordPieceTokenizer, from_pretrained
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"], model_max_length=8)
>>> with tempfile.TemporaryDirectory() as d:                 # transformers.AutoTokenizer loads it too
...     written = tok.save_pretrained(d)
...     back = from_pretrained(d)
>>> sorted(p.name for p in written)
['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']
>>> back(["hello world"], truncation=True, padding=True)["input_ids"].tolist(), back.model_max_length
([[2, 5, 6, 3]], 8)

**Reading** (:func:`from_pretrained`, which picks the class). A directory is tried in this order:
``tokenizer.json`` (HF), ``bpe.json`` (:meth:`BPETokenizer.save`), ``vocab.txt`` (BERT WordPiece),
``vocab.json`` + ``merges.txt`` (GPT-2 or RoBERTa as HF ships them), ``encoder.json`` +
``vocab.bpe`` (OpenAI's GPT-2 files). ``tokenizer_config.json`` and ``special_tokens_map.json``
beside them name the special tokens (the map wins where both do) and give ``model_max_length``
(``int(1e30)``, transformers' "no limit", is None); without a ``tokenizer.json`` they also say
what transformers' slow files mean: ``tokenizer_class`` (BERT-like classes for ``vocab.txt``,
GPT2Tokenizer or RobertaTokenizer for ``vocab.json``, others refused), ``do_lower_case``,
``strip_accents``, ``tokenize_chinese_chars``, ``trim_offsets``, ``added_tokens_decoder``.
A file is read by what it is: a ``.json`` by its content (HF's has a ``"model"``, ours a
``"format"``; a file named ``tokenizer.json`` or ``vocab.txt`` reads the two settings files
beside it), a ``.tiktoken`` rank file, anything else a vocab.txt.

What a HF ``tokenizer.json`` may hold:

- model ``BPE`` that is byte-level (every entry spelled in GPT-2's byte alphabet), with merges as
  ``"a b"`` strings or ``[a, b]`` lists, no normalizer, and pre-tokenizer ``ByteLevel``
  (``use_regex=true``: our ``"gpt2"`` pattern) or ``Sequence[Split(Regex), ByteLevel(use_regex=false)]``
  (the regex; GPT-2's and cl100k's are recognised and run natively, any other runs in the
  `regex` module);
- model ``WordPiece`` with normalizer ``BertNormalizer`` (or none) and pre-tokenizer ``BertPreTokenizer``;
- post-processor ``TemplateProcessing``, ``BertProcessing``, ``RobertaProcessing``, ``ByteLevel``
  (its ``trim_offsets``), a ``Sequence`` of those, or none (no special tokens; a pair's second
  text has type id 1, as in HF);
- added tokens, matched in the raw text, with ``lstrip``/``rstrip``.

Refused with a ValueError that names it, because we would encode differently: Unigram and
WordLevel models; any other normalizer or pre-tokenizer (NFC, Metaspace, Whitespace, ...);
``add_prefix_space=true`` in the ``ByteLevel`` pre-tokenizer (HF adds a space before the text,
moving every offset; not implemented); BPE ``dropout``, ``continuing_subword_prefix``, ``end_of_word_suffix``,
``byte_fallback``, ``ignore_merges``; added tokens with ``single_word=true``, or with
``normalized=true`` where a normalizer would change what they match (WordPiece with any
BertNormalizer option on); template special tokens of several ids; added tokens whose id the
vocabulary gives to another entry; vocabulary ids that are not integers, repeat, or leave holes in
a WordPiece vocabulary.

**Padding and truncation** settings stored in a ``tokenizer.json`` (all-MiniLM-L6-v2's pads to 128
and truncates to 128) are not applied: ``tokenizer(texts)`` pads and truncates only when asked, as
transformers' ``__call__`` does. Their ``max_length`` becomes ``model_max_length`` when
``tokenizer_config.json`` gives none (transformers reads that file too, so where both exist its
value wins: 512 for all-MiniLM-L6-v2). Two HF behaviours are not copied: without a
post-processor HF's overflow rows of text pairs carry wrong sequence ids (all 0, or None for the
second text; ours are those of the first row); with ``trim_offsets`` and ``add_prefix_space``
HF keeps the one leading space of the first token of every overflow row too, as if each started
a text (ours: only at the start of the text); and a ``max_length`` that holds only the special
tokens makes HF put the whole text in one overflow row (ours: a ValueError).

**Writing** (:func:`save_pretrained`): ``tokenizer.json``, ``tokenizer_config.json`` and
``special_tokens_map.json``, plus ``vocab.txt`` for WordPiece (written by
:meth:`WordPieceTokenizer.save`) or ``vocab.json`` + ``merges.txt`` for BPE with the GPT-2 pattern
(what GPT-2's slow tokenizer reads; other patterns cannot be said in those files), every file
atomically. ``tokenizers.Tokenizer.from_file`` and ``transformers.AutoTokenizer.from_pretrained``
load the directory and give the same ids and offsets. ``tokenizer_class`` is BertTokenizer or
GPT2Tokenizer only where transformers' class, which builds its own pipeline from the vocabulary
(transformers 5), encodes alike; otherwise PreTrainedTokenizerFast, which loads tokenizer.json as
it is. A WordPiece vocabulary that repeats an entry is refused (tokenizer.json maps each entry
to one id).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from ..io import atomic_write_text, read_json_object
from ._bpe_files import MAX_UNUSED_IDS, read_gpt2
from ._files import check_is_file, is_int, read_json
from ._reference import PATTERNS as REGEXES
from .base import SPECIAL_NAMES, AddedToken, Template, Tokenizer
from .bpe import _BYTE_DECODER, _BYTE_ENCODER, _HF_SPACE, BPETokenizer
from .wordpiece import MAX_CHARS_PER_WORD, WordPieceTokenizer

__all__ = ["from_pretrained", "save_pretrained", "tokenizer_json", "write_tokenizer_json", "TOKENIZER_FILES"]

PathLike = Union[str, os.PathLike]

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
BPE_JSON = "bpe.json"
VOCAB_TXT = "vocab.txt"
VOCAB_JSON, MERGES_TXT = "vocab.json", "merges.txt"
ENCODER_JSON, VOCAB_BPE = "encoder.json", "vocab.bpe"
# What a directory is searched for, in order (the message for an empty directory lists them).
TOKENIZER_FILES = ((TOKENIZER_JSON,), (BPE_JSON,), (VOCAB_TXT,), (VOCAB_JSON, MERGES_TXT), (ENCODER_JSON, VOCAB_BPE))
LOOKED_FOR = (f"{TOKENIZER_JSON} (HF), {BPE_JSON} (fastembed BPE), {VOCAB_TXT} (BERT WordPiece), "
              f"{VOCAB_JSON} + {MERGES_TXT} or {ENCODER_JSON} + {VOCAB_BPE} (GPT-2)")

HF_JSON = "a HF tokenizer.json"
# transformers writes int(1e30) for "no limit"; a model_max_length this large is no limit.
NO_LIMIT = 2**31
MAX_ID = 2**32  # HF's ids, type ids and lengths are u32
# tokenizer_class values of a vocab.txt directory that mean BERT's tokenizer (others are refused:
# their templates or special tokens differ).
BERT_CLASSES = {None, "BertTokenizer", "BertTokenizerFast", "DistilBertTokenizer", "DistilBertTokenizerFast",
                "ElectraTokenizer", "ElectraTokenizerFast"}
GPT2_CLASSES = {None, "GPT2Tokenizer", "GPT2TokenizerFast"}
ROBERTA_CLASSES = {"RobertaTokenizer", "RobertaTokenizerFast"}
ROBERTA_NAMES = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                 "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}  # RobertaTokenizer's defaults
# tiktoken's settings for its own rank files, by file name (others: pass pattern= / special_tokens=).
TIKTOKEN_FILES = {
    "gpt2": ("gpt2", {"<|endoftext|>": 50256}),
    "r50k_base": ("gpt2", {"<|endoftext|>": 50256}),
    "cl100k_base": ("cl100k", {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                               "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
}


# ====================================================================== reading


def from_pretrained(path: PathLike, *, pattern: Optional[str] = None,
                    special_tokens: Optional[Mapping[str, int]] = None, expect: type = Tokenizer) -> Tokenizer:
    """The tokenizer stored at ``path`` (a directory or a file; see the module docstring), as a
    :class:`BPETokenizer` or :class:`WordPieceTokenizer`.

    ``pattern`` and ``special_tokens`` apply to a ``.tiktoken`` rank file only (default: tiktoken's
    for ``gpt2``/``r50k_base``/``cl100k_base.tiktoken``, else the GPT-2 pattern and no special
    tokens). ``expect`` (a class) makes a tokenizer of another class a ValueError.

    FileNotFoundError for a path that does not exist or a directory with nothing to read (the
    message lists what was looked for); ValueError naming the file for contents that are broken
    or that we cannot express.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"tokenizer {p} does not exist; expected a directory holding {LOOKED_FOR}, "
                                "or one of those files")
    if (pattern is not None or special_tokens is not None) and (p.is_dir() or p.suffix != ".tiktoken"):
        raise TypeError("pattern= and special_tokens= apply to .tiktoken rank files only; the other files "
                        "say their own")
    if p.is_dir():
        found = next((names for names in TOKENIZER_FILES if all((p / n).is_file() for n in names)), None)
        if found is None:
            raise FileNotFoundError(f"{p} holds no tokenizer: expected {LOOKED_FOR}")
        source = p / found[0]
        tok = _read_dir(p, found)
    else:
        source = p
        tok = _read_file(p, pattern, special_tokens)
    if not isinstance(tok, expect):
        raise ValueError(f"{source} holds a {type(tok).__name__}, not a {expect.__name__} "
                         "(fastembed.tokenizers.from_pretrained loads either)")
    return tok


def _read_dir(d: Path, found: tuple[str, ...]) -> Tokenizer:
    config = _read_config(d)
    first = d / found[0]
    if found[0] == TOKENIZER_JSON:
        return _from_hf(read_json(first, HF_JSON), first, config)
    if found[0] == BPE_JSON:
        return _with_config(BPETokenizer.load(first), config, first)
    if found[0] == VOCAB_TXT:
        return _wordpiece_from_vocab(first, config)
    return _bpe_from_gpt2_files(first, d / found[1], config)


def _read_file(p: Path, pattern: Optional[str], special_tokens: Optional[Mapping[str, int]]) -> Tokenizer:
    check_is_file(p, "a tokenizer file")
    if p.suffix == ".tiktoken":
        known = TIKTOKEN_FILES.get(p.stem) if pattern is None and special_tokens is None else None
        if known is not None:
            pattern, special_tokens = known
        return BPETokenizer.from_tiktoken(p, pattern=pattern or "gpt2", special_tokens=special_tokens)
    if p.name in (MERGES_TXT, VOCAB_BPE):
        raise ValueError(f"{p} holds GPT-2's merges only; pass the directory holding it with its "
                         f"{VOCAB_JSON if p.name == MERGES_TXT else ENCODER_JSON}")
    beside = _read_config(p.parent) if p.name in (TOKENIZER_JSON, VOCAB_TXT) else {}
    if p.suffix != ".json":
        return _wordpiece_from_vocab(p, beside)
    data = read_json(p, "a fastembed tokenizer file or HF tokenizer.json")
    if isinstance(data, dict) and "format" in data and "model" not in data:
        return _with_config(BPETokenizer.load(p), beside, p)
    if isinstance(data, dict) and "model" in data:
        return _from_hf(data, p, beside)
    raise ValueError(f"{p} is not a fastembed tokenizer file (no \"format\": \"fastembed-bpe\") or HF tokenizer.json "
                     f"(no \"model\"); for GPT-2's {ENCODER_JSON} or {VOCAB_JSON}, pass the directory holding it "
                     f"with its {VOCAB_BPE} / {MERGES_TXT}")


# ---------------------------------------------------------------------- settings files


def _read_config(d: Path) -> dict[str, Any]:
    """tokenizer_config.json with special_tokens_map.json's entries over it; {} when neither exists."""
    config: dict[str, Any] = {}
    for name in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP):
        f = d / name
        if f.is_file():
            config.update({k: v for k, v in read_json_object(f, "a JSON object of tokenizer settings").items()
                           if name == TOKENIZER_CONFIG or k in SPECIAL_NAMES or k == "additional_special_tokens"})
            config.setdefault("_files", []).append(f)
    return config


def _where(config: Mapping[str, Any], fallback: Any) -> str:
    files = config.get("_files")
    return " / ".join(str(f) for f in files) if files else str(fallback)


def _token_text(value: Any, key: str, where: str) -> Optional[str]:
    """A special token as the settings files write it: a string, {"content": ...}, or null."""
    if isinstance(value, dict):
        value = value.get("content")
    if value is None or (isinstance(value, str) and value):
        return value
    raise ValueError(f"{where}: {key} must be a token (a string or {{\"content\": ...}}), got {value!r}"[:300])


def _config_names(config: Mapping[str, Any]) -> dict[str, Optional[str]]:
    """The special token names the settings files give (None: named as absent)."""
    where = _where(config, "the tokenizer settings")
    return {k: _token_text(config[k], k, where) for k in SPECIAL_NAMES if k in config}


def _config_max_length(config: Mapping[str, Any]) -> Optional[int]:
    v = config.get("model_max_length")
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not is_int(v) or v < 1:
        raise ValueError(f"{_where(config, '')}: model_max_length must be a positive integer, got {v!r}"[:300])
    return None if v >= NO_LIMIT else v


def _config_additional(config: Mapping[str, Any]) -> list[str]:
    extra = config.get("additional_special_tokens") or []
    where = _where(config, "the tokenizer settings")
    if not isinstance(extra, list):
        raise ValueError(f"{where}: additional_special_tokens must be a list of tokens, got {type(extra).__name__}")
    return [t for t in (_token_text(v, "additional_special_tokens", where) for v in extra) if t is not None]


def _eot_names(specials: Mapping[str, int]) -> dict[str, str]:
    """GPT-2's names: <|endoftext|>, when present, is the bos, eos and unk token (as BPETokenizer's default)."""
    eot = "<|endoftext|>"
    return {"bos_token": eot, "eos_token": eot, "unk_token": eot} if eot in specials else {}


def _present(names: Mapping[str, Optional[str]]) -> dict[str, str]:
    return {k: v for k, v in names.items() if v is not None}


def _with_config(tok: BPETokenizer, config: Mapping[str, Any], source: Path) -> BPETokenizer:
    """A BPETokenizer (from bpe.json) with the names and model_max_length of the settings files."""
    if not config:
        return tok
    names = _present({**tok.special_names, **_config_names(config)})
    try:
        return BPETokenizer([tok._token_bytes(i) for i in range(tok.n_vocab)], tok.rules, pattern=tok.pattern,
                            special_tokens=tok.special_tokens, template=tok.template, special_names=names,
                            model_max_length=_config_max_length(config), trim_offsets=tok.trim_offsets,
                            prefix_space=tok.prefix_space)
    except ValueError as e:
        raise ValueError(f"{source} with {_where(config, source)}: {e}") from None


# ---------------------------------------------------------------------- vocab.txt, vocab.json + merges.txt


def _wordpiece_from_vocab(path: Path, config: Mapping[str, Any]) -> WordPieceTokenizer:
    """BERT's slow-tokenizer files: vocab.txt and the settings tokenizer_config.json gives."""
    where = _where(config, path)
    cls_name = config.get("tokenizer_class")
    if cls_name not in BERT_CLASSES:
        raise ValueError(f"{where}: tokenizer_class {cls_name!r} is not BERT's; a vocab.txt alone is read as "
                         f"BERT's WordPiece ({', '.join(sorted(c for c in BERT_CLASSES if c))}); save the "
                         "tokenizer with a tokenizer.json to load it")
    if config.get("do_basic_tokenize", True) is not True:
        raise ValueError(f"{where}: do_basic_tokenize={config['do_basic_tokenize']!r} is not supported (BERT "
                         "always splits on white space and punctuation here)")
    if config.get("never_split"):
        raise ValueError(f"{where}: never_split is not supported; list those tokens as added tokens instead")
    options: dict[str, Any] = {}
    for key, arg in (("do_lower_case", "lowercase"), ("strip_accents", "strip_accents"),
                     ("tokenize_chinese_chars", "handle_chinese_chars")):
        v = config.get(key)
        if v is not None and not isinstance(v, bool):
            raise ValueError(f"{where}: {key} must be true, false or null, got {v!r}"[:300])
        if v is not None:
            options[arg] = v
    names = {k: v for k, v in _config_names(config).items() if k in WORDPIECE_NAMES and v is not None}
    tok = WordPieceTokenizer.from_vocab(path, **options, **names)
    added = _config_added_tokens(config, tok, where)
    if added is None and not config.get("additional_special_tokens") and "model_max_length" not in config:
        return tok
    # transformers' added tokens: those tokenizer_config.json lists (ids past vocab.txt's lines
    # extend the vocabulary), else the five special tokens; then any additional special tokens.
    added = list(tok.added_tokens) if added is None else added
    vocab = list(tok.vocab)
    for t in sorted(added, key=lambda t: t.id):
        if t.id < len(vocab) and vocab[t.id] != t.content:
            raise ValueError(f"{where}: added token {t.content!r} has id {t.id}, which {path} gives to "
                             f"{vocab[t.id]!r}")
        if t.id == len(vocab):
            vocab.append(t.content)
        elif t.id > len(vocab):
            raise ValueError(f"{where}: added token {t.content!r} has id {t.id}, but {path} has {len(vocab)} "
                             f"entries; expected ids up to {len(vocab)}")
    known = {t.content for t in added}
    for text in _config_additional(config):
        i = tok.token_to_id(text)
        if i is None:
            raise ValueError(f"{where}: additional special token {text!r} is not in {path}")
        if text not in known:
            added.append(AddedToken(text, i))
    return _wordpiece(vocab, where, lowercase=tok.lowercase, strip_accents=tok.strip_accents,
                      handle_chinese_chars=tok.handle_chinese_chars, **names, added_tokens=added,
                      model_max_length=_config_max_length(config))


WORDPIECE_NAMES = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")


def _config_added_tokens(config: Mapping[str, Any], tok: Optional[Tokenizer], where: str
                         ) -> Optional[list[AddedToken]]:
    """tokenizer_config.json's added_tokens_decoder ({"id": {"content": ..., ...}}), or None."""
    decoder = config.get("added_tokens_decoder")
    if decoder is None:
        return None
    if not isinstance(decoder, dict):
        raise ValueError(f"{where}: added_tokens_decoder must map ids to tokens, got {type(decoder).__name__}")
    out = []
    for key, entry in decoder.items():
        if not (isinstance(key, str) and key.isdigit()) or not isinstance(entry, dict):
            raise ValueError(f"{where}: added_tokens_decoder entry {key!r} is not 'id': {{\"content\": ...}}"[:300])
        # BERT's normalizer always cleans the text, so a normalized token may match elsewhere;
        # byte-level BPE has no normalizer.
        out.append(_added_token(entry, int(key), where, "added_tokens_decoder", tok, normalizes=tok is not None))
    return out


def _bpe_from_gpt2_files(vocab_json: Path, merges: Path, config: Mapping[str, Any]) -> BPETokenizer:
    """GPT-2's files (vocab.json + merges.txt, or encoder.json + vocab.bpe) with their settings,
    read as transformers' GPT2Tokenizer reads them (no template), or RobertaTokenizer (tokenizer_class
    says so: ``<s> $A </s>`` / ``<s> $A </s> </s> $B </s>``, offsets trimmed unless trim_offsets=false)."""
    where = _where(config, vocab_json)
    cls_name = config.get("tokenizer_class")
    if cls_name not in GPT2_CLASSES | ROBERTA_CLASSES:
        raise ValueError(f"{where}: tokenizer_class {cls_name!r} is not GPT-2's or RoBERTa's; {vocab_json.name} + "
                         f"{merges.name} alone are read as GPT2Tokenizer or RobertaTokenizer read them; save the "
                         "tokenizer with a tokenizer.json to load it")
    if config.get("add_prefix_space"):
        raise ValueError(f"{where}: add_prefix_space=true is not supported (it puts a space before every text)")
    vocab, rules, specials = read_gpt2(vocab_json, merges, _BYTE_DECODER)
    roberta = cls_name in ROBERTA_CLASSES
    names: dict[str, Optional[str]] = {**(ROBERTA_NAMES if roberta else _eot_names(specials)), **_config_names(config)}
    template, trim = None, False
    if roberta:
        cls, sep = names.get("cls_token"), names.get("sep_token")
        if cls is None or sep is None:
            raise ValueError(f"{where}: RoBERTa's template needs cls_token and sep_token")
        template = Template.parse(f"{cls} $A {sep}", f"{cls} $A {sep} {sep} $B {sep}")
        trim = _flag(config, "trim_offsets", True, where) is not False
    added = []
    for entry in (_config_added_tokens(config, None, where) or []):  # transformers' added tokens, by id
        if entry.id == len(vocab):
            vocab.append(entry.content.encode("utf-8"))
        elif entry.id > len(vocab) or vocab[entry.id] != entry.content.encode("utf-8"):
            raise ValueError(f"{where}: added token {entry.content!r} has id {entry.id}, which {vocab_json} "
                             f"{'does not have' if entry.id > len(vocab) else f'gives to {vocab[entry.id]!r}'}")
        added.append(entry)
    for text in [t for t in names.values() if t is not None] + _config_additional(config):
        if text not in specials:  # every named token is special: matched in the text, as transformers does
            i = next((k for k, b in enumerate(vocab) if b == text.encode("utf-8")), None)
            if i is None:
                raise ValueError(f"{where}: special token {text!r} is not in {vocab_json}")
            specials[text] = i
    try:
        return BPETokenizer(vocab, np.array(rules, dtype=np.uint32).reshape(-1, 4), pattern="gpt2",
                            special_tokens=specials, added_tokens=added, special_names=_present(names),
                            template=template, trim_offsets=trim, prefix_space=False,  # add_prefix_space is false
                            model_max_length=_config_max_length(config))
    except ValueError as e:
        raise ValueError(f"{vocab_json} with {merges}: {e}") from None


# ---------------------------------------------------------------------- tokenizer.json


def _from_hf(data: Any, path: Path, config: Mapping[str, Any]) -> Tokenizer:
    where = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ValueError(f"{where} is not {HF_JSON} (no \"model\" object)")
    model = data["model"]
    kind = model.get("type")
    if kind is None:  # tokenizers writes "type"; very old files may not: tell the models apart by their fields
        kind = "BPE" if "merges" in model else "WordPiece" if "continuing_subword_prefix" in model else None
    if kind not in ("BPE", "WordPiece"):
        raise ValueError(f"{where}: model {kind!r} cannot be loaded; fastembed reads byte-level BPE and WordPiece "
                         "(Unigram / SentencePiece and WordLevel models are not supported)")
    try:
        if kind == "BPE":
            return _bpe_from_hf(data, where, config)
        return _wordpiece_from_hf(data, where, config)
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def _kind(obj: Any, what: str) -> Optional[str]:
    """The "type" of a component (None for null); ValueError for something else."""
    if obj is None:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ValueError(f"{what} must be an object with a \"type\", got {str(obj)[:100]}")
    return obj["type"]


def _flag(obj: Mapping[str, Any], key: str, default: Any, what: str) -> Any:
    v = obj.get(key, default)
    if v is not None and not isinstance(v, bool):
        raise ValueError(f"{what}: {key} must be true or false, got {v!r}"[:300])
    return v


def _vocab_map(model: Mapping[str, Any]) -> dict[str, int]:
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise ValueError(f"the model's vocab must be an object of token -> id, got {type(vocab).__name__}")
    owner: dict[int, str] = {}
    for token, i in vocab.items():
        if not is_int(i) or i < 0:
            raise ValueError(f"vocabulary entry {token[:60]!r} has id {i!r}; expected an integer >= 0")
        if i in owner:
            raise ValueError(f"vocabulary entries {owner[i][:60]!r} and {token[:60]!r} both have id {i}")
        owner[i] = token
    return vocab


def _added_tokens(data: Mapping[str, Any], vocab: Mapping[str, int], normalizes: bool) -> list[AddedToken]:
    """tokenizer.json's added_tokens, checked against the model's vocabulary."""
    entries = data.get("added_tokens") or []
    if not isinstance(entries, list):
        raise ValueError(f"added_tokens must be a list, got {type(entries).__name__}")
    by_id = {i: t for t, i in vocab.items()}
    out = []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"added_tokens[{k}] must be an object, got {str(entry)[:100]}")
        t = _added_token(entry, entry.get("id"), "", f"added_tokens[{k}]", None, normalizes=normalizes)
        if t.content in vocab and vocab[t.content] != t.id:
            raise ValueError(f"added token {t.content!r} has id {t.id}, but the model's vocabulary has it as "
                             f"id {vocab[t.content]}")
        if t.id in by_id and by_id[t.id] != t.content:
            raise ValueError(f"added token {t.content!r} has id {t.id}, which the model's vocabulary gives to "
                             f"{by_id[t.id][:60]!r}")
        out.append(t)
    return out


def _added_token(entry: Mapping[str, Any], i: Any, where: str, what: str, tok: Optional[Tokenizer], *,
                 normalizes: bool) -> AddedToken:
    at = f"{where}: {what}" if where else what
    content = entry.get("content")
    if not isinstance(content, str) or not content:
        raise ValueError(f"{at}: content must be a non-empty string, got {content!r}"[:300])
    if not is_int(i) or i < 0:
        raise ValueError(f"{at}: added token {content!r} has id {i!r}; expected an integer >= 0")
    if _flag(entry, "single_word", False, at):
        raise ValueError(f"{at}: added token {content!r} has single_word=true, which is not supported (it would "
                         "match only as a whole word)")
    if _flag(entry, "normalized", False, at) and normalizes:
        raise ValueError(f"{at}: added token {content!r} has normalized=true, which is not supported with this "
                         "normalizer (it would be matched in the lower-cased / accent-stripped text; fastembed "
                         "matches added tokens in the raw text)")
    if tok is not None and tok._id_of(content) not in (None, i):
        raise ValueError(f"{at}: added token {content!r} has id {i}, but the vocabulary has it as id "
                         f"{tok._id_of(content)}")
    return AddedToken(content, int(i), special=bool(_flag(entry, "special", True, at)),
                      lstrip=bool(_flag(entry, "lstrip", False, at)), rstrip=bool(_flag(entry, "rstrip", False, at)))


NO_TEMPLATE = Template.parse("$A", "$A $B:1")  # no post-processor: no special tokens; the pair's B has type id 1


class Trim(NamedTuple):
    """ByteLevel / RobertaProcessing offset trimming: ``on`` (trim_offsets) drops a token's leading
    and trailing spaces from its offsets, except, with ``prefix_space`` (add_prefix_space), the one
    leading space of a token at the start of its text (BPETokenizer's trim_offsets / prefix_space)."""

    on: bool = False
    prefix_space: bool = True


def _post_processor(post: Any, byte_level: bool) -> tuple[Optional[Template], Trim, dict[str, str],
                                                            Optional[dict[str, int]]]:
    """(template, trim, names, ids) of a post-processor: the template (None: no special tokens),
    the offset trimming, the cls/sep names it implies, and each template special token's id as
    the file says it."""
    kind = _kind(post, "post_processor")
    if kind is None:
        return NO_TEMPLATE, Trim(), {}, None
    if kind == "Sequence":
        parts = post.get("processors")
        if not isinstance(parts, list):
            raise ValueError("post_processor Sequence must hold a list of processors")
        template, trim, names, ids = NO_TEMPLATE, Trim(), {}, None
        templates = [p for p in parts if _kind(p, "post_processor") != "ByteLevel"]
        if len(templates) > 1:
            raise ValueError("post_processor Sequence holds more than one template; expected at most one "
                             "TemplateProcessing / BertProcessing / RobertaProcessing and one ByteLevel")
        for p in parts:
            t, tr, n, i = _post_processor(p, byte_level)
            trim = tr if tr.on else trim
            if _kind(p, "post_processor") != "ByteLevel":
                template, names, ids = t, n, i
        return template, trim, names, ids
    if kind == "ByteLevel":
        return NO_TEMPLATE, _trim_offsets(post, "ByteLevel", byte_level), {}, None
    if kind in ("BertProcessing", "RobertaProcessing"):
        pairs = []
        for key in ("cls", "sep"):
            v = post.get(key)
            if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and v[0] and is_int(v[1])):
                raise ValueError(f"post_processor {kind}: {key} must be [token, id], got {str(v)[:100]}")
            pairs.append((v[0], v[1]))
        (c, ci), (s, si) = pairs
        if kind == "BertProcessing":
            template = Template.parse(f"{c} $A {s}", f"{c} $A {s} $B:1 {s}:1")
            return template, Trim(), {"cls_token": c, "sep_token": s}, {c: ci, s: si}
        template = Template.parse(f"{c} $A {s}", f"{c} $A {s} {s} $B {s}")
        return template, _trim_offsets(post, kind, byte_level), {"cls_token": c, "sep_token": s}, {c: ci, s: si}
    if kind == "TemplateProcessing":
        template, names, ids = _template(post)
        return template, Trim(), names, ids
    raise ValueError(f"post_processor {kind!r} is not supported (expected TemplateProcessing, BertProcessing, "
                     "RobertaProcessing, ByteLevel, a Sequence of those, or null)")


def _trim_offsets(post: Mapping[str, Any], kind: str, byte_level: bool) -> Trim:
    """The post-processor's trim_offsets and add_prefix_space (HF's defaults: both true). For
    WordPiece the caller checks that no entry starts or ends with white space (then trimming does
    nothing)."""
    return Trim(bool(_flag(post, "trim_offsets", True, f"post_processor {kind}")),
                bool(_flag(post, "add_prefix_space", True, f"post_processor {kind}")))


def _template(post: Mapping[str, Any]) -> tuple[Template, dict[str, str], dict[str, int]]:
    """(template, names, ids) of a TemplateProcessing: special tokens by text, and each one's id."""
    specials = post.get("special_tokens") or {}
    if not isinstance(specials, dict):
        raise ValueError("post_processor TemplateProcessing: special_tokens must be an object")
    ids: dict[str, int] = {}
    texts: dict[str, str] = {}
    for name, entry in specials.items():
        got_ids = entry.get("ids") if isinstance(entry, dict) else None
        tokens = entry.get("tokens") if isinstance(entry, dict) else None
        if not (isinstance(got_ids, list) and isinstance(tokens, list) and len(got_ids) == len(tokens) >= 1):
            raise ValueError(f"post_processor TemplateProcessing: special token {name!r} must have as many ids as "
                             f"tokens, got {str(entry)[:100]}")
        if len(got_ids) != 1:
            raise ValueError(f"post_processor TemplateProcessing: special token {name!r} stands for {len(got_ids)} "
                             "tokens; only special tokens of one id are supported")
        if not is_int(got_ids[0]) or not isinstance(tokens[0], str) or not tokens[0]:
            raise ValueError(f"post_processor TemplateProcessing: special token {name!r}: bad id or token "
                             f"{str(entry)[:100]}")
        texts[name] = tokens[0]
        ids[tokens[0]] = got_ids[0]
    parts = []
    for which in ("single", "pair"):
        items = post.get(which)
        if not isinstance(items, list):
            raise ValueError(f"post_processor TemplateProcessing: {which} must be a list, got {str(items)[:100]}")
        words = []
        for item in items:
            (kind, body), = item.items() if isinstance(item, dict) and len(item) == 1 else ((None, None),)
            if kind not in ("SpecialToken", "Sequence") or not isinstance(body, dict):
                raise ValueError(f"post_processor TemplateProcessing: {which} item {str(item)[:100]} is not a "
                                 "SpecialToken or Sequence")
            type_id = body.get("type_id", 0)
            if not is_int(type_id) or not 0 <= type_id < MAX_ID:
                raise ValueError(f"post_processor TemplateProcessing: type_id {type_id!r} must be an integer in "
                                 f"0..{MAX_ID - 1}"[:300])
            if kind == "Sequence":
                if body.get("id") not in ("A", "B"):
                    raise ValueError(f"post_processor TemplateProcessing: sequence {body.get('id')!r} must be A or B")
                words.append((f"${body['id']}", type_id))
            else:
                if body.get("id") not in texts:
                    raise ValueError(f"post_processor TemplateProcessing: special token {body.get('id')!r} is not "
                                     "listed in its special_tokens")
                words.append((texts[body["id"]], type_id))
        parts.append(tuple(words))
    template = Template(parts[0], parts[1])
    specials_single = [t for t, _ in template.single if t not in ("$A", "$B")]
    names = {}
    first, last = template.single[0][0], template.single[-1][0]
    if first not in ("$A", "$B") and last not in ("$A", "$B") and len(specials_single) == 2:
        names = {"cls_token": first, "sep_token": last}  # BERT's shape: [CLS] $A [SEP]
    return template, names, ids


def _check_template_ids(tok: Tokenizer, ids: Optional[Mapping[str, int]]) -> None:
    for text, i in (ids or {}).items():
        if tok._id_of(text) != i:
            raise ValueError(f"the post-processor gives special token {text!r} id {i}, but the vocabulary has it as "
                             f"{tok._id_of(text)}")


def _check_model_fields(model: Mapping[str, Any], kind: str) -> None:
    if kind == "BPE":
        if model.get("dropout") not in (None, 0, 0.0):
            raise ValueError(f"BPE dropout={model['dropout']!r} is not supported (encoding would be random)")
        for key in ("continuing_subword_prefix", "end_of_word_suffix"):
            if model.get(key) not in (None, ""):
                raise ValueError(f"BPE {key}={model[key]!r} is not supported (byte-level BPE has none)")
        for key in ("byte_fallback", "ignore_merges"):
            if _flag(model, key, False, "BPE"):
                raise ValueError(f"BPE {key}=true is not supported")


def _bpe_from_hf(data: Mapping[str, Any], where: str, config: Mapping[str, Any]) -> BPETokenizer:
    model = data["model"]
    _check_model_fields(model, "BPE")
    norm = _kind(data.get("normalizer"), "normalizer")
    if norm is not None:
        raise ValueError(f"normalizer {norm!r} is not supported for BPE (byte-level BPE reads the text as it is)")
    pattern = _bpe_pattern(data.get("pre_tokenizer"))
    decoder = _kind(data.get("decoder"), "decoder")
    if decoder not in (None, "ByteLevel"):
        raise ValueError(f"decoder {decoder!r} is not supported for BPE (expected ByteLevel)")
    vocab_map = _vocab_map(model)
    added = _added_tokens(data, vocab_map, normalizes=False)
    template, trim, post_names, post_ids = _post_processor(data.get("post_processor"), byte_level=True)
    if template == NO_TEMPLATE:
        template = None  # BPETokenizer's own default (and its faster encode)

    # Ids: the model's entries spelled in GPT-2's byte alphabet, the added tokens as their text.
    added_ids = {t.id: t.content for t in added}
    size = max([*vocab_map.values(), *added_ids, -1]) + 1
    if size > len(vocab_map) + len(added_ids) + MAX_UNUSED_IDS:
        raise ValueError(f"the vocabulary has {len(vocab_map)} entries but ids up to {size - 1}; expected ids "
                         f"0..n-1 with at most {MAX_UNUSED_IDS} unused")
    vocab = [b""] * size  # b"": an unused id
    for token, i in vocab_map.items():
        if i in added_ids:
            continue
        try:
            vocab[i] = bytes(_BYTE_DECODER[c] for c in token)
        except KeyError:
            raise ValueError(f"vocabulary entry {token[:60]!r} (id {i}) is not spelled in GPT-2's byte alphabet: "
                             "only byte-level BPE (GPT-2, RoBERTa, Llama 3 style) can be loaded") from None
    for i, content in added_ids.items():
        vocab[i] = content.encode("utf-8")
    rules = _merges(model.get("merges"), vocab_map)
    names: dict[str, Optional[str]] = {**_eot_names({t.content: t.id for t in added}), **post_names}
    unk = model.get("unk_token")
    if isinstance(unk, str) and unk in vocab_map:
        names["unk_token"] = unk
    pad = _padding_token(data)
    if pad is not None and pad in vocab_map:
        names["pad_token"] = pad
    names.update(_config_names(config))
    tok = BPETokenizer(vocab, rules, pattern=pattern, added_tokens=added, template=template,
                       special_names=_present(names),
                       model_max_length=_max_length(data, config), trim_offsets=trim.on,
                       prefix_space=trim.prefix_space)
    _check_template_ids(tok, post_ids)
    return tok


def _bpe_pattern(pre: Any) -> str:
    kind = _kind(pre, "pre_tokenizer")
    if kind == "ByteLevel":
        _byte_level_pre(pre, use_regex=True)
        return "gpt2"
    if kind == "Sequence":
        parts = pre.get("pretokenizers")
        if isinstance(parts, list) and len(parts) == 2 and _kind(parts[0], "pre_tokenizer") == "Split" \
                and _kind(parts[1], "pre_tokenizer") == "ByteLevel":
            split, byte_level = parts
            _byte_level_pre(byte_level, use_regex=False)
            if split.get("behavior") != "Isolated" or split.get("invert", False) is not False:
                raise ValueError(f"pre_tokenizer Split with behavior={split.get('behavior')!r}, "
                                 f"invert={split.get('invert')!r} is not supported (expected Isolated, false)")
            regex = split.get("pattern", {}).get("Regex") if isinstance(split.get("pattern"), dict) else None
            if not isinstance(regex, str) or not regex:
                raise ValueError(f"pre_tokenizer Split: pattern must be {{\"Regex\": ...}}, got "
                                 f"{str(split.get('pattern'))[:100]}")
            return _pattern_name(regex)
    raise ValueError(f"pre_tokenizer {json.dumps(pre)[:200]} is not supported for BPE (expected ByteLevel with "
                     "use_regex=true, or a Sequence of Split(Regex, Isolated) and ByteLevel with use_regex=false)")


def _byte_level_pre(pre: Mapping[str, Any], *, use_regex: bool) -> None:
    if _flag(pre, "add_prefix_space", True, "pre_tokenizer ByteLevel"):
        raise ValueError("pre_tokenizer ByteLevel with add_prefix_space=true is not supported (HF puts a space "
                         "before the text); set it to false")
    if _flag(pre, "use_regex", True, "pre_tokenizer ByteLevel") is not use_regex:
        raise ValueError(f"pre_tokenizer ByteLevel must have use_regex={str(use_regex).lower()} here")


def _pattern_name(regex: str) -> str:
    """"gpt2" / "cl100k" for their regexes (as tiktoken writes them, or with the possessive
    ``{1,3}+`` written ``{1,3}`` as HF's Oniguruma needs), else the regex itself."""
    for name, known in REGEXES.items():
        if regex in (known, _for_oniguruma(known)):
            return name
    return regex


def _for_oniguruma(pattern: str) -> str:
    # HF runs the pattern with Oniguruma's Ruby syntax, where "{1,3}+" repeats the interval instead
    # of making it possessive. At the end of an alternative the plain interval means the same.
    return pattern.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")


def _merges(merges: Any, vocab: Mapping[str, int]) -> np.ndarray:
    """(R, 4) rules [left, right, rank, id]: rank is the merge's place in the list."""
    if not isinstance(merges, list):
        raise ValueError(f"the model's merges must be a list, got {type(merges).__name__}")
    rules = np.empty((len(merges), 4), np.uint32)
    seen: dict[tuple[int, int], int] = {}
    for k, m in enumerate(merges):
        pair = m.split(" ") if isinstance(m, str) else m
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError(f"merge {k} must be \"a b\" or [a, b], got {str(m)[:100]}")
        a, b = pair
        if a not in vocab or b not in vocab or a + b not in vocab:
            raise ValueError(f"merge {k} ({a!r}, {b!r}) is not a merge of two tokens whose concatenation is a token"
                             [:300])
        key = (vocab[a], vocab[b])
        if key in seen:
            raise ValueError(f"merge {k} ({a!r}, {b!r}) repeats merge {seen[key]}; expected each merge once")
        seen[key] = k
        rules[k] = (key[0], key[1], k, vocab[a + b])
    return rules


def _padding_token(data: Mapping[str, Any]) -> Optional[str]:
    """The pad token a tokenizer.json's padding settings name (the settings themselves are not applied)."""
    padding = data.get("padding")
    pad = padding.get("pad_token") if isinstance(padding, dict) else None
    return pad if isinstance(pad, str) and pad else None


def _max_length(data: Mapping[str, Any], config: Mapping[str, Any]) -> Optional[int]:
    """tokenizer_config.json's model_max_length, else tokenizer.json's truncation.max_length."""
    if "model_max_length" in config:
        return _config_max_length(config)
    trunc = data.get("truncation")
    if isinstance(trunc, dict) and is_int(trunc.get("max_length")) and 1 <= trunc["max_length"] < NO_LIMIT:
        return trunc["max_length"]
    return None


def _wordpiece_from_hf(data: Mapping[str, Any], where: str, config: Mapping[str, Any]) -> WordPieceTokenizer:
    model = data["model"]
    norm = data.get("normalizer")
    kind = _kind(norm, "normalizer")
    if kind not in (None, "BertNormalizer"):
        raise ValueError(f"normalizer {kind!r} is not supported for WordPiece (expected BertNormalizer or null)")
    options = {"lowercase": False, "strip_accents": False, "clean_text": False, "handle_chinese_chars": False}
    if kind == "BertNormalizer":
        for key in ("lowercase", "clean_text", "handle_chinese_chars"):
            options[key] = bool(_flag(norm, key, True, "normalizer BertNormalizer"))
        strip = _flag(norm, "strip_accents", None, "normalizer BertNormalizer")
        options["strip_accents"] = options["lowercase"] if strip is None else strip
        _check_config_agrees(config, options)
    pre = _kind(data.get("pre_tokenizer"), "pre_tokenizer")
    if pre != "BertPreTokenizer":
        raise ValueError(f"pre_tokenizer {pre!r} is not supported for WordPiece (expected BertPreTokenizer)")
    decoder = data.get("decoder")
    if _kind(decoder, "decoder") not in (None, "WordPiece"):
        raise ValueError(f"decoder {decoder.get('type')!r} is not supported for WordPiece (expected WordPiece)")
    prefix = model.get("continuing_subword_prefix", "##")
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"WordPiece continuing_subword_prefix must be a non-empty string, got {prefix!r}")
    max_chars = model.get("max_input_chars_per_word", MAX_CHARS_PER_WORD)
    if not is_int(max_chars) or not 1 <= max_chars < NO_LIMIT:
        raise ValueError(f"WordPiece max_input_chars_per_word must be a positive integer, got {max_chars!r}")
    vocab_map = _vocab_map(model)
    added = _added_tokens(data, vocab_map, normalizes=options["lowercase"] or options["strip_accents"]
                          or options["clean_text"] or options["handle_chinese_chars"])
    entries = {i: t for t, i in vocab_map.items()}
    for t in added:
        entries.setdefault(t.id, t.content)
    missing = sorted(set(range(len(entries))) - set(entries))
    if missing:
        raise ValueError(f"the WordPiece vocabulary has {len(entries)} entries but no id {missing[0]}; expected "
                         "ids 0..n-1, each once")
    template, trim, post_names, post_ids = _post_processor(data.get("post_processor"), byte_level=False)
    if trim.on:  # a no-op unless a token can start or end with white space: then refused
        spaced = next((t for t in entries.values() if t[0] in _HF_SPACE or t[-1] in _HF_SPACE), None)
        if spaced is not None:
            raise ValueError(f"the post-processor trims offsets of tokens that start or end with white space, and "
                             f"the WordPiece entry {spaced!r} does; this is not supported")
        stripped = next((t.content for t in added if t.lstrip or t.rstrip), None)
        if stripped is not None:
            raise ValueError(f"the post-processor trims offsets, and added token {stripped!r} takes in the white space "
                             "beside it (lstrip / rstrip); this is not supported for WordPiece")
    names: dict[str, Optional[str]] = dict(post_names)
    unk = model.get("unk_token")
    if isinstance(unk, str):
        names["unk_token"] = unk
    pad = _padding_token(data)
    if pad is not None:
        names["pad_token"] = pad
    names.update(_config_names(config))
    tok = _wordpiece([entries[i] for i in range(len(entries))], where, **options, prefix=prefix,
                     max_chars_per_word=max_chars, added_tokens=added, template=template,
                     model_max_length=_max_length(data, config),
                     **{k: v for k, v in names.items() if k in WORDPIECE_NAMES and v is not None})
    _check_template_ids(tok, post_ids)
    if isinstance(unk, str) and tok.unk_id != vocab_map.get(unk):
        raise ValueError(f"the settings name unk_token {tok.vocab[tok.unk_id]!r}, but the WordPiece model turns "
                         f"unknown words into {unk!r}; expected one unknown token")
    return tok


def _check_config_agrees(config: Mapping[str, Any], options: Mapping[str, bool]) -> None:
    """transformers rebuilds BERT's normalizer from tokenizer_config.json's settings, HF tokenizers
    reads tokenizer.json's: where the two files say different things, the two libraries encode
    differently, and we refuse rather than pick one."""
    lower = config.get("do_lower_case")
    said = {"lowercase": lower, "handle_chinese_chars": config.get("tokenize_chinese_chars"),
            "strip_accents": config.get("strip_accents") if config.get("strip_accents") is not None else lower}
    for key, value in said.items():
        if isinstance(value, bool) and value != options[key]:
            raise ValueError(f"{_where(config, 'the settings')} and the BertNormalizer disagree on {key} ({value} "
                             f"and {options[key]}); transformers follows the former, HF tokenizers the latter")


def _wordpiece(vocab: list[str], where: str, **kwargs: Any) -> WordPieceTokenizer:
    try:
        return WordPieceTokenizer(vocab, **kwargs)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# ====================================================================== writing


def save_pretrained(tokenizer: Tokenizer, directory: PathLike) -> tuple[Path, ...]:
    """Write ``tokenizer`` as a HF tokenizer directory (see the module docstring); the paths written.

    The directory is created if needed. Each file is written atomically (a crash leaves the old
    file or the new one, never half of one)."""
    if not isinstance(tokenizer, (BPETokenizer, WordPieceTokenizer)):
        raise TypeError(f"save_pretrained needs a BPETokenizer or WordPieceTokenizer, got {type(tokenizer).__name__}")
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise NotADirectoryError(f"cannot save a tokenizer to {d}: it is a file, expected a directory")
    data = tokenizer_json(tokenizer)  # first: a tokenizer HF cannot express is refused before any file is written
    if isinstance(tokenizer, WordPieceTokenizer):
        _check_unique(tokenizer)
    d.mkdir(parents=True, exist_ok=True)
    written = [d / TOKENIZER_JSON]
    atomic_write_text(written[0], json.dumps(data, ensure_ascii=False))
    if isinstance(tokenizer, WordPieceTokenizer):
        tokenizer.save(d / VOCAB_TXT)
        written.append(d / VOCAB_TXT)
    elif tokenizer.pattern == "gpt2":
        vocab, merges = data["model"]["vocab"], data["model"]["merges"]
        atomic_write_text(d / VOCAB_JSON, json.dumps(vocab, ensure_ascii=False))
        atomic_write_text(d / MERGES_TXT, "#version: 0.2\n" + "".join(m + "\n" for m in merges))
        written += [d / VOCAB_JSON, d / MERGES_TXT]
    names = dict(tokenizer.special_names)
    atomic_write_text(d / TOKENIZER_CONFIG, json.dumps(_tokenizer_config(tokenizer, names), indent=2,
                                                       ensure_ascii=False) + "\n")
    atomic_write_text(d / SPECIAL_TOKENS_MAP, json.dumps(names, indent=2, ensure_ascii=False) + "\n")
    return (*written, d / TOKENIZER_CONFIG, d / SPECIAL_TOKENS_MAP)


def write_tokenizer_json(tokenizer: Tokenizer, path: PathLike) -> None:
    """Write only the HF ``tokenizer.json`` of ``tokenizer`` to ``path``, atomically."""
    atomic_write_text(path, json.dumps(tokenizer_json(tokenizer), ensure_ascii=False))


def tokenizer_json(tokenizer: Tokenizer) -> dict[str, Any]:
    """The HF ``tokenizer.json`` of ``tokenizer`` as a dict: everything that decides its ids."""
    if isinstance(tokenizer, BPETokenizer):
        return _bpe_json(tokenizer)
    if isinstance(tokenizer, WordPieceTokenizer):
        return _wordpiece_json(tokenizer)
    raise TypeError(f"expected a BPETokenizer or WordPieceTokenizer, got {type(tokenizer).__name__}")


def _added_json(tok: Tokenizer) -> list[dict[str, Any]]:
    return [{"id": t.id, "content": t.content, "single_word": False, "lstrip": t.lstrip, "rstrip": t.rstrip,
             "normalized": False, "special": t.special} for t in tok.added_tokens]


def _template_json(tok: Tokenizer) -> Optional[dict[str, Any]]:
    """TemplateProcessing for the tokenizer's template (None when it has none)."""
    if tok.template is None:
        return None

    def items(template: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
        return [{"Sequence": {"id": t[1], "type_id": k}} if t in ("$A", "$B") else
                {"SpecialToken": {"id": t, "type_id": k}} for t, k in template]

    texts = sorted({t for t, _ in tok.template.single + tok.template.pair if t not in ("$A", "$B")})
    return {"type": "TemplateProcessing", "single": items(tok.template.single), "pair": items(tok.template.pair),
            "special_tokens": {t: {"id": t, "ids": [tok._id_of(t)], "tokens": [t]} for t in texts}}


def _bpe_json(tok: BPETokenizer) -> dict[str, Any]:
    specials = set(tok.special_tokens.values())

    def spell(i: int) -> str:
        return "".join(_BYTE_ENCODER[b] for b in tok._token_bytes(i))

    # Special tokens stay in the model's vocabulary too, so HF keeps their ids (it renumbers
    # added tokens that the model does not know).
    vocab = {spell(i): i for i in range(tok.n_vocab) if i not in specials and not tok._is_gap(i)}
    vocab.update(tok.special_tokens)
    order = np.lexsort((tok.rules[:, 1], tok.rules[:, 0], tok.rules[:, 2]))  # by rank, then pair
    merges = []
    for left, right, _, new in tok.rules[order].tolist():
        if tok._token_bytes(new) != tok._token_bytes(left) + tok._token_bytes(right):
            raise ValueError(f"merge rule ({left}, {right}) -> {new} does not join the two tokens' bytes; HF's "
                             "BPE cannot express it")
        merges.append(f"{spell(left)} {spell(right)}")
    template = _template_json(tok)
    byte_level = {"type": "ByteLevel", "add_prefix_space": tok.prefix_space, "trim_offsets": tok.trim_offsets,
                  "use_regex": False}
    post: Optional[dict[str, Any]] = template
    if tok.trim_offsets:
        post = byte_level if template is None else {"type": "Sequence", "processors": [byte_level, template]}
    elif template is None:  # no special tokens: HF's own default, written out (a pair's B has type id 1)
        post = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": _added_json(tok),
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [  # a custom pattern goes in as it is
            {"type": "Split", "pattern": {"Regex": _for_oniguruma(REGEXES.get(tok.pattern, tok.pattern))},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }


def _wordpiece_json(tok: WordPieceTokenizer) -> dict[str, Any]:
    vocab: dict[str, int] = {}
    for i, t in enumerate(tok.vocab):
        vocab.setdefault(t, i)  # a repeated entry: its first id, the one encoding gives
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": _added_json(tok),
        "normalizer": {"type": "BertNormalizer", "clean_text": tok.clean_text,
                       "handle_chinese_chars": tok.handle_chinese_chars, "strip_accents": tok.strip_accents,
                       "lowercase": tok.lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": _template_json(tok) or {
            "type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {}},
        "decoder": {"type": "WordPiece", "prefix": tok.prefix, "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": tok.vocab[tok.unk_id], "continuing_subword_prefix": tok.prefix,
                  "max_input_chars_per_word": tok.max_chars_per_word, "vocab": vocab},
    }


def _check_unique(tok: WordPieceTokenizer) -> None:
    seen: dict[str, int] = {}
    for i, t in enumerate(tok.vocab):
        if t in seen:
            raise ValueError(f"vocabulary entry {t!r} is given twice (ids {seen[t]} and {i}); a tokenizer.json "
                             "vocabulary maps each entry to one id")
        seen[t] = i


def _is_bert(tok: WordPieceTokenizer) -> bool:
    """Whether transformers' BertTokenizer, which builds its own pipeline from the settings
    (clean_text on, "##", 100 characters, [CLS] $A [SEP]), encodes like ``tok``."""
    cls, sep = tok.vocab[tok.cls_id], tok.vocab[tok.sep_id]
    bert = Template.parse(f"{cls} $A {sep}", f"{cls} $A {sep} $B:1 {sep}:1")
    return (tok.clean_text and tok.prefix == "##" and tok.max_chars_per_word == MAX_CHARS_PER_WORD
            and tok.template == bert)


def _tokenizer_config(tok: Tokenizer, names: Mapping[str, str]) -> dict[str, Any]:
    """tokenizer_config.json. transformers 5 rebuilds a GPT2Tokenizer or BertTokenizer from the
    vocabulary with its own pre-tokenizer and template, so those classes are named only where they
    encode alike; otherwise PreTrainedTokenizerFast loads tokenizer.json as it is."""
    config: dict[str, Any] = {}
    if isinstance(tok, WordPieceTokenizer):
        config["tokenizer_class"] = "BertTokenizer" if _is_bert(tok) else "PreTrainedTokenizerFast"
        config.update(do_lower_case=tok.lowercase, strip_accents=tok.strip_accents,
                      tokenize_chinese_chars=tok.handle_chinese_chars)
    else:
        gpt2 = tok.pattern == "gpt2" and tok.template is None and not tok.trim_offsets  # type: ignore[attr-defined]
        config["tokenizer_class"] = "GPT2Tokenizer" if gpt2 else "PreTrainedTokenizerFast"
        config["add_prefix_space"] = False
    config.update({k: names.get(k) for k in SPECIAL_NAMES})  # null for absent: no class default sneaks in
    if tok.model_max_length is not None:
        config["model_max_length"] = tok.model_max_length
    config["added_tokens_decoder"] = {str(t.id): {"content": t.content, "lstrip": t.lstrip, "normalized": False,
                                                  "rstrip": t.rstrip, "single_word": False, "special": t.special}
                                      for t in tok.added_tokens}
    return config
