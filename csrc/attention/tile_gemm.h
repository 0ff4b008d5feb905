// Small dense products for the CPU attention kernel: C (M×N) (+)= A (M×K) · B (K×N) on tiles that
// live in L1/L2 (M, N, K up to a few hundred).
//
// A is read element by element through two strides (a[i·ars + k·acs]), so the same kernel takes
// A or Aᵀ (Pᵀ·dO and dSᵀ·Q in the backward need the transpose of a tile stored row-major). B rows
// are contiguous (b[k·ldb + n]): B is either a row-major tensor slice (V, K, Q, dO rows) or a
// tile packed transposed by the caller (Kᵀ, Vᵀ). C is row-major with leading dimension ldc.
//
// The register tile is MR rows × 2 vectors, written with GCC/Clang vector extensions so it
// compiles to AVX2/FMA, AVX-512 or SSE2 as -march allows (6 × 2 ymm; 12 × 2 zmm with AVX-512;
// csrc/README.md, SIMD policy): per k,
// two vector loads of B, MR broadcasts of A and 2·MR fused multiply-adds, the accumulators held
// in registers for the whole K loop (the BLIS micro-kernel idea: Van Zee & van de Geijn, "BLIS:
// A Framework for Rapidly Instantiating BLAS Functionality", 2015). Columns past the last full
// pair of vectors take a one-vector tile, then a scalar loop.
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

// The register tile's vectors: 64 bytes where AVX-512 is compiled in (32 zmm registers hold a
// kMR × 2-vector tile of 12 × 32 floats), else simd.h's (16 ymm registers: 6 × 16 floats; SSE's
// 16 xmm: 6 × 8). Only this product uses the 64-byte vectors; the rest of the kernel keeps
// simd.h's.
#if defined(__AVX512F__)
constexpr int kTileBytes = 64;
constexpr int kMR = 12;
#else
constexpr int kTileBytes = simd::kVecBytes;
constexpr int kMR = 6;
#endif

template <class T>
struct TileVec {
  typedef T V __attribute__((vector_size(kTileBytes)));
  static constexpr int W = kTileBytes / static_cast<int>(sizeof(T));
};

// Columns one full register tile covers; packed tiles are padded to a multiple of it.
template <class T>
constexpr int64_t kNR = 2 * TileVec<T>::W;

// Rows [0, MR) × columns [0, NV·W) of C, NV vectors per row (2, or 1 for a narrower tail).
template <class T, int MR, int NV, bool kAccumulate>
inline void tile_kernel(int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb, T* c,
                        int64_t ldc) {
  using V = typename TileVec<T>::V;
  constexpr int W = TileVec<T>::W;
  V acc[NV][MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[v][i] = kAccumulate ? loadv<V>(c + i * ldc + v * W) : V{};
  for (int64_t k = 0; k < K; ++k) {
    V bk[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bk[v] = loadv<V>(b + k * ldb + v * W);
    const T* ak = a + k * acs;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const T av = ak[i * ars];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[v][i] += av * bk[v];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) storev(c + i * ldc + v * W, acc[v][i]);
}

// Rows [m, M) of one column block, kMR at a time, then the remainder.
template <class T, int NV, bool kAccumulate>
inline void tile_column(int64_t M, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb,
                        T* c, int64_t ldc) {
  int64_t m = 0;
  for (; m + kMR <= M; m += kMR)
    tile_kernel<T, kMR, NV, kAccumulate>(K, a + m * ars, ars, acs, b, ldb, c + m * ldc, ldc);
  const T* am = a + m * ars;
  T* cm = c + m * ldc;
  switch (M - m) {
#define FE_TILE_CASE(r) \
  case r: tile_kernel<T, r, NV, kAccumulate>(K, am, ars, acs, b, ldb, cm, ldc); break;
    FE_TILE_CASE(1) FE_TILE_CASE(2) FE_TILE_CASE(3) FE_TILE_CASE(4) FE_TILE_CASE(5)
#if defined(__AVX512F__)
    FE_TILE_CASE(6) FE_TILE_CASE(7) FE_TILE_CASE(8) FE_TILE_CASE(9) FE_TILE_CASE(10) FE_TILE_CASE(11)
#endif
#undef FE_TILE_CASE
    default: break;
  }
}

// C[0:M, 0:N] (+)= A · B.
template <class T, bool kAccumulate>
void tile_gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb,
               T* c, int64_t ldc) {
  constexpr int W = TileVec<T>::W;
  int64_t n = 0;
  for (; n + 2 * W <= N; n += 2 * W) tile_column<T, 2, kAccumulate>(M, K, a, ars, acs, b + n, ldb, c + n, ldc);
  if (n + W <= N) {  // one vector's worth of columns left
    tile_column<T, 1, kAccumulate>(M, K, a, ars, acs, b + n, ldb, c + n, ldc);
    n += W;
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
