// Tile packing for the CPU attention kernel: rows of a strided (T, D) slice copied or transposed
// into contiguous per-thread scratch before the products read them.
//
// Why: in the (B, T, H, D) layout consecutive rows of one head lie H·D floats apart, 4 KiB for
// H·D = 1024. Rows at such a stride fall into the same few L1 sets, so a product that walks 64 of
// them (a B operand, or a column read for a transpose) keeps missing L1 (about 15% of the time of
// the D = 128 backward). Copied once per tile, they are read from contiguous memory.
//
// The float transpose works on 8 × 8 blocks in registers (three rounds of shuffles, written with
// __builtin_shufflevector so it compiles to AVX2's unpack/shuffle/permute or to SSE2), reading
// each source row with vector loads instead of one element per row per column.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/simd.h"

namespace fe {
FE_ISA_BEGIN
namespace attention_detail {

// out[j·D + d] = src[j·ld + d] for j in [0, n), d in [0, D).
template <class T>
inline void pack_rows(const T* src, int64_t ld, int64_t n, int64_t D, T* out) {
  if (ld == D) {
    std::memcpy(out, src, sizeof(T) * n * D);
    return;
  }
  for (int64_t j = 0; j < n; ++j) std::memcpy(out + j * D, src + j * ld, sizeof(T) * D);
}

#if defined(__has_builtin) && defined(__AVX__)  // an 8 x 8 transpose in 8-float vectors
#if __has_builtin(__builtin_shufflevector)
#define FE_HAVE_SHUFFLEVECTOR 1
#endif
#endif

#ifdef FE_HAVE_SHUFFLEVECTOR
// dst[d·ldd + j] = scale · src[j·ls + d] for j, d in [0, 8).
inline void transpose8x8(const float* src, int64_t ls, float* dst, int64_t ldd, float scale) {
  using V = simd::Simd<float>::V;
  V r[8];
  for (int i = 0; i < 8; ++i) r[i] = simd::loadv<V>(src + i * ls) * scale;
  V t[8], u[8];
  for (int i = 0; i < 8; i += 2) {  // interleave row pairs
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4) {  // gather four rows per column within each 128-bit half
    u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  for (int c = 0; c < 4; ++c) {  // u[c] holds columns c and c + 4 of rows 0-3, u[c + 4] of rows 4-7
    simd::storev(dst + c * ldd, __builtin_shufflevector(u[c], u[c + 4], 0, 1, 2, 3, 8, 9, 10, 11));
    simd::storev(dst + (c + 4) * ldd, __builtin_shufflevector(u[c], u[c + 4], 4, 5, 6, 7, 12, 13, 14, 15));
  }
}
#endif

// out[d·ldo + j] = scale · src[j·ld + d] for j in [0, jn), d in [0, D); columns [jn, ldo) of out
// are zero-filled.
template <class T>
inline void pack_transposed(const T* src, int64_t ld, int64_t jn, int64_t D, T* out, int64_t ldo, T scale) {
  int64_t j = 0;
#ifdef FE_HAVE_SHUFFLEVECTOR
  if constexpr (sizeof(T) == sizeof(float)) {
    for (; j + 8 <= jn; j += 8) {
      int64_t d = 0;
      for (; d + 8 <= D; d += 8) transpose8x8(src + j * ld + d, ld, out + d * ldo + j, ldo, scale);
      for (; d < D; ++d)
        for (int64_t x = 0; x < 8; ++x) out[d * ldo + j + x] = scale * src[(j + x) * ld + d];
    }
  }
#endif
  for (; j < jn; ++j) {  // row by row: contiguous reads
    const T* s = src + j * ld;
    for (int64_t d = 0; d < D; ++d) out[d * ldo + j] = scale * s[d];
  }
  if (jn < ldo)
    for (int64_t d = 0; d < D; ++d) std::memset(out + d * ldo + jn, 0, sizeof(T) * (ldo - jn));
}

}  // namespace attention_detail
FE_ISA_END
}  // namespace fe
