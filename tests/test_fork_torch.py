"""Worker processes after torch has run in the parent.

A child forked after the parent ran a parallel torch op used to hang in its first parallel op
(GNU OpenMP's pool does not survive fork). fastembed sets torch to one thread in forked
children (fastembed._optional), so Embedder and attention work in multiprocessing workers under
the default start method (fork on Linux before Python 3.14) as under spawn and forkserver.
Each case runs in a subprocess with a timeout: a hang fails the test instead of stopping the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tests._tiny import save_tiny_bert  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

FORK_AFTER_TORCH = textwrap.dedent("""
    import os, sys, time
    import torch
    from fastembed.ops import attention
    torch.set_num_threads(2)
    q = torch.randn(2, 256, 4, 32)
    x = torch.randn(512, 512)
    want = attention(q, q, q, causal=True)
    (x @ x).sum()                                   # the parent's thread pools have run
    pid = os.fork()
    if pid == 0:
        got = attention(q, q, q, causal=True)
        (x @ x).sum()
        os._exit(0 if torch.equal(got, want) else 2)
    deadline = time.time() + 30
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            sys.exit(os.waitstatus_to_exitcode(status))
        time.sleep(0.05)
    os.kill(pid, 9)
    sys.exit(3)                                     # the child hung
""")


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_child_forked_after_torch_ran_can_use_torch_and_attention():
    out = _run(["-c", FORK_AFTER_TORCH])
    assert out.returncode == 0, f"exit {out.returncode} (3: the child hung)\n{out.stderr[-2000:]}"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "red"]
    return save_tiny_bert(tmp_path_factory.mktemp("mp_model"), vocab, hidden_size=32, num_heads=2,
                          intermediate_size=64, max_position=64)


@pytest.mark.parametrize("method", ["default", "fork", "spawn", "forkserver"])
def test_embedder_in_a_process_pool(model_dir, method):
    out = _run(["-m", "tests._mp_embed", method, str(model_dir)])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "same"
