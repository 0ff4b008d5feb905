// Fused masked attention on the CPU: forward and backward, float32 (and float64 for gradient
// checks), FlashAttention-2's tiling (Dao 2023) adapted to caches instead of shared memory.
//
// Forward: one task per (batch, head, block of kBQ query rows). The task packs its Qᵀ once; for
// each block of kBK keys it computes the score tile Sᵀ = K·Qᵀ, updates the running maximum
// and sum (online softmax: Milakov & Gimelshein 2018), applies dropout to the probabilities and
// accumulates P·V (V's rows copied contiguous first: pack.h); at the end it divides by the row
// sum and stores lse = max + log(sum). Key blocks past the causal horizon of the whole query
// block or past key_lengths[b] are never visited; masking inside a block is per element.
//
// Backward: for each key block (Kᵀ, Vᵀ and K packed once) and each query block that sees it (its
// Q and dO rows copied contiguous):
//   P = exp(scale·Q·Kᵀ − lse), dV += P_dropᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP ∘ keep/(1−p) − Δ),
//   dQ += scale·dS·K, dK += scale·dSᵀ·Q,   Δ_i = Σ_d dO_id·O_id.
// With enough (batch, head) pairs for every thread, one task owns a (b, h) and does all of it
// (no write conflicts). Otherwise (long sequences, few heads) the work splits in two passes so
// parallelism is not capped at B·H: tasks over (b, h, key block) write dK, dV; then tasks over
// (b, h, query block) recompute S and dP and write dQ. Either way the sums run in a fixed order,
// so results do not depend on the thread count.
//
// Left out on purpose: bf16 inputs (they pay only with AVX-512 BF16, which this kernel does not
// target yet), and any T × T buffer (scratch per thread is O(kBQ·kBK + T·D)).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "attention/pack.h"
#include "attention/params.h"
#include "attention/tile_gemm.h"
#include "attention/vec_math.h"
#include "common/error.h"
#include "common/parallel.h"
#include "common/rng.h"

#include "common/isa.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

