"""Build fastembed's native modules.

fastembed._C       C++17 core + pybind11 bindings: always built.
fastembed._C_cuda  CUDA kernels + bindings: built when nvcc is found. It links the CUDA runtime
                   statically and no libtorch, so it works beside any PyTorch build.
fastembed._C_cuda_emu  The same .cu sources and bindings built with the host compiler against the
                   CUDA emulator (csrc/cuda_emu): host pointers in place of device pointers, so
                   the CUDA kernels run and are tested on any machine. Built whenever _C is.

Build switches (environment variables; see csrc/README.md for the policies behind them):

  FASTEMBED_ARCH=dispatch     SIMD policy. `dispatch` (the default) builds a tree that runs on any
                              CPU of the architecture and is fast on each: the module is compiled
                              for a baseline (x86-64-v2 on x86-64) and the hot kernels once more
                              per level (x86-64-v3 = AVX2+FMA, x86-64-v4 = AVX-512), the level
                              chosen at import (csrc/README.md, "Runtime dispatch"). `native`
                              compiles everything for this CPU (-march=native), one copy of the
                              kernels. `portable` adds no -march at all (the compiler's baseline,
                              e.g. x86-64/SSE2), one copy. Anything else is passed as -march=VALUE
                              (e.g. x86-64-v3), one copy.
  FASTEMBED_PORTABLE=1        Same as FASTEMBED_ARCH=portable.
  FASTEMBED_NO_OPENMP=1       Build without OpenMP (parallel loops run serially).
  FASTEMBED_SANITIZE=1        AddressSanitizer + UndefinedBehaviorSanitizer (-O1 -g, UB aborts).
                              Skips the CUDA module. Run Python with the sanitizer runtime
                              preloaded (see README.md, "Sanitizers").
  FASTEMBED_FORCE_CUDA=1      Fail the build if the CUDA module cannot be built.
  FASTEMBED_SKIP_CUDA=1       Do not build the CUDA module even if nvcc is found.
  FASTEMBED_SKIP_CUDA_EMU=1   Do not build the emulated CUDA module (also skipped by FASTEMBED_SANITIZE).
  FASTEMBED_CUDA_ARCHS=80;90  Compute capabilities to compile for (default 80;90: A100, H100/H200;
                              PTX for the highest is embedded too, so newer GPUs JIT it).
  CUDA_HOME                   CUDA toolkit root (default: found from nvcc, else /usr/local/cuda).
  NVCC_THREADS=4              nvcc --threads for multi-arch compiles.
  FASTEMBED_BUILD_JOBS=N      Parallel C++ compile jobs (default: the number of cores).
  FASTEMBED_NO_BUILD_CACHE=1  Always compile, never reuse a module from build/native-cache/.

Build once: every finished module is kept in build/native-cache/, under a key made of everything
that goes into it (the contents of csrc/ and of this file, the compiler and its flags, the
Python ABI, pybind11's version, nvcc and the GPU architectures). pip builds each install in a
fresh temporary directory, so without it the README's second command (`pip install -e
".[test]"`) would compile the whole core again; with it, that command copies the first build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CSRC = ROOT / "csrc"

# fastembed._C: every C++ source in csrc/ except the CUDA module's own bindings and the emulator.
# The hot kernels (DISPATCHED) are compiled once per dispatch level, not with the rest.
CUDA_ONLY_CXX = {"bindings/cuda_module.cc"}
DISPATCHED = ["attention/attention_cpu.cc", "attention/decode_cpu.cc", "blas/axpy_cpu.cc", "dispatch/table.cc", "nn/epilogue_cpu.cc",
              "nn/panel_linear_cpu.cc", "nn/quantize_cpu.cc", "word2vec/train.cc"]
# Dispatch levels on x86-64, lowest first: (name, -march, the same spelled out for compilers that
# know no x86-64-vN).
X86_LEVELS = [
    ("baseline", "-march=x86-64-v2", ["-msse4.2", "-mpopcnt", "-mcx16"]),
    ("avx2", "-march=x86-64-v3", ["-msse4.2", "-mpopcnt", "-mcx16", "-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mf16c",
                                  "-mlzcnt", "-mmovbe"]),
    ("avx512", "-march=x86-64-v4", ["-msse4.2", "-mpopcnt", "-mcx16", "-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mf16c",
                                    "-mlzcnt", "-mmovbe", "-mavx512f", "-mavx512bw", "-mavx512cd", "-mavx512dq",
                                    "-mavx512vl"]),
]
EMU_DIR = CSRC / "cuda_emu"
# fastembed._C_cuda: its bindings, the shared binding helpers, the core files its kernels call,
# and every .cu file.
CUDA_CXX = ["bindings/cuda_module.cc", "bindings/errors.cc", "bindings/args.cc", "blas/axpy_check.cc",
            "attention/attention_check.cc", "word2vec/sampler.cc"]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def rel(paths):
    # Sorted, relative paths: reproducible builds and short command lines.
    return sorted(str(p.relative_to(ROOT)) for p in paths)


def cpu_sources() -> list[str]:
    return rel(p for p in CSRC.rglob("*.cc")
               if str(p.relative_to(CSRC)) not in CUDA_ONLY_CXX | set(DISPATCHED) and EMU_DIR not in p.parents)


def is_x86() -> bool:
    import platform

    return platform.machine().lower() in {"x86_64", "amd64", "i386", "i686"}


def cuda_sources() -> tuple[list[str], list[str]]:
    """The CUDA module's C++ and .cu sources (the emulator's own kernels are not among them)."""
    return sorted(f"csrc/{p}" for p in CUDA_CXX), rel(p for p in CSRC.rglob("*.cu") if EMU_DIR not in p.parents)


try:
    import pybind11
    from pybind11.setup_helpers import ParallelCompile
except ImportError:
    sys.exit("fastembed: building needs pybind11 (pip install pybind11), or use pip's default build isolation")

# Compile the C++ sources of one extension in parallel (distutils alone parallelizes only across
# extensions). FASTEMBED_BUILD_JOBS caps the jobs; the default is the number of cores.
ParallelCompile("FASTEMBED_BUILD_JOBS").install()


# ---------------------------------------------------------------------------------------------
# CUDA toolkit discovery


def find_nvcc() -> str | None:
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and (Path(home) / "bin" / "nvcc").exists():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def find_cuda_home(nvcc: str) -> Path:
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"),
                  str(Path(os.path.realpath(nvcc)).parent.parent), "/usr/local/cuda"]
    for c in candidates:
        if c and (Path(c) / "include" / "cuda_runtime.h").exists():
            return Path(c)
    raise RuntimeError(f"found nvcc at {nvcc} but no CUDA headers (include/cuda_runtime.h); set CUDA_HOME")


def cuda_lib_dir(home: Path) -> Path:
    for d in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
        if (home / d / "libcudart_static.a").exists():
            return home / d
    raise RuntimeError(f"no libcudart_static.a under {home}; set CUDA_HOME to a full CUDA toolkit")


def cuda_archs() -> list[str]:
    raw = os.environ.get("FASTEMBED_CUDA_ARCHS", "80;90")
    archs = [a.strip().replace(".", "") for a in raw.replace(",", ";").split(";") if a.strip()]
    if not archs or not all(a.rstrip("a").isdigit() for a in archs):
        raise RuntimeError(f"FASTEMBED_CUDA_ARCHS={raw!r}: expected compute capabilities like '80;90'")
    return archs


def gencode_flags(archs: list[str]) -> list[str]:
    flags = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    top = archs[-1]
    flags.append(f"-gencode=arch=compute_{top},code=compute_{top}")  # PTX for newer GPUs
    return flags


# ---------------------------------------------------------------------------------------------


class BuildExt(build_ext):
    """build_ext with flag probing (OpenMP, -march), sanitizers and nvcc for .cu sources."""

    # Extensions build one after the other (build_ext's own `parallel` stays off): _C and _C_cuda
    # share some C++ sources, which would otherwise be compiled to the same object file by two
    # threads at once. Within an extension, sources compile in parallel (ParallelCompile above for
    # C++, a thread pool for nvcc).

    def has_flag(self, flag: str, code: str = "int main() { return 0; }\n") -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "probe.cc"
            src.write_text(code)
            try:
                objs = self.compiler.compile([str(src)], output_dir=tmp, extra_postargs=[flag])
                self.compiler.link_executable(objs, str(Path(tmp) / "probe"), extra_postargs=[flag])
            except Exception:
                return False
        return True

    def native_flags(self) -> tuple[list[str], list[str], list[str], dict[str, str]]:
        """Compile and link flags for both modules, OpenMP flags (for _C only) and build facts.
        Also sets self.levels: the dispatch levels, [(name, flags)] lowest first."""
        sanitize = env_flag("FASTEMBED_SANITIZE")
        cflags = ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
        lflags: list[str] = []
        if sanitize:
            san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
            cflags += ["-O1", "-g"] + san
            lflags += san
        else:
            cflags += ["-O3", "-g0"]

        arch = os.environ.get("FASTEMBED_ARCH", "dispatch").strip() or "dispatch"
        if env_flag("FASTEMBED_PORTABLE"):
            arch = "portable"
        self.levels = [("native", [])]  # one copy of the kernels, with the module's flags
        if arch == "dispatch":
            if is_x86():
                self.levels = [(name, [march] if self.has_flag(march) else spelled)
                               for name, march, spelled in X86_LEVELS]
                cflags += self.levels[0][1]  # the module itself: the baseline
            else:  # aarch64: NEON is the baseline; one level
                self.levels = [("baseline", [])]
        elif arch == "native":
            flag = next((f for f in ("-march=native", "-mcpu=native") if self.has_flag(f)), None)
            if flag is None:
                print("fastembed: compiler accepts neither -march=native nor -mcpu=native; building portable")
                arch = "portable"
            else:
                cflags.append(flag)
        elif arch != "portable":
            if not self.has_flag(f"-march={arch}"):
                raise RuntimeError(f"FASTEMBED_ARCH={arch!r}: the compiler rejects -march={arch}")
            cflags.append(f"-march={arch}")

        omp: list[str] = []
        if not env_flag("FASTEMBED_NO_OPENMP"):
            if self.has_flag("-fopenmp", "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"):
                omp = ["-fopenmp"]
            else:
                print("fastembed: OpenMP not found; native loops will run on one thread")
        if not omp and self.has_flag("-fopenmp-simd"):
            omp = ["-fopenmp-simd"]  # keep `#pragma omp simd` vectorization without the runtime

        facts = {
            "FE_BUILD_FLAGS": " ".join(cflags + omp),
            "FE_BUILD_ARCH": arch,
            "FE_SANITIZERS": "address,undefined" if sanitize else "",
        }
        return cflags, lflags, omp, facts

    def build_extensions(self):
        # Our flags come after Python's own CFLAGS (-g -O3 ...) on the command line, so they win:
        # -g0 in release builds, because debug info triples build time and size of pybind11 code.
        cflags, lflags, omp, facts = self.native_flags()
        for ext in self.extensions:
            extra = omp if ext.name == "fastembed._C" else []  # the CUDA module runs no CPU loops
            ext.extra_compile_args = cflags + extra + ext.extra_compile_args
            ext.extra_link_args = lflags + extra + ext.extra_link_args
            ext.define_macros += [(k, f'"{v}"') for k, v in facts.items()]
            if ext.name == "fastembed._C":
                ext.define_macros += [(f"FE_HAVE_ISA_{name.upper()}", "1") for name, _ in self.levels]
                ext.levels = self.levels
        super().build_extensions()

    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name))
        cache = BuildCache(ext, self.compiler, target.name)
        if cache.restore(target):
            print(f"fastembed: {ext.name} reused from {cache.path.parent} (the same sources and flags)")
            return
        self.compile_extension(ext)
        cache.store(target)

    def compile_extension(self, ext):
        if ext.name == "fastembed._C_cuda":
            self.compile_cuda(ext)
        if ext.name == "fastembed._C_cuda_emu":
            # Own object directory: it compiles some of _C_cuda's sources with other flags.
            temp = self.build_temp
            self.build_temp = os.path.join(temp, "emu")
            try:
                self.prepare_emulated(ext)
                super().build_extension(ext)
            finally:
                self.build_temp = temp
            return
        if ext.name == "fastembed._C":
            ext.extra_objects = self.compile_levels(ext)
        # Link whenever the cache missed. setuptools relinks only when a source or a depends file is
        # newer than the module, and the per-level sources are neither (they are extra objects): an
        # edit to them alone left the old module in place, and the cache stored it under the new key.
        force, self.force = self.force, True
        try:
            super().build_extension(ext)
        finally:
            self.force = force

    def compile_levels(self, ext) -> list[str]:
        """The DISPATCHED sources once per level: the level's -march after the module's own flags
        (the last -march wins), its own namespace (FE_ISA_NS: common/isa.h says why) and object
        directory. The objects are linked after the module's, lowest level first: where the linker
        keeps one copy of an inline function that several objects define (the first it meets), the
        copy is the one compiled for the lowest level, which every level's CPU can run."""
        objects: list[str] = []
        for name, flags in ext.levels:
            macros = list(ext.define_macros) + [
                ("FE_ISA_NS", f"isa_{name}"), ("FE_ISA_NAME", f'"{name}"'),
                ("FE_ISA_FLAGS", f'"{" ".join(flags)}"')]
            level = {"baseline": 0, "avx2": 1, "avx512": 2}.get(name)
            if level is not None:
                macros.append(("FE_ISA_LEVEL", str(level)))
            objects += self.compiler.compile(
                [f"csrc/{s}" for s in DISPATCHED], output_dir=os.path.join(self.build_temp, f"isa_{name}"),
                macros=macros, include_dirs=ext.include_dirs, debug=self.debug,
                extra_postargs=ext.extra_compile_args + flags, depends=ext.depends)
        return objects

    def prepare_emulated(self, ext):
        """Writes the emulator's translation of every .cu file (csrc/cuda_emu/rewrite.py) into
        the build directory and adds them to the extension's sources."""
        rewrite = load_rewrite()
        out_dir = Path(self.build_temp) / "src"
        generated = []
        for src in ext.cu_sources:
            out = out_dir / (src.removeprefix("csrc/").replace("/", "_").removesuffix(".cu") + ".cc")
            text = rewrite((ROOT / src).read_text(), src)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not out.exists() or out.read_text() != text:  # keep the mtime when nothing changed
                out.write_text(text)
            generated.append(str(out))
        ext.sources = ext.sources + generated

    def compile_cuda(self, ext):
        nvcc, home, archs = ext.nvcc, ext.cuda_home, ext.archs
        threads = os.environ.get("NVCC_THREADS", "4")
        flags = ["-std=c++17", "-O3", "-DNDEBUG", "--expt-relaxed-constexpr", f"--threads={threads}",
                 "-Xcompiler=-fPIC,-fvisibility=hidden", f"-I{CSRC}", *gencode_flags(archs)]
        ext.define_macros += [("FE_CUDA_ARCHS", f'"{";".join(archs)}"'), ("FE_NVCC_FLAGS", f'"{" ".join(flags)}"')]
        out_dir = Path(self.build_temp) / "cuda"
        out_dir.mkdir(parents=True, exist_ok=True)
        headers = max((p.stat().st_mtime for p in CSRC.rglob("*") if p.suffix in (".h", ".inc", ".cuh")), default=0.0)

        def compile_one(src: str) -> str:
            obj = out_dir / (src.replace("/", "_") + ".o")
            if obj.exists() and obj.stat().st_mtime > max(headers, (ROOT / src).stat().st_mtime):
                return str(obj)
            cmd = [nvcc, "-c", str(ROOT / src), "-o", str(obj), *flags]
            print(" ".join(shlex.quote(c) for c in cmd), flush=True)
            subprocess.run(cmd, check=True)
            return str(obj)

        jobs = int(os.environ.get("FASTEMBED_BUILD_JOBS", "0") or 0) or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            ext.extra_objects = list(pool.map(compile_one, ext.cu_sources))
        ext.include_dirs.append(str(home / "include"))
        ext.library_dirs.append(str(cuda_lib_dir(home)))
        ext.libraries += ["cudart_static", "dl", "rt", "pthread"]


