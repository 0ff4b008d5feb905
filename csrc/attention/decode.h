// One decoding step's attention on the CPU: each row's newest token appends its key and value to
// a preallocated cache and its query attends over everything cached (float32, inference).
//
// A step has one query per (row, head) and reads the whole cache once, so it is bound by memory,
// and by per-call overhead at GPT-2's sizes: the T × T kernel (attention_cpu.cc) builds Kᵀ tiles
// for training's square problems, and PyTorch's SDPA needs the cache transposed to (B, H, n, D)
// views and the new key and value copied in by two more ops per layer. Here each (row, head)
// reads its n cached keys, then its n values, once, as contiguous runs, and one call does the
// append and the attention:
//
//   k[b, h, n-1, :] = qkv[b, C + h·D : C + (h+1)·D]       (C = H·D)
//   v[b, h, n-1, :] = qkv[b, 2C + h·D : 2C + (h+1)·D]
//   s_j = scale · q·k[b, h, j, :]    for keys j < n with padded[b, j] == 0 (all j < n without a mask)
//   out[b, h·D : (h+1)·D] = Σ_j softmax(s)_j · v[b, h, j, :]     (zeros where no key is visible)
//
// q = qkv[b, h·D : (h+1)·D]: qkv is the row's fused query/key/value projection, as GPT-2 lays it
// out. softmax subtracts the row's largest score and uses simd::exp_vec (relative error < 2e-7);
// the sums run over j in order, so results do not depend on the thread count.
//
// Layout: qkv (B, 3C) with row stride ldqkv; k and v (B, H, cap, D) contiguous, n <= cap;
// padded (B, ·) bytes with row stride ldp, or null; out (B, C) with row stride ldo, not
// overlapping qkv or the cache.
#pragma once

#include <cstdint>

namespace fe {

void decode_attention_cpu(const float* qkv, int64_t ldqkv, int64_t B, int64_t H, int64_t D, float* k, float* v,
                          int64_t cap, int64_t n, const uint8_t* padded, int64_t ldp, float scale, float* out,
                          int64_t ldo);

}  // namespace fe
