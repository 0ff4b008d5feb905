"""``fastembed demo``: the lecture, end to end, on real text that needs no download.

    fastembed demo [--quick] [--input FILE] [--out DIR] [--vocab-size N] [--seed N]

0. the native core checks itself (:mod:`.selfcheck`);
1. tokenizers: byte-level BPE merge by merge on a rare word, and a WordPiece vocabulary for BERT
   (:mod:`.tokenize`);
2. word2vec: neighbours, analogies, the PCA pairs picture (:mod:`.vectors`);
3. a tiny GPT pretrained on next tokens: samples before and after, a few-shot prompt (:mod:`.gpt`);
4. a tiny BERT pretrained with masked LM + next sentence: fill-in-the-blank guesses, attention
   maps (:mod:`.bert`), and the loss curves of both;
5. a classifier fine-tuned frozen vs end to end on a task built from the corpus (:mod:`.classify`);
6. features from several layers of BERT, and ELMo's scalar mix over them;
7. ELMo: a small biLM pretrained on the corpus; one word's vectors in several sentences (ELMo,
   BERT) next to its single word2vec vector, and a probe (is a token inside a quotation or a
   bracket?) on each layer and on a learned scalar mix, ELMo's layers next to BERT's (:mod:`.elmo`);
8. bias tools on the word2vec vectors: a direction, projections, WEAT, hard debiasing.

With ``--input``, the probes are chosen from the text itself (:mod:`.choices`): frequent words,
word pairs that occur in it, fill-in-the-blank sentences from a held-out tail.

Everything lands in the output folder (default ``./fastembed-demo``): ``report.md`` with every
number and picture, the PNGs, the corpus as trained on, the tokenizers, and both pretrained
models in HuggingFace format (``gpt/model``, ``bert/model``), and the biLM in fastembed's own
(``elmo/model``). The default corpus is CPython's
own documentation (:mod:`.corpus`). ``--quick`` is a smaller run of every step (under a minute
on 2 cores); the default takes a few minutes.

Bad input fails before any long work: an output folder that cannot be written, or that holds
something other than a previous demo; a missing, unreadable, non-UTF-8 or empty corpus; a corpus
too small for the demo or for the requested vocabulary.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .report import Report

__all__ = ["run_demo", "Settings", "QUICK", "DEFAULT"]

MARKER = ".fastembed-demo"                # marks a folder the demo made, so reruns may replace its parts
OWNED = ("gpt", "bert", "scalar_mix", "elmo")     # sub-folders a rerun clears (pretraining refuses stale checkpoints)


@dataclass(frozen=True)
class Settings:
    corpus_bytes: int      # the default corpus's size
    bpe_vocab: int
    wordpiece_vocab: int
    w2v_dim: int
    w2v_epochs: int
    w2v_min_count: int
    gpt_steps: int
    gpt_batch: int
    gpt_seq: int
    bert_steps: int
    bert_batch: int
    bert_seq: int
    cls_train: int
    cls_dev: int
    cls_epochs: int
    elmo_steps: int
    elmo_embed: int
    elmo_hidden: int
    probe_train: int
    probe_dev: int


QUICK = Settings(corpus_bytes=600_000, bpe_vocab=1024, wordpiece_vocab=1500, w2v_dim=50, w2v_epochs=5,
                 w2v_min_count=3, gpt_steps=40, gpt_batch=16, gpt_seq=64, bert_steps=40, bert_batch=16, bert_seq=64,
                 cls_train=256, cls_dev=128, cls_epochs=2, elmo_steps=40, elmo_embed=64, elmo_hidden=128,
                 probe_train=400, probe_dev=200)
DEFAULT = Settings(corpus_bytes=1_500_000, bpe_vocab=2048, wordpiece_vocab=3000, w2v_dim=100, w2v_epochs=10,
                   w2v_min_count=3, gpt_steps=400, gpt_batch=16, gpt_seq=128, bert_steps=800, bert_batch=16,
                   bert_seq=64, cls_train=1000, cls_dev=400, cls_epochs=3, elmo_steps=300, elmo_embed=128,
                   elmo_hidden=256, probe_train=1000, probe_dev=400)


def prepare_out(path: os.PathLike | str) -> Path:
    """Create (or reuse) the output folder; OSError/ValueError before any work when it cannot be
    written or holds something that is not an earlier demo's output."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(f"--out {out} already holds files that the demo did not write; choose an empty or new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by `fastembed demo`; a rerun replaces this folder's contents\n")
    except OSError as e:
        raise OSError(f"--out {out} cannot be written: {e.strerror or e}") from None
    for name in OWNED:
        shutil.rmtree(out / name, ignore_errors=True)
    return out


