"""`fastembed demo`: the quick run goes end to end with no shared data and writes a report that
names every picture, each a real PNG; bad input fails with one clear line before any long work."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

SECTIONS = ("native core self-check", "tokenizers", "word2vec", "GPT", "BERT", "fine-tuning", "features",
            "ELMo: contextual vectors from a biLM", "biases")


def demo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, FASTEMBED_DATA="/nonexistent/shared-data")     # the demo must not need it
    return subprocess.run([sys.executable, "-m", "fastembed", "demo", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    run = demo("--quick", "--out", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, run


def test_quick_demo_writes_every_section(quick_run):
    out, run = quick_run
    report = (out / "report.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## (\d+)\. (.+)$", report, flags=re.M)
    assert re.search(r"forward LM \d+\.\d+, backward LM \d+\.\d+, perplexity \d+\.\d", report)
    assert [int(n) for n, _ in heads] == list(range(9))
    for (_, title), want in zip(heads, SECTIONS):
        assert want.lower() in title.lower()
    assert "CPython" in report and "pydoc_data" in report          # says what text it used
    assert "*Finished after" in report
    for key in ("frozen", "end to end", "scalar_mix", "WEAT", "[MASK]", "merge", "inside a quotation or a bracket",
                "learned scalar mix: softmax weights", "γ =", "offset vectors"):
        assert key in report, key
    assert "WRONG" not in run.stdout and "FAILED" not in run.stdout


def test_every_picture_is_named_in_the_report_and_is_a_real_png(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text(encoding="utf-8")
    named = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report))
    on_disk = {p.name for p in out.glob("*.png")}
    assert named == on_disk
    assert {"bpe_merges.png", "word2vec_pairs.png", "bert_attention.png", "loss_curves.png",
            "contextual_vs_static.png", "elmo_loss_curves.png"} <= on_disk
    import matplotlib.image as mpimg

    for name in on_disk:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
        pixels = mpimg.imread(out / name)
        assert pixels.std() > 0.01, f"{name} is a blank image"


def test_models_and_tokenizers_are_saved_in_formats_that_load(quick_run):
    out, _ = quick_run
    from fastembed.generate import load_generator
    from fastembed.models.hf import load_bert, load_wordpiece
    from fastembed.tokenizers import BPETokenizer

    assert BPETokenizer.load(out / "bpe.json").n_vocab > 256
    model, tok = load_generator(out / "gpt" / "model")
    assert tok.n_vocab == model.config.vocab_size
    bert = load_bert(out / "bert" / "model")
    assert bert.config.num_layers == 4 and load_wordpiece(out / "bert" / "model").vocab_size == bert.config.vocab_size
    assert (out / "corpus.txt").stat().st_size > 500_000
    from fastembed.models import load_elmo

    elmo = load_elmo(out / "elmo" / "model")
    assert elmo.config.vocab_size == bert.config.vocab_size          # ELMo reads BERT's WordPiece pieces


def test_a_rerun_into_the_same_folder_is_allowed_but_a_foreign_folder_is_not(quick_run, tmp_path):
    out, _ = quick_run
    from fastembed.demo import prepare_out

    assert prepare_out(out) == out and not (out / "gpt").exists()    # the demo's own folder: parts cleared
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    run = demo("--quick", "--out", str(foreign))
    assert run.returncode == 1 and "did not write" in run.stderr
    assert (foreign / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "tiny", "directory"])
def test_bad_corpus_fails_before_any_work(tmp_path, case):
    path = tmp_path / "corpus.txt"
    if case == "empty":
        path.write_text("  \n\n")
    elif case == "binary":
        path.write_bytes(b"\xff\xfe\x00 not utf-8 \x80")
    elif case == "tiny":
        path.write_text("A short text. It has two sentences.\n")
    elif case == "directory":
        path.mkdir()
    run = demo("--quick", "--corpus", str(path), "--out", str(tmp_path / "out"), timeout=120)
    want = {"missing": "no such file", "empty": "is empty", "binary": "not UTF-8", "tiny": "too small",
            "directory": "is a directory"}[case]
    assert run.returncode == 1 and want in run.stderr, run.stderr
    assert "[1/8]" not in run.stdout                                  # no step had started


def test_unwritable_output_and_oversized_vocabulary_fail_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = demo("--quick", "--out", str(blocker / "sub"), timeout=120)
    assert run.returncode == 1 and "cannot be written" in run.stderr, run.stderr
    run = demo("--quick", "--out", str(tmp_path / "o"), "--vocab-size", "200000", timeout=300)
    assert run.returncode == 1 and "too small for a BPE vocabulary" in run.stderr, run.stderr
    assert "[2/8]" not in run.stdout


# --------------------------------------------------------------------------- choices from a user's text

NAMES = ("anna", "peter", "maria", "ivan", "olga", "boris")
NOUNS = ("horse", "house", "letter", "garden", "window", "road", "tree", "door", "river", "field", "friend", "book")
VERBS = ("walk", "open", "call", "look", "watch", "want", "turn", "ask", "follow", "wait")


def book_text(lines: int = 400, seed: int = 0) -> str:
    """A small novel-like text: sentences from templates over singular/plural nouns, verbs in
    three forms and some gendered words, paragraphs and a few chapter breaks."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(lines):
        n, m = rng.choice(NOUNS), rng.choice(NOUNS)
        v = rng.choice(VERBS)
        who = rng.choice(NAMES).capitalize()
        he, his = rng.choice([("he", "his"), ("she", "her")])
        out.append(rng.choice([
            f"{who} {v}ed to the {n} and {he} saw the {m}s by the old {n}.",
            f"The {n}s were {v}ing near the {m} while the man and the woman talked.",
            f"When {he} came home, {his} {n} was {v}ing and the {m}s were quiet.",
            f"The king and the queen {v}ed past the {n}s, and the boy and the girl followed {his} {m}.",
            f"{who} did not {v} the {n}, for {he} was thinking of the {m}s and of {his} father.",
        ]))
        if i % 7 == 6:
            out.append("")
        if i % 100 == 99:
            out += ["", ""]
    return "\n".join(out) + "\n"


