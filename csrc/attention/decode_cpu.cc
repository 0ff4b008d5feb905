// One decoding step's attention over a KV cache (see decode.h for what and why).
#include "attention/decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "common/simd.h"

#include "common/isa.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

namespace fe {
FE_ISA_BEGIN
namespace {

using simd::hsum;
using simd::loadv;
using simd::storev;
using V = simd::Simd<float>::V;
constexpr int W = simd::Simd<float>::W;

// q·k over D values: W-wide partial sums in order, then the lanes, then the tail.
inline float dot(const float* q, const float* k, int64_t D) {
  V acc{};
  int64_t d = 0;
  for (; d + W <= D; d += W) acc += loadv<V>(q + d) * loadv<V>(k + d);
  float s = hsum(acc);
  for (; d < D; ++d) s += q[d] * k[d];
  return s;
}

// s[j] = scale · q·k[j] for the 4 keys from k on, each summed exactly as dot() sums it: four
// independent chains, so the loads of the next keys do not wait on one key's horizontal sum.
inline void dot4(const float* q, const float* k, int64_t D, float scale, float* s) {
  V a0{}, a1{}, a2{}, a3{};
  int64_t d = 0;
  for (; d + W <= D; d += W) {
    const V qv = loadv<V>(q + d);
    a0 += qv * loadv<V>(k + d);
    a1 += qv * loadv<V>(k + D + d);
    a2 += qv * loadv<V>(k + 2 * D + d);
    a3 += qv * loadv<V>(k + 3 * D + d);
  }
  float r[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
  for (; d < D; ++d)
    for (int i = 0; i < 4; ++i) r[i] += q[d] * k[i * D + d];
  for (int i = 0; i < 4; ++i) s[i] = scale * r[i];
}

// out[0:D] = Σ_j p[j]·v[j·D : (j+1)·D] / total over the j with p[j] > 0 (masked keys have p = 0
// and are skipped, so a NaN in a padded position's value cannot leak in). Keys in order, each
// row of V read once, front to back; kAcc vectors of the output stay in registers per pass.
constexpr int64_t kAcc = 8;
inline void weighted_sum(const float* p, const float* v, int64_t n, int64_t D, float total, float* out) {
  int64_t d = 0;
  for (; d + kAcc * W <= D; d += kAcc * W) {
    V acc[kAcc] = {};
    for (int64_t j = 0; j < n; ++j) {
      if (p[j] == 0.0f) continue;
      const float* vj = v + j * D + d;
#pragma GCC unroll 8
      for (int64_t a = 0; a < kAcc; ++a) acc[a] += p[j] * loadv<V>(vj + a * W);
    }
#pragma GCC unroll 8
    for (int64_t a = 0; a < kAcc; ++a) storev(out + d + a * W, acc[a] / total);
  }
  for (; d + W <= D; d += W) {
    V acc{};
    for (int64_t j = 0; j < n; ++j)
      if (p[j] != 0.0f) acc += p[j] * loadv<V>(v + j * D + d);
    storev(out + d, acc / total);
  }
  for (; d < D; ++d) {
    float acc = 0.0f;
    for (int64_t j = 0; j < n; ++j)
      if (p[j] != 0.0f) acc += p[j] * v[j * D + d];
    out[d] = acc / total;
  }
}

}  // namespace

void decode_attention_cpu(const float* qkv, int64_t ldqkv, int64_t B, int64_t H, int64_t D, float* k, float* v,
                          int64_t cap, int64_t n, const uint8_t* padded, int64_t ldp, float scale, float* out,
                          int64_t ldo) {
  const int64_t C = H * D;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  parallel_for(0, B * H, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> scores(static_cast<size_t>(n) + W);
    for (int64_t bh = lo; bh < hi; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      const float* row = qkv + b * ldqkv;
      float* kc = k + bh * cap * D;
      float* vc = v + bh * cap * D;
      std::memcpy(kc + (n - 1) * D, row + C + h * D, static_cast<size_t>(D) * sizeof(float));
      std::memcpy(vc + (n - 1) * D, row + 2 * C + h * D, static_cast<size_t>(D) * sizeof(float));
      const float* q = row + h * D;
      const uint8_t* pad = padded ? padded + b * ldp : nullptr;
      float* s = scores.data();
      float best = neg_inf;
      bool visible = false;
      int64_t j0 = 0;
      if (!pad) {                       // every key visible: four at a time
        for (; j0 + 4 <= n; j0 += 4) dot4(q, kc + j0 * D, D, scale, s + j0);
        for (int64_t j = 0; j < j0; ++j) best = std::max(best, s[j]);
        visible = j0 > 0;
      }
      for (int64_t j = j0; j < n; ++j) {
        if (pad && pad[j]) {
          s[j] = neg_inf;
          continue;
        }
        visible = true;
        s[j] = scale * dot(q, kc + j * D, D);
        best = std::max(best, s[j]);   // a NaN score is not taken as the maximum; it stays NaN below
      }
      float* o = out + b * ldo + h * D;
      if (!visible) {                   // no visible key: zeros, as the fused kernel gives
        std::fill(o, o + D, 0.0f);
        continue;
      }
      float total = 0.0f;
      int64_t j = 0;
      for (; j + W <= n; j += W) {
        const V e = simd::exp_vec(loadv<V>(s + j) - best);
        storev(s + j, e);
        total += hsum(e);
      }
      for (; j < n; ++j) {
        s[j] = std::exp(s[j] - best);
        total += s[j];
      }
      weighted_sum(s, vc, n, D, total, o);
    }
  });
}

FE_ISA_END
}  // namespace fe
