"""Demo step 3: pretrain a tiny GPT (next-token prediction, causal self-attention) with the same
driver as ``fastembed pretrain gpt``; samples before and after, a few-shot prompt, loss curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .corpus import Corpus, words
from .report import Report

# The built-in corpus's few-shot examples and query; a --input text gets pairs found in it
# (:func:`.choices.few_shot`).
FEW_SHOT = [("function", "functions"), ("module", "modules"), ("file", "files")]
FEW_SHOT_QUERY = ("class", "classes")


def few_shot_choice(corpus: Corpus) -> tuple[list[tuple[str, str]], str, str]:
    """(examples, query, expected answer) for the few-shot prompt (see FEW_SHOT)."""
    from .choices import few_shot, relation_pairs, word_counts

    if corpus.curated:
        return FEW_SHOT, *FEW_SHOT_QUERY
    return few_shot(relation_pairs(word_counts(corpus)))


def curves(rows: list[dict], key: str) -> dict[str, tuple[list, list]]:
    """{"train": (steps, values), "dev": (...)} of one metric from metrics.jsonl rows."""
    out: dict[str, tuple[list, list]] = {}
    for split in ("train", "dev"):
        pts = [(r["step"], r[key]) for r in rows if r["split"] == split and r.get(key) is not None]
        if pts:
            out[split] = ([p[0] for p in pts], [p[1] for p in pts])
    return out


def prompts_from(corpus: Corpus, n: int = 3) -> list[str]:
    """The first three words of ``n`` sentences spread over the corpus (sentences of 8+ words)."""
    sentences = [s for s in corpus.sentences if len(words(s)) >= 8 and s[:1].isupper()]
    picks = [sentences[(i * 2 + 1) * len(sentences) // (2 * n)] for i in range(n)] if sentences else ["The"]
    return [" ".join(s.split()[:3]) for s in picks]


def gpt_step(corpus_path: Path, corpus: Corpus, bpe_path: Path, out: Path, report: Report, *, steps: int,
             batch_size: int, seq_len: int, seed: int, progress: Any) -> dict:
    import torch

    from ..generate import few_shot_prompt, generate_text, load_generator
    from ..models import GPT
    from ..tokenizers import BPETokenizer
    from ..training.metrics import read_metrics
    from ..training.pretrain import model_config, pretrain

    tok = BPETokenizer.load(bpe_path)
    cfg = model_config("gpt", "tiny", vocab_size=tok.vocab_size, seq_len=seq_len, pad_id=None)
    prompts = prompts_from(corpus)
    torch.manual_seed(seed)                                   # pretrain() starts from this same model
    untrained = GPT(cfg).eval()
    sample = dict(max_new_tokens=20, do_sample=True, temperature=0.8, top_k=40, seed=seed)
    before = generate_text(untrained, tok, prompts, **sample)

    run = out / "gpt"
    result = pretrain("gpt", corpus=corpus_path, tokenizer=bpe_path, out_dir=run, steps=steps, config="tiny",
                      batch_size=batch_size, max_length=seq_len, lr=1e-3, warmup_steps=max(1, steps // 20),
                      eval_every=max(1, steps // 5), eval_batches=8, save_every=steps,
                      log_every=max(1, steps // 60), dev_fraction=0.02, seed=seed, device="cpu",
                      progress=progress)
    model, tok = load_generator(result["model_dir"])
    after = generate_text(model, tok, prompts, **sample)
    rows = read_metrics(run / "metrics.jsonl")
    dev = result["dev"] or {}
    first_dev = next((r for r in rows if r["split"] == "dev"), None)
    n_params = sum(p.numel() for p in model.parameters())
    report.text(f"A tiny GPT ({cfg.num_layers} layers, {cfg.hidden_size} wide, {cfg.num_heads} heads, "
                f"{n_params / 1e6:.2f}M parameters; causal self-attention: each token sees only the tokens before "
                f"it) pretrained to predict the next token: {steps} steps of {batch_size} x {seq_len} tokens. "
                f"Held-out loss {dev.get('loss', float('nan')):.2f} (perplexity "
                f"{math.exp(dev.get('loss', float('nan'))):.0f}; a uniform guess over the {tok.vocab_size:,} tokens "
                f"is {math.log(tok.vocab_size):.2f}).", echo=True)
    report.table(["prompt", "before pretraining (random weights)", "after"],
                 [[p, b, a] for p, b, a in zip(prompts, before, after)])
    try:
        examples, query, answer = few_shot_choice(corpus)
    except ValueError as e:
        report.text(f"No few-shot prompt: {e}.", echo=True)
        examples = []
    if examples:
        prompt = few_shot_prompt(None, examples, query, template="{x} -> {y}")
        got = generate_text(model, tok, prompt, max_new_tokens=4).split("\n")[0]
        report.text("Few-shot prompting, the lecture's pattern (examples in the prompt, the model continues):")
        report.code(f"{prompt}{got}")
        right = got.strip().split(" ")[0] == answer if got.strip() else False
        report.text(f"The expected answer is '{answer}': {'the model wrote it' if right else 'the model did not write it'}."
                    + ("" if right else " A model this small has seen the corpus for a minute: it picks up "
                       "spelling and local grammar, not the task. The pattern is the one GPT-3 answers."), echo=True)
        report.number("few_shot", {"examples": [list(p) for p in examples], "query": query, "answer": answer,
                                   "right": right})
    report.number("gpt_dev_loss", dev.get("loss"))
    report.number("gpt_dev_loss_first_eval", first_dev["loss"] if first_dev else None)
    return {"rows": rows, "model_dir": result["model_dir"]}
