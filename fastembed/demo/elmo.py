"""Demo step 7: ELMo, contextual vectors from a biLM (Peters et al. 2018).

A small biLM (a forward and a backward LSTM language model sharing the token embedding) is
pretrained on the corpus with ``fastembed pretrain elmo``'s driver and the same WordPiece
vocabulary as BERT, so both read exactly the same tokens. Then ELMo's idea, shown two ways:

1. **The same word, different vectors.** One word in several sentences: ELMo's top layer, BERT's
   last layer, and the single word2vec vector, side by side (``contextual_vs_static.png``), and
   how similar each model's vectors of the word are across the sentences (layer 0 of ELMo is a
   lookup table, so its vectors are identical: cosine 1).
2. **What each layer holds: a probe.** The question is "is this token inside a quotation or a
   bracket?", asked of sentences of the corpus that open and close such a span: one token inside
   it and one outside it are probed, so half the answers are yes. The labels come from the text
   itself, so the probe runs on any corpus. The token alone tells a little (some words turn up in
   quotations or brackets more than others), and layer 0, a lookup table, shows how much; the
   rest is in the context: an LSTM can carry "a quote is open" from the opening mark to the probed token (one
   cell of a character LSTM was seen doing just that, Karpathy et al. 2015), and BERT's attention
   can look at the marks. A logistic regression reads one token's features from (a) layer 0,
   (b) each LSTM layer, and (c) ELMo's scalar mix γ·Σ softmax(w)_j·h_j learned with the probe
   (its weights and γ printed); BERT's embedding and layers go through the same probe.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .choices import is_content
from .claims import above_chance, best_sentence, differ
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
    _loss_figure(out / "elmo" / "metrics.jsonl", out, report)
    elmo = load_elmo(result["model_dir"], dropout=0.0).eval()
    tok = load_wordpiece(bert_dir)
    bert = load_bert(bert_dir).eval()
    cfg = elmo.config
    dev = result["dev"] or {}
    n_params = sum(p.numel() for p in elmo.parameters())
    fwd, bwd = dev.get("lm_fwd_loss", float("nan")), dev.get("lm_bwd_loss", float("nan"))
    ppl = dev.get("perplexity", float("nan"))
    report.text(f"A small ELMo biLM: a token embedding ({cfg.embed_size} wide) read by a forward and a backward "
                f"LM, {cfg.num_layers} LSTM layers each ({cfg.hidden_size} cells, projected back to "
                f"{cfg.embed_size}), both softmaxes tied to the embedding; {n_params / 1e6:.2f}M parameters, "
                f"BERT's WordPiece vocabulary, {steps} steps of {batch_size} x {seq_len} tokens. Held-out loss: "
                f"forward LM {fwd:.2f}, backward LM {bwd:.2f}, perplexity {ppl:.1f} (the mean of the two "
                f"directions'; a uniform guess over {tok.vocab_size:,} pieces: loss {math.log(tok.vocab_size):.2f}). Its features are the {cfg.num_layers + 1} layers "
                f"[x; x], [f_1; b_1], ..., each {cfg.feature_size} wide (forward and backward side by side).",
                echo=True)
    report.number("elmo_dev_loss_forward", fwd)
    report.number("elmo_dev_loss_backward", bwd)
    report.number("elmo_dev_perplexity", ppl)
    _contextual(elmo, bert, tok, corpus, kv, out, report)
    _layer_probe(elmo, bert, tok, corpus, report, n_train=n_train, n_dev=n_dev, seed=seed)
    return {"model_dir": result["model_dir"]}


def _loss_figure(metrics: Path, out: Path, report: Report) -> None:
    from ..plots import plot_loss_curves
    from ..training.metrics import read_metrics
    from .gpt import curves

    rows = read_metrics(metrics)
    lines = {f"{direction} LM, {split}": curve
             for direction, key in (("forward", "lm_fwd_loss"), ("backward", "lm_bwd_loss"))
             for split, curve in curves(rows, key).items()}
    if lines:
        report.figure(plot_loss_curves(lines, out / "elmo_loss_curves.png", title="ELMo: biLM loss"),
                      "ELMo's pretraining loss: the forward and the backward LM, train and held-out")


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


# Marks that open a span and the mark that closes each; a straight quote closes itself. Single
# quotes are left out: "’" is also the apostrophe of "don’t".
SPANS = {'"': '"', "“": "”", "(": ")", "[": "]"}
MIN_PROBE = 100                   # fewer probed tokens than this and the probe is skipped


def span_marks(pieces: list[str]) -> tuple[list[bool], list[bool]] | None:
    """(inside, is_mark) per piece: whether a piece lies strictly inside a quoted or bracketed span
    opened and closed within these pieces, and whether it is one of the marks. None when the marks
    do not pair up (a span left open or closed without opening: the sentence is cut from a longer
    quotation, so what lies inside is unknown)."""
    inside, mark, stack = [False] * len(pieces), [False] * len(pieces), []
    for i, p in enumerate(pieces):
        if stack and p == SPANS[pieces[stack[-1]]]:
            j = stack.pop()
            inside[j + 1:i] = [True] * (i - j - 1)
            mark[i] = True
        elif p in SPANS:
            stack.append(i)
            mark[i] = True
        elif p in SPANS.values():
            return None
    return None if stack else (inside, mark)


def span_task(tok: Any, sentences: list[str], n: int, seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Up to ``n`` probes (fewer when the corpus has fewer such sentences): token sequences (no
    special tokens, at most :data:`MAX_TOKENS` pieces), the probed position of each and its label,
    1 when the token there lies inside a quoted or bracketed span. Each sentence that holds a
    closed span gives two probes in a row, one token inside and one outside (never a mark, nor
    the first or last piece), so the labels are balanced within every sentence and a split
    between two sentences keeps both of a sentence's probes on one side."""
    rng = random.Random(seed)
    pool = [s for s in sentences if 6 <= len(s.split()) <= 60 and any(m in s for m in SPANS)]
    rng.shuffle(pool)
    ids: list[list[int]] = []
    pos: list[int] = []
    labels: list[int] = []
    for start in range(0, len(pool), 512):
        for a in tok.encode_batch(pool[start:start + 512], add_special_tokens=False):
            a = a.tolist()[:MAX_TOKENS]
            marks = span_marks([tok.id_to_token(t) for t in a])
            if marks is None:
                continue
            inside, mark = marks
            free = [i for i in range(1, len(a) - 1) if not mark[i]]
            ins, outs = [i for i in free if inside[i]], [i for i in free if not inside[i]]
            if not ins or not outs:
                continue
            for p, y in ((rng.choice(ins), 1), (rng.choice(outs), 0)):
                ids.append(a)
                pos.append(p)
                labels.append(y)
            if len(ids) + 1 >= n:
                return ids, np.array(pos, np.int64), np.array(labels, np.int64)
    return ids, np.array(pos, np.int64), np.array(labels, np.int64)


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
    ids, pos, y = span_task(tok, corpus.sentences, n_train + n_dev, seed)
    if len(ids) < MIN_PROBE:
        report.text(f"The layer probe asks whether a token lies inside a quotation or a bracket, and needs at "
                    f"least {MIN_PROBE} such tokens; the corpus's sentences hold {len(ids)} (quotes and brackets "
                    "opened and closed within one sentence), so this run skips it.", echo=True)
        return
    if len(ids) < n_train + n_dev:                  # a corpus with few spans: the same split, smaller
        n_train = 2 * round(len(ids) * n_train / (n_train + n_dev) / 2)
        n_dev = len(ids) - n_train
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
    report.text(f"The layer probe: is this token inside a quotation or a bracket? {(n_train + n_dev) // 2:,} "
                "sentences of the corpus open and close such a span; in each, one token inside it and one outside "
                "it (never a quote or bracket mark itself) are probed, so chance is 50%. A logistic regression "
                "reads that token's features from one layer, or from a scalar mix of all of them learned with it; "
                f"{n_train:,} probes train it, {n_dev:,} from other sentences score it. The token alone tells a "
                "little (some words turn up in quotations or brackets more than others): layer 0 shows how much. "
                "The rest is in the context, which an LSTM can carry from the opening mark to the probed token. "
                "Dev accuracy %:",
                echo=True)
    report.table(["features", "ELMo", "BERT"], rows)
    for m, (w, gamma) in mixes.items():
        report.text(f"{m}'s learned scalar mix: softmax weights, layer 0 first, "
                    + ", ".join(f"{v:.2f}" for v in w) + f"; γ = {gamma:.2f}.", echo=True)
        report.number(f"probe_{m.lower()}", scores[m])
        report.number(f"probe_{m.lower()}_mix_weights", w)
    report.text(_probe_claim(scores, n_dev), echo=True)


