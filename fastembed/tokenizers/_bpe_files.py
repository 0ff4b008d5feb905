"""Parsing BPE tokenizer files: fastembed's own JSON, tiktoken rank files, GPT-2's encoder.json
and vocab.bpe. Everything a file says is checked before anything is allocated in proportion to
a number in it (a rank of 3e8 in a 257-line file once cost 2.4 GB): a bad file is a ValueError
naming the file, the line or entry, and what was expected.

The classmethods of BPETokenizer call these and build the tokenizer from what they return.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

from ._files import is_int, read_bytes, read_json, read_text

FORMAT = "fastembed-bpe"
FORMAT_VERSION = 1
# Special tokens of a tiktoken vocabulary get ids after the ranks and may leave ids unused
# between them (cl100k leaves 100256); this many unused ids at most, so a special id cannot make
# the vocabulary huge.
MAX_UNUSED_IDS = 1 << 16

# What each file is, for messages: "PATH is not a tiktoken rank file (not UTF-8 text: ...)".
TOKENIZER_JSON = "a fastembed tokenizer file"
TIKTOKEN = "a tiktoken rank file"
ENCODER_JSON = "a GPT-2 encoder.json"
MERGES = "a GPT-2 vocab.bpe merges file"


def check_special_ids(specials: Mapping[Any, Any], lo: int, hi: int, where: str = "", note: str = "") -> dict[str, int]:
    """``specials`` as a dict after checking that every id is an int in [lo, hi) and no two
    share one; ValueError saying which token, its id and the range otherwise."""
    prefix = f"{where}: " if where else ""
    if not isinstance(specials, Mapping):
        raise ValueError(  # noqa: TRY004 - the value may come from a file: a ValueError, as for any bad contents
            f"{prefix}special tokens must be a mapping of token text -> id, got {type(specials).__name__}")
    owner: dict[int, str] = {}
    for name, i in specials.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{prefix}special token {name!r} must be a non-empty string")
        if not is_int(i) or not lo <= i < hi:
            raise ValueError(f"{prefix}special token {name!r} has id {i!r}; expected an integer id in {lo}..{hi - 1}"
                             + note)
        if i in owner:
            raise ValueError(f"{prefix}special tokens {owner[i]!r} and {name!r} both have id {i}")
        owner[i] = name
    return dict(specials)


def read_tokenizer_json(path: str | os.PathLike) -> dict[str, Any]:
    """The fields of a file written by BPETokenizer.save: pattern, vocab, rules (a list of
    4-int rows), special_tokens."""
    where = f"{path}"
    data = read_json(path, TOKENIZER_JSON)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{where} is not a fastembed tokenizer file (no \"format\": \"{FORMAT}\")")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"{where} has format version {data.get('version')!r}; this fastembed reads {FORMAT_VERSION}")
    for key, kind in (("pattern", str), ("tokens", list), ("rules", list), ("special_tokens", dict)):
        if not isinstance(data.get(key), kind):
            raise ValueError(f"{where}: field {key!r} is missing or not a {kind.__name__}")  # noqa: TRY004
    try:  # "" is an unused id (a gap before a tiktoken vocabulary's special tokens)
        vocab = [base64.b64decode(t, validate=True) for t in data["tokens"]]
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: field 'tokens' holds an entry that is not base64 ({e})") from None
    for k, row in enumerate(data["rules"]):
        if not (isinstance(row, list) and len(row) == 4 and all(is_int(v) and 0 <= v < 2**32 for v in row)):
            raise ValueError(f"{where}: rule {k} is not 4 integers in [0, 2**32): {row!r}"[:300])
    specials = check_special_ids(data["special_tokens"], 0, len(vocab), where)
    return {"pattern": data["pattern"], "vocab": vocab, "rules": data["rules"], "special_tokens": specials}


def read_tiktoken(path: str | os.PathLike, special_tokens: Mapping[str, int] | None
                  ) -> tuple[list[bytes], list[tuple[int, int, int, int]], dict[str, int]]:
    """(vocab, rules, specials) of a tiktoken rank file: ranks 0..n-1, each once, are the ids;
    every split of a token into two tokens is a rule at the token's rank."""
    lines = [(k, line) for k, line in enumerate(read_bytes(path, TIKTOKEN).splitlines(), 1) if line.strip()]
    n = len(lines)
    ranks: dict[bytes, int] = {}
    line_of_token: dict[bytes, int] = {}
    line_of_rank: dict[int, int] = {}
    for lineno, line in lines:
        at = f"{path}: line {lineno}"
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{at} is not 'base64-token rank' (expected 'base64-token rank'): {line[:60]!r}")
        try:
            token = base64.b64decode(fields[0], validate=True)
        except binascii.Error:
            raise ValueError(f"{at}: the token {fields[0][:60]!r} is not base64") from None
        digits = fields[1]
        if not digits.isdigit():  # bytes.isdigit: ASCII digits only (int() would take "1_0", "+1")
            raise ValueError(f"{at}: rank {digits[:30].decode('latin-1')!r} is not a non-negative integer")
        significant = digits.lstrip(b"0") or b"0"
        if len(significant) > 18 or int(significant) >= n:  # no int() of a 10**6-digit number
            shown = digits.decode() if len(digits) <= 60 else digits[:20].decode() + "..."
            raise ValueError(f"{at}: rank {shown} is out of range; the file has {n} tokens, so expected "
                             f"ranks 0..{n - 1}, each once")
        rank = int(significant)
        if rank in line_of_rank:
            raise ValueError(f"{at}: rank {rank} was already given on line {line_of_rank[rank]}; "
                             f"expected ranks 0..{n - 1}, each once")
        if token in line_of_token:
            raise ValueError(f"{at}: token {token[:60]!r} was already given on line {line_of_token[token]}; "
                             "expected each token once")
        ranks[token] = rank
        line_of_rank[rank] = line_of_token[token] = lineno
    # n distinct ranks, all below n: exactly 0..n-1.
    specials = special_tokens or {}
    specials = check_special_ids(specials, n, n + len(specials) + MAX_UNUSED_IDS if isinstance(specials, Mapping) else n,
                                 where=f"{path}", note=f" (after the file's {n} ranked tokens, leaving at most {MAX_UNUSED_IDS} "
                                      "ids unused)")
    vocab = [b""] * (max(specials.values(), default=n - 1) + 1)  # b"": an unused id
    for token, rank in ranks.items():
        vocab[rank] = token
    for s, i in specials.items():
        vocab[i] = s.encode("utf-8")
    # Only split points where both halves can be tokens: a split at k needs a token of length k.
    lengths = sorted({len(t) for t in ranks})
    rules = [(ranks[t[:k]], ranks[t[k:]], rank, rank)
             for t, rank in ranks.items() if len(t) > 1
             for k in lengths if k < len(t) and t[:k] in ranks and t[k:] in ranks]
    return vocab, rules, specials


