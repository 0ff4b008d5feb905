// exp over a row of scores for the CPU attention kernel, vectorized with GCC/Clang vector
// extensions (the libm call would be scalar).
//
// float: Cephes' expf scheme: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
// product), exp(r) by a degree-6 polynomial, 2^n built in the exponent bits. Relative error
// below 2e-7 on [-87, 88]; inputs are clamped there (scores are <= 0 after subtracting the row
// maximum, and exp(-87) ~ 1.6e-38 is as good as 0 for a softmax). -inf (a masked score) gives 0.
// double: libm's exp (the float64 kernel is for gradient checks, not speed).
#pragma once

#include <cmath>
#include <cstdint>

#include "attention/tile_gemm.h"

namespace fe::attention_detail {

inline Simd<float>::V exp_vec(Simd<float>::V x) {
  using V = Simd<float>::V;
  typedef int32_t VI __attribute__((vector_size(32)));
  const V lo = V{} - 87.0f, hi = V{} + 88.0f;
  const VI masked = x < lo;  // lanes -> 0 (includes -inf)
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  // n = round(x / ln2): add and subtract 1.5·2^23 (round to nearest, exact for |n| < 2^22).
  const V magic = V{} + 12582912.0f;
  V n = (x * 1.44269504088896341f + magic) - magic;
  V r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const VI ni = __builtin_convertvector(n, VI);
  const V pow2n = (V)((ni + 127) << 23);
  const V y = p * pow2n;
  return masked ? V{} : y;
}

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

}  // namespace fe::attention_detail