def _probe_claim(scores: dict[str, dict[str, float]], n_dev: int) -> str:
    """What the probe's numbers show, said only as far as they go."""
    elmo, bert = scores["ELMo"], scores["BERT"]
    e0 = elmo["layer 0"]
    top_layer = max((k for k in elmo if k.startswith("layer ") and k != "layer 0"), key=lambda k: elmo[k])
    top = elmo[top_layer]
    if not above_chance(top, 0.5, n_dev):
        claim = ("No LSTM layer of ELMo beats chance by more than the noise: this biLM is too small or too "
                 "briefly trained to carry the span through its layers.")
    elif top > e0 and differ(top, e0, n_dev):
        claim = (f"ELMo's {top_layer.replace('layer', 'LSTM layer')} reaches {100 * top:.1f}% against "
                 f"{100 * e0:.1f}% for its token embedding, more than the noise of {n_dev} dev probes: the "
                 "context the biLM read, not the word, tells a token inside a span from one outside it.")
    else:
        claim = (f"ELMo's best LSTM layer ({100 * top:.1f}%) is not ahead of its token embedding "
                 f"({100 * e0:.1f}%) by more than the noise of {n_dev} dev probes: the word alone explains "
                 "what this biLM's layers hold about spans.")
    b0 = bert["layer 0"]
    position = (" BERT's layer 0 adds position vectors to the tokens, and where a quotation sits in a sentence "
                "leaks through them" + (f" ({100 * b0:.1f}%, above ELMo's {100 * e0:.1f}%)." if b0 > e0 and
                                        differ(b0, e0, n_dev) else "."))
    return claim + " BERT: " + best_sentence(bert, 0.5, n_dev) + position
