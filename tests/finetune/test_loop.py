"""finetune() end to end on a tiny random BERT: it learns, frozen means frozen (also through the
encoder cache), the best epoch's saved model reloads, early stopping, every task runs, bad input
fails clearly, the deprecated ``warmup=`` / ``log=`` still work; and the ``fastembed finetune``
parser."""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pytest
import torch

from fastembed.finetune import (Answer, QAExample, TaggedSentence, finetune, load_finetuned, predict,
                                text_examples)
from fastembed.cli.finetune import add_parser, resolve_data
from fastembed.finetune.encoding import LabelSet, encode_sequences
from fastembed.finetune.loop import warmup_steps_for
from fastembed.models.hf import load_bert, read_weights

TEXTS = ["the movie was good", "the film was great", "the plot is awful", "a terrible film", "very fine movie",
         "the plot was bad", "not good", "very bad"]
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg", "neg", "neg"]
NO_DROPOUT = dict(hidden_dropout=0.0, attention_dropout=0.0)


def test_tiny_bert_overfits_a_tiny_classification_set(tiny_dir, tmp_path, tiny_tok):
    ex = text_examples(TEXTS, LABELS)
    r = finetune("classify", tiny_dir, ex, ex, epochs=20, batch_size=4, lr=1e-2, warmup_ratio=0.1, seed=0,
                 encoder_overrides=NO_DROPOUT, head_options=dict(dropout=0.0), out_dir=tmp_path)
    losses = [e["train_loss"] for e in r["epochs"]]
    assert losses[-1] < 0.1 * losses[0]
    assert r["best"]["dev"]["accuracy"] == 1.0 and r["labels"] == ["neg", "pos"]
    assert json.loads((tmp_path / "results.json").read_text())["best"]["epoch"] == r["best"]["epoch"]
    assert r["best_model_dir"] == r["checkpoint"] == str(tmp_path / "model")
    assert not (tmp_path / "checkpoints").exists()                    # the model directory replaces them
    model, tok, state = load_finetuned(tmp_path)                      # the best epoch, on its own
    assert state["epoch"] == r["best"]["epoch"] and state["finetune"]["labels"] == ["neg", "pos"]
    assert state["dev"] == r["best"]["dev"] and state["finetune"]["max_length"] == r["max_length"] == 64
    assert load_finetuned(tmp_path / "model")[2] == state
    features, _ = encode_sequences(ex, tok, LabelSet(["neg", "pos"]), max_length=16, pair=False)
    pred = [int(np.argmax(o)) for o in predict(model, features)]
    assert pred == [f["labels"] for f in features]


def test_frozen_run_keeps_the_encoder_and_the_cache_is_exact(tiny_dir, tmp_path):
    ex = text_examples(TEXTS, LABELS)
    runs = {}
    for cache in (True, False):
        out = tmp_path / f"cache{cache}"
        runs[cache] = finetune("classify", tiny_dir, ex, ex, freeze_encoder=True, epochs=3,
                               batch_size=3, head_options=dict(pooling="mean"), cache_encoder=cache, out_dir=out)
        assert not any(k.startswith("bert.") for k in read_weights(out / "model"))   # head only
        model, _, state = load_finetuned(out)
        assert state["finetune"]["encoder"] == str(tiny_dir)
        original = load_bert(tiny_dir).state_dict()
        for k, v in original.items():
            assert torch.equal(model.encoder.state_dict()[k], v), f"frozen encoder weight {k} changed"
    a, b = runs[True]["epochs"], runs[False]["epochs"]
    assert [x["train_loss"] for x in a] == pytest.approx([x["train_loss"] for x in b], abs=1e-5)
    assert [x["dev"] for x in a] == [x["dev"] for x in b]


def test_early_stopping(tiny_dir):
    ex = text_examples(TEXTS, LABELS)
    r = finetune("classify", tiny_dir, ex, ex, epochs=5, lr=1e-9, patience=2, freeze_encoder=True)
    assert len(r["epochs"]) == 3 and r["stopped_early"] and r["best"]["epoch"] == 1


