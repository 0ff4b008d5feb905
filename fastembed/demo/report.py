"""The demo's output: what it prints as it goes, and ``report.md`` with every number and figure.

One :class:`Report` is filled step by step: ``say`` prints a line (and keeps it for the
report's log of the run), ``table``/``figure``/``text`` add to the current section. ``write``
puts ``report.md`` into the output folder atomically, after every step and at the end, so an
interrupted run still leaves a readable report of the steps it finished.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ..io import atomic_write_text


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


class Report:
    """Markdown sections, figures and numbers, written to ``out_dir/report.md``."""

    def __init__(self, out_dir: Path, title: str) -> None:
        self.out_dir = Path(out_dir)
        self.lines: list[str] = [f"# {title}", ""]
        self.figures: list[Path] = []
        self.numbers: dict[str, Any] = {}
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------ console and report

    def say(self, line: str = "") -> None:
        print(line, flush=True)

    def section(self, number: int, total: int, title: str) -> None:
        self.say(f"\n[{number}/{total}] {title}")
        self.lines += [f"## {number}. {title}", ""]

    def text(self, paragraph: str, *, echo: bool = False) -> None:
        if echo:
            self.say("  " + paragraph)
        self.lines += [paragraph, ""]

    def bullet(self, items: Sequence[str], *, echo: bool = True) -> None:
        for it in items:
            if echo:
                self.say("  " + it)
            self.lines.append(f"- {it}")
        self.lines.append("")

    def code(self, block: str, *, echo: bool = True) -> None:
        if echo:
            self.say("\n".join("    " + ln for ln in block.splitlines()))
        self.lines += ["```", block.rstrip("\n"), "```", ""]

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], *, echo: bool = True) -> None:
        cells = [[_cell(c) for c in r] for r in rows]
        self.lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        self.lines += ["| " + " | ".join(r) + " |" for r in cells]
        self.lines.append("")
        if echo:
            widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
            self.say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
            for r in cells:
                self.say("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))

    def figure(self, path: Path, caption: str) -> None:
        path = Path(path)
        self.figures.append(path)
        rel = self._rel(path)
        self.say(f"  picture: {path}")
        self.lines += [f"![{caption}]({rel})", "", f"*{caption}* (`{rel}`)", ""]

    def _rel(self, path: Path) -> str:
        return (path.relative_to(self.out_dir) if path.is_relative_to(self.out_dir) else path).as_posix()

    def number(self, key: str, value: Any) -> Any:
        self.numbers[key] = value
        return value

    # ------------------------------------------------------------------ file

    def write(self, *, finished: bool = False) -> Path:
        lines = list(self.lines)
        if self.figures:
            lines += ["## Figures", ""] + [f"- `{self._rel(p)}`" for p in self.figures] + [""]
        elapsed = time.perf_counter() - self._t0
        lines.append(f"*{'Finished' if finished else 'Interrupted or still running'} after {elapsed:.0f} s.*")
        path = self.out_dir / "report.md"
        atomic_write_text(path, "\n".join(lines) + "\n")
        return path


def stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