def read_gpt2(encoder_json: str | os.PathLike, vocab_bpe: str | os.PathLike, to_bytes_table: dict[str, int]
              ) -> tuple[list[bytes], list[tuple[int, int, int, int]], dict[str, int]]:
    """(vocab, rules, specials) of GPT-2's files; <|endoftext|> is the special token.
    ``to_bytes_table`` is GPT-2's printable character -> byte table."""
    encoder = read_json(encoder_json, ENCODER_JSON)
    if not isinstance(encoder, dict):
        kind = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(encoder), "null")
        raise ValueError(  # noqa: TRY004 - bad file contents
            f"{encoder_json} holds a JSON {kind}; expected an object mapping each token to its id "
            "(GPT-2's encoder.json)")
    n = len(encoder)
    if n == 0:
        raise ValueError(f"{encoder_json} holds no tokens; expected an object mapping each token to its id")
    specials = {t: i for t, i in encoder.items() if t == "<|endoftext|>"}
    vocab: list[bytes | None] = [None] * n
    for token, i in encoder.items():
        if not is_int(i) or not 0 <= i < n:
            raise ValueError(f"{encoder_json}: token {token[:60]!r} has id {i!r}; expected an integer id in "
                             f"0..{n - 1} (each id once)")
        if vocab[i] is not None:
            raise ValueError(f"{encoder_json}: id {i} is given to two tokens; expected each id in 0..{n - 1} once")
        if token in specials:
            vocab[i] = token.encode("utf-8")
            continue
        try:
            vocab[i] = bytes(to_bytes_table[c] for c in token)
        except KeyError:
            raise ValueError(f"{encoder_json}: token {token[:60]!r} uses a character outside GPT-2's byte alphabet") from None
    # n distinct ids in 0..n-1: every entry of vocab is set.
    rules = []
    line_of_pair: dict[tuple[int, int], int] = {}
    for lineno, line in enumerate(read_text(vocab_bpe, MERGES).split("\n"), 1):
        line = line.rstrip("\r")
        # GPT-2's file starts with "#version: 0.2"; some merges.txt files have no such line, and
        # skipping line 1 regardless would drop their first merge.
        if not line or (lineno == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or parts[0] not in encoder or parts[1] not in encoder or parts[0] + parts[1] not in encoder:
            raise ValueError(f"{vocab_bpe}: line {lineno} is not a merge of two known tokens whose concatenation "
                             f"is a token: {line[:60]!r}")
        pair = (encoder[parts[0]], encoder[parts[1]])
        if pair in line_of_pair:
            raise ValueError(f"{vocab_bpe}: line {lineno}: the pair {line!r} was already merged on line "
                             f"{line_of_pair[pair]}; expected each merge once")
        line_of_pair[pair] = lineno
        rules.append((pair[0], pair[1], len(rules), encoder[parts[0] + parts[1]]))
    return vocab, rules, specials  # type: ignore[return-value]
