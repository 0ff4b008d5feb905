"""fastembed info: how fastembed was built and what it can use on this machine."""

from __future__ import annotations

import argparse
import json

from ._common import set_command


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="how fastembed was built and what it can use here",
                       description="How fastembed was built (compiler, flags, SIMD, OpenMP, CUDA) and what it "
                                   "can use on this machine.")
    p.add_argument("--json", action="store_true", help="print the build facts as JSON (default: a table)")
    set_command(p, run)


def run(args: argparse.Namespace) -> int:
    from .._native import build_info

    info = build_info()
    print(json.dumps(info, indent=2) if args.json else format_info(info))
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
    d = info["dispatch"]
    dispatch_line = (f"{d['level']} kernels (compiled: {' '.join(d['compiled'])}; CPU supports: {d['cpu']}; "
                     f"FASTEMBED_ISA: {d['cap'] or 'unset'})")
    omp = f"on (OpenMP {info['openmp_version']})" if info["openmp"] else "off (loops run on one thread)"
    rows = [
        ("fastembed", info["version"]),
        ("python", f"{info['python']} on {info['platform']}"),
        ("compiler", info["compiler"]),
        ("flags", info["flags"]),
        ("SIMD", f"{info['simd']} (arch policy: {info['arch']}; compiled: {' '.join(info['simd_features']) or '-'})"),
        ("CPU SIMD", " ".join(info["cpu_simd_features"]) or "-"),
        ("dispatch", dispatch_line),
        ("OpenMP", omp),
        ("threads", f"{info['threads']} (default {info['default_threads']})"),
        ("sanitizers", info["sanitizers"] or "none"),
        ("CUDA", cuda_line),
        ("CUDA emulator", emu_line),
        ("torch", info["torch"] or "not installed (needed for models and training: pip install 'fastembed[torch]')"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
