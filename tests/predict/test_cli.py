"""``fastembed predict`` (fastembed/cli/predict.py): plain-text and JSON-lines input, output lines in
input order equal to the pipeline's results, stdin and stdout, atomic output, clear errors.

The model directory loader (fastembed.finetune.export.load_model) is replaced by one that
returns a pipeline built from objects, so these tests need neither a saved model nor that module."""

from __future__ import annotations

import io
import json

import pytest

import fastembed.predict
from fastembed.predict import QuestionAnswerer, TextClassifier, TokenTagger
from fastembed.cli import build_parser, main
from fastembed.cli.predict import parse_lines

from .conftest import TAGS, LookupModel, tag_table, tiny_model


def parse(argv):
    return build_parser().parse_args(["predict", *argv])


def run(args):
    return args.func(args)


@pytest.fixture
def use(monkeypatch, tok):
    """use(kind) makes load() return a pipeline of that kind; returns the pipeline."""
    def pick(kind):
        if kind == "classify":
            pipe = TextClassifier(tiny_model("sequence", 3, pooling="mean"), tok,
                                  {"task": "classify", "labels": ["a", "b", "c"]})
        elif kind == "ner":
            pipe = TokenTagger(LookupModel(tag_table(tok, {"john": "B-PER", "paris": "B-LOC"})), tok,
                               {"task": "ner", "labels": TAGS})
        else:
            pipe = QuestionAnswerer(tiny_model("span"), tok, {"task": "qa", "max_length": 40, "max_query_length": 8})
        seen = {}

        def load(path, **kw):
            seen.update(kw, path=path)
            return pipe
        monkeypatch.setattr(fastembed.predict, "load", load)
        pipe.seen = seen
        return pipe
    return pick


def lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_classifier_plain_text_to_json_lines(use, tmp_path, capsys):
    clf = use("classify")
    texts = ["the movie was good", "", "bad", "a very fine film", "what ?"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert main(["predict", "--model", "m", "--input", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out.jsonl"),
                 "--batch-tokens", "16", "--threads", "1"]) == 0
    assert lines(tmp_path / "out.jsonl") == json.loads(json.dumps(clf(texts)))
    assert clf.seen["batch_tokens"] == 16 and clf.seen["threads"] == 1 and str(clf.seen["path"]) == "m"
    assert "5 inputs (classify)" in capsys.readouterr().err


def test_json_lines_pairs_and_stdout(use, tmp_path, capsys, monkeypatch):
    clf = use("classify")
    rows = [{"text": "good", "text_pair": "bad"}, {"text": "the plot"}]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("".join(json.dumps(r) + "\n" for r in rows)
                                                                  .encode())))
    assert main(["predict", "--model", "m", "--input", "-", "--quiet"]) == 0
    out = capsys.readouterr()
    assert [json.loads(x) for x in out.out.splitlines()] == json.loads(json.dumps(clf(rows)))
    assert out.err == ""


def test_tagger_text_and_words_lines_in_order(use, tmp_path):
    use("ner")
    rows = [{"text": "John lives in Paris."}, {"words": ["Paris", "John"]}, {"text": ""}, {"words": []}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run(parse(["--model", "m", "--input", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--quiet"]))
    got = lines(tmp_path / "o.jsonl")
    assert [[(e["entity"], e["start"], e["text"]) for e in r] for r in got] == [
        [("PER", 0, "John"), ("LOC", 14, "Paris")], [("LOC", 0, "Paris"), ("PER", 6, "John")], [], []]


def test_qa_json_lines(use, tmp_path):
    qa = use("qa")
    rows = [{"question": "who lives in paris ?", "context": "john smith lives in paris ."},
            {"question": "where ?", "context": "the city of paris , on a river ."}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run(parse(["--model", "m", "--input", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--quiet"]))
    assert lines(tmp_path / "o.jsonl") == json.loads(json.dumps(qa(rows)))
    (tmp_path / "plain.txt").write_text("who lives in paris ?\n", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON lines"):
        run(parse(["--model", "m", "--input", str(tmp_path / "plain.txt"), "--quiet"]))


def test_bad_input_fails_before_writing(use, tmp_path):
    use("classify")
    out = tmp_path / "o.jsonl"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run(parse(["--model", "m", "--input", str(tmp_path / "missing.txt"), "-o", str(out)]))
    (tmp_path / "bad.jsonl").write_text('{"text": "good"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not a JSON object"):
        run(parse(["--model", "m", "--input", str(tmp_path / "bad.jsonl"), "-o", str(out)]))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        run(parse(["--model", "m", "--input", str(tmp_path / "latin1.txt"), "-o", str(out)]))
    assert not out.exists()
    with pytest.raises(FileNotFoundError, match="folder"):
        (tmp_path / "ok.txt").write_text("good\n", encoding="utf-8")
        run(parse(["--model", "m", "--input", str(tmp_path / "ok.txt"), "-o", str(tmp_path / "no" / "o.jsonl")]))


def test_parse_lines():
    assert parse_lines([], "qa") == []
    assert parse_lines(["{not json", "b"], "classify") == ["{not json", "b"]     # plain text that starts with {
    assert parse_lines(['{"text": "a"}'], "classify") == [{"text": "a"}]
    with pytest.raises(ValueError, match="line 1: a classify input"):
        parse_lines(['{"question": "a"}'], "classify")
    with pytest.raises(ValueError, match="'words' must be a list of str"):
        parse_lines(['{"words": "John Smith"}'], "ner")
