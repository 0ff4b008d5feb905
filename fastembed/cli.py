"""The ``fastembed`` command line.

    fastembed --version
    fastembed info [--json]           how fastembed was built, what it can use here
    fastembed demo                    the main job, end to end, on data that needs no download
    fastembed bench NAME [ARGS...]    a benchmark from the source tree's benchmarks/ folder

    fastembed tokenizer ...           train / encode / decode / explain byte-level BPE
    fastembed word2vec ...            train / neighbours / analogy / evaluate word vectors
    fastembed pretrain bert|gpt ...   pretrain BERT or GPT on a corpus (also under torchrun:
                                      torchrun --nproc_per_node=2 -m fastembed.cli pretrain ...)
    fastembed finetune --task ...     fine-tune an encoder: classify | pair | qa | ner, frozen or end to end
    fastembed generate --model ...    continue prompts with a GPT model directory
    fastembed embed --model ...       embed lines of text into a .npy file (sentence embeddings)

Bad input (a missing file, a tokenizer without a token the model needs, ...) prints one line and
exits with status 1; Ctrl-C stops the work (native threads included), prints one line and exits
with 130, leaving no half-written output; a closed pipe (``... | head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from ._version import __version__

PRETRAIN_HELP = "pretrain BERT (masked LM + next sentence) or GPT (next token)"


def _cmd_info(args: argparse.Namespace) -> int:
    from ._native import build_info

    info = build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(format_info(info))
    return 0


def format_info(info: dict) -> str:
    cuda = info["cuda"]
    if cuda["built"]:
        gpus = ", ".join(cuda["gpus"]) or "none visible"
        cuda_line = f"built (CUDA {cuda['runtime_version']}, archs {cuda['archs']}); GPUs: {gpus}"
    else:
        cuda_line = cuda["status"]
    emu = cuda["emulator"]
    emu_line = ("built (fastembed._C_cuda_emu: the CUDA kernels on the CPU, for tests without a GPU)"
                if emu["built"] else emu["status"])
    omp = f"on (OpenMP {info['openmp_version']})" if info["openmp"] else "off (loops run on one thread)"
    rows = [
        ("fastembed", info["version"]),
        ("python", f"{info['python']} on {info['platform']}"),
        ("compiler", info["compiler"]),
        ("flags", info["flags"]),
        ("SIMD", f"{info['simd']} (arch policy: {info['arch']}; compiled: {' '.join(info['simd_features']) or '-'})"),
        ("CPU SIMD", " ".join(info["cpu_simd_features"]) or "-"),
        ("OpenMP", omp),
        ("threads", f"{info['threads']} (default {info['default_threads']})"),
        ("sanitizers", info["sanitizers"] or "none"),
        ("CUDA", cuda_line),
        ("CUDA emulator", emu_line),
        ("torch", info["torch"] or "not installed (needed for models and training: pip install 'fastembed[torch]')"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _cmd_bench(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "__main__.py").exists():
        print("fastembed bench: the benchmarks ship with the source tree, not the installed package; "
              "clone the repository, install it with `pip install -e .`, and run from there.", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.bench_args], cwd=root)


def _add_pretrain_parser(sub: argparse._SubParsersAction, *, full: bool) -> None:
    """``fastembed pretrain``. Its parser lives in fastembed.training, whose import loads torch
    (seconds), so it is built only when pretrain is the command; otherwise a stand-in keeps the
    command listed in ``fastembed --help``. Without torch the command says what is missing."""
    if full:
        try:
            from .training._cli import add_parser
        except ImportError as e:
            message = f"fastembed pretrain: {e}"

            def needs_torch(args: argparse.Namespace) -> int:
                print(message, file=sys.stderr)
                return 1

            p = sub.add_parser("pretrain", help=PRETRAIN_HELP, add_help=False)
            p.add_argument("args", nargs=argparse.REMAINDER)
            p.set_defaults(func=needs_torch)
        else:
            add_parser(sub, PRETRAIN_HELP)
        return
    p = sub.add_parser("pretrain", help=PRETRAIN_HELP, add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: main(["pretrain", *args.args]))


def _command(argv: Sequence[str] | None) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    return next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv`` (default ``sys.argv[1:]``), which decides only whether the
    pretrain parser is built in full (see :func:`_add_pretrain_parser`)."""
    parser = argparse.ArgumentParser(prog="fastembed", description="Pretrain, then fine-tune: tokenizers, "
                                     "word2vec, BERT and GPT with a C++/CUDA core.")
    parser.add_argument("--version", action="version", version=f"fastembed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="how fastembed was built and what it can use here")
    p.add_argument("--json", action="store_true", help="print the build facts as JSON")
    p.set_defaults(func=_cmd_info)

    from .demo import add_parser as add_demo_parser

    add_demo_parser(sub)

    p = sub.add_parser("bench", help="run a benchmark (`fastembed bench list` shows them)", add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for `python -m benchmarks`")
    p.set_defaults(func=_cmd_bench)

    from .tokenizers._cli import add_parser as add_tokenizer_parser

    add_tokenizer_parser(sub)
    from .word2vec._cli import add_parser as add_word2vec_parser

    add_word2vec_parser(sub)
    _add_pretrain_parser(sub, full=_command(argv) == "pretrain")
    from .finetune._cli import add_parser as add_finetune_parser   # these import torch only when run

    add_finetune_parser(sub)
    from ._generate_cli import add_parser as add_generate_parser

    add_generate_parser(sub)
    from ._embed_cli import add_parser as add_embed_parser

    add_embed_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    _warnings_as_lines(args.command)
    try:
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
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"fastembed {args.command}: error: {msg}", file=sys.stderr)
        return 1


EXIT_INTERRUPTED = 130   # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE, what `cmd | head` gives for Unix tools that die of SIGPIPE


def _warnings_as_lines(command: str) -> None:
    """A warning on the command line is one line, ``fastembed COMMAND: warning: ...``, not
    Python's ``file:line: Category: ...`` with the source line under it."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        try:
            print(f"fastembed {command}: warning: {message}", file=sys.stderr if file is None else file)
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


if __name__ == "__main__":
    sys.exit(main())
