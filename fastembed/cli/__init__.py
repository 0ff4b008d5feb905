"""The fastembed command line.

    fastembed --version
    fastembed info [--json]           how fastembed was built, what it can use here
    fastembed demo                    the main job, end to end, on data that needs no download
    fastembed bench NAME [ARGS...]    a benchmark from the source tree's benchmarks/ folder

    fastembed tokenizer ...           train (BPE or WordPiece) / encode / decode / explain
    fastembed word2vec ...            train / neighbours / analogy / evaluate word vectors
    fastembed pretrain bert|gpt ...   pretrain BERT or GPT on a corpus (also under torchrun:
                                      torchrun --nproc_per_node=2 -m fastembed.cli pretrain ...)
    fastembed finetune --task ...     fine-tune an encoder: classify | pair | qa | ner, frozen or end to end
    fastembed generate --model ...    continue prompts with a GPT model directory
    fastembed embed --model ...       embed lines of text into a .npy file (sentence embeddings)
    fastembed predict --model ...     a fine-tuned classifier, tagger or QA model on lines of text (JSON lines)

One module per command (COMMANDS below), each with add_parser(sub); a module imports torch and
the models only inside its run function, so listing the commands and every --help stay fast. A
flag means the same in every command (see _common.SHARED): --input (- for stdin where a command
reads lines), -o/--out, --threads, --seed, --no-progress, --quiet, --max-length, --batch-size,
--model, --tokenizer, --device.

What the commands say goes through logging.getLogger("fastembed") to stderr as
"fastembed COMMAND: message" (--quiet: warnings only; FASTEMBED_DEBUG=1: debug too); results go
to stdout. Bad input (a missing file, a tokenizer without a token the model needs, ...) prints
one line and exits with status 1, naming the flag where the library named its argument; Ctrl-C
stops the work (native threads included), prints one line and exits with 130, leaving no
half-written output; a closed pipe (... | head) ends the command quietly with 141.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

from .._version import __version__
from ._common import logging_to_stderr, name_flags

# The commands, in the order fastembed --help lists them: each module has add_parser(sub).
COMMANDS = (
    "fastembed.cli.info",
    "fastembed.cli.demo",
    "fastembed.cli.bench",
    "fastembed.cli.tokenizer",
    "fastembed.cli.word2vec",
    "fastembed.cli.pretrain",
    "fastembed.cli.finetune",
    "fastembed.cli.generate",
    "fastembed.cli.embed",
    "fastembed.cli.predict",
)

EXIT_INTERRUPTED = 130   # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE, what `cmd | head` gives for Unix tools that die of SIGPIPE

__all__ = ["main", "build_parser", "COMMANDS", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE", "format_info"]


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The fastembed parser with every command. ``argv`` is not needed any more (every command's
    parser is built in full, none imports torch) and is accepted for old callers."""
    parser = argparse.ArgumentParser(prog="fastembed", description="Pretrain, then fine-tune: tokenizers, "
                                     "word2vec, BERT and GPT with a C++/CUDA core.")
    parser.add_argument("--version", action="version", version=f"fastembed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    names = args.func.flag_names() if hasattr(args.func, "flag_names") else {}
    _warnings_as_lines(args.command, names)
    try:
        with logging_to_stderr(args.command, quiet=getattr(args, "quiet", False)):
            status = args.func(args)
            sys.stdout.flush()  # inside the try: a reader that went away shows up here, not at exit
        return status
    except KeyboardInterrupt:  # Ctrl-C: native work has stopped and no output file was half-written
        if os.environ.get("FASTEMBED_DEBUG"):
            raise
        end_bar = "\n" if sys.stderr.isatty() else ""   # a progress bar may own the current line
        print(f"{end_bar}fastembed {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `fastembed tokenizer encode ... | head`: the reader has gone, stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (OSError, ValueError, TypeError, KeyError) as e:  # bad input: a message, not a traceback
        if os.environ.get("FASTEMBED_DEBUG"):
            raise
        msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        # the library's max_length is --max-length here
        msg = name_flags(msg, names, arguments=isinstance(e, (ValueError, TypeError)))
        print(f"fastembed {args.command}: error: {msg}", file=sys.stderr)
        return 1


def _warnings_as_lines(command: str, names: Optional[dict[str, str]] = None) -> None:
    """A warning on the command line is one line, "fastembed COMMAND: warning: ...", not
    Python's "file:line: Category: ..." with the source line under it; argument names that the
    command takes as flags are written as the flags."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        try:
            print(f"fastembed {command}: warning: {name_flags(str(message), names or {})}", file=sys.stderr if file is None else file)
        except (OSError, ValueError):
            pass

    warnings.showwarning = show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what is still buffered does
    not fail again ("Exception ignored ... BrokenPipeError") after the reader closed the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def __getattr__(name: str):  # format_info lives with the info command; old imports find it here
    if name == "format_info":
        from .info import format_info

        return format_info
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
