"""`import fastembed` needs only numpy: no torch, no CUDA module; build facts are reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import fastembed


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=120)


# A meta-path finder that makes the named modules unimportable, as if not installed.
BLOCK = """
import sys
class Block:
    def __init__(self, names): self.names = names
    def find_spec(self, name, path=None, target=None):
        if name in self.names or name.split('.')[0] in self.names:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
sys.meta_path.insert(0, Block(NAMES))
"""


def blocking(*names: str) -> str:
    return BLOCK.replace("NAMES", repr(set(names)))


def test_import_does_not_import_torch():
    out = run_python("import sys, fastembed; fastembed.build_info(); print('torch' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_import_and_build_info_work_without_torch_or_cuda_module():
    code = blocking("torch", "fastembed._C_cuda") + (
        "import json, fastembed; print(json.dumps(fastembed.build_info()['cuda']))")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    cuda = json.loads(out.stdout)
    assert cuda["built"] is False and cuda["status"].startswith("not built")


def test_torch_only_feature_says_what_is_missing():
    code = blocking("torch") + (
        "from fastembed._optional import require_torch\n"
        "try:\n    require_torch('fastembed.models')\nexcept ImportError as e:\n    print(e)\n")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    msg = out.stdout.strip()
    assert "fastembed.models needs PyTorch (torch), which is not installed" in msg
    assert "pip install 'fastembed[torch]'" in msg


def test_cuda_entry_point_without_the_module_explains_why():
    code = blocking("fastembed._C_cuda") + (
        "from fastembed import _native\n"
        "try:\n    _native.require_cuda('the CUDA axpy')\nexcept RuntimeError as e:\n    print(e)\n")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "the CUDA axpy needs fastembed's CUDA module, which is not built" in out.stdout


def test_build_info_has_the_promised_facts():
    info = fastembed.build_info()
    assert info["version"] == fastembed.__version__
    assert info["simd"] in {"avx512", "avx2", "avx", "sse4.2", "sse2", "neon", "none"}
    assert info["threads"] == fastembed.get_num_threads() >= 1
    assert "-O3" in info["flags"] or info["sanitizers"]
    for key in ("compiler", "openmp", "openmp_version", "simd_features", "cpu_simd_features", "arch", "cuda", "torch"):
        assert key in info
    # Every extension compiled in must be supported by this CPU (or the build would crash).
    if info["cpu_simd_features"]:
        missing = {"avx", "avx2", "fma", "avx512f"} & set(info["simd_features"]) - set(info["cpu_simd_features"])
        assert not missing


@pytest.mark.skipif(bool(os.environ.get("FASTEMBED_NO_OPENMP")), reason="built with FASTEMBED_NO_OPENMP")
def test_openmp_is_on():
    info = fastembed.build_info()
    assert info["openmp"] is True and info["openmp_version"] >= 201307


def test_cuda_module_is_built_where_nvcc_exists():
    info = fastembed.build_info()
    if info["sanitizers"] or os.environ.get("FASTEMBED_SKIP_CUDA"):
        pytest.skip("sanitizer and FASTEMBED_SKIP_CUDA builds leave the CUDA module out")
    if shutil.which("nvcc") is None and not os.environ.get("CUDA_HOME"):
        pytest.skip("no nvcc here")
    assert info["cuda"]["built"], info["cuda"]["status"]
    assert info["cuda"]["archs"]
