"""Demo step 7: ELMo, contextual vectors from a biLM (Peters et al. 2018).

A small biLM (a forward and a backward LSTM language model sharing the token embedding) is
pretrained on the corpus with ``fastembed pretrain elmo``'s driver and the same WordPiece
vocabulary as BERT, so both read exactly the same tokens. Then ELMo's idea, shown two ways:

1. **The same word, different vectors.** One word in several sentences: ELMo's top layer, BERT's
   last layer, and the single word2vec vector, side by side (``contextual_vs_static.png``), and
   how similar each model's vectors of the word are across the sentences (layer 0 of ELMo is a
   lookup table, so its vectors are identical: cosine 1).
2. **What each layer holds: a probe.** The task is replaced-token detection (ELECTRA's): in each
   sentence one token is, half of the time, swapped for a token drawn from the same positions'
   tokens, and a logistic regression on one token's features must say whether it was swapped. It
   is chosen because the layers *must* differ on it: the replacements are drawn with the same
   frequencies as the originals, so the token alone says nothing (layer 0, a lookup table, should
   score about chance, 50%) and only a layer that has read the context can tell a word that fits
   from one that does not. The same probe runs on (a) layer 0, (b) each LSTM layer, and (c)
   ELMo's scalar mix γ·Σ softmax(w)_j·h_j learned with the probe (its weights and γ printed), and
   on BERT's embedding and four layers the same way.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .choices import is_content
from .claims import above_chance, best_sentence
from .classify import probe_accuracy
from .corpus import Corpus, words
from .report import Report

# Words whose senses differ with the sentence; the first the corpus has in enough sentences is
# used for the contextual picture, else its most frequent content word that does.
AMBIGUOUS = ("bank", "set", "return", "class", "type", "object", "key", "light", "right", "left", "fair", "mind",
             "present", "state", "order", "case", "spring", "letter", "lead", "close", "turn", "play", "head",
             "face", "hand", "mean", "still", "well", "kind", "place")
SENTENCES = 10                    # in the contextual picture
MAX_TOKENS = 40                   # a probe sentence's tokens are cut to this many


def elmo_step(corpus_path: Path, corpus: Corpus, vocab_path: Path, bert_dir: str, kv: Any, out: Path,
              report: Report, *, steps: int, batch_size: int, seq_len: int, embed: int, hidden: int,
              n_train: int, n_dev: int, seed: int, progress: Any) -> dict:
    from ..models import load_elmo
    from ..models.hf import load_bert, load_wordpiece
    from ..training.pretrain import pretrain

    with warnings.catch_warnings():                       # WordPiece has no <|endoftext|>: documents join
        warnings.simplefilter("ignore")
        result = pretrain("elmo", corpus=corpus_path, tokenizer=vocab_path, out_dir=out / "elmo", steps=steps,
                          config="tiny", overrides={"embed_size": embed, "hidden_size": hidden},
                          batch_size=batch_size, max_length=seq_len, warmup_steps=max(1, steps // 20),
                          eval_every=max(1, steps // 4), eval_batches=8, save_every=steps,
                          log_every=max(1, steps // 40), dev_fraction=0.02, seed=seed, device="cpu",
                          progress=progress)
    elmo = load_elmo(result["model_dir"], dropout=0.0).eval()
    tok = load_wordpiece(bert_dir)
    bert = load_bert(bert_dir).eval()
    cfg = elmo.config
    dev = result["dev"] or {}
    n_params = sum(p.numel() for p in elmo.parameters())
    fwd, bwd = dev.get("lm_fwd_loss", float("nan")), dev.get("lm_bwd_loss", float("nan"))
    report.text(f"A small ELMo biLM: a token embedding ({cfg.embed_size} wide) read by a forward and a backward "
                f"LM, {cfg.num_layers} LSTM layers each ({cfg.hidden_size} cells, projected back to "
                f"{cfg.embed_size}), both softmaxes tied to the embedding; {n_params / 1e6:.2f}M parameters, "
                f"BERT's WordPiece vocabulary, {steps} steps of {batch_size} x {seq_len} tokens. Held-out loss: "
                f"forward LM {fwd:.2f}, backward LM {bwd:.2f} (a uniform guess over {tok.vocab_size:,} pieces: "
                f"{math.log(tok.vocab_size):.2f}). Its features are the {cfg.num_layers + 1} layers "
                f"[x; x], [f_1; b_1], ..., each {cfg.feature_size} wide (forward and backward side by side).",
                echo=True)
    report.number("elmo_dev_loss_forward", fwd)
    report.number("elmo_dev_loss_backward", bwd)
    _contextual(elmo, bert, tok, corpus, kv, out, report)
    _layer_probe(elmo, bert, tok, corpus, report, n_train=n_train, n_dev=n_dev, seed=seed)
    return {"model_dir": result["model_dir"]}


# --------------------------------------------------------------------------- the same word in context


def context_word(corpus: Corpus, kv: Any, *, need: int = SENTENCES) -> tuple[str, list[str]]:
    """(word, sentences): the first of :data:`AMBIGUOUS` (in the curated corpus, or by corpus
    frequency in a user's) that is in ``kv`` and in ``need`` sentences under 160 characters, else
    the most frequent such content word. The sentences are spread evenly over its uses."""
    counts: dict[str, list[str]] = {}
    for s in corpus.sentences:
        if len(s) < 160:
            for w in set(words(s)):
                counts.setdefault(w, []).append(s)
    ok = [w for w in counts if w in kv and len(counts[w]) >= need]
    freq = {w: len(counts[w]) for w in ok}
    ambiguous = [w for w in AMBIGUOUS if w in freq]
    if not corpus.curated:
        ambiguous.sort(key=lambda w: -freq[w])
    pool = ambiguous or sorted((w for w in ok if is_content(w)), key=lambda w: (-freq[w], w))
    if not pool:
        raise ValueError(f"no word of the corpus occurs in {need} short sentences")
    word = pool[0]
    uses = counts[word]
    return word, [uses[(i * len(uses)) // need] for i in range(need)]


def _mean_cosine(x: np.ndarray) -> float:
    u = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    c = u @ u.T
    n = len(u)
    return float((c.sum() - np.trace(c)) / (n * (n - 1)))


def _contextual(elmo: Any, bert: Any, tok: Any, corpus: Corpus, kv: Any, out: Path, report: Report) -> None:
    from ..inspect import token_vectors
    from ..plots import plot_contextual

    try:
        word, sentences = context_word(corpus, kv)
    except ValueError as e:
        report.text(f"No contextual picture: {e}.", echo=True)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, used = token_vectors(bert, tok, sentences, word)
        b, _ = token_vectors(bert, tok, used, word)
        layers = [token_vectors(elmo, tok, used, word, layer=j)[0] for j in range(elmo.config.num_layers + 1)]
    path = plot_contextual({"ELMo, top layer": layers[-1], "BERT, last layer": b}, used,
                           out / "contextual_vs_static.png", word=word, static=kv,
                           title=f"'{word}' in {len(used)} sentences: a vector per sentence (ELMo, BERT) vs one "
                                 "(word2vec)")
    sims = [_mean_cosine(x) for x in layers]
    report.text(f"The same word, different vectors: '{word}' in {len(used)} sentences of the corpus. Mean cosine "
                "between its vectors in different sentences (1 = the same vector every time, as word2vec gives): "
                + ", ".join(f"ELMo layer {j} {c:.2f}" for j, c in enumerate(sims)) + f", BERT last layer "
                f"{_mean_cosine(b):.2f}. ELMo's layer 0 is a lookup table, identical in every sentence; its LSTM "
                "layers read the sentence around the word.", echo=True)
    report.figure(path, f"Contextual vectors of '{word}' (PCA; one colour and number per sentence, listed below "
                        "the panels): ELMo's top layer, BERT's last layer, and word2vec's single vector among its "
                        "neighbours")
    report.number("context_word", word)
    report.number("context_mean_cosine_elmo_layers", sims)


# --------------------------------------------------------------------------- the layer probe


def replaced_token_task(tok: Any, sentences: list[str], n: int, seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    """``n`` token sequences (no special tokens, 8 to :data:`MAX_TOKENS` pieces), the probed
    position of each (not the first or last piece, so both directions have context), and the
    label: 1 when the token there was replaced. Half are replaced (by the labels' shuffle), each
    with a token drawn from the original tokens at the probed positions (never itself), so a
    token's identity alone carries no information about its label."""
    rng = random.Random(seed)
    pool = [s for s in sentences if 8 <= len(s.split()) <= 40]
    rng.shuffle(pool)
    ids, pos = [], []
    for a in tok.encode_batch(pool[:3 * n], add_special_tokens=False):
        a = a.tolist()[:MAX_TOKENS]
        if len(a) >= 8:
            ids.append(a)
            pos.append(rng.randrange(1, len(a) - 1))
        if len(ids) == n:
            break
    if len(ids) < n:
        raise ValueError(f"the probe needs {n} sentences of 8+ pieces; the corpus gave {len(ids)}")
    labels = np.array([1] * (n // 2) + [0] * (n - n // 2), np.int64)
    rng.shuffle(labels)
    originals = [a[p] for a, p in zip(ids, pos)]
    for a, p, y in zip(ids, pos, labels):
        if y:
            new = a[p]
            while new == a[p]:
                new = rng.choice(originals)
            a[p] = new
    return ids, np.array(pos, np.int64), labels


def _layer_features(model: Any, ids: list, pos: np.ndarray, frame: Any) -> np.ndarray:
    """(N, L+1, C): every layer's state at the probed token of each sequence."""
    from ..features import extract, pad_batch

    rows = [([frame[0], *a, frame[1]] if frame else a) for a in ids]
    x, mask, _ = pad_batch([np.array(r) for r in rows], 0)
    feats = extract(model, {"input_ids": x, "attention_mask": mask}, layers="all", pooling="none")
    shift = 1 if frame else 0
    return np.stack([f[p + shift] for f, p in zip(feats, pos)])


def mix_probe(xtr: np.ndarray, ytr: np.ndarray, xdv: np.ndarray, ydv: np.ndarray, *, seed: int,
              steps: int = 300) -> tuple[float, list[float], float]:
    """(dev accuracy, softmax weights, γ) of ELMo's scalar mix learned together with a logistic
    regression on (N, L+1, C) features. Each layer is standardised with the training set's mean
    and spread first, so the weights compare layers rather than their scales."""
    import torch

    from ..features import ScalarMix

    mu, sd = xtr.mean(0, keepdims=True), xtr.std(0, keepdims=True) + 1e-6
    a = torch.from_numpy(((xtr - mu) / sd).astype(np.float32))
    b = torch.from_numpy(((xdv - mu) / sd).astype(np.float32))
    y = torch.from_numpy(ytr.astype(np.int64))
    torch.manual_seed(seed)
    mix, lin = ScalarMix(a.shape[1]), torch.nn.Linear(a.shape[2], int(ytr.max()) + 1)
    opt = torch.optim.Adam([{"params": lin.parameters(), "weight_decay": 1e-3},
                            {"params": mix.parameters(), "weight_decay": 0.0}], lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(mix(a)), y).backward()
        opt.step()
    with torch.no_grad():
        acc = float((lin(mix(b)).argmax(1).numpy() == ydv).mean())
        return acc, [float(w) for w in mix.weights], float(mix.gamma)


def _layer_probe(elmo: Any, bert: Any, tok: Any, corpus: Corpus, report: Report, *, n_train: int, n_dev: int,
                 seed: int) -> None:
    ids, pos, y = replaced_token_task(tok, corpus.sentences, n_train + n_dev, seed)
    frame = (tok.cls_token_id, tok.sep_token_id)
    feats = {"ELMo": _layer_features(elmo, ids, pos, None), "BERT": _layer_features(bert, ids, pos, frame)}
    tr, dv = slice(0, n_train), slice(n_train, n_train + n_dev)
    scores: dict[str, dict[str, float]] = {}
    mixes: dict[str, tuple[list[float], float]] = {}
    for name, x in feats.items():
        scores[name] = {f"layer {j}": probe_accuracy(x[tr, j], y[tr], x[dv, j], y[dv], seed=seed)
                        for j in range(x.shape[1])}
        acc, w, gamma = mix_probe(x[tr], y[tr], x[dv], y[dv], seed=seed)
        scores[name]["scalar mix"] = acc
        mixes[name] = (w, gamma)
    depth = max(x.shape[1] for x in feats.values())
    names = {"ELMo": ["token embedding [x; x]"] + [f"LSTM layer {j}" for j in range(1, feats["ELMo"].shape[1])],
             "BERT": ["embeddings (tokens + positions)"] + [f"layer {j}" for j in range(1, feats["BERT"].shape[1])]}
    rows = []
    for j in range(depth):
        cell = [f"{100 * scores[m][f'layer {j}']:.1f} ({names[m][j]})" if f"layer {j}" in scores[m] else "–"
                for m in ("ELMo", "BERT")]
        rows.append([f"layer {j}", *cell])
    rows.append(["scalar mix (learned)", *(f"{100 * scores[m]['scalar mix']:.1f}" for m in ("ELMo", "BERT"))])
    report.text(f"The layer probe: replaced-token detection on {n_train:,} training and {n_dev:,} dev sentences "
                "of the corpus. In each, one token (not the first or last) is swapped, half of the time, for a token "
                "drawn from the other sentences' probed tokens, so the token alone says nothing about the answer; "
                "a logistic regression reads that token's features from one layer, or from a scalar mix of all of "
                "them learned with it. Chance: 50%. Dev accuracy %:", echo=True)
    report.table(["features", "ELMo", "BERT"], rows)
    for m, (w, gamma) in mixes.items():
        report.text(f"{m}'s learned scalar mix: softmax weights, layer 0 first, "
                    + ", ".join(f"{v:.2f}" for v in w) + f"; γ = {gamma:.2f}.", echo=True)
        report.number(f"probe_{m.lower()}", scores[m])
        report.number(f"probe_{m.lower()}_mix_weights", w)
    e0 = scores["ELMo"]["layer 0"]
    top = max(v for k, v in scores["ELMo"].items() if k.startswith("layer ") and k != "layer 0")
    if above_chance(top, 0.5, n_dev) and not above_chance(e0, 0.5, n_dev):
        claim = (f"As designed, ELMo's layer 0 is at chance ({100 * e0:.1f}%) and its LSTM layers, which read the "
                 f"context, reach {100 * top:.1f}%: context is what tells a fitting word from a swapped one.")
    elif above_chance(e0, 0.5, n_dev):
        claim = (f"ELMo's layer 0 scores {100 * e0:.1f}%, above chance: the swapped tokens are not quite as "
                 "frequent as the originals on this small sample, and the probe picked that up.")
    else:                      # best_sentence would say the same again
        claim = ("No ELMo layer beats chance by more than the noise: this biLM is too small or too briefly "
                 "trained to tell a swapped token from its context.")
    elmo_best = "" if claim.startswith("No ELMo layer") else " ELMo: " + best_sentence(scores["ELMo"], 0.5, n_dev)
    report.text(claim + elmo_best + " BERT: "
                + best_sentence(scores["BERT"], 0.5, n_dev) + " BERT's embedding layer adds position "
                "vectors, which do not help here either: a swapped token sits at an ordinary position.", echo=True)
