"""Fuzzing the word2vec text and binary loaders with damaged files: valid files with flipped
bytes, cut short, with lying or absurd headers, NaN strings, or plain random bytes. A load either
succeeds with finite vectors of the shape its header gives or raises ValueError (OSError for
paths); never MemoryError, another exception, or a crash.

The loads run in one child process whose address space is capped (RLIMIT_AS: its size after
imports + 1 GB), so a loader that trusts a header and allocates terabytes fails here instead of
taking the machine down; the limit is never set in the pytest process itself."""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastembed import _native

# Under ASan the cap on the child's address space cannot work: the sanitizer reserves terabytes of
# shadow memory up front and aborts on a failed allocation instead of raising MemoryError.
pytestmark = pytest.mark.skipif(bool(_native.build_info()["sanitizers"]),
                                reason="an address-space cap and ASan do not mix")

HEADROOM = 1 << 30
REPLY_TIMEOUT_S = 20


def _virtual_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _serve(conn) -> None:
    """The child: cap the address space, then load each (data, binary) sent, answering with
    ('ok', shape, all finite) or ('error', exception type name, is ValueError/OSError, message)."""
    from fastembed.word2vec import KeyedVectors

    cap = _virtual_size() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    conn.send(cap)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vectors")
        while (request := conn.recv()) is not None:
            try:
                if request == "allocate 2 GB":  # proves the cap is in force
                    np.ones(2 << 30, dtype=np.uint8)
                    conn.send(("ok", None, True))
                    continue
                data, binary = request
                with open(path, "wb") as f:
                    f.write(data)
                kv = KeyedVectors.load_word2vec_format(path, binary=binary)
                conn.send(("ok", kv.vectors.shape, bool(np.isfinite(kv.vectors).all())))
            except BaseException as e:  # noqa: BLE001 - everything is reported, the parent judges
                conn.send(("error", type(e).__name__, isinstance(e, (ValueError, OSError)), str(e)[:300]))


@pytest.fixture(scope="module")
def loader():
    ctx = mp.get_context("spawn")  # a fresh interpreter: no forked OpenMP or pytest state
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    assert parent.poll(60), "the loader process did not start"
    parent.recv()

    def load(request):
        parent.send(request)
        assert parent.poll(REPLY_TIMEOUT_S), f"the loader process died or hung (exit code {proc.exitcode})"
        return parent.recv()

    yield load
    parent.send(None)
    proc.join(10)
    if proc.is_alive():
        proc.kill()


def valid_file(words: int, dim: int, binary: bool, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((words, dim)).astype(np.float32)
    out = [f"{words} {dim}\n".encode()]
    for i, row in enumerate(vectors):
        word = f"w{i}\u00e9".encode()
        out.append(word + b" " + (struct.pack(f"<{dim}f", *row) if binary
                                  else " ".join(f"{x:.6g}" for x in row).encode()) + b"\n")
    return b"".join(out)


HEADERS = [b"1000000000000 300", b"3 1000000000000", b"99999999999999999999 3", b"3 99999999999999999999",
           b"-3 3", b"3 -3", b"3 0", b"0 0", b"nan nan", b"3", b"", b"3 3 3", b"\xff\xfe 3", b"3e3 3", b"0x10 3",
           b"2147483648 2147483648"]
TOKENS = [b"nan", b"NaN", b"inf", b"-inf", b"1e39", b"-1e400", b"1e-50", b"", b"x", b"0x1p3", b"\xff", b"1_0"]


@st.composite
def damaged_files(draw):
    binary = draw(st.booleans())
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400)), binary
    data = bytearray(valid_file(draw(st.integers(0, 5)), draw(st.integers(1, 6)), binary, draw(st.integers(0, 99))))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "header", "token", "insert"]))
        if kind == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "header":
            nl = data.find(b"\n")
            data[:max(nl, 0)] = draw(st.sampled_from(HEADERS) | st.builds(
                lambda v, d: f"{v} {d}".encode(), st.integers(-2, 2**70), st.integers(-2, 2**70)))
        elif kind == "token":  # replace one space-separated field (a word or a text value)
            parts = bytes(data).split(b" ")
            parts[draw(st.integers(0, len(parts) - 1))] = draw(st.sampled_from(TOKENS))
            data = bytearray(b" ".join(parts))
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data), binary


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=damaged_files())
def test_damaged_files_give_value_errors_or_finite_vectors(loader, case):
    data, binary = case
    reply = loader(case)
    if reply[0] == "ok":
        _, shape, finite = reply
        assert finite, f"loaded non-finite vectors from {data[:120]!r}"
        header = data.split(b"\n", 1)[0].split()
        assert shape[1] == int(header[1]) and shape[0] <= int(header[0])
    else:
        _, name, expected, message = reply
        assert expected, f"{name}: {message} (binary={binary}, file {data[:120]!r})"


@pytest.mark.parametrize("binary", [False, True])
def test_valid_files_load(loader, binary):
    assert loader((valid_file(4, 3, binary, 0), binary)) == ("ok", (4, 3), True)


def test_the_child_cannot_allocate_past_its_cap(loader):
    # Without this the fuzz test could pass with no limit in force.
    assert loader("allocate 2 GB")[:2] == ("error", "MemoryError")