namespace fe {
FE_ISA_BEGIN
namespace {

using attention_detail::exp_affine;
using attention_detail::exp_inplace;
using attention_detail::exp_sub_accumulate;
using attention_detail::pack_rows;
using attention_detail::pack_transposed;
using attention_detail::Simd;
using attention_detail::tile_gemm;

constexpr int64_t kBQ = 64;  // query rows per tile
constexpr int64_t kBK = 64;  // keys per tile

template <class T>
constexpr int64_t round_up_nr(int64_t n) {
  constexpr int64_t nr = attention_detail::kNR<T>;
  return (n + nr - 1) / nr * nr;
}

// Per-thread scratch, grown on demand and reused across calls.
template <class T>
T* scratch(std::vector<T>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// Which keys a (batch, head) sees, and the row-level masks.
struct RowMask {
  const AttentionParams& p;
  int64_t b;
  int64_t kend;            // keys >= kend are padding (key_lengths)
  const uint8_t* padding;  // row b of key_padding, or null
  RowMask(const AttentionParams& p_, int64_t b_) : p(p_), b(b_) {
    kend = p.Tk;
    if (p.key_lengths) kend = std::clamp<int64_t>(p.key_lengths[b], 0, p.Tk);
    padding = p.key_padding ? p.key_padding + b * p.key_padding_sb : nullptr;
    if (padding)  // trailing padded keys are skipped like lengths (whole blocks of them unvisited)
      while (kend > 0 && padding[kend - 1]) --kend;
    first_key = 0;
    if (padding)
      while (first_key < kend && padding[first_key]) ++first_key;
  }
  int64_t first_key;  // the first key that is not padding (kend when there is none)
  // Query row i sees at least one key. A row that sees none gives zeros; a row that sees keys
  // whose scores are all -inf (or NaN) gives NaN, as softmax does: the two must not be confused.
  bool sees_any(int64_t i) const { return first_key < end(i); }
  // Zeroes row j of `rows` (width values each) for every padded key j0 + j, j < n: a padded key's
  // K or V row, or its entry in a row of P or dS, so that no 0·NaN from it reaches a result.
  template <class T>
  void zero_padded(T* rows, int64_t j0, int64_t n, int64_t width) const {
    if (padding)
      for (int64_t j = 0; j < n; ++j)
        if (padding[j0 + j]) std::fill(rows + j * width, rows + (j + 1) * width, T(0));
  }
  // Keys [0, end(i)) may be visible to query row i.
  int64_t end(int64_t i) const { return p.causal ? std::min(kend, attention_causal_end(i, p.Tq, p.Tk)) : kend; }
  // First query row that may see key j (rows before it are cut off by the causal mask).
  int64_t first_row(int64_t j) const {
    return p.causal ? std::clamp<int64_t>(j - (p.Tk - p.Tq), 0, p.Tq) : 0;
  }
};

#if defined(__AVX2__)
// Words of the Philox blocks c0 .. c0+3 of stream (seed, subsequence), four blocks at once in the
// 64-bit lanes of AVX2 registers (vpmuludq gives the 32×32→64 products): out[4·k + w] is word w
// of block c0 + k, the same bits as fe::philox_block.
inline void philox_blocks_x4(uint64_t seed, uint64_t subsequence, uint64_t c0, uint32_t out[16]) {
  using namespace philox_detail;
  const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFFll);
  __m256i x = _mm256_set_epi64x(static_cast<int64_t>((c0 + 3) & 0xFFFFFFFFu), static_cast<int64_t>((c0 + 2) & 0xFFFFFFFFu),
                                static_cast<int64_t>((c0 + 1) & 0xFFFFFFFFu), static_cast<int64_t>(c0 & 0xFFFFFFFFu));
  __m256i y = _mm256_set_epi64x(static_cast<int64_t>((c0 + 3) >> 32), static_cast<int64_t>((c0 + 2) >> 32),
                                static_cast<int64_t>((c0 + 1) >> 32), static_cast<int64_t>(c0 >> 32));
  __m256i z = _mm256_set1_epi64x(static_cast<int64_t>(subsequence & 0xFFFFFFFFu));
  __m256i w = _mm256_set1_epi64x(static_cast<int64_t>(subsequence >> 32));
  const __m256i m0 = _mm256_set1_epi64x(kM0), m1 = _mm256_set1_epi64x(kM1);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const __m256i p0 = _mm256_mul_epu32(x, m0), p1 = _mm256_mul_epu32(z, m1);
    const __m256i nx = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), y), _mm256_set1_epi64x(k0));
    const __m256i nz = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), w), _mm256_set1_epi64x(k1));
    y = _mm256_and_si256(p1, lo32);
    w = _mm256_and_si256(p0, lo32);
    x = nx;
    z = nz;
  }
  alignas(32) uint64_t lanes[4][4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[0]), x);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[1]), y);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[2]), z);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[3]), w);
  for (int k = 0; k < 4; ++k)
    for (int word = 0; word < 4; ++word) out[4 * k + word] = static_cast<uint32_t>(lanes[word][k]);
}
#endif

// keep[j] = 1/(1-p) or 0 for keys [j0, j0 + n) of query row i of (b, h).
template <class T>
void dropout_row(const AttentionParams& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, T* keep) {
  const uint32_t threshold = attention_dropout_threshold(p.dropout_p);
  const T inv = T(1) / (T(1) - static_cast<T>(p.dropout_p));
  const uint64_t row = p.offset + static_cast<uint64_t>((b * p.H + h) * p.Tq + i);
  int64_t j = 0;
#if defined(__AVX2__)
  if ((j0 & 3) == 0) {  // 16 keys (four Philox blocks) per step
    alignas(32) uint32_t bits[16];
    for (; j + 16 <= n; j += 16) {
      philox_blocks_x4(p.seed, row, static_cast<uint64_t>(j0 + j) >> 2, bits);
      for (int x = 0; x < 16; ++x) keep[j + x] = bits[x] >= threshold ? inv : T(0);
    }
  }
#endif
  while (j < n) {
    const int64_t g = j0 + j;  // key index
    const U32x4 r = philox_block(p.seed, row, static_cast<uint64_t>(g) >> 2);
    for (int w = static_cast<int>(g & 3); w < 4 && j < n; ++w, ++j)
      keep[j] = u32x4_get(r, w) >= threshold ? inv : T(0);
  }
}

