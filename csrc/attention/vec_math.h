// exp over a row of scores for the CPU attention kernel, vectorized (simd::exp_vec, see
// common/simd.h; the libm call would be scalar). Scores are <= 0 after subtracting the row
// maximum, and -inf (a masked score) gives 0.
// double: libm's exp (the float64 kernel is for gradient checks, not speed).
#pragma once

#include <cmath>
#include <cstdint>

#include "attention/tile_gemm.h"

namespace fe {
FE_ISA_BEGIN
namespace attention_detail {

using simd::exp_vec;

// x[i] = exp(x[i]) for i in [0, n).
inline void exp_inplace(float* x, int64_t n) {
  using V = Simd<float>::V;
  constexpr int W = Simd<float>::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) storev(x + i, exp_vec(loadv<V>(x + i)));
  if (i < n) {  // tail through a padded vector: same results as full vectors
    float buf[W];
    for (int j = 0; j < W; ++j) buf[j] = i + j < n ? x[i + j] : 0.0f;
    storev(buf, exp_vec(loadv<V>(buf)));
    for (int64_t j = 0; i + j < n; ++j) x[i + j] = buf[j];
  }
}

inline void exp_inplace(double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

// x[i] = exp(x[i] - base[i]); sum[i] += x[i]   (one pass over a row of a score tile)
inline void exp_sub_accumulate(float* x, const float* base, float* sum, int64_t n) {
  using V = Simd<float>::V;
  constexpr int W = Simd<float>::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    const V e = exp_vec(loadv<V>(x + i) - loadv<V>(base + i));
    storev(x + i, e);
    storev(sum + i, loadv<V>(sum + i) + e);
  }
  for (; i < n; ++i) {
    x[i] = x[i] - base[i];
    exp_inplace(x + i, 1);
    sum[i] += x[i];
  }
}
inline void exp_sub_accumulate(double* x, const double* base, double* sum, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - base[i]);
    sum[i] += x[i];
  }
}

// x[i] = exp(x[i] * scale - shift)
inline void exp_affine(float* x, int64_t n, float scale, float shift) {
  using V = Simd<float>::V;
  constexpr int W = Simd<float>::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) storev(x + i, exp_vec(loadv<V>(x + i) * scale - shift));
  for (; i < n; ++i) {
    x[i] = x[i] * scale - shift;
    exp_inplace(x + i, 1);
  }
}
inline void exp_affine(double* x, int64_t n, double scale, double shift) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] * scale - shift);
}

}  // namespace attention_detail
FE_ISA_END
}  // namespace fe
