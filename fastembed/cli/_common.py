"""What the commands share: one spelling per concept (SHARED, and the add_* functions that every
command uses to add those flags), old spellings kept as hidden aliases that warn, the run wrapper
(Command), the logging set-up, and reading inputs (a file or - for stdin).

Nothing here imports torch or a model: every command's --help must stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

LOGGER = "fastembed"
STDIN = "-"


def positive_int(text: str) -> int:
    """argparse type for counts and sizes: a usage error for 0 or less, before any work."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# --------------------------------------------------------------------------- the shared flags


@dataclass(frozen=True)
class Shared:
    """One concept's flag: its spellings, where argparse stores it, its type, and the words every
    help text for it starts with (what the flag means, the same in every command)."""
    flags: tuple[str, ...]
    dest: str
    meaning: str
    type: Any = None
    metavar: Optional[str] = None


SHARED: dict[str, Shared] = {
    "input": Shared(("--input",), "input", "what to read", Path, "FILE"),
    "out_file": Shared(("-o", "--out"), "out", "where to write", Path, "FILE"),
    "out_dir": Shared(("--out",), "out", "where to write", Path, "DIR"),
    "threads": Shared(("--threads",), "threads", "CPU threads", positive_int, "N"),
    "seed": Shared(("--seed",), "seed", "random seed", int, "N"),
    "no_progress": Shared(("--no-progress",), "no_progress", "no progress bar"),
    "quiet": Shared(("--quiet",), "quiet", "log warnings and errors only"),
    "max_length": Shared(("--max-length",), "max_length", "tokens per sequence", positive_int, "N"),
    "batch_size": Shared(("--batch-size",), "batch_size", "batch size", positive_int, "N"),
    "model": Shared(("--model",), "model", "model directory", Path, "DIR"),
    "tokenizer": Shared(("-t", "--tokenizer"), "tokenizer", "tokenizer", Path, "PATH"),
    "device": Shared(("--device",), "device", "torch device", str, "DEVICE"),
    "precision": Shared(("--precision",), "precision", "precision of the layers' matrix products", str, None),
}


def _add(p: argparse.ArgumentParser, name: str, help: str, *, old: tuple[str, ...] = (),
         **kwargs: Any) -> argparse.Action:
    s = SHARED[name]
    if s.type is not None:
        kwargs.setdefault("type", s.type)
    if s.metavar is not None and kwargs.get("action") is None:
        kwargs.setdefault("metavar", s.metavar)
    if kwargs.get("action") is None:
        kwargs["action"] = _Store
    action = p.add_argument(*s.flags, dest=s.dest, help=f"{s.meaning}: {help}", **kwargs)
    action.shared = name
    if isinstance(action, _Store):
        action.old = {}
    for spelling in old:
        deprecate(p, action, spelling)
    return action


def _with_default(help: str, required: bool) -> str:
    if required:
        return f"{help}; required"
    return help if "default" in help else f"{help} (default: %(default)s)"


def add_input(p: argparse.ArgumentParser, help: str, *, stdin: bool = False, nargs: Optional[str] = None,
              required: Union[bool, str] = True, old: tuple[str, ...] = ()) -> argparse.Action:
    """--input: the file (or files, nargs="+") the command reads; with ``stdin``, - reads standard
    input. ``required="later"``: required, but checked when the command runs, because an old
    positional spelling may give it instead (see add_old_positional). Without ``required``, the
    help should say what happens when it is left out."""
    text = help + ("; - reads standard input" if stdin else "")
    action = _add(p, "input", text + ("; required" if required else ""), old=old, nargs=nargs,
                  required=required is True, default=None)
    action.needed = required == "later"
    return action


def add_out(p: argparse.ArgumentParser, help: str, *, kind: str = "file", required: bool = True,
            default: Any = None, old: tuple[str, ...] = ()) -> argparse.Action:
    """-o/--out for a file, --out for a directory. Files are written atomically."""
    return _add(p, "out_file" if kind == "file" else "out_dir", _with_default(help, required), old=old,
                required=required, default=default)