template <class T>
bool all_finite(const T* x, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= std::isfinite(x[i]);
  return ok;
}

template <class T>
struct Scratch {
  std::vector<T> kt, vt, kc, qc, doc, s, dp, keep, acc, acc2, stat;
};
template <class T>
Scratch<T>& thread_scratch() {
  thread_local Scratch<T> s;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Forward

template <class T>
void forward_block(const AttentionParams& p, int64_t b, int64_t h, int64_t qb) {
  const int64_t D = p.D;
  const int64_t i0 = qb * kBQ, nq = std::min(kBQ, p.Tq - i0);
  const RowMask mask(p, b);
  const T* q = static_cast<const T*>(p.q) + b * p.q_s.b + h * p.q_s.h + i0 * p.q_s.t;
  const T* k = static_cast<const T*>(p.k) + b * p.k_s.b + h * p.k_s.h;
  const T* v = static_cast<const T*>(p.v) + b * p.v_s.b + h * p.v_s.h;
  T* out = static_cast<T*>(p.out) + b * p.out_s.b + h * p.out_s.h + i0 * p.out_s.t;
  T* lse = static_cast<T*>(p.lse) + (b * p.H + h) * p.Tq + i0;
  const bool dropout = p.dropout_p > 0.0;
  const T neg_inf = -std::numeric_limits<T>::infinity();

  // The score tile is kept transposed, Sᵀ (keys × queries): K rows feed the product directly,
  // only this block's Qᵀ is packed (once, with the scale folded in), and the softmax statistics
  // of the queries run along contiguous rows (vectorized, no horizontal reductions).
  Scratch<T>& sc = thread_scratch<T>();
  const int64_t ld = round_up_nr<T>(nq);
  T* qt = scratch(sc.kt, D * ld);
  T* st = scratch(sc.s, kBK * ld);
  T* keep = scratch(sc.keep, kBK);
  T* acc = scratch(sc.acc, kBQ * D);
  T* stat = scratch(sc.stat, 4 * ld);
  T* mx = stat;            // running maximum of the scaled scores, per query
  T* sum = stat + ld;      // running sum of exp(score - max)
  T* base = stat + 2 * ld; // the new maximum, 0 where still -inf (so exp never sees -inf - -inf)
  T* corr = stat + 3 * ld; // exp(old max - new max)
  T* vc = scratch(sc.kc, kBK * D);  // this key block's V rows, contiguous (pack.h says why)
  pack_transposed(q, p.q_s.t, nq, D, qt, ld, static_cast<T>(p.scale));
  std::fill(acc, acc + nq * D, T(0));
  std::fill(mx, mx + ld, neg_inf);
  std::fill(sum, sum + ld, T(0));

  const int64_t kstop = mask.end(i0 + nq - 1);  // no query of the block sees keys past this
  const int64_t off = p.Tk - p.Tq;              // causal: key j is visible to query i iff j <= i + off
  for (int64_t j0 = 0; j0 < kstop; j0 += kBK) {
    const int64_t jn = std::min(kBK, kstop - j0);
    tile_gemm<T, false>(jn, ld, D, k + j0 * p.k_s.t, p.k_s.t, 1, qt, ld, st, ld);
    for (int64_t j = 0; j < jn; ++j) {  // mask: a padded key's row, the causal prefix of a row
      T* sj = st + j * ld;
      const int64_t jg = j0 + j;
      int64_t cut = 0;  // queries [0, cut) of the block do not see key jg
      if (mask.padding && mask.padding[jg])
        cut = ld;
      else if (p.causal)
        cut = std::clamp<int64_t>(jg - off - i0, 0, ld);
      std::fill(sj, sj + cut, neg_inf);
    }
    std::copy(mx, mx + ld, base);
    for (int64_t j = 0; j < jn; ++j) {
      const T* sj = st + j * ld;
#pragma omp simd
      for (int64_t i = 0; i < ld; ++i) base[i] = sj[i] > base[i] ? sj[i] : base[i];
    }
#pragma omp simd
    for (int64_t i = 0; i < ld; ++i) {
      const T m = base[i];
      base[i] = m == neg_inf ? T(0) : m;
      corr[i] = mx[i] - base[i];  // -inf when the old maximum was -inf
      mx[i] = m;
    }
    exp_inplace(corr, ld);
#pragma omp simd
    for (int64_t i = 0; i < ld; ++i) sum[i] *= corr[i];
    for (int64_t j = 0; j < jn; ++j) exp_sub_accumulate(st + j * ld, base, sum, ld);  // P (unnormalized)
    for (int64_t i = 0; i < nq; ++i) {
      if (corr[i] == T(1)) continue;
      T* ai = acc + i * D;
      const T c = corr[i];
#pragma omp simd
      for (int64_t d = 0; d < D; ++d) ai[d] *= c;
    }
    if (dropout) {
      for (int64_t i = 0; i < nq; ++i) {
        dropout_row<T>(p, b, h, i0 + i, j0, jn, keep);
        for (int64_t j = 0; j < jn; ++j) st[j * ld + i] *= keep[j];
      }
    }
    pack_rows(v + j0 * p.v_s.t, p.v_s.t, jn, D, vc);
    // A masked key does not exist for the queries it is hidden from. Its P is exactly 0, but
    // 0·NaN = NaN: a padded key's V row is zeroed here, and a block that hides finite-or-not V
    // rows from some queries (the causal diagonal) takes the slow path when any of them is not
    // finite, so a NaN or inf in a masked value never reaches an output.
    mask.zero_padded(vc, j0, jn, D);
    const int64_t hidden_from = p.causal ? std::clamp<int64_t>(i0 + off + 1 - j0, 0, jn) : jn;  // keys [hidden_from, jn) are hidden from row i0
    if (hidden_from < jn && !all_finite(vc + hidden_from * D, (jn - hidden_from) * D)) {
      for (int64_t i = 0; i < nq; ++i) {
        T* ai = acc + i * D;
        const int64_t visible_end = std::clamp<int64_t>(i0 + i + off + 1 - j0, 0, jn);
        for (int64_t j = 0; j < visible_end; ++j) {
          const T pij = st[j * ld + i];
          const T* vj = vc + j * D;
          for (int64_t d = 0; d < D; ++d) ai[d] += pij * vj[d];
        }
      }
    } else {
      tile_gemm<T, true>(nq, D, jn, st, 1, ld, vc, D, acc, D);  // acc += P·V
    }
  }
  for (int64_t i = 0; i < nq; ++i) {
    T* o = out + i * p.out_s.t;
    const T* ai = acc + i * D;
    if (mask.sees_any(i0 + i)) {  // sum is 0 when every visible score is -inf, NaN after a NaN score: both give NaN
      const T inv = T(1) / sum[i];
      for (int64_t d = 0; d < D; ++d) o[d] = ai[d] * inv;  // sum = 0: acc is 0 (or NaN) too, 0·inf = NaN
      lse[i] = mx[i] + std::log(sum[i]);
    } else {
      std::fill(o, o + D, T(0));
      lse[i] = neg_inf;
    }
  }
}

template <class T>
void forward(const AttentionParams& p) {
  if (p.Tq == 0) return;
  const int64_t nqb = (p.Tq + kBQ - 1) / kBQ;
  parallel_for_each_dynamic(0, p.B * p.H * nqb, [&](int64_t task) {
    const int64_t qb = task % nqb, bh = task / nqb;
    forward_block<T>(p, bh / p.H, bh % p.H, qb);
  });
}

// ---------------------------------------------------------------------------------------------
// Backward

// Gradients of (b, h) for key blocks [kb0, kb1) and query rows [r0, r1): dK, dV of those key
// blocks when want_dkdv (every key of them written, zeros where nothing is seen) and dQ of those
// rows when want_dq (only contributions from the given key blocks: pass all of them).
template <class T>
void backward_range(const AttentionParams& p, int64_t b, int64_t h, int64_t kb0, int64_t kb1, int64_t r0,
                    int64_t r1, bool want_dq, bool want_dkdv) {
  const int64_t D = p.D;
  const RowMask mask(p, b);
  const T* q = static_cast<const T*>(p.q) + b * p.q_s.b + h * p.q_s.h;
  const T* k = static_cast<const T*>(p.k) + b * p.k_s.b + h * p.k_s.h;
  const T* v = static_cast<const T*>(p.v) + b * p.v_s.b + h * p.v_s.h;
  const T* o = static_cast<const T*>(p.out) + b * p.out_s.b + h * p.out_s.h;
  const T* dout = static_cast<const T*>(p.dout) + b * p.dout_s.b + h * p.dout_s.h;
  const T* lse = static_cast<const T*>(p.lse) + (b * p.H + h) * p.Tq;
  T* dq = static_cast<T*>(p.dq) + b * p.dq_s.b + h * p.dq_s.h;
  T* dk = static_cast<T*>(p.dk) + b * p.dk_s.b + h * p.dk_s.h;
  T* dv = static_cast<T*>(p.dv) + b * p.dv_s.b + h * p.dv_s.h;
  const T scale = static_cast<T>(p.scale);
  const bool dropout = p.dropout_p > 0.0;
  const T neg_inf = -std::numeric_limits<T>::infinity();

  Scratch<T>& sc = thread_scratch<T>();
  const int64_t ldk = round_up_nr<T>(kBK);
  T* kt = scratch(sc.kt, D * ldk);
  T* vt = scratch(sc.vt, D * ldk);
  T* s = scratch(sc.s, kBQ * ldk);
  T* dp = scratch(sc.dp, kBQ * ldk);
  T* kc = scratch(sc.kc, kBK * D);
  T* qc = scratch(sc.qc, kBQ * D);
  T* doc = scratch(sc.doc, kBQ * D);
  T* keep = scratch(sc.keep, kBQ * ldk);
  const int64_t nrows = r1 - r0;
  T* dq_acc = want_dq ? scratch(sc.acc, nrows * D) : nullptr;
  T* dkv_acc = want_dkdv ? scratch(sc.acc2, 2 * kBK * D) : nullptr;
  T* delta = scratch(sc.stat, nrows);
  if (want_dq) std::fill(dq_acc, dq_acc + nrows * D, T(0));
  for (int64_t i = r0; i < r1; ++i) {
    const T* a = dout + i * p.dout_s.t;
    const T* c = o + i * p.out_s.t;
    T d = T(0);
    for (int64_t x = 0; x < D; ++x) d += a[x] * c[x];
    delta[i - r0] = d;
  }

  for (int64_t kb = kb0; kb < kb1; ++kb) {
    const int64_t j0 = kb * kBK, jn_all = std::min(kBK, p.Tk - j0);
    const int64_t jn = std::clamp<int64_t>(mask.kend - j0, 0, jn_all);  // keys past kend: padding
    T* dk_acc = dkv_acc;
    T* dv_acc = want_dkdv ? dkv_acc + kBK * D : nullptr;
    if (want_dkdv) std::fill(dkv_acc, dkv_acc + 2 * kBK * D, T(0));
    const int64_t first = std::max(r0, mask.first_row(j0));
    if (jn > 0 && first < r1) {
      const int64_t ld = round_up_nr<T>(jn);
      pack_transposed(k + j0 * p.k_s.t, p.k_s.t, jn, D, kt, ld, T(1));
      pack_transposed(v + j0 * p.v_s.t, p.v_s.t, jn, D, vt, ld, T(1));
      if (want_dq) {
        pack_rows(k + j0 * p.k_s.t, p.k_s.t, jn, D, kc);
        mask.zero_padded(kc, j0, jn, D);  // dQ += dS·K: a padded key's dS is 0, but 0·NaN is not
      }
      // Query blocks aligned to r0 (so dQ rows map to dq_acc), starting at the first that sees j0.
      for (int64_t i0 = r0 + (first - r0) / kBQ * kBQ; i0 < r1; i0 += kBQ) {
        const int64_t nq = std::min(kBQ, r1 - i0);
        pack_rows(q + i0 * p.q_s.t, p.q_s.t, nq, D, qc);  // contiguous (pack.h says why)
        pack_rows(dout + i0 * p.dout_s.t, p.dout_s.t, nq, D, doc);
        tile_gemm<T, false>(nq, ld, D, qc, D, 1, kt, ld, s, ld);
        for (int64_t r = 0; r < nq; ++r) {
          T* sr = s + r * ld;
          const T l = lse[i0 + r];
          const int64_t vis = std::clamp<int64_t>(mask.end(i0 + r) - j0, 0, jn);
          if (l == neg_inf || vis == 0) {
            std::fill(sr, sr + ld, T(0));
            continue;
          }
          exp_affine(sr, vis, scale, l);  // P
          mask.zero_padded(sr, j0, vis, 1);
          std::fill(sr + vis, sr + ld, T(0));
        }
        if (dropout)
          for (int64_t r = 0; r < nq; ++r) dropout_row<T>(p, b, h, i0 + r, j0, jn, keep + r * ld);
        if (want_dkdv) {
          if (dropout) {  // dV += (P ∘ keep)ᵀ · dO; dp holds P ∘ keep for the moment
            for (int64_t r = 0; r < nq; ++r)
              for (int64_t j = 0; j < jn; ++j) dp[r * ld + j] = s[r * ld + j] * keep[r * ld + j];
            tile_gemm<T, true>(jn, D, nq, dp, 1, ld, doc, D, dv_acc, D);
          } else {
            tile_gemm<T, true>(jn, D, nq, s, 1, ld, doc, D, dv_acc, D);
          }
        }
        tile_gemm<T, false>(nq, ld, D, doc, D, 1, vt, ld, dp, ld);  // dP_drop = dO · Vᵀ
        for (int64_t r = 0; r < nq; ++r) {  // dS (scaled), in s
          T* sr = s + r * ld;
          const T* dpr = dp + r * ld;
          const T dl = delta[i0 + r - r0];
          // Only visible keys: a masked key's dP reads its V row, and 0·NaN would carry a NaN or
          // inf in a masked value into dQ and dK (the forward pass never lets it reach an output).
          const int64_t vis = std::clamp<int64_t>(mask.end(i0 + r) - j0, 0, jn);
          if (dropout) {
            const T* kr = keep + r * ld;
            for (int64_t j = 0; j < vis; ++j) sr[j] = scale * sr[j] * (dpr[j] * kr[j] - dl);
          } else {
            for (int64_t j = 0; j < vis; ++j) sr[j] = scale * sr[j] * (dpr[j] - dl);
          }
          std::fill(sr + vis, sr + jn, T(0));
          mask.zero_padded(sr, j0, vis, 1);
        }
        if (want_dq)
          tile_gemm<T, true>(nq, D, jn, s, ld, 1, kc, D, dq_acc + (i0 - r0) * D, D);
        if (want_dkdv) tile_gemm<T, true>(jn, D, nq, s, 1, ld, qc, D, dk_acc, D);
      }
    }
    if (want_dkdv) {
      for (int64_t j = 0; j < jn_all; ++j) {
        std::memcpy(dk + (j0 + j) * p.dk_s.t, dk_acc + j * D, sizeof(T) * D);
        std::memcpy(dv + (j0 + j) * p.dv_s.t, dv_acc + j * D, sizeof(T) * D);
      }
    }
  }
  if (want_dq)
    for (int64_t i = r0; i < r1; ++i) std::memcpy(dq + i * p.dq_s.t, dq_acc + (i - r0) * D, sizeof(T) * D);
}

template <class T>
void backward(const AttentionParams& p) {
  const int64_t nkb = (p.Tk + kBK - 1) / kBK, nqb = (p.Tq + kBQ - 1) / kBQ;
  const int64_t bh = p.B * p.H;
  if (p.Tk == 0) {  // no keys: dq = 0
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t h = 0; h < p.H; ++h)
        for (int64_t i = 0; i < p.Tq; ++i)
          std::fill_n(static_cast<T*>(p.dq) + b * p.dq_s.b + h * p.dq_s.h + i * p.dq_s.t, p.D, T(0));
    return;
  }
  if (bh >= 4 * static_cast<int64_t>(num_threads()) || (nkb <= 1 && nqb <= 1)) {
    parallel_for_each_dynamic(0, bh, [&](int64_t t) {
      backward_range<T>(p, t / p.H, t % p.H, 0, nkb, 0, p.Tq, true, true);
    });
    return;
  }
  parallel_for_each_dynamic(0, bh * nkb, [&](int64_t t) {
    const int64_t x = t / nkb, kb = t % nkb;
    backward_range<T>(p, x / p.H, x % p.H, kb, kb + 1, 0, p.Tq, false, true);
  });
  if (p.Tq == 0) return;
  parallel_for_each_dynamic(0, bh * nqb, [&](int64_t t) {
    const int64_t x = t / nqb, qb = t % nqb;
    backward_range<T>(p, x / p.H, x % p.H, 0, nkb, qb * kBQ, std::min(p.Tq, (qb + 1) * kBQ), true, false);
  });
}