def run_demo(*, quick: bool = False, corpus: Optional[os.PathLike | str] = None,
             out: os.PathLike | str = "fastembed-demo", vocab_size: Optional[int] = None, seed: int = 0,
             progress: Optional[bool] = None) -> int:
    """Run the demo (see the module docstring); returns 0 when every check passed."""
    from dataclasses import replace

    from . import bert, classify, elmo, gpt, tokenize, vectors
    from .corpus import check_corpus, default_corpus, file_corpus
    from .report import Report
    from .selfcheck import native_checks

    s = QUICK if quick else DEFAULT
    if vocab_size is not None:
        if not isinstance(vocab_size, int) or vocab_size < 300:
            raise ValueError(f"--vocab-size must be an integer >= 300 (256 byte tokens + merges), got {vocab_size!r}")
        s = replace(s, bpe_vocab=vocab_size, wordpiece_vocab=vocab_size)
    mode = "quick" if quick else "default"
    out_dir = prepare_out(out)
    text = file_corpus(corpus) if corpus is not None else default_corpus(s.corpus_bytes)
    check_corpus(text, mode)

    t0 = time.perf_counter()
    report = Report(out_dir, "fastembed demo: pretrain, then fine-tune")
    report.say(f"fastembed demo ({mode}), writing to {out_dir}/")
    report.text(f"Corpus: {text.name}; {', '.join(text.sources)}. {len(text.documents):,} documents, "
                f"{len(text.sentences):,} sentences, {text.num_words:,} words, {text.num_bytes / 1e6:.2f} MB "
                f"(`corpus.txt`, one sentence per line, a blank line between documents). Settings: {mode}.", echo=True)
    corpus_path = text.write(out_dir / "corpus.txt")
    if text.held_out:
        report.text(f"The last {len(text.held_out):,} sentences are held out of every model's training: the "
                    "fill-in-the-blank sentences come from there.", echo=True)
    total = 8

    report.section(0, total, "native core self-check")
    ok = native_checks()
    report.text(f"The native core checked itself against numpy and known answers: {'ok' if ok else 'FAILED'}.")

    report.section(1, total, "tokenizers: byte-level BPE and WordPiece")
    _, bpe_path = tokenize.bpe_step(text, out_dir, report, vocab_size=s.bpe_vocab, progress=progress)
    _, vocab_path = tokenize.wordpiece_step(text, out_dir, report, vocab_size=s.wordpiece_vocab, progress=progress)
    report.write()

    report.section(2, total, "word2vec: skip-gram with negative sampling")
    w2v = vectors.word2vec_step(text, out_dir, report, dim=s.w2v_dim, epochs=s.w2v_epochs,
                                min_count=s.w2v_min_count, seed=seed + 1, progress=progress)
    report.write()

    report.section(3, total, "GPT: pretraining on the next token, then generation")
    g = gpt.gpt_step(corpus_path, text, bpe_path, out_dir, report, steps=s.gpt_steps, batch_size=s.gpt_batch,
                     seq_len=s.gpt_seq, seed=seed, progress=progress)
    report.write()

    report.section(4, total, "BERT: masked LM + next sentence prediction")
    b = bert.bert_step(corpus_path, text, vocab_path, out_dir, report, steps=s.bert_steps, batch_size=s.bert_batch,
                       seq_len=s.bert_seq, seed=seed, progress=progress)
    _loss_figure(g["rows"], b["rows"], out_dir, report)
    report.write()

    report.section(5, total, "fine-tuning: frozen encoder vs end to end")
    data = classify.classify_step(b["model_dir"], text, report, n_train=s.cls_train, n_dev=s.cls_dev,
                                  epochs=s.cls_epochs, max_length=s.bert_seq, seed=seed, progress=progress)
    report.write()

    report.section(6, total, "features from layers")
    classify.features_step(b["model_dir"], data, out_dir, report, seed=seed, progress=progress)
    report.write()

    report.section(7, total, "ELMo: contextual vectors from a biLM")
    elmo.elmo_step(corpus_path, text, vocab_path, b["model_dir"], w2v.wv, out_dir, report, steps=s.elmo_steps,
                   batch_size=16, seq_len=s.bert_seq, embed=s.elmo_embed, hidden=s.elmo_hidden,
                   n_train=s.probe_train, n_dev=s.probe_dev, seed=seed, progress=progress)
    report.write()

    report.section(8, total, "learned biases in word vectors")
    vectors.bias_step(w2v.wv, report)

    elapsed = time.perf_counter() - t0
    report.number("seconds", elapsed)
    path = report.write(finished=True)
    report.say(f"\ndemo {'done' if ok else 'FAILED'} in {elapsed:.0f} s: {path} ({len(report.figures)} pictures)")
    return 0 if ok else 1


def _loss_figure(gpt_rows: list, bert_rows: list, out: Path, report: Report) -> None:
    from ..plots import plot_loss_curves
    from .gpt import curves

    panels = {"GPT: next-token loss": curves(gpt_rows, "loss"), "BERT: masked-LM loss": curves(bert_rows, "mlm_loss"),
              "BERT: next-sentence loss": curves(bert_rows, "nsp_loss")}
    panels = {k: v for k, v in panels.items() if v}
    if panels:
        report.figure(plot_loss_curves(panels, out / "loss_curves.png", title="pretraining loss (train and held-out)"),
                      "Pretraining loss curves: GPT's next-token loss, BERT's masked-LM and next-sentence losses")
