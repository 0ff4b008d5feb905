"""The CUDA emulator's build step: a .cu file -> C++ that the host compiler takes.

Only two constructs of CUDA C++ are not expressible as macros, and only they are rewritten, in
place, so line numbers stay those of the .cu file (a `#line` directive names it, so compiler
errors, assertions and ThreadSanitizer reports point at the original source):

  kernel<T><<<grid, block, smem, stream>>>(args)
      -> ::fe_emu::launch_at("kernel<T>", __FILE__, __LINE__, grid, block, smem, stream)(
             [&](auto&&... fe_a) { return ::fe_emu::kernel_pointer(::fe_emu::NamedKernel{}, kernel<T>, fe_a...); },
             args)
  extern __shared__ T name[];
      -> T* name = ::fe_emu::dynamic_shared<T>();

Everything else (keywords, built-ins, intrinsics, headers) comes from csrc/cuda_emu/include.
Static `__shared__` arrays are refused: the emulator has no per-block storage for them.

    python csrc/cuda_emu/rewrite.py SRC.cu OUT.cc
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# A kernel name with at most two levels of template arguments, <<<, the configuration, >>>, and the
# opening parenthesis of the arguments (and the closing one when there are none).
_LAUNCH = re.compile(r"([A-Za-z_][\w:]*(?:<(?:[^<>;{}]|<[^<>;{}]*>)*>)?)\s*<<<(.*?)>>>\s*\((\s*\))?", re.S)
_EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([\w:][\w:\s]*?)\s+(\w+)\s*\[\s*\]\s*;")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


class RewriteError(ValueError):
    pass


def rewrite(text: str, name: str) -> str:
    """The emulated translation of the .cu source `text` (`name` is its path, for #line)."""
    text = _EXTERN_SHARED.sub(r"\1* \2 = ::fe_emu::dynamic_shared<\1>();", text)
    code = _COMMENT.sub("", text)
    if re.search(r"\b__shared__\b", code):
        raise RewriteError(f"{name}: a static __shared__ declaration; the CUDA emulator supports only "
                           "`extern __shared__ T name[];` (dynamic shared memory)")
    def launch(m: re.Match) -> str:
        kernel, config, no_args = m[1], m[2], m[3]
        pick = f"[&](auto&&... fe_a) {{ return ::fe_emu::kernel_pointer(::fe_emu::NamedKernel{{}}, {kernel}, fe_a...); }}"
        return f'::fe_emu::launch_at("{kernel}", __FILE__, __LINE__, {config})({pick}' + (")" if no_args else ", ")

    text = _LAUNCH.sub(launch, text)
    rest = _COMMENT.sub("", text)
    if "<<<" in rest or ">>>" in rest:
        raise RewriteError(f"{name}: a kernel launch the emulator's rewrite does not recognise")
    return f'#include "cuda_emu/prelude.h"\n#line 1 "{name}"\n{text}'


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    src, out = Path(argv[1]), Path(argv[2])
    Path(out).write_text(rewrite(src.read_text(), str(src)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