def test_choices_from_a_small_book_all_occur_in_it(tmp_path):
    """On a user's text every probe word, analogy word, few-shot word and picture pair is a word
    of that text; relations hold by their rule; the fill-in-the-blank sentences are held out of
    the training text; the choices do not change between two runs."""
    from fastembed.demo import choices
    from fastembed.demo.bert import probes
    from fastembed.demo.corpus import Corpus, file_corpus, words
    from fastembed.word2vec import Word2Vec

    path = tmp_path / "book.txt"
    path.write_text(book_text(), encoding="utf-8")
    corpus = file_corpus(path)
    assert not corpus.curated and len(corpus.held_out) >= 60
    assert len(corpus.sentences) + len(corpus.held_out) == 400               # the tail moved, nothing lost
    assert corpus.held_out[-1] == book_text().rstrip().splitlines()[-1]
    vocab = {w for s in corpus.sentences for w in words(s)}
    kv = Word2Vec([words(s) for s in corpus.sentences], vector_size=16, min_count=3, epochs=1, seed=1,
                  progress=False).wv
    probes_ = choices.probe_words(kv.index_to_key)
    assert len(probes_) == 6 and set(probes_) <= vocab and not set(probes_) & choices.STOP
    rel = choices.relation_pairs(choices.word_counts(corpus))
    assert {choices.PLURAL, choices.PAST, choices.ING, choices.GENDER_REL} <= set(rel)
    for a, b in rel[choices.PLURAL]:
        assert b in (a + "s", a + "es") or (a.endswith("y") and b == a[:-1] + "ies")
    for a, b in rel[choices.PAST]:
        assert b in (a + "ed", a + "d")
    quads = choices.analogies(rel)
    assert quads and all(set(q) <= vocab and len(set(q)) == 4 for q in quads)
    examples, query, answer = choices.few_shot(rel)
    assert {w for p in examples for w in p} | {query, answer} <= vocab
    cases = probes(Corpus("held out", [corpus.held_out]))
    assert cases and all(s in corpus.held_out and w in words(s) for s, w in cases)
    again = file_corpus(path)
    assert choices.relation_pairs(choices.word_counts(again)) == rel and again.held_out == corpus.held_out


def test_plural_pairs_leave_out_words_mostly_used_as_verbs():
    """"know -> knows" is a verb's third person, not a plural: a word whose -ing or -ed form is
    common is not taken for a noun; a noun whose -ing form is rare keeps its plural."""
    from collections import Counter

    from fastembed.demo import choices

    counts = Counter({"know": 100, "knows": 20, "knowing": 30, "hand": 100, "hands": 40, "handing": 3,
                      "handed": 5, "walk": 50, "walks": 10, "walked": 20, "day": 80, "days": 60})
    plural = choices.relation_pairs(counts)[choices.PLURAL]
    assert set(plural) == {("hand", "hands"), ("day", "days")}


