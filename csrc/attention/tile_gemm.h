// Small dense products for the CPU attention kernel: C (M×N) (+)= A (M×K) · B (K×N) on tiles that
// live in L1/L2 (M, N, K up to a few hundred).
//
// A is read element by element through two strides (a[i·ars + k·acs]), so the same kernel takes
// A or Aᵀ (Pᵀ·dO and dSᵀ·Q in the backward need the transpose of a tile stored row-major). B rows
// are contiguous (b[k·ldb + n]): B is either a row-major tensor slice (V, K, Q, dO rows) or a
// tile packed transposed by the caller (Kᵀ, Vᵀ). C is row-major with leading dimension ldc.
//
// The register tile is MR rows × 2 vectors, written with GCC/Clang vector extensions so it
// compiles to AVX2/FMA, AVX-512 or SSE2 as -march allows (csrc/README.md, SIMD policy): per k,
// two vector loads of B, MR broadcasts of A and 2·MR fused multiply-adds, the accumulators held
// in registers for the whole K loop (the BLIS micro-kernel idea: Van Zee & van de Geijn, "BLIS:
// A Framework for Rapidly Instantiating BLAS Functionality", 2015). Columns past the last full
// pair of vectors take a scalar loop.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/simd.h"

namespace fe {
FE_ISA_BEGIN
namespace attention_detail {

using simd::loadv;
using simd::Simd;
using simd::storev;

// Rows [0, MR) × columns [0, 2W) of C.
template <class T, int MR, bool kAccumulate>
inline void tile_kernel(int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c,
                        int64_t ldc) {
  using V = typename Simd<T>::V;
  constexpr int W = Simd<T>::W;
  V acc0[MR], acc1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (kAccumulate) {
      acc0[i] = loadv<V>(c + i * ldc);
      acc1[i] = loadv<V>(c + i * ldc + W);
    } else {
      acc0[i] = V{} ;
      acc1[i] = V{};
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    const V b0 = loadv<V>(b + k * ldb), b1 = loadv<V>(b + k * ldb + W);
    const T* ak = a + k * acs;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const T av = ak[i * ars];
      acc0[i] += av * b0;
      acc1[i] += av * b1;
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    storev(c + i * ldc, acc0[i]);
    storev(c + i * ldc + W, acc1[i]);
  }
}

constexpr int kMR = 6;

// C[0:M, 0:N] (+)= A · B.
template <class T, bool kAccumulate>
void tile_gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb,
               T* c, int64_t ldc) {
  constexpr int NR = 2 * Simd<T>::W;
  int64_t n = 0;
  for (; n + NR <= N; n += NR) {
    int64_t m = 0;
    for (; m + kMR <= M; m += kMR)
      tile_kernel<T, kMR, kAccumulate>(K, a + m * ars, ars, acs, b + n, ldb, c + m * ldc + n, ldc);
    const T* am = a + m * ars;
    T* cm = c + m * ldc + n;
    switch (M - m) {
      case 5: tile_kernel<T, 5, kAccumulate>(K, am, ars, acs, b + n, ldb, cm, ldc); break;
      case 4: tile_kernel<T, 4, kAccumulate>(K, am, ars, acs, b + n, ldb, cm, ldc); break;
      case 3: tile_kernel<T, 3, kAccumulate>(K, am, ars, acs, b + n, ldb, cm, ldc); break;
      case 2: tile_kernel<T, 2, kAccumulate>(K, am, ars, acs, b + n, ldb, cm, ldc); break;
      case 1: tile_kernel<T, 1, kAccumulate>(K, am, ars, acs, b + n, ldb, cm, ldc); break;
      default: break;
    }
  }
  if (n == N) return;
  for (int64_t i = 0; i < M; ++i) {  // remaining columns
    T* ci = c + i * ldc;
    for (int64_t j = n; j < N; ++j) {
      T s = kAccumulate ? ci[j] : T(0);
      for (int64_t k = 0; k < K; ++k) s += a[i * ars + k * acs] * b[k * ldb + j];
      ci[j] = s;
    }
  }
}

}  // namespace attention_detail
FE_ISA_END
}  // namespace fe
