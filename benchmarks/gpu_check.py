"""The GPU check, ready for the day a GPU is available: build, CUDA tests and GPU benchmarks in one
script, one JSON file.

    python benchmarks/gpu_check.py --out results.json       # from the repository root
    python -m benchmarks.gpu_check --no-build --quick        # the same; --quick: tiny shapes

For a fresh GPU machine with no package registry (PyTorch with CUDA, numpy, pytest, setuptools and
pybind11 already installed). Steps, in order, each timed and guarded (a failure is recorded and
the next step still runs), each with its own share of ``--budget`` (default 480 s; time a step
leaves unused passes to the next):

1. **build** (unless ``--no-build``): ``pip install --no-build-isolation --no-deps --no-index -e .``
   (nothing is fetched; ``FASTEMBED_CUDA_ARCHS`` is set to the visible GPU's compute capability
   when nvidia-smi reports one and the variable is unset, which halves nvcc's work), then
   ``fastembed.build_info()["cuda"]``: the CUDA module built, a GPU visible, driver and runtime.
2. **tests** (unless ``--skip-tests``): ``python -m pytest -q -m "cuda or cuda_emu" tests/cuda``;
   the summary line's counts and the output's tail. Exit 5 (nothing collected) is a skip.
3. GPU benchmarks in this process, each skipped with the reason when ``torch.cuda.is_available()``
   is false or fastembed's CUDA module is missing:

   a. **attention**: ``fastembed.ops.attention`` against ``scaled_dot_product_attention`` held to
      the flash backend (the default backend when flash refuses the call, e.g. for a mask, and
      that is recorded), bf16 and fp16, forward and forward + backward, on the suite of
      ``benchmarks/attention.py`` plus larger padded batches (key lengths varying per row).
      Times from CUDA events after warm-up; ratio = torch ms / ours ms (> 1: ours is faster);
      TFLOP/s count useful FLOPs only (visible query-key pairs: 4·D each forward, 3.5× that
      forward + backward), as benchmarks/attention.py does. The largest difference between the
      two outputs (no dropout) is recorded beside a tolerance.
   b. **word2vec**: words/s of ``Word2Vec(corpus_file=..., device="cuda")`` against
      ``device="cpu"`` (all cores), skip-gram, 1 epoch, benchmarks/word2vec.py's other settings,
      on the benchmark corpus ``words.txt`` (the shared data's make_corpus.py; skipped when the
      shared data is absent): all of it (about 5.1 M words), or its first lines when the rates
      measured on 20 lines say both runs would not fit in half the step's time (``--quick``: 100
      lines). Vocabulary building is not timed; the GPU time
      includes copying the corpus and vectors to the GPU and back. Without a GPU the CPU half
      still runs (its words/s are recorded) and the step is a skip with the reason.
   c. **gpt2**: 20 training steps after 5 warm-up steps of fastembed's GPT at GPT-2 124M's shapes (12 layers, 12 heads,
      768 wide, vocabulary 50257, T=1024), bf16 autocast (as ``fastembed.training`` does),
      dropout 0, AdamW from ``fastembed.training.optim``, batch 8 (halved on out-of-memory), with
      the fused attention and with ``attn_impl="sdpa"``; tokens/s and MFU = 6·N·tokens/s / peak,
      N = parameters without the position embedding (and, beside it, nanoGPT's estimate with the
      attention term 12·L·T·C per token); peak bf16 dense FLOP/s from the GPU's name (null when
      the GPU is not in :data:`PEAK_BF16`).

   An error that leaves this process's CUDA context unusable (a sticky error such as an illegal
   memory access) is recorded, and the GPU steps after it are skipped with that reason.

4. One JSON file (``--out``, default ``benchmarks/results/gpu_check-<UTC time>.json``, written
   atomically after every step): machine facts (``benchmarks.harness.machine_info`` plus the GPU),
   each step's status (ok / failed / skipped, with the reason), seconds, budget and results; then
   a short table. A watchdog writes the file and exits with status 124 if the whole run reaches
   its budget (a hung kernel). Otherwise the exit status is 0 once the file is written, whatever
   the steps' statuses: read them in the table or the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.attention import QUICK as ATTENTION_QUICK  # noqa: E402
from benchmarks.attention import SUITE as ATTENTION_SUITE  # noqa: E402
from benchmarks.attention import Case  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
DEVICE = "cuda"     # the torch device of the GPU benchmarks
TAIL_CHARS = 4000

# Step -> share of the budget. A step's deadline is the start plus the shares up to and including
# it, so the time a step leaves unused passes to the next and no step eats a later one's share.
SHARES = {"build": 0.40, "tests": 0.17, "attention": 0.20, "word2vec": 0.09, "gpt2": 0.14}
RESERVE_S = 10.0   # kept back from the steps for writing the file
WATCHDOG_MARGIN_S = 3.0

# Larger GPU shapes beside benchmarks/attention.py's suite: padded batches with key lengths varying
# per row (uniform in [0.4 T, T], the first row full), as BERT and padded GPT batches have them.
ATTENTION_EXTRA = [
    Case("gpt-2 B=8 causal", 8, 12, 1024, 64, causal=True),
    Case("gpt-2 B=8 causal padded", 8, 12, 1024, 64, causal=True, padded=True),
    Case("bert-512 B=32 padded", 32, 12, 512, 64, padded=True),
    Case("bert-512 B=32 padded dropout", 32, 12, 512, 64, padded=True, dropout=0.1),
    Case("long padded D=128", 4, 16, 2048, 128, padded=True),
]
ATTENTION_TOLERANCE = {"bfloat16": 6e-2, "float16": 1e-2}   # max |ours - torch| on outputs of size ~1

# word2vec slice: at most this many lines of words.txt (1000 words a line, about 5080 lines), fewer
# when the rates measured on the first W2V_PROBE_LINES lines say the two runs would not fit in half
# of the time the step has left.
W2V_LINES = {"full": 6000, "quick": 100}
W2V_PROBE_LINES = 20
GPT2 = dict(vocab_size=50257, num_layers=12, hidden_size=768, num_heads=12, T=1024, B=8, steps=20, warmup=5)
GPT2_QUICK = dict(vocab_size=1000, num_layers=2, hidden_size=128, num_heads=2, T=128, B=4, steps=3, warmup=1)

# Peak dense bf16 tensor-core FLOP/s by GPU name: (substrings that must all occur, peak). First
# match wins, so the more specific names come first. NVL figures: NVIDIA's datasheets (1671
# TFLOP/s with sparsity, half that dense).
PEAK_BF16: list[tuple[tuple[str, ...], float]] = [
    (("H100", "PCIE"), 756e12),
    (("H100", "NVL"), 835e12),
    (("H200", "NVL"), 835e12),
    (("H100",), 989e12),     # SXM ("NVIDIA H100 80GB HBM3")
    (("H200",), 989e12),
    (("A100",), 312e12),
]


# --------------------------------------------------------------------------------------------
# Steps: statuses, budgets, the watchdog, the report file


class Skip(Exception):
    """A step that does not apply here: recorded as skipped with this reason (and what did run)."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.result = result or {}


