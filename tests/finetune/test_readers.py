"""Readers: GLUE .tsv (BOM, bare quotes, test splits without labels), CoNLL-2003 columns and
SQuAD JSON, with errors that name the file and line; the real shared files when present."""

from __future__ import annotations

import json

import pytest

from fastembed.finetune.readers import QAExample, read_conll, read_glue, read_squad, split_by_title


def test_glue_pairs_with_bom_and_bare_quotes(tmp_path):
    f = tmp_path / "dev.tsv"
    f.write_text("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                 '1\t11\t12\tHe said " no " .\tShe said no .\n0\t13\t14\tA b .\tC d .\n', encoding="utf-8")
    ex = read_glue(f)
    assert [(e.text_a, e.text_b, e.label) for e in ex] == [('He said " no " .', "She said no .", "1"),
                                                          ("A b .", "C d .", "0")]
    assert ex[1].source == "dev.tsv:3"


def test_glue_single_sentences_and_test_split(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("sentence\tlabel\nit 's charming . \t1\n\nbleak \t0\n", encoding="utf-8")
    assert [(e.text_a, e.text_b, e.label) for e in read_glue(f)] == [("it 's charming .", None, "1"),
                                                                     ("bleak", None, "0")]
    t = tmp_path / "test.tsv"
    t.write_text("index\tsentence1\tsentence2\n0\ta\tb\n", encoding="utf-8")
    assert read_glue(t)[0].label is None


def test_glue_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_glue(tmp_path / "missing.tsv")
    f = tmp_path / "bad.tsv"
    f.write_text("sentence\tlabel\ngood\t1\nbad\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:3: 1 tab-separated fields, but the header has 2"):
        read_glue(f)
    f.write_text("gjs\t0\t\tOur friends won't buy this analysis.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no text column"):
        read_glue(f)


def test_conll(tmp_path):
    f = tmp_path / "valid.txt"
    f.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nPeter NNP B-NP B-PER\n"
                 "Blackburn NNP I-NP I-PER\n-DOCSTART- -X- -X- O\nBRUSSELS NNP B-NP B-LOC", encoding="utf-8")
    s = read_conll(f)
    assert [(x.words, x.tags) for x in s] == [(["EU", "rejects"], ["B-ORG", "O"]),
                                              (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
                                              (["BRUSSELS"], ["B-LOC"])]
    assert s[1].source == "valid.txt:7"
    f.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(ValueError, match="valid.txt:2: 'rejects' has no tag column"):
        read_conll(f)


def test_squad(tmp_path):
    f = tmp_path / "dev.json"
    doc = {"data": [{"title": "T", "paragraphs": [{"context": "Paris is big.", "qas": [
        {"id": "q1", "question": "What is big?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}
    f.write_text(json.dumps(doc), encoding="utf-8")
    (q,) = read_squad(f)
    assert (q.id, q.context, q.answers[0].text, q.answers[0].start, q.title) == ("q1", "Paris is big.", "Paris", 0, "T")
    del doc["data"][0]["paragraphs"][0]["qas"][0]["question"]
    f.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="article 0, paragraph 0 is not in SQuAD format"):
        read_squad(f)
    f.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_squad(f)


def test_split_by_title_keeps_articles_whole():
    ex = [QAExample(str(i), "q", f"c{i // 2}", [], title=f"t{i // 3}") for i in range(12)]   # 4 articles
    train, dev = split_by_title(ex, every=2)
    assert {e.title for e in train} == {"t0", "t2"} and {e.title for e in dev} == {"t1", "t3"}


@pytest.mark.data
def test_real_files(shared_data):
    sst = read_glue(shared_data / "glue" / "SST-2" / "dev.tsv")
    rte = read_glue(shared_data / "glue" / "RTE" / "dev.tsv")
    mrpc = read_glue(shared_data / "glue" / "MRPC" / "dev.tsv")
    assert (len(sst), len(rte), len(mrpc)) == (872, 277, 408)
    assert {e.label for e in sst} == {"0", "1"} and sst[0].text_b is None
    assert {e.label for e in rte} == {"entailment", "not_entailment"} and all(e.text_b for e in rte)
    assert sum(e.label == "1" for e in mrpc) == 279
    conll = read_conll(shared_data / "ner" / "conll2003" / "valid.txt")
    assert len(conll) == 3250 and sum(len(s.words) for s in conll) == 51362
    assert sum(t.startswith("B-") for s in conll for t in s.tags) == 1837 + 922 + 1341 + 1842
