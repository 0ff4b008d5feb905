"""Demo steps 5 and 6: use the pretrained BERT. A labelled task built from the corpus, fine-tuned
with the encoder frozen vs end to end; then features from chosen layers (and ELMo's learned
scalar mix). (One word's contextual vectors are drawn in the ELMo step, :mod:`.elmo`.)

The task needs no labels from anyone: **which section of the corpus does a sentence come
from?** For CPython's documentation: the language reference or a library docstring; for a
``--input`` file, which quarter of it. Classes are balanced and train and dev use different
sentences. (A first version asked "original word order or shuffled?": a BERT pretrained for a
few minutes on CPU cannot tell, frozen or fine-tuned, so it showed nothing.)
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .claims import best_sentence, finetune_sentence
from .corpus import Corpus
from .report import Report

FEATURE_LAYERS = ("embeddings", "second_to_last", "last", "sum_last_4", "concat_last_4")


def section_task(corpus: Corpus, n_train: int, n_dev: int, seed: int) -> tuple[list, list]:
    """(train, dev) TextExamples labelled by section (see the module docstring), balanced: the
    same number of sentences (5 to 30 words) from each section, shuffled, split by sentence."""
    from ..finetune import text_examples

    rng = random.Random(seed)
    by_section = {k: [s for s in v if 5 <= len(s.split()) <= 30] for k, v in corpus.section_sentences().items()}
    k = len(by_section)
    need = -(-(n_train + n_dev) // max(k, 1))
    short = {name: len(v) for name, v in by_section.items() if len(v) < need}
    if k < 2 or short:
        raise ValueError(f"the section task needs {need:,} sentences of 5 to 30 words in each of at least 2 sections; "
                         f"this corpus has {short or by_section.keys()}")
    pairs = []
    for name, sentences in by_section.items():
        rng.shuffle(sentences)
        pairs += [(s, name) for s in sentences[:need]]
    rng.shuffle(pairs)
    ex = text_examples([p[0] for p in pairs], [p[1] for p in pairs])
    return ex[:n_train], ex[n_train:n_train + n_dev]


def probe_accuracy(xtr: np.ndarray, ytr: np.ndarray, xdv: np.ndarray, ydv: np.ndarray, *, seed: int,
                   steps: int = 300) -> float:
    """Dev accuracy of a logistic regression (standardised features, Adam, L2) trained on fixed
    features: the classic "linear probe" of what a layer holds."""
    import torch

    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    a = torch.from_numpy(((xtr - mu) / sd).astype(np.float32))
    b = torch.from_numpy(((xdv - mu) / sd).astype(np.float32))
    y = torch.from_numpy(ytr.astype(np.int64))
    torch.manual_seed(seed)
    lin = torch.nn.Linear(a.shape[1], int(ytr.max()) + 1)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(a), y).backward()
        opt.step()
    with torch.no_grad():
        return float((lin(b).argmax(1).numpy() == ydv).mean())


def classify_step(bert_dir: str, corpus: Corpus, report: Report, *, n_train: int, n_dev: int, epochs: int,
                  max_length: int, seed: int, progress: Any) -> dict:
    from ..finetune import finetune

    train, dev = section_task(corpus, n_train, n_dev, seed)
    names = [name for name, _, _ in corpus.sections]
    report.text(f"A task built from the corpus with no labelling: which section does a sentence come from "
                f"({' / '.join(names)})? {len(train):,} training and {len(dev):,} dev sentences, the sections "
                f"balanced (chance: {100 / len(names):.0f}%). The same pretrained BERT, two ways, each head reading "
                "the mean of the last layer's token states (a tiny model takes larger steps than BERT's 5e-5):",
                echo=True)
    common = dict(epochs=epochs, batch_size=32, max_length=max_length, seed=seed, progress=progress,
                  device="cpu", head_options={"pooling": "mean"})
    runs = {"frozen": finetune("classify", bert_dir, train, dev, freeze_encoder=True, **common),
            "end to end": finetune("classify", bert_dir, train, dev, freeze_encoder=False, lr=1e-3, **common)}
    rows = []
    for name, r in runs.items():
        secs = sum(e["train_seconds"] for e in r["epochs"])
        rows.append([name, "head only (the encoder's output is computed once and cached)" if name == "frozen"
                     else "every weight", f"{r['lr']:g}", f"{100 * r['best']['dev']['accuracy']:.1f}", f"{secs:.1f}"])
        report.number(f"classify_{name.replace(' ', '_')}_accuracy", r["best"]["dev"]["accuracy"])
    report.table(["encoder", "what trains", "lr", "dev accuracy %", "training s"], rows)
    frozen, e2e = (runs[k]["best"]["dev"]["accuracy"] for k in ("frozen", "end to end"))
    report.text("Frozen trains fast (the encoder runs once per sentence) and cannot disturb what pretraining "
                "learned; end to end adapts every layer to the task. "
                + finetune_sentence(frozen, e2e, 1 / len(names), len(dev)), echo=True)
    return {"train": train, "dev": dev, "max_length": max_length}


def features_step(bert_dir: str, data: dict, out: Path, report: Report, *, seed: int, progress: Any) -> None:
    from ..features import TruncationWarning, extract
    from ..finetune import finetune, load_finetuned
    from ..models.hf import load_bert, load_wordpiece

    encoder, tok = load_bert(bert_dir), load_wordpiece(bert_dir)
    train, dev = data["train"], data["dev"]
    names = sorted({e.label for e in train})
    ytr = np.array([names.index(e.label) for e in train], np.int64)
    ydv = np.array([names.index(e.label) for e in dev], np.int64)
    rows = []
    for layers in FEATURE_LAYERS:
        with warnings.catch_warnings():                            # a few long sentences are cut, as in finetune()
            warnings.simplefilter("ignore", TruncationWarning)
            xtr, xdv = (extract(encoder, [e.text_a for e in split], tokenizer=tok, layers=layers, pooling="mean",
                                max_length=data["max_length"]) for split in (train, dev))
        acc = probe_accuracy(xtr, ytr, xdv, ydv, seed=seed)
        rows.append([layers, xtr.shape[1], f"{100 * acc:.1f}"])
        report.number(f"features_{layers}_accuracy", acc)
    mix = finetune("classify", bert_dir, train, dev, freeze_encoder=True, layers="scalar_mix", epochs=6,
                   batch_size=32, max_length=data["max_length"], seed=seed, progress=progress,
                   device="cpu", lr=1e-2, out_dir=out / "scalar_mix")
    weights = [float(w) for w in load_finetuned(out / "scalar_mix")[0].mix.weights.detach()]
    rows.append(["scalar_mix (learned)", encoder.config.hidden_size, f"{100 * mix['best']['dev']['accuracy']:.1f}"])
    report.text("Features from chosen layers (mean over the tokens), each read by a logistic regression (a "
                "linear probe), frozen encoder; and ELMo's scalar mix γ·Σ softmax(w)_j·h_j, its layer "
                "weights learned with the classifier head:", echo=True)
    report.table(["features", "width", "dev accuracy %"], rows)
    report.text("Learned scalar-mix weights, embeddings first: " + ", ".join(f"{w:.2f}" for w in weights)
                + ".", echo=True)
    chance = 1 / len(names)
    report.text(best_sentence({str(r[0]): float(r[2]) / 100 for r in rows}, chance, len(dev)) + " BERT's paper "
                "(Table 7, NER) found the concatenation of the last four layers nearly as good as fine-tuning and "
                "the embedding layer far behind; a BERT pretrained for minutes has less to give in its upper "
                "layers.", echo=True)