class BuildCache:
    """build/native-cache/KEY/FILE: one finished module per key (see the module docstring).
    The three newest entries per module are kept; a half-written entry is never seen (written to a
    temporary name, then renamed)."""

    ROOT_DIR = ROOT / "build" / "native-cache"
    LOG = ROOT_DIR / "last-build.json"       # what the last build did per module: "built" or "reused"

    def __init__(self, ext, compiler, filename: str) -> None:
        self.ext, self.filename = ext, filename
        h = hashlib.sha256()
        inputs = sorted(p for p in CSRC.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in inputs + [Path(__file__).resolve()]:
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        # pip builds in an isolated environment at a new temporary path each time: pybind11's headers
        # count by version, not by where they lie.
        includes = ["<pybind11>" if d == pybind11.get_include() else d for d in ext.include_dirs]
        facts = [ext.name, filename, sys.version, pybind11.__version__, ext.sources, includes,
                 ext.define_macros, ext.extra_compile_args, ext.extra_link_args, ext.libraries, ext.library_dirs,
                 getattr(compiler, "compiler_so", None), getattr(compiler, "linker_so", None),
                 # newer setuptools compiles and links C++ with these (CXXFLAGS, LDCXXSHARED)
                 getattr(compiler, "compiler_so_cxx", None), getattr(compiler, "linker_so_cxx", None),
                 getattr(ext, "levels", None),     # each dispatch level's flags
                 getattr(ext, "nvcc", None), str(getattr(ext, "cuda_home", None)), getattr(ext, "archs", None),
                 [tool_identity(t) for t in (getattr(compiler, "compiler_so", None) or [])[:1]]]
        self.facts = json.dumps(facts, default=str, indent=1)
        h.update(self.facts.encode())
        self.path = self.ROOT_DIR / f"{ext.name.rsplit('.', 1)[-1]}-{h.hexdigest()[:20]}" / filename
        self.enabled = not env_flag("FASTEMBED_NO_BUILD_CACHE")

    def restore(self, target: Path) -> bool:
        if not (self.enabled and self.path.is_file()):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.path, target)
        self.log("reused")
        return True

    def store(self, target: Path) -> None:
        self.log("built")
        if not self.enabled or not target.is_file():
            return
        prefix = self.path.parent.name.rsplit("-", 1)[0] + "-"      # keep this module's 3 newest builds
        older = sorted((p for p in self.ROOT_DIR.glob(prefix + "*") if p != self.path.parent),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in older[2:]:
            shutil.rmtree(old, ignore_errors=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        (self.path.parent / "facts.json").write_text(self.facts + "\n")    # what the key was made of
        tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.copy2(target, tmp)
        os.replace(tmp, self.path)

    def log(self, what: str) -> None:
        self.ROOT_DIR.mkdir(parents=True, exist_ok=True)
        try:
            done = json.loads(self.LOG.read_text())
        except (OSError, ValueError):
            done = {}
        done[self.ext.name] = what
        self.LOG.write_text(json.dumps(done, indent=1, sort_keys=True) + "\n")


def tool_identity(exe: str) -> str:
    """The compiler's version line, so that a new compiler under the same name rebuilds."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return exe
    return out.splitlines()[0] if out else exe


def load_rewrite():
    """csrc/cuda_emu/rewrite.py's rewrite(): the emulator's build step for .cu sources."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fastembed_cuda_emu_rewrite", EMU_DIR / "rewrite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rewrite


# Flags of the emulated module on top of the common ones: no FMA contraction (so __fadd_rn and
# __fmul_rn round as written), no type-based aliasing (kernels read float tiles as float4), and
# CUDA's `#pragma unroll` is not a GCC pragma.
EMU_FLAGS = ["-ffp-contract=off", "-fno-strict-aliasing", "-Wno-unknown-pragmas", "-pthread"]


def emulated_extension(include: list[str], depends: list[str]) -> Extension:
    cxx, cu = cuda_sources()
    emu = rel(p for p in EMU_DIR.glob("*.cc") if p.name != "race_check.cc")
    ext = Extension("fastembed._C_cuda_emu", cxx + emu, include_dirs=[str(EMU_DIR / "include")] + include,
                    depends=depends, define_macros=[("FE_CUDA_EMU", "1")], extra_compile_args=list(EMU_FLAGS),
                    extra_link_args=["-pthread"], language="c++")
    ext.cu_sources = cu + rel(EMU_DIR.glob("*.cu"))  # + the emulator's selftest kernels
    return ext


def extensions() -> list[Extension]:
    include = [str(CSRC), pybind11.get_include()]
    # Headers and generated tables: a change to any of them rebuilds the extension.
    depends = rel(p for p in CSRC.rglob("*") if p.suffix in (".h", ".inc", ".cuh"))
    exts = [Extension("fastembed._C", cpu_sources(), include_dirs=include, depends=depends, language="c++")]

    sanitize = env_flag("FASTEMBED_SANITIZE")
    if not sanitize and not env_flag("FASTEMBED_SKIP_CUDA_EMU"):
        exts.append(emulated_extension(include, depends))
    force, skip = env_flag("FASTEMBED_FORCE_CUDA"), env_flag("FASTEMBED_SKIP_CUDA")
    nvcc = find_nvcc()
    if skip or (sanitize and not force):
        print("fastembed: skipping the CUDA module (FASTEMBED_SKIP_CUDA or FASTEMBED_SANITIZE)")
    elif nvcc is None:
        if force:
            sys.exit("fastembed: FASTEMBED_FORCE_CUDA=1 but nvcc was not found (set CUDA_HOME or PATH)")
        print("fastembed: nvcc not found; building without the CUDA module (fastembed._C_cuda)")
    else:
        cxx, cu = cuda_sources()
        ext = Extension("fastembed._C_cuda", cxx, include_dirs=list(include), depends=depends, language="c++")
        ext.nvcc, ext.cuda_home, ext.archs, ext.cu_sources = nvcc, find_cuda_home(nvcc), cuda_archs(), cu
        exts.append(ext)
    return exts


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
