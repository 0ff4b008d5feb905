"""Generate csrc/bpe/bert_tables.inc: what BERT's normalizer and pre-tokenizer need to know about
each code point (csrc/bpe/bert_text.h), from Python's `unicodedata`.

Per code point, a properties record (flags + canonical combining class):
  kControl  removed by clean_text: U+0000, U+FFFD and categories Cc, Cf, Co, Cs, except tab,
            newline and carriage return. Unassigned code points (Cn) are kept: HF tokenizers'
            `is_control` (its `unicode_categories` tables) does not remove them.
  kSpace    the White_Space property (Rust's char::is_whitespace): Zs, Zl, Zp, U+0009..U+000D,
            U+0085. (Python's str.isspace also has U+001C..U+001F, which are controls here.)
  kPunct    BERT punctuation: ASCII 33-47, 58-64, 91-96, 123-126, and categories P*.
  kMn       category Mn: dropped after NFD when accents are stripped.
  kCjk      the CJK ideograph blocks BERT surrounds with spaces.
  kDecomp   has a canonical decomposition (full NFD of the character differs from it).
  kLower    str.lower() changes it (one character at a time, as Rust's char::to_lowercase:
            no final-sigma rule).
and two sorted maps code point -> code points: the full canonical decomposition (Hangul
syllables are left out: bert_text.cc decomposes them arithmetically) and the lower-case mapping.

The record of a code point is found with a two-level table: kBertBlock[cp >> SHIFT] is a block
number, kBertRecord[(block << SHIFT) | (cp & MASK)] the record's index in kBertProps.

    python csrc/bpe/gen_bert_tables.py            # rewrite the table
    python csrc/bpe/gen_bert_tables.py --check    # exit 1 if the table is out of date

tests/tokenizers/test_wordpiece_native.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).with_name("bert_tables.inc")
SHIFT = 7  # 128 code points per block: 176 distinct blocks, the smallest two tables (31 KiB) of 5..8
N_CODE_POINTS = 0x110000
HANGUL = (0xAC00, 0xD7A3)
# The blocks BERT's tokenizer (and HF's BertNormalizer) treat as CJK ideographs.
CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
       (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
FLAGS = ("kControl", "kSpace", "kPunct", "kMn", "kCjk", "kDecomp", "kLower")
MAX_MAPPED = 4  # longest decomposition / lower-case mapping bert_text.cc expects


def is_white_space(o: int) -> bool:
    return 9 <= o <= 13 or o == 0x85 or unicodedata.category(chr(o)) in ("Zs", "Zl", "Zp")


def is_control(o: int) -> bool:
    if o in (0, 0xFFFD):
        return True
    return chr(o) not in "\t\n\r" and unicodedata.category(chr(o)) in ("Cc", "Cf", "Co", "Cs")


def is_punct(o: int) -> bool:
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or \
        unicodedata.category(chr(o)).startswith("P")


def properties(o: int) -> tuple[int, int]:
    c = chr(o)
    bits = (is_control(o), is_white_space(o), is_punct(o), unicodedata.category(c) == "Mn",
            any(lo <= o <= hi for lo, hi in CJK), unicodedata.normalize("NFD", c) != c, c.lower() != c)
    return sum(1 << i for i, b in enumerate(bits) if b), unicodedata.combining(c)


def build() -> dict:
    records: dict[tuple[int, int], int] = {(0, 0): 0}
    ids = []
    for o in range(N_CODE_POINTS):
        ids.append(records.setdefault(properties(o), len(records)))
    assert len(records) <= 256, len(records)
    block_of: dict[tuple[int, ...], int] = {}
    stage1 = []
    for b in range(0, N_CODE_POINTS, 1 << SHIFT):
        stage1.append(block_of.setdefault(tuple(ids[b:b + (1 << SHIFT)]), len(block_of)))
    assert len(block_of) <= 256, len(block_of)
    stage2 = [i for block in block_of for i in block]

    pool: list[int] = []
    maps = {}
    for name, fn in (("decomp", lambda c: unicodedata.normalize("NFD", c)), ("lower", str.lower)):
        rows = []
        for o in range(N_CODE_POINTS):
            if 0xD800 <= o <= 0xDFFF or (name == "decomp" and HANGUL[0] <= o <= HANGUL[1]):
                continue
            m = fn(chr(o))
            if m != chr(o):
                assert 1 <= len(m) <= MAX_MAPPED, (hex(o), m)
                rows.append((o, len(pool), len(m)))
                pool += map(ord, m)
        maps[name] = rows
    assert len(pool) < 1 << 16

    # What bert_text.cc relies on.
    for o in range(HANGUL[0], HANGUL[1] + 1):  # arithmetic Hangul decomposition: all parts plain starters
        assert all(properties(ord(p)) == (0, 0) for p in unicodedata.normalize("NFD", chr(o)))
    for o in range(128):  # ASCII: no decomposition, no combining class, no marks, at most a letter to lower
        flags, ccc = properties(o)
        assert ccc == 0 and not flags & (1 << 5 | 1 << 3 | 1 << 4)
        assert chr(o).lower().isascii()
    return {"records": records, "stage1": stage1, "stage2": stage2, "pool": pool, **maps}


def rows_of(values: list, per_line: int, fmt: str = "{}") -> list[str]:
    return ["    " + ",".join(fmt.format(v) for v in values[i:i + per_line]) + ","
            for i in range(0, len(values), per_line)]


def render() -> str:
    t = build()
    recs = sorted(t["records"].items(), key=lambda kv: kv[1])
    mask = (1 << SHIFT) - 1
    lines = [
        f"// Generated by csrc/bpe/gen_bert_tables.py from Python's unicodedata {unicodedata.unidata_version}."
        " Do not edit.",
        f"// {len(recs)} property records, {len(t['stage2']) >> SHIFT} distinct blocks of {1 << SHIFT} code points,",
        f"// {len(t['decomp'])} decompositions, {len(t['lower'])} lower-case mappings.",
        f"static constexpr int kBertShift = {SHIFT};",
        f"static constexpr uint32_t kBertMask = 0x{mask:X};",
        "",
        "// Records: {flags, canonical combining class}.",
        "static constexpr BertProps kBertProps[] = {",
    ]
    for (flags, ccc), _ in recs:
        names = "|".join(n for i, n in enumerate(FLAGS) if flags >> i & 1) or "0"
        lines.append(f"    {{{names}, {ccc}}},")
    lines += ["};", "", "// Block number of each run of code points (cp >> kBertShift).",
              f"static constexpr uint8_t kBertBlock[{len(t['stage1'])}] = {{"]
    lines += rows_of(t["stage1"], 32)
    lines += ["};", "", "// Record index of each code point of each distinct block.",
              f"static constexpr uint8_t kBertRecord[{len(t['stage2'])}] = {{"]
    lines += rows_of(t["stage2"], 40)
    lines += ["};", "", "// Code points of the mappings below.", f"static constexpr uint32_t kBertPool[{len(t['pool'])}] = {{"]
    lines += rows_of(t["pool"], 16, "0x{:X}")
    for name, what in (("decomp", "Full canonical decompositions (NFD), except Hangul syllables"),
                       ("lower", "Lower-case mappings")):
        lines += ["};", "", f"// {what}: {{code point, offset in kBertPool, length}}, sorted.",
                  f"static constexpr BertMapping kBert{name.capitalize()}[{len(t[name])}] = {{"]
        lines += rows_of(t[name], 6, "{{0x{0[0]:X},{0[1]},{0[2]}}}")
    lines.append("};")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        print(f"{OUT.name} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text) >> 10} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
