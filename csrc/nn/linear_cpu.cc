// The packed inference product (see linear.h for the layout and the loop order).
#include "nn/linear.h"

#include <algorithm>
#include <cstring>

#include "common/parallel.h"
#include "common/tile_gemm.h"

namespace fe {
namespace {

using tile::tile_kernel;

constexpr int kMR = tile::kMR;  // rows per register tile (6 × 16 floats: 12 AVX2 accumulators)

int64_t panels(int64_t N) { return (N + kLinearNR - 1) / kLinearNR; }

// Rows [0, mr) × the panel's 16 columns of c (+)= a (mr × kc, row stride lda) · b (kc × 16).
template <bool kAccumulate>
void tile(int mr, int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc) {
  switch (mr) {
    case 6: tile_kernel<float, 6, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    case 5: tile_kernel<float, 5, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    case 4: tile_kernel<float, 4, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    case 3: tile_kernel<float, 3, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    case 2: tile_kernel<float, 2, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    case 1: tile_kernel<float, 1, kAccumulate>(kc, a, lda, 1, b, kLinearNR, c, ldc); break;
    default: break;
  }
}

// Panels [p0, p1) of y, every row.
void linear_panels(const float* x, int64_t M, int64_t K, int64_t ldx, const float* wp, int64_t N, const float* bias,
                   float* y, int64_t ldy, int64_t p0, int64_t p1) {
  const int64_t np = panels(N);
  alignas(64) float edge[kMR * kLinearNR];  // the last panel's tile when N is not a multiple of 16
  for (int64_t k0 = 0; k0 < K; k0 += kLinearKC) {
    const int64_t kc = std::min(kLinearKC, K - k0);
    const float* block = wp + k0 * np * kLinearNR;
    const bool first = k0 == 0;
    for (int64_t i0 = 0; i0 < M; i0 += kLinearMC) {
      const int64_t i1 = std::min(M, i0 + kLinearMC);
      for (int64_t p = p0; p < p1; ++p) {
        const float* b = block + p * kc * kLinearNR;
        const int64_t n0 = p * kLinearNR, nn = std::min(kLinearNR, N - n0);
        for (int64_t i = i0; i < i1; i += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, i1 - i));
          const float* a = x + i * ldx + k0;
          float* c = y + i * ldy + n0;
          int64_t ldc = ldy;
          if (nn < kLinearNR) {  // a partial panel goes through a full-width scratch tile
            for (int r = 0; r < mr; ++r) {
              std::fill(edge + r * kLinearNR, edge + (r + 1) * kLinearNR, 0.0f);
              if (!first) std::copy(c + r * ldy, c + r * ldy + nn, edge + r * kLinearNR);
            }
            c = edge;
            ldc = kLinearNR;
          }
          if (first && bias) {  // start the sums from the bias
            const float* bb = bias + n0;
            for (int r = 0; r < mr; ++r) std::copy(bb, bb + nn, c + r * ldc);
            tile<true>(mr, kc, a, ldx, b, c, ldc);
          } else if (first) {
            tile<false>(mr, kc, a, ldx, b, c, ldc);
          } else {
            tile<true>(mr, kc, a, ldx, b, c, ldc);
          }
          if (c == edge)
            for (int r = 0; r < mr; ++r) std::copy(edge + r * kLinearNR, edge + r * kLinearNR + nn, y + (i + r) * ldy + n0);
        }
      }
    }
  }
}

}  // namespace

int64_t pack_weight_size(int64_t N, int64_t K) { return panels(N) * kLinearNR * K; }

void pack_weight_cpu(const float* w, int64_t N, int64_t K, int64_t ldw, float* out) {
  const int64_t np = panels(N);
  parallel_for(0, np, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t k0 = 0; k0 < K; k0 += kLinearKC) {
      const int64_t kc = std::min(kLinearKC, K - k0);
      float* block = out + k0 * np * kLinearNR;
      for (int64_t p = lo; p < hi; ++p) {
        float* panel = block + p * kc * kLinearNR;
        for (int64_t j = 0; j < kLinearNR; ++j) {
          const int64_t n = p * kLinearNR + j;
          for (int64_t k = 0; k < kc; ++k) panel[k * kLinearNR + j] = n < N ? w[n * ldw + k0 + k] : 0.0f;
        }
      }
    }
  });
}

void linear_packed_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* wp, int64_t N,
                       const float* bias, float* y, int64_t ldy) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {  // an empty sum: the bias, or zeros
    for (int64_t i = 0; i < M; ++i)
      for (int64_t n = 0; n < N; ++n) y[i * ldy + n] = bias ? bias[n] : 0.0f;
    return;
  }
  // At least ~1M multiply-adds per thread's share, so small products stay on one thread.
  const int64_t per_panel = M * K * kLinearNR;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(per_panel, 1));
  parallel_for(0, panels(N), grain, [&](int64_t p0, int64_t p1) {
    linear_panels(x, M, K, ldx, wp, N, bias, y, ldy, p0, p1);
  });
}

}  // namespace fe