def test_ner_and_qa_run_and_report(tiny_dir, caplog):
    s = [TaggedSentence(["John", "Smith", "lives", "in", "Paris", "\u200b"],
                        ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
         TaggedSentence(["Paris", "is", "the", "capital", "of", "France"], ["B-LOC", "O", "O", "O", "O", "B-LOC"])]
    caplog.set_level(logging.INFO, logger="fastembed")
    r = finetune("ner", tiny_dir, s, s, epochs=2, batch_size=2, lr=1e-3)
    assert set(r["epochs"][-1]["dev"]) >= {"precision", "recall", "f1", "token_accuracy"}
    assert r["data"]["train"]["empty_words"] == 1 and "no word piece" in caplog.text
    ctx = "john smith lives in paris . paris is the capital of france ."
    q = [QAExample("1", "who lives in paris ?", ctx, [Answer("john smith", 0)]),
         QAExample("2", "what is the capital of france ?", ctx, [Answer("paris", 28)]),
         QAExample("3", "who ?", ctx, [Answer("london", 0)])]
    caplog.clear()
    r = finetune("qa", tiny_dir, q, q, epochs=1, batch_size=2, max_length=16, doc_stride=4, max_query_length=6)
    assert r["data"]["train"]["answers_not_found"] == 1 and r["data"]["train"]["windows"] > 2
    assert "not in their context" in caplog.text
    assert set(r["epochs"][0]["dev"]) == {"exact_match", "f1"}


def test_bad_input_is_reported(tiny_dir, tmp_path, caplog):
    ex = text_examples(TEXTS, LABELS)
    with pytest.raises(ValueError, match="unknown label 'meh'"):
        finetune("classify", tiny_dir, ex, text_examples(["good"], ["meh"]), epochs=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        finetune("classify", tiny_dir, tmp_path / "train.tsv", ex, epochs=1)
    with pytest.raises(ValueError, match="exceeds the model's 64 positions"):
        finetune("classify", tiny_dir, ex, ex, max_length=65)
    with pytest.raises(TypeError, match="takes TaggedSentence examples"):
        finetune("ner", tiny_dir, ex, ex)
    with pytest.raises(ValueError, match="unknown task"):
        finetune("regress", tiny_dir, ex, ex)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        finetune("classify", tmp_path / "nowhere", ex, ex)
    long = text_examples(["the movie was good " * 10], ["pos"]) + ex
    caplog.set_level(logging.INFO, logger="fastembed")
    r = finetune("classify", tiny_dir, long, ex, epochs=1, max_length=12)
    assert r["data"]["train"]["truncated"] == 1 and "1 of 9 examples were longer" in caplog.text


def test_cli_parser_and_run(tiny_dir, tmp_path, capsys, caplog):
    data = tmp_path / "glue"
    data.mkdir()
    rows = "".join(f"{t}\t{y}\n" for t, y in zip(TEXTS, LABELS))
    (data / "train.tsv").write_text("sentence\tlabel\n" + rows, encoding="utf-8")
    (data / "dev.tsv").write_text("sentence\tlabel\n" + rows, encoding="utf-8")
    parser = argparse.ArgumentParser(prog="fastembed")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["finetune", "--task", "classify", "--data", str(data), "--model", str(tiny_dir),
                              "--out", str(tmp_path / "run"), "--freeze-encoder", "--epochs", "2", "--max-train", "5",
                              "--no-progress", "--warmup-steps", "1"])
    assert (args.freeze_encoder, args.epochs, args.max_train, args.lr) == (True, 2, 5, None)
    caplog.set_level(logging.INFO, logger="fastembed")
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "best: epoch" in out.out and "5 of 8 training examples" in caplog.text
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["data"]["train_examples"] == 5 and results["warmup_steps"] == 1
    old = parser.parse_args(["finetune", "--task", "classify", "--input", str(data), "--model", str(tiny_dir),
                             "--out", str(tmp_path / "run2"), "--epochs", "2", "--max-train", "5", "--warmup", "0.5",
                             "--freeze-encoder", "--no-progress"])
    assert old.func(old) == 0                        # the old flag still works: a ratio below 1 ...
    assert "--warmup is deprecated" in capsys.readouterr().err
    assert json.loads((tmp_path / "run2" / "results.json").read_text())["warmup_steps"] == 1   # 0.5 of 2 steps
    both = parser.parse_args(["finetune", "--task", "classify", "--input", str(data), "--model", str(tiny_dir),
                              "--out", str(tmp_path / "run3"), "--warmup", "2", "--warmup-steps", "1"])
    with pytest.raises(ValueError, match="not the old --warmup"):
        both.func(both)
    assert resolve_data("classify", [data]) == (data / "train.tsv", data / "dev.tsv")
    with pytest.raises(FileNotFoundError, match="holds none of train.txt"):
        resolve_data("ner", [data])
    with pytest.raises(ValueError, match="a directory or two files"):
        resolve_data("ner", [data, data, data])
    with pytest.raises(SystemExit):
        parser.parse_args(["finetune", "--task", "translate", "--data", "x", "--model", "m", "--out", "o"])


def test_scalar_mix_run_with_the_cache_equals_without_and_reloads(tiny_dir, tmp_path):
    ex = text_examples(TEXTS, LABELS)
    runs = {}
    for cache in (True, False):
        runs[cache] = finetune("classify", tiny_dir, ex, ex, freeze_encoder=True, epochs=3, batch_size=3,
                               layers="scalar_mix", cache_encoder=cache, out_dir=tmp_path / f"c{cache}")
    assert [x["train_loss"] for x in runs[True]["epochs"]] == \
        pytest.approx([x["train_loss"] for x in runs[False]["epochs"]], abs=1e-5)
    model, _, state = load_finetuned(tmp_path / "cTrue")
    assert state["finetune"]["layers"] == "scalar_mix" and model.mix is not None
    assert state["finetune"]["head_options"]["pooling"] == "mean"          # the pooler reads only the last layer


def test_default_pooling_follows_a_sentence_transformers_config(tiny_dir, tmp_path):
    from fastembed.finetune.loop import default_pooling

    enc = load_bert(tiny_dir)
    assert default_pooling(tiny_dir, enc, "last") == "pooler"             # a plain BERT directory: BERT's recipe
    assert default_pooling(tiny_dir, enc, "second_to_last") == "mean"
    st = tmp_path / "st"
    st.mkdir()
    for f in tiny_dir.iterdir():
        (st / f.name).write_bytes(f.read_bytes())
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (st / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    assert default_pooling(st, enc, "last") == "mean"
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert default_pooling(st, enc, "last") == "pooler"


def test_out_dir_holding_a_run_is_refused(tiny_dir, tmp_path, capsys):
    """As pretrain refuses a fresh run over checkpoints: a second run into the same --out would
    silently replace the first one's results and best checkpoint."""
    from fastembed.cli import main

    ex = text_examples(TEXTS, LABELS)
    out = tmp_path / "run"
    finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4, out_dir=out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(ValueError, match=r"already holds a run \(results.json and model\)"):
        finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4, out_dir=out)
    data = tmp_path / "train.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"{t}\t{int(y == 'pos')}\n" for t, y in zip(TEXTS, LABELS)))
    capsys.readouterr()
    assert main(["finetune", "--task", "classify", "--input", str(data), str(data), "--model", str(tiny_dir),
                 "--out", str(out), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fastembed finetune: error: {out} already holds a run") and err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before        # nothing of the first run touched


def test_load_finetuned_names_a_corrupt_config(tiny_dir, tmp_path):
    ex = text_examples(TEXTS, LABELS)
    finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4, out_dir=tmp_path)
    config = tmp_path / "model" / "config.json"
    config.write_text(config.read_text()[:40])                      # truncated, as by a full disk
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        load_finetuned(tmp_path)
    with pytest.raises(FileNotFoundError, match="holds no fine-tuned model"):
        load_finetuned(tmp_path / "nothing")


def test_warmup_names_and_the_deprecated_ones(tiny_dir):
    assert warmup_steps_for(40, None, None, None) == 4                 # warmup_ratio's default 0.1
    assert warmup_steps_for(40, 0.25, None, None) == 10
    assert warmup_steps_for(40, None, 7, None) == 7
    with pytest.raises(ValueError, match="not both"):
        warmup_steps_for(40, 0.1, 3, None)
    with pytest.raises(ValueError, match=r"warmup_ratio must be a fraction in \[0, 1\]"):
        warmup_steps_for(40, 3, None, None)
    with pytest.raises(ValueError, match="warmup_steps must be an int"):
        warmup_steps_for(40, None, 2.5, None)
    for old, steps in ((0.25, 10), (3, 3)):                           # a fraction below 1, a count from 1
        with pytest.warns(DeprecationWarning, match=r"warmup=\.\.\.\) is deprecated"):
            assert warmup_steps_for(40, None, None, old) == steps
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="not the deprecated warmup"):
        warmup_steps_for(40, 0.1, None, 0.2)
    ex = text_examples(TEXTS, LABELS)
    with pytest.raises(ValueError, match="not both"):
        finetune("classify", tiny_dir, ex, ex, epochs=1, warmup_ratio=0.1, warmup_steps=1)
    with pytest.warns(DeprecationWarning, match="warmup"):
        r = finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4, warmup=1)
    assert r["warmup_steps"] == 1


