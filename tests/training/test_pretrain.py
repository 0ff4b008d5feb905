"""``fastembed pretrain``: end to end through the CLI, exact resume, DDP == one process, bad input.

Runs use the tiny preset for a few steps on a small synthetic corpus (words that BERT's uncased
vocabulary holds, so the DDP test can use the real vocab.txt from the shared data). Everything
runs in this process through ``fastembed.cli.main`` except the torchrun launch.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fastembed._data import data_path
from fastembed.cli import main
from fastembed.models.hf import load_bert, load_gpt2, read_weights
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer
from fastembed.training import latest_checkpoint
from fastembed.training.metrics import read_metrics
from fastembed.training.pretrain import (bert_documents, load_tokenizer, model_config, pretrain,
                                         tokenizer_fingerprint)

# fastembed/training/_cli.py still passes pretrain's old argument names (its owner renames them to
# max_length= / warmup_steps=, flags --max-length / --warmup-steps); drop this filter then.

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("the a cat dog sat ran on mat big small red blue house tree river sun moon saw ate and old new "
         "man woman city road green door").split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
QUICK = ["--config", "tiny", "--batch-size", "8", "--max-length", "32", "--log-every", "1", "--dev-fraction", "0.1",
         "--eval-batches", "2"]


def write_corpus(path: Path, documents: int = 30, seed: int = 0) -> Path:
    """BERT's format: one sentence per line, a blank line between documents."""
    rng = random.Random(seed)
    docs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) + " ." for _ in range(6))
            for _ in range(documents)]
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return make_files(tmp_path_factory.mktemp("pretrain"))


def make_files(d: Path) -> dict[str, Path]:
    """corpus.txt, a WordPiece vocab.txt of its words and a BPE tokenizer with <|endoftext|>."""
    corpus = write_corpus(d / "corpus.txt")
    vocab = d / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + ["."] + WORDS) + "\n", encoding="utf-8")
    bpe = d / "bpe.json"
    BPETokenizer.train(files=[corpus], vocab_size=300, special_tokens=["<|endoftext|>"], progress=False).save(bpe)
    return {"corpus": corpus, "vocab": vocab, "bpe": bpe}


def run(kind: str, tokenizer: Path, corpus: Path, out: Path, steps: int, *extra: str) -> int:
    return main(["pretrain", kind, "--input", str(corpus), "--tokenizer", str(tokenizer), "--steps", str(steps),
                 "--out", str(out), *QUICK, *extra])


