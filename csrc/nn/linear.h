// y = x·Wᵀ (+ bias) against a weight packed once: the inference product of a transformer layer
// (CPU, float32), for nn.Linear's weight W (N × K, row-major).
//
// Why not the BLAS: for the shapes of a small encoder (M = a batch's tokens, a few hundred; K, N
// = 384 to 1536) a general sgemm repacks both operands on every call, and on a worker thread that
// runs one batch (fastembed/_workers.py) MKL spent about 10% of its time copying and scaling
// rather than multiplying. Here W is packed once, when the model is first used, and x is read in
// place: the register tile broadcasts six rows of x, each read sequentially, so no copy is
// needed.
//
// Packed layout: K is cut into blocks of kLinearKC rows; within block kb, the N columns of Wᵀ in
// panels of 16, each panel kc × 16 contiguous (panel p, row k, column j = W[16p + j, k0 + k],
// zeros past N). pack_weight_size gives its length in floats.
//
// Work: for each K block, each block of kLinearMC rows of x, each panel (its 24 KiB stay in L1),
// each group of 6 rows: one MR × 16 register tile (common/tile_gemm.h) over the block's kc. The
// panels are split across fe::parallel_for threads; a column's sums run in the same order whatever
// the thread count, so the result does not depend on it.
#pragma once

#include <cstdint>

namespace fe {

constexpr int64_t kLinearKC = 384;  // rows of a K block (a panel: 384 × 16 floats = 24 KiB)
constexpr int64_t kLinearMC = 96;   // rows of x per pass over the panels (96 × 384 floats in L2)
constexpr int64_t kLinearNR = 16;   // columns per panel

// Floats in the packed form of an N × K weight.
int64_t pack_weight_size(int64_t N, int64_t K);

// Packs W (N × K, row stride ldw) into out (pack_weight_size(N, K) floats).
void pack_weight_cpu(const float* w, int64_t N, int64_t K, int64_t ldw, float* out);

// y (M × N, row stride ldy) = x (M × K, row stride ldx) · Wᵀ + bias, with W packed by
// pack_weight_cpu; bias (N,) or null. y must not overlap x.
void linear_packed_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* wp, int64_t N,
                       const float* bias, float* y, int64_t ldy);

}  // namespace fe
