// y = x·W + bias for few rows of x (a decoding step: one token per sequence, M <= ~16) with W
// read once from a layout packed for it (float32, CPU, inference).
//
// At such M a product is bound by reading W from memory: every weight is used M times, once per
// row. A general GEMM (MKL's sgemm through torch.addmm) packs and blocks for large M, and at
// M = 8 it reads GPT-2's layer matrices at about half the memory bandwidth (a Xeon, 2 threads:
// 43 ms a step against 22 ms for M = 1). Here W is stored once, ahead of time, as column panels:
//
//   packed[p][k][j] = W[k][kPanel·p + j]     p < ceil(N / kPanel), k < K, j < kPanel
//
// (zeros past column N), so each panel is one contiguous stream of K·kPanel floats that the
// hardware prefetcher follows, helped by software prefetches 16 rows ahead into L1 and 64 into
// L2. Threads take contiguous runs of panels; each panel is one register-tiled product (all M
// rows × one panel's columns accumulate in registers over the whole K, x broadcast from cache)
// followed by the bias and the epilogue, while the panel's results are still in L1. Every weight
// is read from memory once per call.
//
// Sums run over k in order, one fused multiply-add per term where the level has FMA (the baseline
// level rounds the product and the sum apart), so results are deterministic for a given level and
// independent of the thread count; they differ from MKL's by summation order (~1e-7 relative).
//
// Epilogue (applied to each panel's results while they are in L1; z = x·W + bias, rounded):
//   kPanelStore        y = z
//   kPanelAccumulate   y = y + z               a residual add: y is the residual stream
//   kPanelGeluTanh     y = GELU_tanh(z) = z/2·(1 + tanh(√(2/π)·(z + 0.044715·z³)))   GPT-2's FFN
// GELU_tanh is computed as z·σ(2u), u = √(2/π)·(z + 0.044715·z³), the same function, with
// simd::exp_vec (relative error < 2e-7): within 4e-7·|z| + 1e-37 of the float64 value.
//
// Layout: x (M, K) with unit column stride and row stride ldx; y (M, N) the same with ldy; bias
// (N,) or null (zero). y must not overlap x.
#pragma once

#include <cstdint>

namespace fe {

// Columns per packed panel, for every dispatch level (the packing does not depend on the CPU).
constexpr int64_t kPanel = 32;

enum PanelEpilogue : int { kPanelStore = 0, kPanelAccumulate = 1, kPanelGeluTanh = 2 };

void panel_linear_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* packed, int64_t N,
                      const float* bias, float* y, int64_t ldy, int epilogue = kPanelStore);

}  // namespace fe
