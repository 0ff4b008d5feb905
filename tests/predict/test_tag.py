"""TokenTagger: word tags from the first piece as in training, BIO merged by conlleval's rules,
character offsets into the raw text (accents, punctuation, split words), pre-split words tagged
exactly as finetune encodes a sentence."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.features import TruncationWarning
from fastembed.finetune.encoding import encode_tagged, word_predictions
from fastembed.finetune.loop import predict
from fastembed.finetune.metrics import entities
from fastembed.finetune.readers import TaggedSentence
from fastembed.predict import TokenTagger

from .conftest import TAGS, LookupModel, tag_table, tiny_model

SPEC = {"task": "ner", "labels": TAGS, "max_length": 32}
# the stub model's tag for a token: first pieces decide, later pieces ("##s") say O
STUB_TAGS = {"john": "B-PER", "smith": "I-PER", "paris": "B-LOC", "france": "I-LOC", "city": "I-PER"}


@pytest.fixture(scope="module")
def stub(tok):
    return TokenTagger(LookupModel(tag_table(tok, STUB_TAGS)), tok, SPEC)


def spans(result):
    return [(e["entity"], e["text"]) for e in result]


@pytest.mark.parametrize("text,want", [
    ("john smith smith lives", [("PER", "john smith smith")]),               # B I I: one entity
    ("smith lives in paris", [("PER", "smith"), ("LOC", "paris")]),         # I without B starts one
    ("john john", [("PER", "john"), ("PER", "john")]),                       # B B: two
    ("john france", [("PER", "john"), ("LOC", "france")]),                   # I of another type: a new one
    ("paris city", [("LOC", "paris"), ("PER", "city")]),
    ("the movie was good", []),                                              # O only
    ("", []),
])
def test_bio_merging_follows_conlleval(stub, text, want):
    assert spans(stub(text)) == want


def test_offsets_slice_the_raw_text(stub):
    text = "Jóhn  SMITHS, from Páris!\tFrance? \u00e9 the city-john"
    got = stub(text)
    for e in got:
        assert text[e["start"]:e["end"]] == e["text"]
    # "Smiths" is one word ("smith", "##s"): its later piece does not split the entity; punctuation is a word of
    # its own, so the comma, "!" and "?" stay out; "city-john" is three words
    assert spans(got) == [("PER", "Jóhn  SMITHS"), ("LOC", "Páris"), ("LOC", "France"), ("PER", "city"),
                          ("PER", "john")]
    assert all(e["score"] == pytest.approx(np.exp(5) / (np.exp(5) + 4)) for e in got)


def test_batches_keep_input_order(tok):
    tagger = TokenTagger(LookupModel(tag_table(tok, STUB_TAGS)), tok, SPEC, batch_tokens=16, workers=3)
    texts = ["john smith", "paris", "", "the city of france", "who ?"] * 4
    assert tagger(texts) == [tagger(t) for t in texts]


def test_pre_split_words_are_tagged_as_finetune_encodes_them(tok):
    model = tiny_model("token", len(TAGS), seed=3)
    sentences = [["John", "Smith", "lives", "in", "Paris", "."], ["Paris", "is", "the", "capital", "of", "France"],
                 ["who", "?"], ["city", "-", "john", "smiths", "works", "on", "a", "river"]]
    tagger = TokenTagger(model, tok, SPEC, batch_tokens=24, workers=2)
    features, _ = encode_tagged([TaggedSentence(w, ["O"] * len(w)) for w in sentences], tok, None, max_length=32)
    logits = predict(model, features)
    want = []
    for w, f, y in zip(sentences, features, logits):
        tags = word_predictions(f["word_index"], y.argmax(-1), len(w), TAGS)
        starts = np.cumsum([len(x) + 1 for x in w]) - [len(x) + 1 for x in w]
        want.append([(k, int(starts[a]), int(starts[b] + len(w[b]))) for k, a, b in entities(tags)])
    got = tagger(words=sentences)
    assert [[(e["entity"], e["start"], e["end"]) for e in r] for r in got] == want
    assert sum(map(len, want)) > 0                                   # the random model does tag something
    assert tagger(sentences, is_split_into_words=True) == got
    assert tagger(words=sentences[0]) == got[0]                       # one sentence of words
    for r, w in zip(got, sentences):
        for e in r:
            assert " ".join(w)[e["start"]:e["end"]] == e["text"]
    # raw text of the same words: the same tokens and the same first pieces, so the same entities
    raw = tagger([" ".join(w) for w in sentences])
    assert [spans(r) for r in raw] == [spans(r) for r in got]


def test_words_past_max_length_are_o_with_a_warning(tok):
    tagger = TokenTagger(LookupModel(tag_table(tok, STUB_TAGS)), tok, {**SPEC, "max_length": 6})
    with pytest.warns(TruncationWarning, match="1 of 2 inputs"):
        got = tagger(["john smith lives in paris", "paris"])
    assert spans(got[0]) == [("PER", "john smith")] and spans(got[1]) == [("LOC", "paris")]
    assert tagger.last_report == {"sentences": 2, "truncated": 1, "dropped_words": 1}    # "paris"


def test_bad_input_is_refused_clearly(stub, tok):
    assert stub([]) == [] and stub(words=[]) == []
    with pytest.raises(TypeError, match="str or a list of str"):
        stub(5)
    with pytest.raises(TypeError, match="is_split_into_words"):
        stub([["john", "smith"]])
    with pytest.raises(TypeError, match="not both"):
        stub("john", words=["john"])
    with pytest.raises(TypeError, match="sentence 1"):
        stub(words=[["john"], [3]])
    with pytest.raises(ValueError, match="not such tags"):
        TokenTagger(LookupModel(tag_table(tok, {})), tok, {**SPEC, "labels": ["O", "PER", "LOC", "MISC", "X"]})
    with pytest.raises(ValueError, match="'qa'"):
        TokenTagger(LookupModel(tag_table(tok, {})), tok, {**SPEC, "task": "qa"})