class Fail(Exception):
    """A step that ran and found a problem: recorded as failed with the reason and partial results."""

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.result = result or {}


def _utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _tail(text: str, n: int = TAIL_CHARS) -> str:
    return text if len(text) <= n else "..." + text[-n:]


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip().splitlines()[0][:500]


class Run:
    """One run of the check: options, clock, the report and its file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.perf_counter()
        self.out = Path(args.out) if args.out else RESULTS_DIR / f"gpu_check-{_stamp()}.json"
        self.lock = threading.RLock()
        self.report: dict[str, Any] = {
            "tool": "benchmarks/gpu_check.py",
            "started_utc": _utc(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "budget_s": args.budget,
            "machine": {},
            "steps": {},
        }
        span = max(args.budget - RESERVE_S, 1.0)
        total, self.deadlines = 0.0, {}
        for name, share in SHARES.items():
            total += share
            self.deadlines[name] = self.t0 + span * total
        self.current: str | None = None
        self.child: subprocess.Popen | None = None   # the running subprocess, for the watchdog
        self.cuda_broken: str | None = None          # a sticky CUDA error: later GPU steps skip

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)

    def write(self) -> Path:
        """The report as JSON, atomically: a temp file beside ``--out``, then a rename."""
        with self.lock:
            self.report["elapsed_s"] = round(self.elapsed(), 2)
            self.report["finished_utc"] = _utc()
            text = json.dumps(self.report, indent=2, default=str) + "\n"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent)
        try:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.out)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return self.out

    def step(self, name: str, fn: Callable[["Run", float], dict[str, Any]]) -> None:
        """Run ``fn(run, deadline)`` as step ``name``: it returns its results, raises Skip or Fail."""
        deadline = self.deadlines[name]
        budget = max(0.0, deadline - time.perf_counter())
        entry: dict[str, Any] = {"status": "running", "budget_s": round(budget, 1)}
        with self.lock:
            self.report["steps"][name] = entry
            self.current = name
        self.log(f"{name}: start (budget {budget:.0f}s)")
        t = time.perf_counter()
        try:
            if budget <= 0:
                raise Skip("no time left in the budget")
            result, status, reason = fn(self, deadline), "ok", None
        except Skip as e:
            result, status, reason = e.result, "skipped", str(e)
        except Fail as e:
            result, status, reason = e.result, "failed", str(e)
        except Exception as e:  # noqa: BLE001 - a step's failure is recorded, the next step runs
            result, status, reason = {"traceback": _tail(traceback.format_exc())}, "failed", _error_text(e)
            self.check_cuda()
        with self.lock:
            entry.update(status=status, reason=reason, seconds=round(time.perf_counter() - t, 2), result=result)
            self.current = None
        self.log(f"{name}: {status}" + (f" ({reason})" if reason else "") + f" in {entry['seconds']:.1f}s")
        self.write()

    def check_cuda(self) -> None:
        """After a failure: remember when it left this process's CUDA context unusable."""
        torch = sys.modules.get("torch")
        if self.cuda_broken is None and torch is not None and torch.cuda.is_initialized():
            self.cuda_broken = cuda_broken(torch)

    def start_watchdog(self) -> None:
        """Write what there is and exit 124 when the run reaches its budget (a hung kernel or build)."""
        def fire() -> None:
            with self.lock:
                name = self.current
                if name is not None:
                    self.report["steps"][name].update(status="failed", reason="stopped by the watchdog: the run "
                                                      f"reached its budget of {self.args.budget:.0f}s")
                self.report["watchdog"] = True
            try:
                if self.child is not None and self.child.poll() is None:
                    _kill_group(self.child)
                out = self.write()
                print(f"\nwatchdog: budget reached during step {name!r}; results so far: {out}", flush=True)
            finally:
                os._exit(124)

        timer = threading.Timer(max(self.args.budget - WATCHDOG_MARGIN_S, 1.0), fire)
        timer.daemon = True
        timer.start()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group that ``proc`` leads (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run_command(run: Run, cmd: list[str], *, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` from the repository root in its own process group; stdout and stderr together.
    On timeout the group is killed and ``rc`` is None."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    run.child = proc
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1.0))
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        rc = None
    finally:
        run.child = None
    return {"command": cmd, "rc": rc, "timed_out": rc is None, "seconds": round(time.perf_counter() - t, 2),
            "output_tail": _tail(out or "")}


# --------------------------------------------------------------------------------------------
# The machine and the GPU


def nvidia_smi() -> dict[str, Any]:
    """What nvidia-smi says about each GPU (no fastembed or torch needed), or why it says nothing."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"error": "nvidia-smi not found"}
    fields = ["name", "driver_version", "memory.total", "compute_cap", "clocks.max.sm", "power.limit"]
    try:
        p = subprocess.run([exe, f"--query-gpu={','.join(fields)}", "--format=csv,noheader"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": _error_text(e)}
    if p.returncode != 0:
        return {"error": _tail((p.stdout + p.stderr).strip(), 500)}
    gpus = [dict(zip(fields, (x.strip() for x in line.split(",")))) for line in p.stdout.splitlines() if line.strip()]
    return {"gpus": gpus}


def cuda_archs_from_smi(smi: dict[str, Any]) -> str | None:
    """'90' for compute capability 9.0 (all visible GPUs, ';'-separated), or None when unknown."""
    caps = sorted({g.get("compute_cap", "").replace(".", "") for g in smi.get("gpus", [])})
    caps = [c for c in caps if c.isdigit()]
    return ";".join(caps) or None


def torch_gpu_facts() -> dict[str, Any]:
    try:
        import torch
    except ImportError as e:
        return {"error": _error_text(e)}
    facts: dict[str, Any] = {"torch": torch.__version__, "torch_cuda": torch.version.cuda,
                             "cuda_available": torch.cuda.is_available()}
    if facts["cuda_available"]:
        facts["devices"] = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            facts["devices"].append({"name": p.name, "capability": f"{p.major}.{p.minor}",
                                     "memory_gib": round(p.total_memory / 2**30, 1),
                                     "multiprocessors": p.multi_processor_count})
        facts["peak_bf16_flops"] = peak_bf16(facts["devices"][0]["name"])
    return facts


def peak_bf16(name: str) -> float | None:
    upper = name.upper()
    for parts, peak in PEAK_BF16:
        if all(p in upper for p in parts):
            return peak
    return None


def machine_facts(smi: dict[str, Any]) -> dict[str, Any]:
    """benchmarks.harness.machine_info() (needs fastembed to import) plus the GPU."""
    from benchmarks.harness import machine_info

    try:
        facts = machine_info()
    except Exception as e:  # noqa: BLE001 - e.g. fastembed does not import after a failed build
        import platform

        facts = {"error": _error_text(e), "platform": platform.platform(), "python": platform.python_version(),
                 "logical_cores": os.cpu_count()}
    facts["nvidia_smi"] = smi
    facts["torch_gpu"] = torch_gpu_facts()
    return facts


def gpu_unavailable(run: Run) -> str | None:
    """Why the GPU benchmarks cannot run here, or None when they can."""
    if run.cuda_broken:
        return f"the CUDA context broke in an earlier step: {run.cuda_broken}"
    try:
        import torch
    except ImportError as e:
        return f"torch does not import: {_error_text(e)}"
    if not torch.cuda.is_available():
        return f"no CUDA GPU visible (torch.cuda.is_available() is False; torch {torch.__version__})"
    try:
        from fastembed import _native
    except Exception as e:  # noqa: BLE001
        return f"fastembed does not import: {_error_text(e)}"
    if not _native.cuda_is_built():
        return f"fastembed's CUDA module is {_native.CUDA_STATUS}"
    if not _native.cuda_available():
        return "no CUDA GPU visible to fastembed's CUDA module"
    return None


def cuda_broken(torch: Any) -> str | None:
    """After an exception: None when the CUDA context still works, else why not (a sticky error
    such as an illegal memory access poisons every later call in this process)."""
    try:
        torch.cuda.synchronize()
        (torch.ones(8, device=DEVICE) * 2).sum().item()
        return None
    except Exception as e:  # noqa: BLE001
        return _error_text(e)


# --------------------------------------------------------------------------------------------
# Step 1: build


def _version(v: int) -> str | None:
    """CUDA's 12080 -> '12.8' (None for 0: no driver)."""
    return f"{v // 1000}.{v % 1000 // 10}" if v else None


def cuda_facts() -> dict[str, Any]:
    """fastembed.build_info()["cuda"] plus its GPU names, driver and runtime versions up front."""
    import fastembed

    cuda = fastembed.build_info()["cuda"]
    return {"gpus": cuda.get("gpus"), "driver": _version(cuda.get("driver_version") or 0),
            "runtime": cuda.get("runtime_version"), "cuda": cuda}


def step_build(run: Run, deadline: float) -> dict[str, Any]:
    if run.args.no_build:
        try:
            facts = cuda_facts()
        except Exception as e:  # noqa: BLE001 - recorded; the steps that need fastembed say so too
            facts = {"error": f"fastembed does not import: {_error_text(e)}"}
        raise Skip("--no-build", facts)
    env = dict(os.environ)
    archs = cuda_archs_from_smi(run.report["machine"].get("nvidia_smi", {}))
    if archs and "FASTEMBED_CUDA_ARCHS" not in env:
        env["FASTEMBED_CUDA_ARCHS"] = archs
    cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "-e", "."]
    run.log(f"build: {' '.join(cmd[1:])} (FASTEMBED_CUDA_ARCHS={env.get('FASTEMBED_CUDA_ARCHS', 'default')})")
    result = _run_command(run, cmd, timeout=deadline - time.perf_counter(), env=env)
    result["cuda_archs"] = env.get("FASTEMBED_CUDA_ARCHS")
    if result["rc"] != 0:
        why = "timed out" if result["timed_out"] else f"exit status {result['rc']}"
        raise Fail(f"pip install {why}", result)
    result.update(cuda_facts())  # fastembed's first import in this process: the new build loads
    cuda = result["cuda"]
    if not cuda["built"]:
        raise Fail(f"the CUDA module is {cuda['status']}", result)
    if not cuda.get("gpu_visible"):
        raise Fail("the CUDA module is built but sees no GPU", result)
    return result


# --------------------------------------------------------------------------------------------
# Step 2: tests

SUMMARY_WORDS = ("passed", "failed", "skipped", "deselected", "xfailed", "xpassed", "error", "errors", "warning",
                 "warnings")


def parse_pytest_summary(output: str) -> dict[str, Any]:
    """Counts from pytest's last summary line ('3 failed, 100 passed, 2 skipped in 9.81s')."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip().strip("=").strip()
        if re.search(r"\bin [\d.]+s\b", line) and (re.search(r"\d+ \w+", line) or "no tests ran" in line):
            counts = {w: 0 for w in ("passed", "failed", "skipped", "errors", "deselected", "xfailed", "xpassed")}
            for n, word in re.findall(r"(\d+) (\w+)", line):
                if word in SUMMARY_WORDS:
                    key = {"error": "errors", "warning": "warnings"}.get(word, word)
                    counts[key] = counts.get(key, 0) + int(n)
            return {"summary_line": line, **counts}
    return {"summary_line": None}


def step_tests(run: Run, deadline: float) -> dict[str, Any]:
    if run.args.skip_tests:
        raise Skip("--skip-tests")
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda or cuda_emu", "tests/cuda", "-p", "no:cacheprovider"]
    result = _run_command(run, cmd, timeout=deadline - time.perf_counter())
    result.update(parse_pytest_summary(result["output_tail"]))
    run.log(f"tests: {result.get('summary_line') or 'no summary line'} (exit {result['rc']})")
    if result["timed_out"]:
        raise Fail("pytest timed out", result)
    if result["rc"] == 5:
        raise Skip("pytest collected no tests (exit 5)", result)
    if result["rc"] != 0:
        raise Fail(f"pytest exit status {result['rc']}", result)
    return result


# --------------------------------------------------------------------------------------------
# Timing on the GPU


def cuda_time_ms(torch: Any, fn: Callable[[], object], *, quick: bool, min_time_s: float = 0.05,
                 repeats: int = 3) -> dict[str, Any]:
    """Milliseconds per call of ``fn`` by CUDA events: warm-up, one call to size the loop, then
    ``repeats`` loops of ``number`` calls lasting about ``min_time_s`` each; median and min."""
    warmup, repeats = (1, 2) if quick else (2, repeats)
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    one = max(start.elapsed_time(end), 1e-3)
    number = 1 if quick else max(1, min(1000, int(min_time_s * 1e3 / one)))
    per_call = []
    for _ in range(repeats):
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) / number)
    return {"median_ms": statistics.median(per_call), "min_ms": min(per_call), "number": number, "repeats": repeats}


# --------------------------------------------------------------------------------------------
# Step 3a: attention


def visible_pairs(c: Case, lengths: list[int]) -> int:
    """Query-key pairs that are not masked, over all batch rows and heads."""
    total = 0
    for L in lengths:
        total += L * (L + 1) // 2 + (c.T - L) * L if c.causal else c.T * L
    return c.H * total


def _attention_inputs(torch: Any, c: Case, dtype: Any) -> tuple[Any, Any, Any, Any, list[int]]:
    g = torch.Generator(device=DEVICE).manual_seed(0)
    q, k, v = (torch.randn(c.B, c.T, c.H, c.D, generator=g, device=DEVICE, dtype=dtype) for _ in range(3))
    lengths = [c.T] * c.B
    if c.padded:  # as benchmarks/attention.py: uniform in [0.4 T, T], the first row full
        cpu_gen = torch.Generator().manual_seed(0)
        lengths = torch.randint(int(0.4 * c.T), c.T + 1, (c.B,), generator=cpu_gen).tolist()
        lengths[0] = c.T
    lengths_t = torch.tensor(lengths, dtype=torch.int64, device=DEVICE) if c.padded else None
    return q, k, v, lengths_t, lengths


def _torch_mask(torch: Any, c: Case, lengths_t: Any) -> tuple[Any, bool]:
    """(attn_mask, is_causal) for SDPA: is_causal alone when the triangle is the only mask, a
    (B, 1, 1, T) key mask when padding is, (B, 1, T, T) when both are."""
    if lengths_t is None:
        return None, c.causal
    keys = torch.arange(c.T, device=DEVICE)[None, None, None, :] < lengths_t[:, None, None, None]
    if c.causal:
        keys = keys & torch.ones(c.T, c.T, dtype=torch.bool, device=DEVICE).tril()
    return keys, False


def _sdpa_backend(torch: Any, call: Callable[[], object]) -> tuple[Any, str, str | None]:
    """(context factory, backend name, why flash refused): flash when it takes the call, else the default."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION), torch.no_grad():
                call()
        torch.cuda.synchronize()
        return (lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)), "flash", None
    except RuntimeError as e:
        return contextlib.nullcontext, "default", _error_text(e)


def _rates(c: Case, pairs: int, ours: dict, theirs: dict, factor: float) -> dict[str, Any]:
    flops = factor * 4.0 * c.D * pairs
    return {"ours_ms": ours["median_ms"], "torch_ms": theirs["median_ms"],
            "ratio": theirs["median_ms"] / ours["median_ms"],
            "ours_tflops": flops / (ours["median_ms"] * 1e-3) / 1e12,
            "torch_tflops": flops / (theirs["median_ms"] * 1e-3) / 1e12,
            "ours_min_ms": ours["min_ms"], "torch_min_ms": theirs["min_ms"], "number": ours["number"]}


def attention_case(torch: Any, c: Case, dtype_name: str, quick: bool) -> dict[str, Any]:
    """One (case, dtype): outputs compared, then forward and forward + backward timed for both."""
    import torch.nn.functional as F

    from fastembed.ops import attention

    dtype = getattr(torch, dtype_name)
    q, k, v, lengths_t, lengths = _attention_inputs(torch, c, dtype)
    qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))   # torch's preferred (B, H, T, D)
    mask, is_causal = _torch_mask(torch, c, lengths_t)

    def ours(q, k, v, p=c.dropout):
        return attention(q, k, v, causal=c.causal, lengths=lengths_t, dropout_p=p)

    def theirs(q, k, v, p=c.dropout):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, dropout_p=p)

    backend, backend_name, refused = _sdpa_backend(torch, lambda: theirs(qt, kt, vt))
    with torch.no_grad(), backend():
        err = float((ours(q, k, v, 0.0).float() - theirs(qt, kt, vt, 0.0).transpose(1, 2).float()).abs().max())
    pairs = visible_pairs(c, lengths)
    row: dict[str, Any] = {"case": c.name, "dtype": dtype_name, "B": c.B, "H": c.H, "T": c.T, "D": c.D,
                           "causal": c.causal, "padded": c.padded, "dropout": c.dropout, "pairs": pairs,
                           "torch_backend": backend_name, "flash_refused": refused, "max_abs_diff": err,
                           "tolerance": ATTENTION_TOLERANCE[dtype_name],
                           "agrees": err <= ATTENTION_TOLERANCE[dtype_name]}

    dout = torch.randn_like(q)
    dout_t = dout.transpose(1, 2).contiguous()
    qg, kg, vg = (x.clone().requires_grad_() for x in (q, k, v))
    qtg, ktg, vtg = (x.clone().requires_grad_() for x in (qt, kt, vt))

    def ours_fb():
        torch.autograd.grad(ours(qg, kg, vg), (qg, kg, vg), dout)

    def theirs_fb():
        torch.autograd.grad(theirs(qtg, ktg, vtg), (qtg, ktg, vtg), dout_t)

    with torch.no_grad():
        fwd_ours = cuda_time_ms(torch, lambda: ours(q, k, v), quick=quick)
        with backend():
            fwd_torch = cuda_time_ms(torch, lambda: theirs(qt, kt, vt), quick=quick)
    fb_ours = cuda_time_ms(torch, ours_fb, quick=quick)
    with backend():
        fb_torch = cuda_time_ms(torch, theirs_fb, quick=quick)
    row["fwd"] = _rates(c, pairs, fwd_ours, fwd_torch, 1.0)
    row["fwd_bwd"] = _rates(c, pairs, fb_ours, fb_torch, 3.5)
    return row


def step_attention(run: Run, deadline: float) -> dict[str, Any]:
    reason = gpu_unavailable(run)
    if reason:
        raise Skip(reason)
    import torch

    suite = ATTENTION_QUICK if run.args.quick else ATTENTION_SUITE + ATTENTION_EXTRA
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"cases": rows, "dtypes": list(ATTENTION_TOLERANCE),
                              "ratio": "torch ms / ours ms: > 1 means fastembed is faster",
                              "tflops": "useful FLOPs: 4·D per visible pair forward, 3.5x that forward + backward"}
    for c in suite:
        for dtype_name in ATTENTION_TOLERANCE:
            if time.perf_counter() > deadline:
                rows.append({"case": c.name, "dtype": dtype_name, "skipped": "step budget exhausted"})
                continue
            try:
                row = attention_case(torch, c, dtype_name, run.args.quick)
            except Exception as e:  # noqa: BLE001 - one case's failure is recorded, the next runs
                row = {"case": c.name, "dtype": dtype_name, "error": _error_text(e),
                       "traceback": _tail(traceback.format_exc(), 1500)}
                if isinstance(e, torch.cuda.OutOfMemoryError):
                    torch.cuda.empty_cache()
                run.check_cuda()
                if run.cuda_broken:
                    rows.append(row)
                    raise Fail(f"the CUDA context broke in case {c.name!r} {dtype_name}: {run.cuda_broken}",
                               result) from e
            rows.append(row)
            run.log("attention: " + _attention_line(row))
    _attention_summary(result)
    failures = [r for r in rows if "error" in r or r.get("agrees") is False]
    if failures:
        raise Fail(f"{len(failures)} of {len(rows)} attention runs failed or disagree with torch", result)
    return result


def _attention_line(row: dict[str, Any]) -> str:
    head = f"{row['case']:<28} {row['dtype']:<8}"
    if "error" in row or "skipped" in row:
        return f"{head} {row.get('error') or 'skipped: ' + row['skipped']}"
    fb = row["fwd_bwd"]
    return (f"{head} fwd+bwd ours {fb['ours_ms']:.3f} ms ({fb['ours_tflops']:.3g} TFLOP/s), "
            f"torch-{row['torch_backend']} "
            f"{fb['torch_ms']:.3f} ms: {fb['ratio']:.2f}x; max diff {row['max_abs_diff']:.2g}")


def _attention_summary(result: dict[str, Any]) -> None:
    """Geometric means of the fwd+bwd and fwd ratios over the cases that ran, per dtype."""
    summary = {}
    for dtype_name in ATTENTION_TOLERANCE:
        for key in ("fwd", "fwd_bwd"):
            ratios = [r[key]["ratio"] for r in result["cases"] if r.get("dtype") == dtype_name and key in r]
            if ratios:
                summary[f"{dtype_name} {key} geomean ratio"] = math.exp(statistics.fmean(math.log(x) for x in ratios))
                summary[f"{dtype_name} {key} lowest ratio"] = min(ratios)
    result["summary"] = summary


# --------------------------------------------------------------------------------------------
# Step 3b: word2vec


def words_corpus(tmp: Path) -> Path:
    """The benchmark corpus words.txt: benchmarks/results/corpus/ when an earlier benchmark built it,
    else built here into ``tmp`` by the shared data's make_corpus.py (a few seconds)."""
    from fastembed._data import data_dir

    root = data_dir()
    if root is None:
        raise Skip("shared data not found (set FASTEMBED_DATA; default ../shared/data)")
    cached = RESULTS_DIR / "corpus" / "words.txt"
    if cached.is_file():
        return cached
    subprocess.run([sys.executable, str(root / "make_corpus.py"), str(tmp)], check=True, capture_output=True,
                   timeout=120)
    return tmp / "words.txt"


def _head_lines(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i >= n:
                break
            out.write(line)
    return dst


def train_word2vec(corpus: Path, device: str) -> dict[str, Any]:
    """Words/s of one epoch on ``corpus`` (vocabulary not timed); the loss says it trained."""
    from benchmarks.word2vec import SETTINGS
    from fastembed.word2vec import Word2Vec

    m = Word2Vec(sg=1, seed=1, progress=False, device=device, **dict(SETTINGS, epochs=1))
    m.build_vocab(corpus_file=corpus)
    t = time.perf_counter()
    m.train()
    wall = time.perf_counter() - t
    stats = m.epoch_stats[-1]
    return {"device": device, "words": m.corpus_total_words, "vocab": len(m.wv), "seconds": wall,
            "words_per_s": m.corpus_total_words / wall, "epoch_seconds": stats["seconds"],
            "mean_loss": stats["mean_loss"], "workers": None if device == "cuda" else m.workers}


def _fit_lines(cap: int, rates: dict[str, float], seconds: float) -> int:
    """Lines of words.txt (1000 words each) that one run per device trains in half of ``seconds``."""
    per_line = sum(1000.0 / r for r in rates.values())
    return max(W2V_PROBE_LINES, min(cap, int(0.5 * seconds / per_line)))


def step_word2vec(run: Run, deadline: float) -> dict[str, Any]:
    import fastembed

    gpu_reason = gpu_unavailable(run)
    result: dict[str, Any] = {"epochs": 1, "sg": 1, "threads": fastembed.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        words = words_corpus(Path(tmp))
        probe = _head_lines(words, Path(tmp) / "probe.txt", W2V_PROBE_LINES)
        rates = {"cpu": train_word2vec(probe, "cpu")["words_per_s"]}
        if not gpu_reason:  # also the warm-up: CUDA context, module load
            rates["cuda"] = train_word2vec(probe, "cuda")["words_per_s"]
        lines = _fit_lines(W2V_LINES["quick" if run.args.quick else "full"], rates, deadline - time.perf_counter())
        result.update(lines=lines, probe_words_per_s=rates)
        corpus = _head_lines(words, Path(tmp) / "slice.txt", lines)
        result["cpu"] = cpu = train_word2vec(corpus, "cpu")
        run.log(f"word2vec: cpu {cpu['words_per_s'] / 1e3:,.0f}k words/s on {cpu['words']:,} words")
        if gpu_reason:  # the CPU half shows the step works; the comparison is skipped
            result["gpu"] = {"skipped": gpu_reason}
            result["ratio"] = None
            raise Skip(gpu_reason, result)
        result["gpu"] = gpu = train_word2vec(corpus, "cuda")
    result["ratio"] = gpu["words_per_s"] / cpu["words_per_s"]
    run.log(f"word2vec: gpu {gpu['words_per_s'] / 1e3:,.0f}k words/s: {result['ratio']:.2f}x the CPU")
    if not abs(gpu["mean_loss"] - cpu["mean_loss"]) <= 0.25 * cpu["mean_loss"]:
        raise Fail(f"GPU mean loss {gpu['mean_loss']:.4f} is far from the CPU's {cpu['mean_loss']:.4f}", result)
    return result


# --------------------------------------------------------------------------------------------
# Step 3c: GPT-2 124M training steps


def _gpt_model(torch: Any, shape: dict[str, Any], attn_impl: str) -> Any:
    from fastembed.models import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=shape["vocab_size"], num_layers=shape["num_layers"], hidden_size=shape["hidden_size"],
                    num_heads=shape["num_heads"], intermediate_size=4 * shape["hidden_size"],
                    max_position=max(1024, shape["T"]), hidden_dropout=0.0, attention_dropout=0.0,
                    attn_impl=attn_impl)
    return GPT(cfg).to(DEVICE).train()


def _gpt_steps(torch: Any, model: Any, shape: dict[str, Any], B: int) -> dict[str, Any]:
    """Median seconds of one optimizer step (bf16 autocast forward, backward, AdamW)."""
    from fastembed.training.optim import make_optimizer

    opt = make_optimizer(model, lr=6e-4, weight_decay=0.1)
    g = torch.Generator(device=DEVICE).manual_seed(0)
    w = torch.randint(0, shape["vocab_size"], (B, shape["T"] + 1), generator=g, device=DEVICE)
    x, y = w[:, :-1].contiguous(), w[:, 1:].contiguous()
    losses = []

    def step() -> None:
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach())

    for _ in range(shape["warmup"]):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(shape["steps"]):
        t = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    values = [float(v) for v in losses]
    return {"B": B, "step_s": statistics.median(times), "min_step_s": min(times), "steps": len(times),
            "first_loss": values[0], "last_loss": values[-1], "finite": all(math.isfinite(v) for v in values),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def gpt_run(torch: Any, shape: dict[str, Any], attn_impl: str, peak: float | None) -> dict[str, Any]:
    """Training speed of one attention implementation at the largest batch (8, 4, 2 or 1, at most
    the shape's) that fits."""
    model = _gpt_model(torch, shape, attn_impl)
    n_all = sum(p.numel() for p in model.parameters())           # the tied LM head counted once
    n = n_all - model.wpe.weight.numel()
    L, C, T = shape["num_layers"], shape["hidden_size"], shape["T"]
    errors = []
    for B in (b for b in (8, 4, 2, 1) if b <= shape["B"]):
        try:
            r = _gpt_steps(torch, model, shape, B)
            break
        except torch.cuda.OutOfMemoryError as e:
            errors.append(f"B={B}: {_error_text(e)}")
        model.zero_grad(set_to_none=True)   # outside the except block: the failed step's tensors are gone
        torch.cuda.empty_cache()
    else:
        raise RuntimeError(f"out of memory even at batch 1: {errors}")
    tokens_s = B * T / r["step_s"]
    flops_6n = 6 * n * tokens_s
    flops_nanogpt = (6 * n + 12 * L * T * C) * tokens_s
    r.update(attn_impl=attn_impl, T=T, params=n_all, params_without_wpe=n, tokens_per_s=tokens_s,
             model_tflops_6n=flops_6n / 1e12, mfu_6n=flops_6n / peak if peak else None,
             mfu_with_attention=flops_nanogpt / peak if peak else None, oom_retries=errors)
    del model
    torch.cuda.empty_cache()
    return r


def step_gpt2(run: Run, deadline: float) -> dict[str, Any]:
    reason = gpu_unavailable(run)
    if reason:
        raise Skip(reason)
    import torch

    shape = GPT2_QUICK if run.args.quick else GPT2
    name = torch.cuda.get_device_name(0)
    peak = peak_bf16(name)
    result: dict[str, Any] = {
        "shape": shape, "gpu": name, "peak_bf16_flops": peak, "precision": "torch.autocast bf16, fp32 weights",
        "dropout": 0.0, "optimizer": "fastembed.training.optim.make_optimizer (AdamW, lr 6e-4, wd 0.1)",
        "mfu_6n": "6 * N * tokens/s / peak, N = parameters without the position embedding",
        "mfu_with_attention": "(6 * N + 12 * L * T * C) * tokens/s / peak (nanoGPT's estimate_mfu)",
        "runs": {}}
    for attn_impl in ("fused", "sdpa"):
        if time.perf_counter() > deadline:
            result["runs"][attn_impl] = {"skipped": "step budget exhausted"}
            continue
        try:
            r = result["runs"][attn_impl] = gpt_run(torch, shape, attn_impl, peak)
        except Exception as e:  # noqa: BLE001 - recorded; the other implementation still runs
            result["runs"][attn_impl] = {"error": _error_text(e), "traceback": _tail(traceback.format_exc(), 1500)}
            run.log(f"gpt2: {attn_impl}: {_error_text(e)}")
            run.check_cuda()
            if run.cuda_broken:
                raise Fail(f"the CUDA context broke with attn_impl {attn_impl!r}: {run.cuda_broken}", result) from e
            continue
        mfu = f"MFU {100 * r['mfu_6n']:.1f}%" if r["mfu_6n"] is not None else "MFU n/a (unknown GPU peak)"
        run.log(f"gpt2: {attn_impl} B={r['B']} T={r['T']}: {r['tokens_per_s']:,.0f} tokens/s, {mfu}, "
                f"loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}")
    runs = result["runs"]
    if "tokens_per_s" in runs.get("fused", {}) and "tokens_per_s" in runs.get("sdpa", {}):
        result["fused_over_sdpa"] = runs["fused"]["tokens_per_s"] / runs["sdpa"]["tokens_per_s"]
    bad = [k for k, r in runs.items() if "error" in r or r.get("finite") is False]
    if bad:
        raise Fail(f"attn_impl {', '.join(bad)}: an error or a non-finite loss", result)
    return result


# --------------------------------------------------------------------------------------------
# The table


def _step_details(name: str, r: dict[str, Any]) -> str:
    """The headline figures of a step's results ('' when there are none)."""
    if name == "build" and "cuda" in r:
        cuda = r.get("cuda") or {}
        gpus = ", ".join(cuda.get("gpus") or []) or "no GPU"
        pip = f"pip exit {r['rc']}; " if "rc" in r else ""
        return (f"{pip}CUDA module {cuda.get('status', '?')}, runtime {r.get('runtime')}, "
                f"driver {r.get('driver')}; {gpus}")
    if name == "tests" and "rc" in r:
        return r.get("summary_line") or f"exit {r.get('rc')}"
    if name == "attention" and "cases" in r:
        s = r.get("summary", {})
        return "; ".join(f"{k} {v:.2f}x" for k, v in s.items() if "geomean" in k) or "no case ran"
    if name == "word2vec" and "cpu" in r:
        cpu, gpu = r["cpu"], r.get("gpu") or {}
        text = f"cpu {cpu['words_per_s'] / 1e3:,.0f}k words/s on {cpu['words']:,} words"
        if "words_per_s" in gpu:
            text += f", gpu {gpu['words_per_s'] / 1e3:,.0f}k words/s ({r['ratio']:.2f}x)"
        return text
    if name == "gpt2" and "runs" in r:
        parts = []
        for impl, x in (r.get("runs") or {}).items():
            if "tokens_per_s" in x:
                mfu = f"MFU {100 * x['mfu_6n']:.1f}%" if x["mfu_6n"] is not None else "MFU n/a"
                parts.append(f"{impl} B={x['B']} {x['tokens_per_s']:,.0f} tok/s {mfu}")
            else:
                parts.append(f"{impl} {x.get('error') or x.get('skipped')}")
        return "; ".join(parts)
    return ""


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{'step':<10} {'status':<8} {'seconds':>8}  summary"]
    for name, entry in report["steps"].items():
        summary = "; ".join(x for x in (entry.get("reason"), _step_details(name, entry.get("result") or {})) if x)
        lines.append(f"{name:<10} {entry['status']:<8} {entry.get('seconds', 0):>8.1f}  {summary}")
    cases = ((report["steps"].get("attention") or {}).get("result") or {}).get("cases") or []
    if cases:
        lines += ["", "attention fwd+bwd (ratio = torch ms / ours ms; > 1: fastembed faster)",
                  f"  {'case':<30} {'dtype':<9} {'ours ms':>9} {'torch ms':>9} {'backend':<8} {'ratio':>6} "
                  f"{'ours TF/s':>9} {'torch TF/s':>10} {'max diff':>9}"]
        for row in cases:
            if "fwd_bwd" not in row:
                lines.append(f"  {row['case']:<30} {row['dtype']:<9} {row.get('error') or row.get('skipped')}")
                continue
            fb = row["fwd_bwd"]
            lines.append(f"  {row['case']:<30} {row['dtype']:<9} {fb['ours_ms']:>9.3f} {fb['torch_ms']:>9.3f} "
                         f"{row['torch_backend']:<8} {fb['ratio']:>5.2f}x {fb['ours_tflops']:>9.1f} "
                         f"{fb['torch_tflops']:>10.1f} {row['max_abs_diff']:>9.2g}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line


DESCRIPTION = ("the GPU check: build, CUDA tests, then attention, word2vec and GPT-2 124M on the GPU against torch "
               "and the CPU, into one JSON file")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python benchmarks/gpu_check.py", description=DESCRIPTION,
                                     epilog="Read the module docstring for what each step measures.")
    parser.add_argument("--no-build", action="store_true", help="do not run pip install -e . first")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the CUDA tests")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, seconds each: checks the script itself")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="the JSON file (default: benchmarks/results/gpu_check-<UTC time>.json)")
    parser.add_argument("--budget", type=float, default=480.0, metavar="SECONDS",
                        help="the whole run's time limit in seconds, shared among the steps (default 480: 8 minutes)")
    return parser


STEPS: list[tuple[str, Callable[[Run, float], dict[str, Any]]]] = [
    ("build", step_build), ("tests", step_tests), ("attention", step_attention), ("word2vec", step_word2vec),
    ("gpt2", step_gpt2),
]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.budget <= RESERVE_S + WATCHDOG_MARGIN_S:
        raise SystemExit(f"--budget must be more than {RESERVE_S + WATCHDOG_MARGIN_S:.0f} seconds")
    run = Run(args)
    run.start_watchdog()
    run.log(f"gpu_check: budget {args.budget:.0f}s, results to {run.out}")
    smi = nvidia_smi()
    run.report["machine"] = {"nvidia_smi": smi}           # the build step reads the compute capability
    run.log("nvidia-smi: " + ("; ".join(g.get("name", "?") for g in smi.get("gpus", [])) or smi.get("error", "")))
    for name, fn in STEPS:
        run.step(name, fn)
        if name == "build":  # fastembed is imported after the build, so its facts are the new build's
            run.report["machine"] = machine_facts(smi)
    out = run.write()
    print()
    print(format_report(run.report))
    failed = [n for n, e in run.report["steps"].items() if e["status"] == "failed"]
    print(f"\n{len(failed)} step(s) failed" + (f": {', '.join(failed)}" if failed else "") + f"; results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
