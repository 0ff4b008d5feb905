"""Demo step 4: pretrain a tiny BERT (masked LM with 15% masking and the 80/10/10 rule, next
sentence prediction on [CLS] A [SEP] B [SEP] pairs) with ``fastembed pretrain bert``'s driver;
fill-in-the-blank guesses before and after, and its attention maps."""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any, Optional

from ..tokenizers.base import Tokenizer
from .corpus import Corpus, words
from .report import Report

STOP = frozenset("""a an the of to in on for and or not is are be been was were it its this that these those with as
by at from if then else when which who what can will may must should would could do does did has have had
there their they them we you he she his her i our your than so such into also only each all any some no""".split())
GRAMMAR = ("is", "of", "to", "in", "the", "a", "be", "and", "for")
LAYERS = 4                                   # the demo's BERT: the "tiny" preset with 4 layers, 4 heads


def probes(corpus: Corpus, n: int = 6, counts: Optional[collections.Counter] = None) -> list[tuple[str, str]]:
    """(sentence, word to hide) for ``n`` sentences spread over the corpus, 8 to 18 words long:
    every other one hides the sentence's most frequent content word of 4+ letters (hard), the
    others a grammar word (what a briefly pretrained model learns first). ``counts``: the word
    counts that rank content words (default: those of ``corpus``)."""
    counts = counts or collections.Counter(w for s in corpus.sentences for w in words(s))
    pool = [s for s in corpus.sentences if 8 <= len(words(s)) <= 18]
    out: list[tuple[str, str]] = []
    for i in range(len(pool)):
        s = pool[(i * 7919) % len(pool)]                       # a fixed walk through the corpus
        ws = words(s)
        if len(out) % 2 == 0:
            pick = [w for w in ws if w not in STOP and len(w) >= 4 and w.isalpha()]
        else:
            pick = [w for w in ws[1:] if w in GRAMMAR]
        if pick:
            out.append((s, max(pick, key=lambda w: (counts[w], w))))
        if len(out) == n:
            break
    return out


def masked_ids(tok: Tokenizer, sentence: str, word: str) -> tuple[list[int], int]:
    """[CLS] sentence [SEP] with the first whole-word occurrence of ``word`` as one [MASK]; the
    mask's position. The word's own pieces are all replaced by the single mask: the word's text
    becomes the mask token's text, which the tokenizer reads as that token (as HF's does)."""
    m = re.search(rf"\b{re.escape(word)}\b", sentence, re.IGNORECASE)
    if m is None:
        raise ValueError(f"{word!r} is not in {sentence!r}")
    mask = tok.mask_token_id
    ids = tok.encode(sentence[:m.start()] + tok.id_to_token(mask) + sentence[m.end():]).tolist()
    return ids, ids.index(mask)


def guesses(model: Any, tok: Tokenizer, ids: list[int], pos: int, k: int = 5) -> list[str]:
    import torch

    with torch.no_grad():
        h = model.bert(torch.tensor([ids])).last_hidden_state[0, pos]
        logits = model.mlm_logits(h)
    return [tok.id_to_token(i) for i in torch.topk(logits, k).indices.tolist()]


