// Few-row products against column-panel-packed weights (see panel_linear.h for what and why).
#include "nn/panel_linear.h"

#include <algorithm>
#include <cstring>

#include "common/parallel.h"
#include "common/simd.h"

#include "common/isa.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

// Software prefetch distances in panel rows (128 bytes each): into L1 16 rows ahead, and into L2
// 64 rows (8 KB) ahead, which keeps more of the stream in flight while the FMAs run. With the L2
// prefetch GPT-2's step products ran 1.05-1.10x faster at 1 row and 1.12-1.21x at 4-16 rows
// (2 threads, Sapphire Rapids; distances 32-256 rows all within a few percent of each other).
#ifndef FE_PANEL_PREFETCH
#define FE_PANEL_PREFETCH 16
#endif
#ifndef FE_PANEL_PREFETCH_L2
#define FE_PANEL_PREFETCH_L2 64
#endif

namespace fe {
FE_ISA_BEGIN
namespace {

// A panel row (kPanel floats) as NV vectors: 64-byte vectors where AVX-512 is compiled in (2 zmm),
// else 32 (4 ymm) or 16 bytes (8 xmm).
#if defined(__AVX512F__)
constexpr int kBytes = 64;
#define FE_PANEL_MR 8         // 8 rows × 2 zmm = 16 accumulators of 32 registers
#elif defined(__AVX__)
constexpr int kBytes = 32;
#define FE_PANEL_MR 3         // 3 rows × 4 ymm = 12 accumulators of 16 registers
#else
constexpr int kBytes = 16;
#define FE_PANEL_MR 1         // 1 row × 8 xmm
#endif
constexpr int kMR = FE_PANEL_MR;
typedef float V __attribute__((vector_size(kBytes)));
constexpr int W = kBytes / 4;
constexpr int NV = static_cast<int>(kPanel) / W;
static_assert(kPanel % W == 0, "a panel row must be whole vectors");

inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// out[i][0:kPanel] = sum_k x[i·ldx + k] · w[k·kPanel : (k+1)·kPanel] for i < MR, over the whole K
// in registers; the weights FE_PANEL_PREFETCH and FE_PANEL_PREFETCH_L2 rows ahead are asked for
// while these are summed (past the panel's end: the next panel, which this thread takes next).
template <int MR>
inline void panel_tile(int64_t K, const float* x, int64_t ldx, const float* w, float* out) {
  V acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = w + k * kPanel;
#if FE_PANEL_PREFETCH > 0
    __builtin_prefetch(wk + FE_PANEL_PREFETCH * kPanel, 0, 3);
    __builtin_prefetch(wk + FE_PANEL_PREFETCH * kPanel + 16, 0, 3);
#endif
#if FE_PANEL_PREFETCH_L2 > 0
    __builtin_prefetch(wk + FE_PANEL_PREFETCH_L2 * kPanel, 0, 2);
    __builtin_prefetch(wk + FE_PANEL_PREFETCH_L2 * kPanel + 16, 0, 2);
#endif
    V wv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) wv[v] = load(wk + v * W);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const float a = x[i * ldx + k];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] += a * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(out + i * kPanel + v * W, &acc[i][v], sizeof(V));
}

// Rows [0, rows) of one panel into out (rows × kPanel), kMR at a time.
inline void panel_rows(int64_t rows, int64_t K, const float* x, int64_t ldx, const float* w, float* out) {
  int64_t m = 0;
  for (; m + kMR <= rows; m += kMR) panel_tile<kMR>(K, x + m * ldx, ldx, w, out + m * kPanel);
#if FE_PANEL_MR > 1  // the rows left after the full tiles (none where a tile is one row)
  const float* xm = x + m * ldx;
  float* om = out + m * kPanel;
  switch (rows - m) {
#define FE_PANEL_CASE(r) \
  case r: panel_tile<r>(K, xm, ldx, w, om); break;
    FE_PANEL_CASE(1) FE_PANEL_CASE(2)
#if defined(__AVX512F__)
    FE_PANEL_CASE(3) FE_PANEL_CASE(4) FE_PANEL_CASE(5) FE_PANEL_CASE(6) FE_PANEL_CASE(7)
#endif
#undef FE_PANEL_CASE
    default: break;
  }
#endif
}

constexpr int64_t kRowBlock = 16;  // rows per pass over a panel (their sums stay in L1)

// s[0:kPanel] = GELU_tanh(s) = s·σ(2u), u = √(2/π)·(s + 0.044715·s³), in place. σ(2u) =
// 1/(1 + exp(-2u)): exp_vec gives +inf past its overflow point (s/inf = -0, as 0.5·s·(1 + tanh)
// gives -0 there) and propagates NaN.
inline void gelu_tanh_panel(float* s) {
  using VS = simd::Simd<float>::V;
  constexpr int WS = simd::Simd<float>::W;
  for (int64_t j = 0; j < kPanel; j += WS) {
    const VS z = simd::loadv<VS>(s + j);
    const VS u2 = z * (1.5957691216057308f + 0.07135481627159031f * (z * z));   // 2u
    simd::storev(s + j, z / (1.0f + simd::exp_vec(-u2)));
  }
}

}  // namespace

void panel_linear_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* packed, int64_t N,
                      const float* bias, float* y, int64_t ldy, int epilogue) {
  const int64_t panels = (N + kPanel - 1) / kPanel;
  // About 1 MB of weights per chunk, so that two threads split even a 768-column matrix.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(K * kPanel, 1));
  parallel_for(0, panels, grain, [&](int64_t lo, int64_t hi) {
    alignas(64) float sums[kRowBlock * kPanel];
    for (int64_t p = lo; p < hi; ++p) {
      const float* w = packed + p * K * kPanel;
      const int64_t n0 = p * kPanel, cols = std::min(kPanel, N - n0);
      for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, M - m0);
        panel_rows(rows, K, x + m0 * ldx, ldx, w, sums);
        for (int64_t i = 0; i < rows; ++i) {
          float* yi = y + (m0 + i) * ldy + n0;
          float* si = sums + i * kPanel;
          if (bias)
            for (int64_t j = 0; j < cols; ++j) si[j] += bias[n0 + j];
          if (epilogue == kPanelGeluTanh) gelu_tanh_panel(si);
          if (epilogue == kPanelAccumulate)
            for (int64_t j = 0; j < cols; ++j) yi[j] += si[j];
          else
            for (int64_t j = 0; j < cols; ++j) yi[j] = si[j];
        }
      }
    }
  });
}

FE_ISA_END
}  // namespace fe