void check_cpu(const AttentionParams& p, bool backward, const char* fn) {
  attention_check_params(p, backward, fn);
  FE_CHECK(p.dtype == AttnDType::kFloat32 || p.dtype == AttnDType::kFloat64, TypeError, fn,
           ": the CPU kernel takes float32 or float64 tensors");
}

}  // namespace

void attention_forward_cpu(const AttentionParams& p) {
  check_cpu(p, false, "attention_forward_cpu");
  if (p.dtype == AttnDType::kFloat64)
    forward<double>(p);
  else
    forward<float>(p);
}

void attention_backward_cpu(const AttentionParams& p) {
  check_cpu(p, true, "attention_backward_cpu");
  if (p.dtype == AttnDType::kFloat64)
    backward<double>(p);
  else
    backward<float>(p);
}

void attention_dropout_mask_cpu(int64_t B, int64_t H, int64_t Tq, int64_t Tk, double p, uint64_t seed,
                                uint64_t offset, uint8_t* mask) {
  FE_CHECK(B >= 0 && H >= 0 && Tq >= 0 && Tk >= 0, ValueError, "attention_dropout_mask: sizes must be >= 0");
  FE_CHECK(p >= 0.0 && p < 1.0, ValueError, "attention_dropout_mask: p must be in [0, 1), got ", p);
  AttentionParams prm;
  prm.B = B;
  prm.H = H;
  prm.Tq = Tq;
  prm.Tk = Tk;
  prm.dropout_p = p;
  prm.seed = seed;
  prm.offset = offset;
  parallel_for(0, B * H * Tq, 16, [&](int64_t lo, int64_t hi) {
    std::vector<float> keep(static_cast<size_t>(Tk));
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t i = row % Tq, bh = row / Tq;
      dropout_row<float>(prm, bh / H, bh % H, i, 0, Tk, keep.data());
      for (int64_t j = 0; j < Tk; ++j) mask[row * Tk + j] = keep[j] != 0.0f;
    }
  });
}

FE_ISA_END
}  // namespace fe