def add_threads(p: argparse.ArgumentParser, old: tuple[str, ...] = ()) -> argparse.Action:
    return _add(p, "threads", "for fastembed's native code and torch (default: as configured, "
                "fastembed.set_num_threads or OMP_NUM_THREADS, else every core)", old=old, default=None)


def add_seed(p: argparse.ArgumentParser, help: str, default: Optional[int]) -> argparse.Action:
    return _add(p, "seed", f"{help} (default: {'none' if default is None else '%(default)s'})", default=default)


def add_no_progress(p: argparse.ArgumentParser) -> argparse.Action:
    return _add(p, "no_progress", "no bar or progress lines on stderr (default: off: a bar on a terminal, "
                "else a line every FASTEMBED_PROGRESS_EVERY seconds)", action="store_true")


def add_quiet(p: argparse.ArgumentParser) -> argparse.Action:
    return _add(p, "quiet", "no notes on stderr about the work; results still go to stdout "
                "(default: off; FASTEMBED_DEBUG=1 logs more)",
                action="store_true")


def add_max_length(p: argparse.ArgumentParser, help: str, default: Optional[int] = None,
                   old: tuple[str, ...] = ()) -> argparse.Action:
    return _add(p, "max_length", f"special tokens included; {help}", old=old, default=default)


def add_batch_size(p: argparse.ArgumentParser, help: str, default: int) -> argparse.Action:
    return _add(p, "batch_size", f"{help} (default: %(default)s)", default=default)


def add_model(p: argparse.ArgumentParser, help: str, required: bool = True) -> argparse.Action:
    return _add(p, "model", _with_default(help, required), required=required)


def add_tokenizer(p: argparse.ArgumentParser, help: str, required: bool = True) -> argparse.Action:
    return _add(p, "tokenizer", _with_default(help, required), required=required)


def add_device(p: argparse.ArgumentParser, default_help: str) -> argparse.Action:
    return _add(p, "device", f"cpu, cuda, cuda:1, ... (default: {default_help})", default=None)


def add_precision(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("fp32", "bf16", "int8"),
                  keeps: str = "LayerNorm, attention and pooling") -> argparse.Action:
    # the choices are fastembed.models.precision.PRECISIONS (generation's too), spelled
    # out so the help needs no torch
    int8 = " or int8" if "int8" in choices else ""
    return _add(p, "precision", "fp32, bf16 (CPUs with AVX-512-BF16 or AMX; elsewhere a warning and fp32)"
                f"{int8}; {keeps} stay fp32 (default: %(default)s)", choices=choices, default="fp32")


def add_common(p: argparse.ArgumentParser, *, progress: bool = True, threads: bool = True) -> None:
    """The flags of every command that does work: --threads, --no-progress, --quiet."""
    if threads:
        add_threads(p)
    if progress:
        add_no_progress(p)
    add_quiet(p)


# --------------------------------------------------------------------------- old spellings


def command_name(parser: argparse.ArgumentParser) -> str:
    """"tokenizer" for the parser of ``fastembed tokenizer train``."""
    words = parser.prog.split()
    return words[1] if len(words) > 1 else words[0]


