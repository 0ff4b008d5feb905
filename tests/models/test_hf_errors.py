"""Model directories with a wrong config: one ValueError naming the file and the field, and
nothing built from a config before it is compared with the weights (no transformers needed)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from fastembed.models import GPT, GPTConfig
from fastembed.models.hf import load_gpt2, save_gpt2


def _tiny_bert_dir(path):
    from fastembed.models import BertConfig, BertModel
    from fastembed.models.hf import save_bert

    torch.manual_seed(0)
    save_bert(BertModel(BertConfig.preset("tiny", vocab_size=40, hidden_size=32, num_heads=2, intermediate_size=64,
                                          max_position=16)), path, vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
              + [f"w{i}" for i in range(35)])
    return path


@pytest.mark.parametrize("kind, field", [("bert", "vocab_size"), ("bert", "num_hidden_layers"), ("gpt2", "n_embd")])
def test_config_missing_a_field_names_the_file_and_field(tmp_path, kind, field):
    from fastembed.models.hf import load_bert

    if kind == "bert":
        _tiny_bert_dir(tmp_path)
    else:
        save_gpt2(GPT(GPTConfig.preset("tiny", vocab_size=50, max_position=32)), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    del cfg[field]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=rf"{tmp_path / 'config.json'} lacks the field {field}; a "):
        (load_bert if kind == "bert" else load_gpt2)(tmp_path)


def test_gpt_directory_given_to_finetune_or_embed_says_so(tmp_path, capsys):
    from fastembed.cli import main

    gpt = tmp_path / "gpt"
    save_gpt2(GPT(GPTConfig.preset("tiny", vocab_size=50, max_position=32)), gpt)
    lines = tmp_path / "lines.txt"
    lines.write_text("a line\n")
    want = f"{gpt} holds a GPT model (model_type gpt2); finetune/embed need a BERT model directory"
    assert main(["embed", "--model", str(gpt), "--input", str(lines), "--out", str(tmp_path / "v.npy")]) == 1
    assert capsys.readouterr().err == f"fastembed embed: error: {want}\n"
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\na line\t0\nanother\t1\n")
    assert main(["finetune", "--task", "classify", "--input", str(train), str(train), "--model", str(gpt),
                 "--out", str(tmp_path / "ft")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"fastembed finetune: error: {want}"
    bert = _tiny_bert_dir(tmp_path / "bert")
    with pytest.raises(ValueError, match="holds a BERT model \\(model_type bert\\); generate needs a GPT-2"):
        load_gpt2(bert)


@pytest.mark.parametrize("field, value", [("vocab_size", 10**12), ("hidden_size", 64), ("max_position_embeddings", 10**9),
                                          ("num_hidden_layers", 10**6), ("intermediate_size", 10**8)])
def test_config_that_disagrees_with_the_weights_is_refused_before_building(tmp_path, monkeypatch, field, value):
    """vocab_size 10**12 used to build a 10**12-row embedding before the shapes were compared."""
    from fastembed.models import hf

    _tiny_bert_dir(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, field: value}))

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built from the config before its shapes were checked")
    monkeypatch.setattr(hf, "BertModel", no_build)
    with pytest.raises(ValueError, match=rf"config.json says {field} {value} but the weights"):
        hf.load_bert(tmp_path)


def test_bpe_model_directory_given_to_embed_says_what_is_missing(tmp_path):
    from fastembed.models.hf import load_wordpiece
    from fastembed.tokenizers import BPETokenizer

    with pytest.raises(FileNotFoundError, match="holds no tokenizer: expected tokenizer.json .HF., bpe.json"):
        load_wordpiece(tmp_path)
    BPETokenizer.train(["a bb ccc"] * 5, vocab_size=260, progress=False).save(tmp_path / "bpe.json")
    with pytest.raises(ValueError, match="bpe.json holds a BPETokenizer, not a WordPieceTokenizer"):
        load_wordpiece(tmp_path)
    (tmp_path / "vocab.txt").write_text("[UNK]\n")
    (tmp_path / "tokenizer_config.json").write_text("{oops")
    with pytest.raises(ValueError, match="tokenizer_config.json is not valid JSON"):
        load_wordpiece(tmp_path)
