"""The command line as a whole: every command's --help, one spelling and one meaning per shared
flag, help without torch, old spellings that warn and still work, errors that name the flag,
and the fastembed logger on stderr."""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys

import pytest

from fastembed.cli import COMMANDS, build_parser, main
from fastembed.cli._common import SHARED, name_flags
from tests._interrupt import ROOT, cli_env

SPELLINGS = {flag: name for name, s in SHARED.items() for flag in s.flags}
SHARED_DESTS = {s.dest for s in SHARED.values()}
# reST and Markdown markup that has no place in a terminal: ``x``, `x`, :func:`x`, :mod:, ...
MARKUP = re.compile(r"`|:(func|mod|meth|class|attr|data|exc|obj|ref|doc):")
# Commands that do no work of their own, so they have no --quiet: info prints facts, bench hands
# its arguments to python -m benchmarks.
NO_QUIET = {("info",), ("bench",)}


def parsers(parser: argparse.ArgumentParser = None, path: tuple = ()):
    """(command path, parser) for every command and sub-command, fastembed's own included."""
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, path + (name,))


def leaves():
    return [(path, p) for path, p in parsers() if path and not any(isinstance(a, argparse._SubParsersAction)
                                                                    for a in p._actions)]


def ids(items):
    return [" ".join(path) for path, _ in items]


def test_every_command_module_is_listed_once():
    assert len(set(COMMANDS)) == len(COMMANDS)
    top = {path[0] for path, _ in leaves()}
    assert top == {m.rsplit(".", 1)[-1] for m in COMMANDS}


@pytest.mark.parametrize("path", [path for path, _ in parsers() if path != ("bench",)],
                         ids=[" ".join(path) or "fastembed" for path, _ in parsers() if path != ("bench",)])