def warn_deprecated(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    print(f"fastembed {command_name(parser)}: warning: {old} is deprecated; use {new}", file=sys.stderr)


class _Store(argparse.Action):
    """argparse's plain store, which also answers to the flag's old spellings (``old``: old ->
    new) with a warning line."""

    old: dict[str, str]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        if option_string in self.old:
            warn_deprecated(parser, option_string, self.old[option_string])
        setattr(namespace, self.dest, values)


def deprecate(p: argparse.ArgumentParser, action: argparse.Action, spelling: str) -> None:
    """Make ``spelling``, an old name of ``action``'s flag, work for one more release: hidden from
    --help, with a warning line when used. It is the same action under a second name, so a
    required flag counts as given."""
    if not isinstance(action, _Store):
        raise TypeError("only flags added with action=_Store can keep an old spelling")
    if spelling in p._option_string_actions:
        raise ValueError(f"{spelling} is taken already")
    action.old[spelling] = max(action.option_strings, key=len)
    p._option_string_actions[spelling] = action


def add_renamed(p: argparse.ArgumentParser, flag: str, old: tuple[str, ...], **kwargs: Any) -> argparse.Action:
    """A command's own flag (not a shared one) that had other spellings: they keep working for one
    release, hidden and with a warning line."""
    action = p.add_argument(flag, action=_Store, **kwargs)
    action.old = {}
    for spelling in old:
        deprecate(p, action, spelling)
    return action


class _OldPositional(argparse.Action):
    """The files a command once took as positional arguments, now --input's."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        if values:
            warn_deprecated(parser, f"the positional {self.metavar}", "--input")
        setattr(namespace, self.dest, values)


def add_old_positional(p: argparse.ArgumentParser, metavar: str, nargs: str = "*") -> None:
    """A hidden positional that fills --input when it is not given (see Command)."""
    p.add_argument("old_input", nargs=nargs, type=Path, metavar=metavar, help=argparse.SUPPRESS, action=_OldPositional)


# --------------------------------------------------------------------------- running a command


class Command:
    """A command's run function, as the parser's ``func``: before the run it checks what argparse
    could not (--input given once, by the flag or by the old positional) and applies --threads;
    main reads ``parser`` and ``arg_flags`` to name flags in error messages."""

    def __init__(self, run: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
                 arg_flags: Optional[dict[str, str]] = None) -> None:
        self.run, self.parser, self.arg_flags = run, parser, dict(arg_flags or {})

    def __call__(self, args: argparse.Namespace) -> int:
        old = getattr(args, "old_input", None)
        if old:
            if args.input is not None:
                self.parser.error("give the input once, with --input")
            many = any(a.dest == "input" and a.nargs in ("+", "*") for a in self.parser._actions)
            if not many and len(old) > 1:
                self.parser.error(f"--input takes one file, got {len(old)}")
            args.input = old if many else old[0]
        for action in self.parser._actions:
            if getattr(action, "needed", False) and getattr(args, action.dest, None) is None:
                self.parser.error(f"the following arguments are required: {'/'.join(action.option_strings)}")
        with threads(getattr(args, "threads", None)):
            return self.run(args)

    def flag_names(self) -> dict[str, str]:
        """Python argument name -> flag: each option's dest (--max-length's max_length), then what
        the command passes under another name (pretrain's seq_len is --max-length)."""
        names = {}
        for a in self.parser._actions:
            if a.option_strings and a.help is not argparse.SUPPRESS and a.dest != "help":
                names[a.dest] = max(a.option_strings, key=len)
            names.update(getattr(a, "old", {}))   # a library message may still name an old spelling
        names.update(self.arg_flags)
        return names


def set_command(p: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
                arg_flags: Optional[dict[str, str]] = None) -> None:
    p.set_defaults(func=Command(run, p, arg_flags))


def name_flags(message: str, names: dict[str, str], *, arguments: bool = True) -> str:
    """``message`` with the Python argument names a command maps to flags written as the flags:
    "max_length=600 exceeds ..." -> "--max-length=600 exceeds ...". Names with an underscore are
    replaced wherever they stand as a word; plain words (epochs, corpus) only where they are
    clearly an argument: before "=" or " must". Old flag spellings (--seq-len) become the new ones;
    ``arguments=False`` does only that (for messages about files, whose paths may hold any word)."""
    for name in sorted(names, key=len, reverse=True):
        flag = names[name]
        if name.startswith("-"):
            pattern = rf"(?<![\w\-/]){re.escape(name)}(?![\w\-/])"
        elif not arguments:
            continue
        elif "_" in name:
            pattern = rf"(?<![\w.\-/]){re.escape(name)}(?![\w\-/])"
        else:   # "epochs must be ...", but not "the tokenizer must have ..."
            pattern = rf"(?<![\w.\-/])(?<!the )(?<!a ){re.escape(name)}(?=(=| must\b))"
        message = re.sub(pattern, flag, message)
    return message


@contextlib.contextmanager
def threads(n: Optional[int]) -> Iterator[None]:
    """fastembed's (and torch's, once loaded) thread count for the command, then back as it was,
    so that a command run inside a Python process leaves it as it found it."""
    if n is None:
        yield
        return
    from .._native import get_num_threads, set_num_threads

    before = get_num_threads()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(torch_before if torch_before is not None else n)


def torch_threads(args: argparse.Namespace) -> None:
    """Give torch --threads too: for commands that import torch only when they run."""
    n = getattr(args, "threads", None)
    if n is not None:
        import torch

        torch.set_num_threads(n)


def missing(e: ImportError) -> int:
    """What a command that needs torch does without it: one line naming what to install, status 1."""
    logging.getLogger(LOGGER).error(str(e))
    return 1


def progress(args: argparse.Namespace) -> Optional[bool]:
    """The library's ``progress`` argument from --no-progress: False, or None (its default)."""
    return False if getattr(args, "no_progress", False) else None


# --------------------------------------------------------------------------- logging


class _Stderr(logging.StreamHandler):
    """A handler on whatever sys.stderr is when a record comes (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _Format(logging.Formatter):
    """``fastembed COMMAND: message``; warnings and errors say so, as argparse and Python's
    warnings do on the command line (``fastembed COMMAND: warning: ...``)."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        text = super().format(record)
        return f"fastembed {self.command}: {level}{text}"


@contextlib.contextmanager
def logging_to_stderr(command: str, *, quiet: bool = False) -> Iterator[logging.Logger]:
    """Send the "fastembed" logger to stderr for one command: INFO, WARNING with --quiet, DEBUG
    with FASTEMBED_DEBUG set. The logger is put back as it was afterwards (main may run inside a
    Python process, as in the tests)."""
    log = logging.getLogger(LOGGER)
    saved = (log.level, log.propagate)
    handler = _Stderr()
    handler.setFormatter(_Format(command))
    level = logging.DEBUG if os.environ.get("FASTEMBED_DEBUG") else logging.WARNING if quiet else logging.INFO
    log.setLevel(level)
    log.addHandler(handler)   # still propagating: a program's own root handlers (and pytest's caplog) see the records
    try:
        yield log
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


# --------------------------------------------------------------------------- input


def is_stdin(path: Any) -> bool:
    return str(path) == STDIN


def read_bytes(path: Path, flag: str = "--input") -> bytes:
    """A file's bytes, or standard input's for -; a message naming the flag for a bad path."""
    if is_stdin(path):
        return sys.stdin.buffer.read()
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a directory, expected a text file (one text per line)")
    if not path.exists():
        raise FileNotFoundError(f"{flag} {path} does not exist")
    return path.read_bytes()


def decode_utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{name} is not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (line {line}); "
                         f"convert it first, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8") from None


def read_lines(path: Path, flag: str = "--input") -> list[str]:
    """The lines of a UTF-8 file (or of stdin for -), split on "\\n" only (a "\\r" before it is
    dropped); a final newline ends the last line, it does not add an empty one."""
    name = "standard input" if is_stdin(path) else f"{flag} {path}"
    text = decode_utf8(read_bytes(path, flag), name)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


@contextlib.contextmanager
def as_file(path: Path, suffix: str = ".txt") -> Iterator[Path]:
    """``path`` itself, or for - standard input copied to a temporary file (removed afterwards),
    for work that reads its input more than once (word2vec's epochs)."""
    if not is_stdin(path):
        yield Path(path)
        return
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fastembed-stdin-") as d:
        tmp = Path(d) / f"stdin{suffix}"
        with open(tmp, "wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh)
        yield tmp