def bert_step(corpus_path: Path, corpus: Corpus, vocab_path: Path, out: Path, report: Report, *, steps: int,
              batch_size: int, seq_len: int, seed: int, progress: Any) -> dict:
    import torch

    from ..inspect import attention_maps
    from ..models import BertForPreTraining
    from ..models.hf import load_bert
    from ..plots import plot_attention
    from ..training.metrics import read_metrics
    from ..training.pretrain import load_tokenizer, model_config, pretrain

    tok = load_tokenizer(vocab_path)
    overrides = {"num_layers": LAYERS, "num_heads": 4}
    cfg = model_config("bert", "tiny", vocab_size=tok.vocab_size, seq_len=seq_len, pad_id=tok.pad_token_id,
                       overrides=overrides)
    torch.manual_seed(seed)                                   # pretrain() starts from this same model
    untrained = BertForPreTraining(cfg).eval()
    # the built-in corpus: a walk through all of it; a --input text: its held-out tail, never trained on
    cases = probes(corpus) if corpus.curated or not corpus.held_out else \
        probes(Corpus("held out", [corpus.held_out]), counts=collections.Counter(
            w for s in corpus.sentences for w in words(s)))
    before = {s: guesses(untrained, tok, *masked_ids(tok, s, w)) for s, w in cases}

    run = out / "bert"
    result = pretrain("bert", corpus=corpus_path, tokenizer=vocab_path, out_dir=run, steps=steps, config="tiny",
                      overrides=overrides, batch_size=batch_size, max_length=seq_len, lr=1e-3,
                      warmup_steps=max(1, steps // 20), eval_every=max(1, steps // 5), eval_batches=8, save_every=steps,
                      log_every=max(1, steps // 60), dev_fraction=0.02, seed=seed, device="cpu", progress=progress)
    model = load_bert(result["model_dir"], pretraining=True).eval()
    dev = result["dev"] or {}
    pieces = collections.Counter(t for a in tok.encode_batch(corpus.sentences[:3000], add_special_tokens=False)
                                 for t in a.tolist())
    top, top_n = pieces.most_common(1)[0]
    baseline = top_n / max(1, sum(pieces.values()))
    report.text(f"A tiny BERT ({cfg.num_layers} layers, {cfg.hidden_size} wide, {cfg.num_heads} heads; "
                f"bidirectional: every token sees the whole pair) pretrained {steps} steps of {batch_size} "
                f"sequences of up to {seq_len} tokens. Masked LM: 15% of the tokens are chosen; 80% of those "
                "become [MASK], 10% a random token, 10% stay, and the model must name the original. Next "
                "sentence: [CLS] A [SEP] B [SEP], where B follows A half of the time. Held-out masked-token "
                f"accuracy {100 * dev.get('mlm_accuracy', float('nan')):.1f}% (always guessing the most frequent piece, "
                f"'{tok.id_to_token(top)}', would score {100 * baseline:.1f}%), next-sentence accuracy "
                f"{100 * dev.get('nsp_accuracy', float('nan')):.1f}% (chance: 50%).", echo=True)
    rows = []
    for s, w in cases:
        ids, pos = masked_ids(tok, s, w)
        after = guesses(model, tok, ids, pos)
        shown = re.sub(rf"\b{re.escape(w)}\b", "[MASK]", s, count=1, flags=re.IGNORECASE)
        rows.append([shown, w, ", ".join(before[s]), ", ".join(after), "yes" if w in after else "no"])
    hits = sum(r[-1] == "yes" for r in rows)
    where = "" if corpus.curated or not corpus.held_out else " Sentences from the held-out tail, never trained on."
    report.text(f"Fill in the blank: the top 5 guesses for [MASK] ({hits} of {len(rows)} found; every other "
                f"sentence hides a grammar word, which a briefly pretrained model learns first).{where}", echo=True)
    report.table(["sentence", "hidden word", "before pretraining", "after", "in top 5"], rows)
    report.number("bert_mlm_accuracy", dev.get("mlm_accuracy"))
    report.number("bert_nsp_accuracy", dev.get("nsp_accuracy"))

    sentence = min((s for s, _ in cases), key=len)
    ids = tok.encode(sentence, truncation=True, max_length=24).tolist()
    maps = attention_maps(model.bert, torch.tensor([ids]))        # (L, 1, H, T, T)
    path = plot_attention(maps[:, 0], [tok.id_to_token(i) for i in ids], out / "bert_attention.png",
                          title="BERT attention, one sentence: rows = layers, columns = heads")
    report.figure(path, "Attention maps of the tiny BERT on one sentence (query rows attend to key columns), "
                        "per layer and head")
    return {"rows": read_metrics(run / "metrics.jsonl"), "model_dir": result["model_dir"], "tokenizer": tok}
