// Row operations for word2vec updates on rows of D floats (D ~ 100-300), written with GCC/Clang
// vector extensions so they compile to AVX2/AVX-512/SSE as -march allows.
//
// The updates are latency-bound, not FMA-bound: a plain dot product is one chain of dependent
// fused multiply-adds. dot() keeps four partial sums; dots() computes one row against up to
// kMaxRows rows at once (independent chains, one load of the shared row per step); the
// combine_* functions form Σ_s g_s·row_s for several rows in one pass, keeping the sum in
// registers.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/isa.h"

namespace fe::w2v {
FE_ISA_BEGIN
namespace vec {

typedef float V8 __attribute__((vector_size(32)));
constexpr int W = 8;
constexpr int kMaxRows = 8;

inline V8 load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(V8));
  return v;
}
inline void store(float* p, V8 v) { std::memcpy(p, &v, sizeof(V8)); }
inline float hsum(V8 v) {
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

inline float dot(const float* a, const float* b, int64_t n) {
  V8 s0{}, s1{}, s2{}, s3{};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 += load(a + i) * load(b + i);
    s1 += load(a + i + W) * load(b + i + W);
    s2 += load(a + i + 2 * W) * load(b + i + 2 * W);
    s3 += load(a + i + 3 * W) * load(b + i + 3 * W);
  }
  for (; i + W <= n; i += W) s0 += load(a + i) * load(b + i);
  float s = hsum((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(y + i, load(y + i) + alpha * load(x + i));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// out[s] = a · rows[s] for s < k (k <= kMaxRows).
inline void dots(const float* a, const float* const* rows, int k, int64_t n, float* out) {
  V8 acc[kMaxRows];
  for (int s = 0; s < k; ++s) acc[s] = V8{};
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    const V8 x = load(a + i);
    for (int s = 0; s < k; ++s) acc[s] += x * load(rows[s] + i);
  }
  for (int s = 0; s < k; ++s) {
    float t = hsum(acc[s]);
    for (int64_t j = i; j < n; ++j) t += a[j] * rows[s][j];
    out[s] = t;
  }
}

// e += Σ_s g[s] · rows[s] (the rows as they were), then rows[s] += g[s] · v, in one pass over the
// rows (k <= kMaxRows; e, v and the rows must not overlap).
inline void combine_and_update(float* e, const float* v, const float* g, float* const* rows, int k, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V8 acc = load(e + i);
    const V8 x = load(v + i);
    for (int s = 0; s < k; ++s) {
      const V8 r = load(rows[s] + i);
      acc += g[s] * r;
      store(rows[s] + i, r + g[s] * x);
    }
    store(e + i, acc);
  }
  for (; i < n; ++i) {
    float t = e[i];
    for (int s = 0; s < k; ++s) {
      t += g[s] * rows[s][i];
      rows[s][i] += g[s] * v[i];
    }
    e[i] = t;
  }
}

// y = scale · Σ_s rows[s] for s < k (any k >= 1), the sum kept in registers per chunk.
inline void sum_rows(float* y, const float* const* rows, int64_t k, float scale, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V8 acc = load(rows[0] + i);
    for (int64_t s = 1; s < k; ++s) acc += load(rows[s] + i);
    store(y + i, acc * scale);
  }
  for (; i < n; ++i) {
    float t = rows[0][i];
    for (int64_t s = 1; s < k; ++s) t += rows[s][i];
    y[i] = t * scale;
  }
}

}  // namespace vec
FE_ISA_END
}  // namespace fe::w2v
