// Fixed-width SIMD vectors through GCC/Clang vector extensions, which compile to AVX2/FMA,
// AVX-512 or SSE2 as -march allows (csrc/README.md, SIMD policy), and the vector math the CPU
// kernels share.
//
// hsum: a vector's lanes added in order.
//
// exp_vec (float): Cephes' expf scheme: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two for an
// exact product), exp(r) by a degree-6 polynomial, 2^n built in the exponent bits. Relative error
// below 2e-7 on [-87, 88]; smaller inputs (and -inf) give 0, inputs in (88, 88.72] are clamped
// to 88, larger ones (past expf's overflow point) give +inf, and NaN gives NaN (attention relies
// on the last two to propagate non-finite scores instead of hiding them).
#pragma once

#include <cstdint>
#include <cstring>

#include "common/isa.h"

namespace fe {
FE_ISA_BEGIN
namespace simd {

// 32-byte vectors where AVX is compiled in; 16 bytes (SSE) otherwise, since GCC lowers a vector
// wider than the target's registers poorly (its selects and conversions go lane by lane: the
// baseline level's attention ran 30x slower than AVX2's with 32-byte vectors).
#if defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

template <class T>
struct Simd;
template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(kVecBytes)));
  static constexpr int W = kVecBytes / 4;
};
template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(kVecBytes)));
  static constexpr int W = kVecBytes / 8;
};

template <class V, class T>
inline V loadv(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class T>
inline void storev(T* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// The lanes of v added in order, 0 to W - 1 (a fixed order: results do not depend on the caller).
inline float hsum(Simd<float>::V v) {
  float s = 0.0f;
  for (int j = 0; j < Simd<float>::W; ++j) s += v[j];
  return s;
}

inline Simd<float>::V exp_vec(Simd<float>::V x) {
  using V = Simd<float>::V;
  typedef int32_t VI __attribute__((vector_size(kVecBytes)));
  const V lo = V{} - 87.0f, hi = V{} + 88.0f;
  const VI masked = x < lo;  // lanes -> 0 (includes -inf)
  const VI nan = x != x;
  const VI overflow = x > 88.72283935546875f;  // expf's largest finite input is 88.7228...
  const V in = x;
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
  const V big = V{} + __builtin_huge_valf();
  return masked ? V{} : (nan ? in : (overflow ? big : y));
}

}  // namespace simd
FE_ISA_END
}  // namespace fe