def test_the_fine_tuning_sentence_claims_only_what_the_scores_show():
    from fastembed.demo.claims import above_chance, best_sentence, finetune_sentence

    low = finetune_sentence(0.45, 0.49, 0.5, 128)
    assert "too small" in low and "trade-off" in low and "measured" not in low.replace("does not measure", "")
    assert "not told apart" in finetune_sentence(0.70, 0.72, 0.5, 400)
    assert "paid off" in finetune_sentence(0.60, 0.80, 0.5, 400)
    assert "hurt" in finetune_sentence(0.80, 0.60, 0.5, 400)
    assert not above_chance(0.55, 0.5, 128) and above_chance(0.65, 0.5, 128)
    assert "None of these features beats chance" in best_sentence({"a": 0.52, "b": 0.49}, 0.5, 200)
    assert "within noise of b" in best_sentence({"a": 0.80, "b": 0.79, "c": 0.55}, 0.5, 200)


def test_span_marks_pair_quotes_and_brackets_and_refuse_what_does_not_pair():
    from fastembed.demo.elmo import span_marks

    inside, mark = span_marks(list('he said " go ( now ) " and left'.split()))
    assert inside == [False, False, False, True, True, True, True, False, False, False]
    assert mark == [False, False, True, False, True, False, True, True, False, False]
    assert span_marks(["“", "a", "”", "b"]) == ([False, True, False, False], [True, False, True, False])
    assert span_marks(["a", "”", "b"]) is None                      # cut from a longer quotation
    assert span_marks(["(", "a", "b"]) is None                      # left open
    assert span_marks(["a", "b"]) == ([False, False], [False, False])


def test_span_task_probes_one_token_inside_and_one_outside_per_sentence():
    """Two probes per sentence that holds a closed span, labelled by the text itself, the marks and
    the first and last pieces never probed; a corpus with fewer such sentences gives fewer."""
    from fastembed.demo.elmo import span_marks, span_task
    from fastembed.tokenizers import WordPieceTokenizer

    sentences = [f'the {n} said " the {m} is near the old road " to the {n} today' for n in NOUNS for m in NOUNS]
    sentences += [f"the {n} ( by the {m} ) was near the old {n} by the {m}" for n in NOUNS for m in NOUNS[:4]]
    sentences += [f"the {n} and the {m} were near the old {n} by the {m} today" for n in NOUNS for m in NOUNS]
    sentences += [f'the {n} said " the road is near the old {n} today' for n in NOUNS]      # left open
    tok = WordPieceTokenizer.train(sentences, vocab_size=90, special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                              "[MASK]"), progress=False)
    ids, pos, y = span_task(tok, sentences, 100, seed=3)
    assert len(ids) == 100 and list(y[0::2]) == [1] * 50 and list(y[1::2]) == [0] * 50
    for k, (a, p, label) in enumerate(zip(ids, pos, y)):
        inside, mark = span_marks([tok.id_to_token(t) for t in a])
        assert 1 <= p <= len(a) - 2 and not mark[p] and inside[p] == bool(label)
        if k % 2:
            assert ids[k - 1] == a                                   # a sentence's two probes sit together
    few, _, _ = span_task(tok, sentences, 10_000, seed=3)
    assert len(few) == 2 * (len(NOUNS) ** 2 + 4 * len(NOUNS))        # every sentence with a closed span, once


def test_merge_list_shows_part_of_a_character_as_hex_bytes():
    """A BPE merge inside a multi-byte UTF-8 character (the first two bytes of “) is shown as its
    bytes, not as the replacement character."""
    from fastembed.demo.tokenize import _show

    assert _show("“".encode()[:2]) == "<e2 80>"
    assert _show(b" \xe2") == "␣<e2>"
    assert _show("“".encode()) == "“" and _show(b" the\n") == "␣the\\n"


def test_words_keep_accented_letters_and_inner_apostrophes():
    """War and Peace's "Natásha" is one word (it was cut into "nat" and "sha"); so is "don’t"."""
    from fastembed.demo.corpus import words

    assert words("Natásha said: “Don’t go,” and isn't 42 x_y café.") == \
        ["natásha", "said", "don’t", "go", "and", "isn't", "x", "y", "café"]