def train_losses(out: Path) -> list[tuple]:
    return [(r["step"], r["loss"]) for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"]


# --------------------------------------------------------------------------- end to end


def test_bert_end_to_end(files, tmp_path, caplog):
    out = tmp_path / "run"
    with caplog.at_level("INFO", logger="fastembed"):
        assert run("bert", files["vocab"], files["corpus"], out, 3) == 0
    printed = caplog.text
    assert "BertForPreTraining tiny" in printed and "done: step 3" in printed

    rows = read_metrics(out / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in rows] == [(1, "train"), (2, "train"), (3, "train"), (3, "dev")]
    assert all(r["mlm_loss"] > 0 and 0 <= r["nsp_accuracy"] <= 1 for r in rows)
    assert latest_checkpoint(out).name == "step_00000003"
    run_args = json.loads((out / "run.json").read_text())
    assert run_args["kind"] == "bert" and run_args["model_config"]["vocab_size"] == len(SPECIALS) + 1 + len(WORDS)

    model_dir = out / "model"
    ours = load_bert(model_dir, pretraining=True)
    assert ours.config.num_layers == 2 and ours.config.pad_token_id == 0
    tok = load_tokenizer(model_dir)  # vocab.txt + tokenizer_config.json
    assert isinstance(tok, WordPieceTokenizer) and tok.vocab == load_tokenizer(files["vocab"]).vocab
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertForPreTraining.from_pretrained(str(model_dir)).eval()
    x = torch.tensor([[2, 7, 8, 9, 3, 10, 11, 3]])
    torch.testing.assert_close(hf(input_ids=x).prediction_logits, ours.eval()(x).logits, atol=1e-5, rtol=0)


def test_gpt_end_to_end(files, tmp_path):
    out = tmp_path / "run"
    assert run("gpt", files["bpe"], files["corpus"], out, 3, "--lr", "1e-3") == 0
    rows = read_metrics(out / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in rows] == [(1, "train"), (2, "train"), (3, "train"), (3, "dev")]
    assert rows[-1]["perplexity"] > 1 and latest_checkpoint(out) is not None

    model_dir = out / "model"
    ours = load_gpt2(model_dir)
    tok = load_tokenizer(model_dir)  # bpe.json
    assert tokenizer_fingerprint(tok) == tokenizer_fingerprint(BPETokenizer.load(files["bpe"]))
    config = json.loads((model_dir / "config.json").read_text())
    assert config["vocab_size"] == 300 and config["eos_token_id"] == tok.special_tokens["<|endoftext|>"]
    transformers = pytest.importorskip("transformers")
    hf = transformers.GPT2LMHeadModel.from_pretrained(str(model_dir)).eval()
    x = torch.tensor([tok.encode("the cat sat on the mat .").tolist()])
    torch.testing.assert_close(hf(input_ids=x).logits, ours.eval()(x).logits, atol=1e-5, rtol=0)


def test_gpt_without_end_of_text_warns_and_trains(files, tmp_path, caplog):
    bpe = tmp_path / "plain.json"
    BPETokenizer.train(files=[files["corpus"]], vocab_size=280, progress=False).save(bpe)
    assert run("gpt", bpe, files["corpus"], tmp_path / "run", 1) == 0
    assert [r.levelname for r in caplog.records if "no <|endoftext|> token" in r.getMessage()] == ["WARNING"]


def test_gpt_on_a_wordpiece_vocabulary_separates_documents_by_sep(files, tmp_path, caplog):
    """A WordPiece vocabulary has no <|endoftext|> but a [SEP]: documents end with it (no warning)."""
    from fastembed.data.shards import encode_documents
    from fastembed.training.pretrain import _gpt_separator

    tok = load_tokenizer(files["vocab"])
    said = []
    sep = _gpt_separator(tok, files["vocab"], lambda msg, err=False: said.append((msg, err)))
    assert sep == tok.sep_token_id and said == [(said[0][0], False)] and "[SEP]" in said[0][0]
    ids = encode_documents(["the cat sat", "a dog ran"], tok, separator=sep)
    assert list(ids).count(tok.sep_token_id) == 2
    assert run("gpt", files["vocab"], files["corpus"], tmp_path / "run", 1) == 0
    assert not [r for r in caplog.records if "no <|endoftext|> token" in r.getMessage()]


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("kind", ["bert", "gpt", "elmo"])
def test_resume_continues_bit_for_bit(kind, files, tmp_path):
    """6 steps in one go == 3 steps, then --resume to 6; dropout on (the preset's 0.1). The
    schedule is constant after warmup, so it does not depend on --steps and the two runs agree."""
    tokenizer = files["vocab" if kind == "bert" else "bpe"]
    extra = ("--schedule", "constant", "--warmup", "2")
    assert run(kind, tokenizer, files["corpus"], tmp_path / "full", 6, *extra) == 0
    assert run(kind, tokenizer, files["corpus"], tmp_path / "split", 3, *extra) == 0
    assert run(kind, tokenizer, files["corpus"], tmp_path / "split", 6, *extra, "--resume") == 0

    full, split = train_losses(tmp_path / "full"), train_losses(tmp_path / "split")
    assert [s for s, _ in full] == [s for s, _ in split] == [1, 2, 3, 4, 5, 6]
    assert split[3:] == full[3:]                                              # bitwise: == on floats
    a, b = read_weights(tmp_path / "full" / "model"), read_weights(tmp_path / "split" / "model")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# --------------------------------------------------------------------------- DDP


@pytest.mark.data
@pytest.mark.slow
def test_two_ranks_under_torchrun_equal_one_process(tmp_path):
    """torchrun, 2 gloo ranks of 4 rows each, vs this process with the batch of 8, BERT's real vocabulary."""
    vocab = data_path("tokenizers", "bert-base-uncased", "vocab.txt")
    corpus = write_corpus(tmp_path / "corpus.txt", documents=20)
    args = ["pretrain", "bert", "--input", str(corpus), "--tokenizer", str(vocab), "--steps", "3", *QUICK,
            "--set", "hidden_dropout=0", "--set", "attention_dropout=0", "--lr", "1e-3"]
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "fastembed.cli", *args, "--out", str(tmp_path / "ddp")]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2   # the log line is not printed

    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    ddp, one = read_weights(tmp_path / "ddp" / "model"), read_weights(tmp_path / "one" / "model")
    for name in one:
        torch.testing.assert_close(ddp[name], one[name], atol=1e-5, rtol=0, msg=name)
    for a, b in zip(read_metrics(tmp_path / "ddp" / "metrics.jsonl"), read_metrics(tmp_path / "one" / "metrics.jsonl")):
        assert (a["step"], a["split"]) == (b["step"], b["split"])
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_exit_1(files, tmp_path, capsys):
    def fails(*args: str) -> str:
        assert main(["pretrain", *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("fastembed pretrain: error:") and "Traceback" not in err
        return err

    no_mask = tmp_path / "no_mask.txt"
    no_mask.write_text(files["vocab"].read_text().replace("[MASK]\n", ""), encoding="utf-8")
    err = fails("bert", "--input", str(files["corpus"]), "--tokenizer", str(no_mask), "--steps", "1",
                "--out", str(tmp_path / "a"), *QUICK)
    assert "[MASK]" in err
    err = fails("bert", "--input", str(files["corpus"]), "--tokenizer", str(files["bpe"]), "--steps", "1",
                "--out", str(tmp_path / "a"), *QUICK)
    assert "[CLS], [SEP], [MASK], [PAD]" in err                               # BPE without BERT's tokens

    small = tmp_path / "small.txt"
    small.write_text("the cat sat.\n", encoding="utf-8")
    err = fails("gpt", "--input", str(small), "--tokenizer", str(files["bpe"]), "--steps", "1",
                "--out", str(tmp_path / "b"), *QUICK)
    assert "--max-length=32 needs 33" in err and "the corpus has" in err

    err = fails("gpt", "--input", str(tmp_path / "missing.txt"), "--tokenizer", str(files["bpe"]), "--steps", "1",
                "--out", str(tmp_path / "c"), *QUICK)
    assert "missing.txt does not exist" in err
    err = fails("gpt", "--input", str(files["corpus"]), "--tokenizer", str(files["bpe"]), "--steps", "1",
                "--out", str(tmp_path / "c"), *QUICK, "--set", "hidden_dropout")
    assert "--set takes KEY=VALUE" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing written for bad input


def test_resume_refuses_another_model_and_a_corrupt_checkpoint(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert run("gpt", files["bpe"], files["corpus"], out, 1) == 0
    capsys.readouterr()
    assert run("gpt", files["bpe"], files["corpus"], out, 2, "--resume", "--config", "mini") == 1
    err = capsys.readouterr().err
    assert "cannot resume" in err and "--config tiny" in err and "hidden_size: 128 in the run, 256 now" in err
    assert run("gpt", files["bpe"], files["corpus"], out, 2) == 1             # fresh run over checkpoints
    assert "already holds checkpoints" in capsys.readouterr().err

    weights = latest_checkpoint(out) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert run("gpt", files["bpe"], files["corpus"], out, 2, "--resume") == 1
    assert "corrupt" in capsys.readouterr().err


# --------------------------------------------------------------------------- pieces


def test_bert_documents_reads_sentence_lines_or_prose(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("One.\nTwo.\n\n\nThree.\n", encoding="utf-8")
    assert bert_documents([lines]) == [["One.", "Two."], ["Three."]]
    single = tmp_path / "single.txt"                                     # no blank line, short lines: one document
    single.write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    assert bert_documents([single]) == [["One.", "Two.", "Three."]]
    prose = tmp_path / "prose.txt"                                       # no blank line, long lines: a document each
    para = "The cat sat on the mat and looked at the door for a long while. " * 4    # 256 characters
    prose.write_text(f"{para}Then it slept.\n{para}\n", encoding="utf-8")
    docs = bert_documents([prose])
    assert len(docs) == 2 and len(docs[0]) == 5 and docs[0][-1] == "Then it slept."
    assert bert_documents([lines, single]) == [["One.", "Two."], ["Three."], ["One.", "Two.", "Three."]]


def test_model_config_preset_file_and_overrides(tmp_path):
    cfg = model_config("bert", "tiny", vocab_size=99, seq_len=600, pad_id=3, overrides={"hidden_dropout": 0})
    assert (cfg.vocab_size, cfg.pad_token_id, cfg.max_position, cfg.num_layers) == (99, 3, 600, 2)
    assert cfg.hidden_dropout == 0.0 and isinstance(cfg.hidden_dropout, float)
    with pytest.raises(ValueError, match="vocab_size comes from the tokenizer"):
        model_config("gpt", "tiny", vocab_size=99, seq_len=8, overrides={"vocab_size": 50})
    with pytest.raises(ValueError, match="max_position 16 is shorter than seq_len 32"):
        model_config("gpt", "tiny", vocab_size=99, seq_len=32, overrides={"max_position": 16})
    with pytest.raises(ValueError, match="no field"):
        model_config("gpt", "tiny", vocab_size=99, seq_len=8, overrides={"hidden": 5})
    with pytest.raises(ValueError, match="neither a preset"):
        model_config("gpt", "huge", vocab_size=99, seq_len=8)

    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({"num_layers": 1, "hidden_size": 64, "num_heads": 4, "intermediate_size": 96}))
    cfg = model_config("gpt", str(ours), vocab_size=99, seq_len=8)
    assert (cfg.num_layers, cfg.hidden_size, cfg.vocab_size, cfg.max_position) == (1, 64, 99, 1024)
    hf = tmp_path / "config.json"
    hf.write_text(json.dumps({"model_type": "bert", "vocab_size": 30522, "hidden_size": 64, "num_hidden_layers": 1,
                              "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 64}))
    cfg = model_config("bert", hf, vocab_size=99, seq_len=64, pad_id=0)
    assert (cfg.num_layers, cfg.hidden_size, cfg.vocab_size, cfg.max_position) == (1, 64, 99, 64)
    with pytest.raises(ValueError, match="model_type 'bert'"):
        model_config("gpt", hf, vocab_size=99, seq_len=8)


def test_load_tokenizer_by_file_type(files, tmp_path):
    assert isinstance(load_tokenizer(files["bpe"]), BPETokenizer)
    assert isinstance(load_tokenizer(files["vocab"]), WordPieceTokenizer)        # a vocab.txt file
    cased = tmp_path / "cased"
    cased.mkdir()
    (cased / "vocab.txt").write_text(files["vocab"].read_text())
    (cased / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert load_tokenizer(cased).lowercase is False                          # a HF BERT directory
    with pytest.raises(FileNotFoundError, match="holds no tokenizer: expected tokenizer.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_tokenizer(tmp_path / "nope.json")
    hf_json = tmp_path / "tokenizer.json"
    hf_json.write_text("{}")
    with pytest.raises(ValueError, match="not a fastembed tokenizer file"):
        load_tokenizer(hf_json)


def test_python_api_returns_the_final_metrics(files, tmp_path):
    result = pretrain("gpt", corpus=files["corpus"], tokenizer=files["bpe"], out_dir=tmp_path, config="tiny",
                      steps=2, batch_size=4, max_length=16, log_every=1, dev_fraction=0)
    assert result["step"] == 2 and result["train"]["step"] == 2 and result["dev"] is None
    assert Path(result["model_dir"]) == tmp_path / "model"


# --------------------------------------------------------------------------- issue 21: sharp edges


def _full_disk(*args, **kwargs):
    """torch.save on a full disk: the OSError, then a RuntimeError from its zip writer."""
    try:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")


def test_full_disk_during_a_checkpoint_is_one_line(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch, "save", _full_disk)
    out = tmp_path / "run"
    assert run("gpt", files["bpe"], files["corpus"], out, 2, "--save-every", "1", "--quiet") == 1
    err = capsys.readouterr().err                                      # --quiet: the error is all there is
    assert err == (f"fastembed pretrain: error: could not write checkpoint step_00000001 to {out / 'checkpoints'}: "
                   "No space left on device\n")
    assert os.listdir(out / "checkpoints") == []                       # no tmp dir left behind


def test_batch_larger_than_the_data_is_refused(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert run("gpt", files["bpe"], files["corpus"], out, 1, "--batch-size", "512") == 1
    err = capsys.readouterr().err
    assert "--batch-size 512 is larger than the training set" in err and "sequences of 32 tokens" in err
    assert "of memory" in err and not (out / "checkpoints").exists()
    assert run("bert", files["vocab"], files["corpus"], tmp_path / "bert", 1, "--batch-size", "100000") == 1
    err = capsys.readouterr().err
    assert "--batch-size 100000 is larger than the training set" in err and "sentence-pair instances" in err


def test_step_that_cannot_fit_in_memory_is_refused_before_the_model_is_built(files, tmp_path, capsys, monkeypatch):
    from fastembed.training import _budget

    monkeypatch.setattr(_budget, "available_bytes", lambda device: 2**20)        # 1 MiB free
    built = []
    monkeypatch.setattr("fastembed.training.pretrain.GPT", lambda *a, **k: built.append(1))
    assert run("gpt", files["bpe"], files["corpus"], tmp_path / "run", 1) == 1
    err = capsys.readouterr().err
    assert "--batch-size 8 x --max-length 32 needs about" in err and "1.0 MB free" in err and not built


def test_bert_with_a_bpe_tokenizer_is_refused(files, tmp_path, capsys):
    """finetune and embed read the model directory's WordPiece vocab.txt; a BPE BERT has none."""
    bpe = tmp_path / "bert_bpe.json"
    BPETokenizer.train(files=[files["corpus"]], vocab_size=300, special_tokens=SPECIALS, progress=False).save(bpe)
    assert run("bert", bpe, files["corpus"], tmp_path / "run", 1) == 1
    err = capsys.readouterr().err
    assert "puts no [CLS] / [SEP] around texts" in err and "BERT pretraining needs a WordPiece vocabulary" in err
    assert "[CLS], [SEP], [MASK], [PAD] and [UNK]" in err and not (tmp_path / "run").exists()


def test_default_save_every_follows_the_run_length_and_resume_says_where_from(files, tmp_path, caplog):
    out = tmp_path / "run"
    assert run("gpt", files["bpe"], files["corpus"], out, 20) == 0
    assert json.loads((out / "run.json").read_text())["args"]["save_every"] == 2       # 20 // 10
    assert sorted(p.name for p in (out / "checkpoints").glob("step_*")) == ["step_00000018", "step_00000020"]
    caplog.clear()
    with caplog.at_level("INFO", logger="fastembed"):
        assert run("gpt", files["bpe"], files["corpus"], out, 22, "--resume") == 0
    assert f"resume: from step 20, checkpoint {out / 'checkpoints' / 'step_00000020'}" in caplog.text


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_help_shows_every_default(command, capsys):
    import argparse

    from fastembed.cli import build_parser

    parser = build_parser([command])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        if not action.option_strings or action.dest == "help" or action.help == argparse.SUPPRESS:
            continue
        if action.required:
            assert "required" in action.help, action.option_strings
        else:
            assert "default" in action.help, action.option_strings
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: 32" in text                                       # --batch-size: %(default)s filled in
    if command == "pretrain":
        assert "min(1000, max(1, steps // 10))" in text