def test_help_exits_0_in_plain_words(path, capsys):
    with pytest.raises(SystemExit) as e:
        main([*path, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: fastembed")
    assert not MARKUP.search(text), MARKUP.search(text).group(0)


@pytest.mark.parametrize("path,parser", list(parsers()), ids=[" ".join(p) or "fastembed" for p, _ in parsers()])
def test_help_strings_have_no_markup(path, parser):
    texts = [parser.description or "", parser.epilog or ""]
    texts += [a.help for a in parser._actions if isinstance(a.help, str)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [c.help or "" for c in action._choices_actions]
    for text in texts:
        assert not MARKUP.search(text), (path, text)


@pytest.mark.parametrize("path,parser", leaves(), ids=ids(leaves()))
def test_shared_flags_mean_the_same_everywhere(path, parser):
    for action in parser._actions:
        names = {SPELLINGS[f] for f in action.option_strings if f in SPELLINGS}
        if not names and not (action.option_strings and action.dest in SHARED_DESTS):
            continue
        # A flag that uses a shared spelling or dest is the shared flag, added by _common's add_*.
        assert hasattr(action, "shared"), (path, action.option_strings)
        s = SHARED[action.shared]
        assert tuple(action.option_strings) == s.flags, (path, action.option_strings)
        assert action.dest == s.dest, (path, action.dest)
        assert action.type is s.type, (path, action.option_strings, action.type)
        assert action.help.startswith(s.meaning + ": "), (path, action.help)
        assert "default" in action.help or "required" in action.help, (path, action.help)


@pytest.mark.parametrize("path,parser", leaves(), ids=ids(leaves()))
def test_every_working_command_takes_quiet(path, parser):
    flags = {f for a in parser._actions for f in a.option_strings}
    assert ("--quiet" in flags) == (path not in NO_QUIET)
    if "--input" in flags and "--no-progress" in flags:
        assert "--threads" in flags    # a command that reads input and shows progress does work on threads


def test_the_same_flag_has_the_same_help_where_its_meaning_is_fixed():
    helps = {}
    for path, parser in leaves():
        for action in parser._actions:
            if getattr(action, "shared", None) in ("threads", "no_progress", "quiet"):
                helps.setdefault(action.shared, set()).add(action.help)
    assert set(helps) == {"threads", "no_progress", "quiet"}
    assert all(len(h) == 1 for h in helps.values()), helps


def test_finetune_layer_choices_are_the_heads():
    """The finetune parser keeps its own copy of the choices, so that --help needs no torch."""
    pytest.importorskip("torch")
    from fastembed.cli.finetune import LAYER_CHOICES
    from fastembed.finetune.heads import LAYER_CHOICES as HEADS

    assert LAYER_CHOICES == HEADS


def test_help_imports_no_torch():
    """fastembed --help and every command's --help stay fast: torch (which the models, training and
    fine-tuning packages load) is imported only when a command runs."""
    paths = [list(path) for path, _ in parsers() if path != ("bench",)]
    code = ("import sys\nfrom fastembed.cli import main\n"
            f"for path in {paths!r}:\n"
            "    try:\n        main([*path, '--help'])\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'safetensors'))\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stderr, out.stderr


# --------------------------------------------------------------------------- old spellings

ALIASES = [  # (command path, old argv, the new flag's dest, value there)
    (["pretrain", "bert", "--tokenizer", "t", "--steps", "1", "--out", "o"], ["--corpus", "a", "b"], "input",
     ["a", "b"]),
    (["pretrain", "bert", "--input", "a", "--tokenizer", "t", "--steps", "1", "--out", "o"], ["--seq-len", "64"],
     "max_length", 64),
    (["finetune", "--task", "classify", "--model", "m", "--out", "o"], ["--data", "tr", "dev"], "input",
     ["tr", "dev"]),
    (["embed", "--model", "m", "--input", "x"], ["--output", "v.npy"], "out", "v.npy"),
    (["demo"], ["--corpus", "c.txt"], "input", "c.txt"),
    (["tokenizer", "train", "--vocab-size", "300", "-o", "t.json"], ["c.txt"], "input", ["c.txt"]),
    (["tokenizer", "train", "--input", "c.txt", "--vocab-size", "300"], ["--output", "t.json"], "out", "t.json"),
    (["tokenizer", "encode", "-t", "t.json"], ["-f", "c.txt"], "input", "c.txt"),
    (["tokenizer", "encode", "-t", "t.json"], ["--file", "c.txt"], "input", "c.txt"),
    (["tokenizer", "encode", "-t", "t.json", "--input", "c.txt"], ["--output", "i.npy"], "out", "i.npy"),
    (["word2vec", "train", "-o", "v.txt"], ["c.txt"], "input", "c.txt"),
    (["word2vec", "train", "--input", "c.txt"], ["--output", "v.txt"], "out", "v.txt"),
    (["word2vec", "train", "--input", "c.txt", "-o", "v.txt"], ["--workers", "3"], "threads", 3),
]


def _values(value):
    if isinstance(value, list):
        return [str(v) for v in value]
    return value if isinstance(value, int) else str(value)


@pytest.mark.parametrize("argv,old,dest,value", ALIASES, ids=[f"{a[0]} {o[0]}" for a, o, _, _ in ALIASES])
def test_old_spellings_warn_and_still_work(argv, old, dest, value, capsys):
    args = build_parser().parse_args([*argv, *old])
    if old[0].startswith("-"):
        assert f"{old[0]} is deprecated; use --" in capsys.readouterr().err
        hidden = old[0]
    else:                                   # a positional file, now --input
        assert "the positional" in capsys.readouterr().err
        hidden = None
    seen = []
    with pytest.MonkeyPatch.context() as m:          # what the command would run on: the run itself is stubbed
        m.setattr(args.func, "run", lambda a: seen.append(a) or 0)
        assert args.func(args) == 0
    assert _values(getattr(seen[0], dest)) == value
    if hidden:
        command = argv[:2] if argv[0] in ("tokenizer", "word2vec", "pretrain") else argv[:1]
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert hidden not in capsys.readouterr().out.split()     # hidden from --help


def test_an_old_positional_and_input_together_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["word2vec", "train", "a.txt", "--input", "b.txt", "-o", "v.txt"])
    assert e.value.code == 2 and "give the input once" in capsys.readouterr().err


def test_input_is_required_however_it_is_spelled(capsys):
    with pytest.raises(SystemExit) as e:
        main(["tokenizer", "train", "--vocab-size", "300", "-o", "t.json"])
    assert e.value.code == 2 and "required: --input" in capsys.readouterr().err


def test_old_spelling_runs_a_real_command(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("low lower lowest\n" * 50)
    assert main(["tokenizer", "train", str(corpus), "--vocab-size", "270", "--output", str(tmp_path / "t.json")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["fastembed tokenizer: warning: the positional FILE is deprecated; use --input",
                   "fastembed tokenizer: warning: --output is deprecated; use --out"]
    assert (tmp_path / "t.json").is_file()


# --------------------------------------------------------------------------- errors name the flag


def test_error_names_the_flag_not_the_python_argument(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 20)
    status = main(["tokenizer", "train", "--kind", "wordpiece", "--input", str(corpus), "--vocab-size", "3",
                   "-o", str(tmp_path / "wp")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("fastembed tokenizer: error: --vocab-size must be at least 6"), err
    assert "vocab_size" not in err


def test_name_flags():
    names = {"max_length": "--max-length", "epochs": "--epochs", "tokenizer": "--tokenizer", "--seq-len": "--max-length"}
    assert name_flags("max_length=600 exceeds the model's 512 positions", names) == \
        "--max-length=600 exceeds the model's 512 positions"
    assert name_flags("epochs must be a positive int, got 0", names) == "--epochs must be a positive int, got 0"
    assert name_flags("--batch-size 8 x --seq-len 32 needs 9 GB", names) == "--batch-size 8 x --max-length 32 needs 9 GB"
    for untouched in ("the tokenizer must have a [MASK] token", "cannot read /data/max_length/x.txt",
                      "model.max_length_x is odd", "the epochs ran"):
        assert name_flags(untouched, names) == untouched
    assert name_flags("max_length is odd in /a/--seq-len", names, arguments=False) == "max_length is odd in /a/--seq-len"


# --------------------------------------------------------------------------- logging


def _run_logging(monkeypatch, capsys, *, quiet=False, debug=False):
    def command(args):
        log = logging.getLogger("fastembed.cli.example")
        log.debug("a detail")
        log.info("a note")
        log.warning("a warning")
        return 0

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args",
                        lambda self, argv=None: argparse.Namespace(command="embed", quiet=quiet, func=command))
    if debug:
        monkeypatch.setenv("FASTEMBED_DEBUG", "1")
    else:
        monkeypatch.delenv("FASTEMBED_DEBUG", raising=False)
    logger = logging.getLogger("fastembed")
    before = (logger.level, logger.propagate, list(logger.handlers))
    assert main(["embed"]) == 0
    assert (logger.level, logger.propagate, list(logger.handlers)) == before     # put back as it was
    return capsys.readouterr().err.splitlines()


def test_logging_goes_to_stderr_one_line_each(monkeypatch, capsys):
    assert _run_logging(monkeypatch, capsys) == ["fastembed embed: a note", "fastembed embed: warning: a warning"]
    assert _run_logging(monkeypatch, capsys, quiet=True) == ["fastembed embed: warning: a warning"]
    assert _run_logging(monkeypatch, capsys, debug=True)[0] == "fastembed embed: a detail"


# --------------------------------------------------------------------------- input and threads


def test_stdin_input(tmp_path):
    corpus = "low lower lowest\nnew newer newest\n" * 100
    tok = tmp_path / "tok.json"

    def cli(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "fastembed.cli", *args], input=stdin, cwd=ROOT, env=cli_env(),
                              capture_output=True, text=True, timeout=120)

    out = cli("tokenizer", "train", "--input", "-", "--vocab-size", "280", "-o", str(tok), stdin=corpus)
    assert out.returncode == 0, out.stderr
    ids = cli("tokenizer", "encode", "-t", str(tok), "--input", "-", stdin="lower newest\n")
    assert ids.returncode == 0 and ids.stdout.split()
    back = cli("tokenizer", "decode", "-t", str(tok), "--input", "-", stdin=ids.stdout)
    assert back.stdout == "lower newest\n\n"
    bad = cli("tokenizer", "decode", "-t", str(tok), "--input", "-", stdin="1 two 3")
    assert bad.returncode == 1 and "'two' is not a token id" in bad.stderr


def test_threads_apply_to_the_command_and_are_put_back(tmp_path, monkeypatch):
    import fastembed

    before = fastembed.get_num_threads()
    seen = []
    args = build_parser().parse_args(["tokenizer", "encode", "-t", "t.json", "x", "--threads", "1"])
    monkeypatch.setattr(args.func, "run", lambda a: seen.append(fastembed.get_num_threads()) or 0)
    assert args.func(args) == 0
    assert seen == [1] and fastembed.get_num_threads() == before
