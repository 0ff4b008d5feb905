"""Runs the dispatched kernels on fixed inputs and saves what they return (tests/native/test_dispatch.py
runs this once per FASTEMBED_ISA level, in a fresh process, and compares the files).

    python -m tests.native._dispatch_child OUT.npz
"""

from __future__ import annotations

import sys

import numpy as np


def outputs() -> dict[str, np.ndarray]:
    from fastembed import _native
    from fastembed._native import _C
    from fastembed.ops import dropout_mask

    _native.set_num_threads(1)  # word2vec: one worker is bit-repeatable within a level
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {"level": np.array(_native.build_info()["dispatch"]["level"])}

    # attention, float32: odd sizes (tile tails), causal, key lengths, dropout (the AVX2 Philox path)
    B, Tq, Tk, H, D = 2, 70, 90, 2, 40
    q, dout = (rng.standard_normal((B, Tq, H, D)).astype(np.float32) for _ in range(2))
    k, v = (rng.standard_normal((B, Tk, H, D)).astype(np.float32) for _ in range(2))
    lengths = np.array([90, 37])
    for causal in (False, True):
        for p in (0.0, 0.25):
            o, lse = np.empty_like(q), np.empty((B, H, Tq), np.float32)
            _C.attention_forward(q, k, v, o, lse, causal, D ** -0.5, p, 1234, 0, lengths, None)
            dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
            _C.attention_backward(dout, q, k, v, o, lse, dq, dk, dv, causal, D ** -0.5, p, 1234, 0, lengths, None)
            tag = f"attn_c{int(causal)}_p{p}"
            out.update({f"{tag}_out": o, f"{tag}_lse": lse, f"{tag}_dq": dq, f"{tag}_dk": dk, f"{tag}_dv": dv})
    # axpy: 1001 elements (a vector tail at every width)
    x, y = rng.standard_normal(1001).astype(np.float32), rng.standard_normal(1001).astype(np.float32)
    _native.axpy(0.37, x, y)
    out["axpy"] = y
    out["dropout_mask"] = dropout_mask(2, 3, 5, 77, 0.3, 2**40 + 17)
    out["philox"] = _native.philox_u32(99, 1000, subsequence=7)

    # epilogues and int8 quantization: 37 columns (a vector tail), a row scale
    y = rng.standard_normal((9, 37)).astype(np.float32) * 3
    bias, res, g, beta = (rng.standard_normal(37).astype(np.float32) for _ in range(4))
    res = rng.standard_normal((9, 37)).astype(np.float32)
    rs = rng.uniform(0.5, 2, 9).astype(np.float32)
    a = y.copy()
    _C.bias_gelu_(a, bias)
    out["bias_gelu"] = a
    a = y.copy()
    _C.bias_residual_layer_norm_(a, bias, res, g, beta, 1e-5)
    out["bias_residual_layer_norm"] = a
    codes, scales = np.zeros((9, 37), np.int8), np.zeros(9, np.float32)
    _C.quantize_rows_s8(y, None, codes, scales)
    out["quantize_codes"], out["quantize_scales"] = codes, scales
    a = y.copy()
    _C.bias_gelu_(a, bias, rs)
    out["bias_gelu_row_scale"] = a

    # few-row products on packed panels: 11 rows (a register tile and a remainder at every level),
    # 45 columns (a partial panel), 70 terms
    xp = rng.standard_normal((11, 70)).astype(np.float32)
    wp = rng.standard_normal((2, 70, 32)).astype(np.float32)
    yp = np.empty((11, 45), np.float32)
    _C.panel_linear(xp, wp, rng.standard_normal(45).astype(np.float32), yp)
    out["panel_linear"] = yp
    yp = rng.standard_normal((11, 45)).astype(np.float32)
    _C.panel_linear(xp, wp, None, yp, 1)                       # accumulate: a residual add
    out["panel_linear_accumulate"] = yp
    yp = np.empty((11, 45), np.float32)
    _C.panel_linear(xp, wp, None, yp, 2)                       # GELU's tanh form
    out["panel_linear_gelu_tanh"] = yp

    # one decoding step's attention: 3 rows × 4 heads × 20 values (a vector and a tail at every
    # level) over 13 of 16 cached positions, one row with hidden keys
    kc = rng.standard_normal((3, 4, 16, 20)).astype(np.float32)
    vc = rng.standard_normal((3, 4, 16, 20)).astype(np.float32)
    hidden = np.zeros((3, 16), bool)
    hidden[1, :6] = True
    oa = np.empty((3, 80), np.float32)
    _C.decode_attention(rng.standard_normal((3, 240)).astype(np.float32), kc, vc, 13, hidden, 0.2, oa)
    out["decode_attention"], out["decode_attention_cache"] = oa, kc
    oa = np.empty((3, 80), np.float32)
    _C.decode_attention(rng.standard_normal((3, 240)).astype(np.float32), kc, vc, 14, None, 0.2, oa)
    out["decode_attention_all_visible"] = oa                   # keys four at a time, then the rest

    # word2vec: one update, and one epoch of skip-gram and CBOW on one worker
    V, Dw = 50, 37
    syn0 = (rng.standard_normal((V, Dw)) * 0.3).astype(np.float32)
    syn1 = (rng.standard_normal((V, Dw)) * 0.3).astype(np.float32)
    s0, s1 = syn0.copy(), syn1.copy()
    _C.w2v_step_for_testing(s0, s1, "sg", 3, np.array([1, 5, 7], np.int32), np.array([0, 9, 2], np.int32), 0.05, True)
    out["w2v_step_syn0"], out["w2v_step_syn1"] = s0, s1
    ids = rng.integers(0, V, 3000).astype(np.int32)
    offsets = np.arange(0, 3001, 30, dtype=np.int64)
    counts = np.bincount(ids, minlength=V).astype(np.int64)
    for sg in (True, False):
        s0, s1 = syn0.copy(), syn1.copy()
        _C.w2v_train_epoch(s0, s1, ids, offsets, counts, sg, True, False, 5, 5, 1, 0, 1e-3, 0.025, 1e-4, 0.75, 7, 1,
                           None)
        out[f"w2v_epoch_sg{int(sg)}_syn0"], out[f"w2v_epoch_sg{int(sg)}_syn1"] = s0, s1
    return out


if __name__ == "__main__":
    np.savez(sys.argv[1], **outputs())