def test_log_callable_still_works_but_warns(tiny_dir, caplog):
    caplog.set_level(logging.INFO, logger="fastembed")
    ex = text_examples(TEXTS, LABELS)
    messages = []
    with pytest.warns(DeprecationWarning, match=r"log=\.\.\.\) is deprecated"):
        finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4, log=messages.append)
    assert any("8 of 8 training examples" in m for m in messages) and "training examples" not in caplog.text
    finetune("classify", tiny_dir, ex, ex, epochs=1, batch_size=4)
    assert "8 of 8 training examples" in caplog.text


def test_a_run_of_the_earlier_layout_still_loads(tiny_dir, tmp_path, tiny_tok):
    """Runs saved before OUT/model existed hold a training checkpoint under checkpoints/."""
    from fastembed.finetune.heads import FineTuneModel, make_head
    from fastembed.training.checkpoint import save_checkpoint

    encoder = load_bert(tiny_dir)
    model = FineTuneModel(encoder, make_head("sequence", 32, 2, pooling="mean"), layers="last")
    spec = {"task": "classify", "head_kind": "sequence", "num_labels": 2, "labels": ["neg", "pos"],
            "layers": "last", "head_options": {"pooling": "mean"}, "freeze_encoder": False,
            "encoder_config": encoder.config.to_dict(), "max_length": 64}
    save_checkpoint(tmp_path, 3, model, extra_state={"finetune": spec, "epoch": 1, "dev": {"accuracy": 0.5}})
    tiny_tok.save_pretrained(tmp_path)
    back, _, state = load_finetuned(tmp_path)
    assert state["epoch"] == 1 and state["finetune"]["labels"] == ["neg", "pos"]
    assert state["finetune"]["max_answer_length"] == 30                  # settings it did not record: the defaults
    ids = torch.tensor([[2, 10, 11, 3]])
    with torch.no_grad():
        assert torch.equal(back(ids).logits, model.eval()(ids).logits)
