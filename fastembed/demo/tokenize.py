"""Demo step 1: tokenizers. Byte-level BPE for GPT (merge by merge, on a rare word) and a
WordPiece vocabulary for BERT, both trained on the demo corpus."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

from .corpus import Corpus, words
from .report import Report

EOT = "<|endoftext|>"
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def rare_word(corpus: Corpus) -> str:
    """A long word that occurs only once or twice: the kind BPE must build from pieces. Picks the
    longest such word of 9 to 14 letters (alphabetical among equals), so the choice is stable."""
    counts = collections.Counter(w for s in corpus.sentences for w in words(s) if w.isalpha())
    rare = [w for w, c in counts.items() if c <= 2 and 9 <= len(w) <= 14]
    if not rare:
        rare = [w for w, _ in counts.most_common()[::-1][:50]] or ["tokenization"]
    return sorted(rare, key=lambda w: (-len(w), w))[0]


def bpe_step(corpus: Corpus, out: Path, report: Report, *, vocab_size: int, progress: Any) -> Any:
    """Train byte-level BPE with a trace; show a rare word being built; save ``bpe.json``."""
    from ..plots import merge_steps, plot_merge_trace
    from ..tokenizers import BPETokenizer

    sentences = corpus.sentences
    t0 = time.perf_counter()
    tok = BPETokenizer.train(sentences, vocab_size=vocab_size, special_tokens=[EOT], trace=True, progress=progress)
    dt = time.perf_counter() - t0
    merges = len(tok.rules)
    if merges < vocab_size - 257:
        raise ValueError(f"the corpus is too small for a BPE vocabulary of {vocab_size:,}: only {merges:,} merges "
                         f"reached min_frequency (2); use a bigger corpus or --bpe-vocab {merges + 257}")
    ids = tok.encode_batch(sentences)
    n_tokens = sum(len(a) for a in ids)
    roundtrip = all(tok.decode(a) == s for a, s in zip(ids, sentences))
    report.text(f"Byte-level BPE (GPT-2's pre-tokenizer) trained on the corpus: {merges:,} merges on top of the 256 "
                f"byte tokens, plus `{EOT}`, in {dt:.2f} s. Each merge joins the most frequent adjacent pair "
                "of tokens in the word counts, so frequent words end up as one token and rare ones as a few "
                "pieces; nothing is ever out of vocabulary, since every byte is a token.", echo=True)
    first = [f"merge {i + 1}: {_show(s['bytes'])} (seen {s['count']:,} times)"
             for i, s in enumerate(tok.trace[:8])]
    report.text("The first merges, the most frequent pairs of the corpus:")
    report.bullet(first)
    word = rare_word(corpus)
    steps = merge_steps(tok, " " + word)
    report.text(f"How BPE builds the rare word '{word}' (a leading space is part of the word: GPT-2's pre-tokens "
                "carry it), one merge per line, lowest rank first:", echo=True)
    report.code("\n".join(f"{i:>2}  {' | '.join(_show(p) for p in step)}" for i, step in enumerate(steps)))
    report.figure(plot_merge_trace(steps, out / "bpe_merges.png", title=f"BPE builds '{word}' merge by merge"),
                  f"BPE merge trace of '{word}': single bytes at the top, one merge per row")
    report.table(["tokens in the corpus", "bytes per token", "decode(encode(x)) == x"],
                 [[f"{n_tokens:,}", f"{corpus.num_bytes / n_tokens:.2f}", "yes" if roundtrip else "NO"]])
    unseen = "Unseen text never fails: naïve café, 東京, emoji 😀."
    back = tok.decode(tok.encode(unseen))
    report.text(f"Text unlike the corpus still round-trips through byte tokens: {unseen!r} -> "
                f"{len(tok.encode(unseen))} tokens -> {'identical' if back == unseen else 'DIFFERENT'}.", echo=True)
    report.number("bpe_merges", merges)
    report.number("bytes_per_token", corpus.num_bytes / n_tokens)
    if not (roundtrip and back == unseen):
        raise RuntimeError("BPE failed to round-trip the corpus: this is a bug, please report it")
    path = out / "bpe.json"
    tok.save(path)
    return tok, path


def wordpiece_step(corpus: Corpus, out: Path, report: Report, *, vocab_size: int, progress: Any) -> Any:
    """A lower-cased WordPiece vocabulary for BERT; save ``vocab.txt``."""
    import warnings

    from ..tokenizers import WordPieceTokenizer

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tok = WordPieceTokenizer.train(corpus.sentences, vocab_size=vocab_size, special_tokens=BERT_SPECIALS,
                                       progress=progress)
    dt = time.perf_counter() - t0
    if len(tok.vocab) < vocab_size:
        msg = "; ".join(str(w.message) for w in caught)
        raise ValueError(f"the corpus is too small for a WordPiece vocabulary of {vocab_size:,}: it gave "
                         f"{len(tok.vocab):,} entries ({msg})")
    path = out / "vocab.txt"
    tok.save(path)
    sample = max(corpus.sentences[:200], key=len)[:90]
    pieces = tok.convert_ids_to_tokens(tok.encode(sample))
    report.text(f"For BERT, a lower-cased WordPiece vocabulary of {len(tok.vocab):,} entries (BERT's `##` marks a "
                f"piece that continues a word), learned by the same merging in {dt:.2f} s:", echo=True)
    report.code(f"{sample}\n-> {' '.join(pieces)}")
    return tok, path


def _show(b: Any) -> str:
    """A token for the report: its text, a space as ␣, control characters escaped; bytes that
    are only part of a character (a merge inside a multi-byte UTF-8 letter or quote) as their
    hex, e.g. ␣<e2 80>, not as �."""
    if not isinstance(b, (bytes, bytearray)):
        return repr(str(b).replace(" ", "␣"))[1:-1]
    b, out = bytes(b), []
    while b:
        try:
            out.append(repr(b.decode("utf-8").replace(" ", "␣"))[1:-1])
            break
        except UnicodeDecodeError as e:
            if e.start:
                out.append(repr(b[:e.start].decode("utf-8").replace(" ", "␣"))[1:-1])
            out.append("<" + " ".join(f"{x:02x}" for x in b[e.start:e.end]) + ">")
            b = b[e.end:]
    return "".join(out)
