"""The README's shell sequence on a tiny corpus: tokenizer train --kind wordpiece, then pretrain
bert with that tokenizer, then finetune the pretrained model, then predict with the fine-tuned one
on raw text (a few seconds on the tiny config)."""

from __future__ import annotations

import json
import random

import pytest

from fastembed.cli import main

pytest.importorskip("torch")

WORDS = "the cat sat on a mat dog ran far away big red small blue house tree river bank".split()


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "corpus.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(30):                                  # documents of six sentences, a blank line between
            for _ in range(6):
                f.write(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))).capitalize() + ".\n")
            f.write("\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("out_name", ["tok", "vocab.txt"])
def test_wordpiece_then_pretrain_bert_then_finetune(corpus, tmp_path, capsys, out_name):
    from fastembed.tokenizers import from_pretrained

    tok_path = tmp_path / out_name
    assert main(["tokenizer", "train", "--kind", "wordpiece", "--input", str(corpus), "--vocab-size", "80",
                 "--min-frequency", "1", "-o", str(tok_path), "--quiet"]) == 0
    tok = from_pretrained(tok_path)
    assert tok.vocab_size == 80
    assert [tok.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tok.decode(tok.encode("The cat sat.")) == "the cat sat ."

    run = tmp_path / "bert"
    assert main(["pretrain", "bert", "--input", str(corpus), "--tokenizer", str(tok_path), "--config", "tiny",
                 "--steps", "2", "--batch-size", "4", "--max-length", "32", "--dev-fraction", "0.1",
                 "--out", str(run), "--no-progress", "--threads", "1"]) == 0
    model = run / "model"
    assert (model / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1] == tok.vocab

    data = tmp_path / "train.tsv"
    rows = [("the cat sat on a mat", 1), ("the dog ran far away", 0)] * 6
    data.write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    capsys.readouterr()
    assert main(["finetune", "--task", "classify", "--input", str(data), str(data), "--model", str(model),
                 "--out", str(tmp_path / "ft"), "--epochs", "1", "--batch-size", "4", "--max-length", "16",
                 "--no-progress", "--threads", "1"]) == 0
    assert "best: epoch 1" in capsys.readouterr().out
    results = json.loads((tmp_path / "ft" / "results.json").read_text())
    assert results["task"] == "classify"

    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"{t}\n" for t, _ in rows), encoding="utf-8")
    assert main(["predict", "--model", str(tmp_path / "ft" / "model"), "--input", str(texts),
                 "-o", str(tmp_path / "pred.jsonl"), "--threads", "1"]) == 0
    pred = [json.loads(x) for x in (tmp_path / "pred.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(pred) == len(rows) and all(0.0 <= p["score"] <= 1.0 for p in pred)
    accuracy = sum(p["label"] == str(y) for p, (_, y) in zip(pred, rows)) / len(rows)
    assert accuracy == results["best"]["dev"]["accuracy"]      # the dev file is these texts: the same score
