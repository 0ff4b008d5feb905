// CUDA twin of attention_cpu.cc: fused masked attention (forward and backward) on device
// pointers, for float32, float16 and bfloat16 with float32 accumulation. params.h is the
// contract (layout, masks, dropout stream, empty rows).
//
// Algorithm: FlashAttention-2 (Dao, "FlashAttention-2: Faster Attention with Better Parallelism
// and Work Partitioning", 2023), with the backward split as in its Algorithm 2 but without atomics:
//
//   forward   one CTA per (b, h, block of BM query rows). Q stays in shared memory; the CTA walks
//             the key blocks of BN keys (K, V tiles in shared memory), keeps a running max m and
//             sum l per row (online softmax, base-2 exponent, fp32) and an fp32 output
//             accumulator in registers, and writes out = acc / l and lse = ln(sum exp(scores)).
//   backward  three kernels on the caller's stream:
//             1. delta:  Delta_i = rowsum(dout_i * out_i) into a float32 (B, H, Tq) workspace.
//             2. dk, dv: one CTA per (b, h, block of keys); walks the query blocks that can see
//                them, recomputes P = exp(scale·QKᵀ - lse), and accumulates
//                dV = P_dropᵀ dO and dK = scale · dSᵀ Q in registers, with
//                dS = P ∘ (dP_drop ∘ keep/(1-p) − Delta), dP_drop = dO Vᵀ.
//             3. dq:     one CTA per (b, h, block of queries); walks the key blocks,
//                recomputes P and dS the same way and accumulates dQ = scale · dS K.
//             Every output element is written by exactly one thread, so results are
//             deterministic (bitwise repeatable), at the price of computing S and dP twice.
//
// Work skipped, not just masked: key blocks at or past key_lengths[b], or wholly past the causal
// horizon of the CTA's last query row (forward, dq); query blocks wholly before the causal
// horizon of the CTA's first key (dk, dv). key_padding bits are tested inside the blocks.
//
// Tiling: 128 threads as 8 × 16 (ty, tx). A thread owns rows ty + 8i of its CTA's row block and
// columns tx + 16j of a score tile or of the head dimension, so each row lives in one half-warp
// (row max / sum by __shfl_xor within 16 lanes; the probability tile a half-warp writes to shared
// memory is read back only by that half-warp, so __syncwarp suffices there). Tiles are converted
// to fp32 on the load into shared memory (rows padded by 4 floats: float4-aligned and free of
// bank conflicts for the QKᵀ loop). The head dimension is a template (32, 64, 128, 256); a
// smaller D is zero-padded on the load and masked on the store, so any D in [1, 256] works.
// Tile sizes per head dimension are in `Tiles` below; shared memory stays under 99 KiB so the
// kernels also launch on sm_86 / sm_89.
//
// Dropout bits are regenerated, four keys per Philox call, into a byte tile in shared memory for
// every (query block, key block) pair; keep iff philox_u32(seed, offset + (b·H + h)·Tq + i, j)
// >= attention_dropout_threshold(p), exactly as the CPU kernel and attention_dropout_mask_cpu.
//
// Left out on purpose: tensor cores (WMMA / mma.sync) and cp.async pipelining (a clean fp32-FMA
// tiling first; half types pay the fp32 rate), split-KV for very long Tk with few query rows,
// float64 (CPU only), head dimensions above 256, and in-kernel validation of key_lengths values
// (they live on the device: values are clamped to [0, Tk]).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "attention/params.h"
#include "common/error.h"
#include "common/rng.h"
#include "cuda/cuda_check.h"

namespace fe {
namespace {

constexpr int kThreads = 128;  // 8 rows (ty) × 16 columns (tx)
constexpr int kTY = 8, kTX = 16;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kMaxHeadDim = 256;
constexpr size_t kSmemLimit = 99 * 1024;  // opt-in maximum of sm_86 / sm_89; sm_80 and sm_90 have more

// ---------------------------------------------------------------------------------------------
// Kernel arguments (one plain struct for all kernels; pointers are cast to the element type).

struct Args {
  const void* q;
  const void* k;
  const void* v;
  const void* dout;
  void* out;   // written by the forward, read by the backward (Delta)
  float* lse;  // (B, H, Tq), written by the forward, read by the backward
  void* dq;
  void* dk;
  void* dv;
  float* delta;  // backward workspace (B, H, Tq)
  AttnStrides q_s, k_s, v_s, out_s, dout_s, dq_s, dk_s, dv_s;
  int64_t B, H, Tq, Tk;
  int D;
  const int64_t* key_lengths;  // (B,) or null
  const uint8_t* key_padding;  // (B, Tk) or null
  int64_t key_padding_sb;
  int causal;
  int dropout;         // dropout_p > 0
  float scale;         // softmax scale
  float scale_log2;    // scale · log2(e): scores go to base 2 before exp2f
  float keep_scale;    // 1 / (1 - dropout_p)
  uint32_t threshold;  // attention_dropout_threshold(dropout_p)
  uint64_t seed, offset;
};

// ---------------------------------------------------------------------------------------------
// Element types

template <class T>
__device__ __forceinline__ float to_f32(T x);
template <>
__device__ __forceinline__ float to_f32<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ float to_f32<__half>(__half x) {
  return __half2float(x);
}
template <>
__device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <class T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ float from_f32<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

__device__ __forceinline__ float f4_get(const float4& v, int k) {
  return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w;
}

// ---------------------------------------------------------------------------------------------
// Tile sizes per (padded) head dimension: BM rows owned by a CTA, BN rows per streamed tile.
// Registers: accumulators RM × DN (× 2 for dk/dv) with RM = BM / 8, DN = kD / 16, stay at <= 64.

template <int kD>
struct Tiles;
template <>
struct Tiles<32> {
  static constexpr int kFwdM = 64, kFwdN = 64, kKvM = 64, kKvN = 32, kQM = 64, kQN = 64;
};
template <>
struct Tiles<64> {
  static constexpr int kFwdM = 64, kFwdN = 64, kKvM = 64, kKvN = 32, kQM = 64, kQN = 32;
};
template <>
struct Tiles<128> {
  static constexpr int kFwdM = 64, kFwdN = 32, kKvM = 32, kKvN = 32, kQM = 32, kQN = 32;
};
template <>
struct Tiles<256> {
  static constexpr int kFwdM = 32, kFwdN = 16, kKvM = 16, kKvN = 16, kQM = 16, kQN = 16;
};

// Shared memory of one CTA that owns BM rows and streams BN rows per step. Float regions
// (offsets in floats): two BM-row tiles (A0, A1), two BN-row tiles (B0, B1), the BM × BN
// probability / dS tile, two per-row vectors of length nvec; then bytes: a dropout tile of
// BM × BN and a per-key flag vector of length nflags. `two_a` = false drops A1 (forward: only Q).
template <int kD, int BM, int BN, bool two_a, int nvec, int nflags>
struct Smem {
  static constexpr int LD = kD + 4;  // row stride of head-dimension tiles (float4-aligned)
  static constexpr int LDP = BN + 4;  // row stride of the BM × BN tile
  static constexpr int a0 = 0;
  static constexpr int a1 = a0 + BM * LD;
  static constexpr int b0 = a1 + (two_a ? BM * LD : 0);
  static constexpr int b1 = b0 + BN * LD;
  static constexpr int p = b1 + BN * LD;
  static constexpr int vec0 = p + BM * LDP;
  static constexpr int vec1 = vec0 + nvec;
  static constexpr int floats = vec1 + nvec;
  static constexpr size_t zbytes = static_cast<size_t>(BM) * BN;
  static constexpr size_t bytes = ((floats * sizeof(float) + zbytes + nflags) + 15) / 16 * 16;
  static_assert(BM % kTY == 0 && BN % kTX == 0 && kD % kTX == 0 && kD % 4 == 0, "tile shape");
  static_assert(floats % 4 == 0, "byte regions must stay 16-byte aligned");
  static_assert(bytes <= kSmemLimit, "shared memory over the sm_86 limit");
};

// ---------------------------------------------------------------------------------------------
// Building blocks (all threads of the CTA call the cooperative ones).

// dst[r * LD + d] = src row (row0 + r), element d, as fp32, for r < rows, d < kD; rows past
// `nrows` and columns past D are zero, so the padded products contribute nothing.
template <class T, int kD, int LD>
__device__ __forceinline__ void load_rows(float* __restrict__ dst, int rows, const T* __restrict__ base,
                                          int64_t row0, int64_t nrows, int64_t stride_t, int D) {
  for (int e = threadIdx.x; e < rows * kD; e += kThreads) {
    const int r = e / kD, d = e % kD;
    const int64_t t = row0 + r;
    float x = 0.f;
    if (t < nrows && d < D) x = to_f32<T>(base[t * stride_t + d]);
    dst[r * LD + d] = x;
  }
}

// load_rows for V (and K where dS·K is formed): rows of keys no query may see (past klen, or marked padded) are loaded as
// zeros, so that their P = 0 cannot meet a NaN or inf there (0·NaN = NaN).
// Returns true when this thread loaded a NaN or inf for a key >= hidden_from (keys some query of
// the block does not see: the causal diagonal); the caller ORs that over the block.
template <class T, int kD, int LD>
__device__ __forceinline__ bool load_value_rows(float* __restrict__ dst, int rows, const T* __restrict__ base,
                                                int64_t row0, int64_t klen, int64_t stride_t, int D,
                                                const Args& a, int64_t b, int64_t hidden_from = INT64_MAX) {
  bool bad = false;
  for (int e = threadIdx.x; e < rows * kD; e += kThreads) {
    const int r = e / kD, d = e % kD;
    const int64_t t = row0 + r;
    float x = 0.f;
    if (t < klen && d < D && (a.key_padding == nullptr || a.key_padding[b * a.key_padding_sb + t] == 0))
      x = to_f32<T>(base[t * stride_t + d]);
    dst[r * LD + d] = x;
    bad |= t >= hidden_from && !isfinite(x);
  }
  return bad;
}

// ok[c] = 1 iff key k0 + c exists, is below key_lengths[b] (klen) and is not marked padded.
__device__ __forceinline__ void load_key_flags(uint8_t* __restrict__ ok, int n, const Args& a, int64_t b,
                                               int64_t k0, int64_t klen) {
  for (int c = threadIdx.x; c < n; c += kThreads) {
    const int64_t j = k0 + c;
    bool keep = j < klen;
    if (keep && a.key_padding != nullptr) keep = a.key_padding[b * a.key_padding_sb + j] == 0;
    ok[c] = keep ? 1 : 0;
  }
}

// Dropout keep bytes z[r * nk + c] for query rows q0 + r (r < nq) and keys k0 + c (c < nk; nk
// and k0 multiples of 4): one Philox block gives the four keys 4m .. 4m+3 of row stream
// offset + (b·H + h)·Tq + i. Rows past Tq and keys past Tk get bits nobody reads.
__device__ __forceinline__ void fill_dropout(uint8_t* __restrict__ z, int nq, int nk, const Args& a,
                                             int64_t bh, int64_t q0, int64_t k0) {
  const int quads = nk / 4;
  const uint64_t row_stream = a.offset + static_cast<uint64_t>(bh) * static_cast<uint64_t>(a.Tq);
  for (int t = threadIdx.x; t < nq * quads; t += kThreads) {
    const int r = t / quads, m = t % quads;
    const uint64_t i = static_cast<uint64_t>(q0 + r);
    const uint64_t j = static_cast<uint64_t>(k0 + 4 * m);
    const U32x4 w = philox_block(a.seed, row_stream + i, j >> 2);
    const uint32_t bits = (w.x >= a.threshold ? 1u : 0u) | (w.y >= a.threshold ? 1u << 8 : 0u) |
                          (w.z >= a.threshold ? 1u << 16 : 0u) | (w.w >= a.threshold ? 1u << 24 : 0u);
    reinterpret_cast<uint32_t*>(z)[t] = bits;  // byte e of word t is z[4t + e] = key 4m + e
  }
}

// c[i][j] = sum_d A[(ty + 8i) * LD + d] · B[(tx + 16j) * LD + d] over d < kD.
template <int RM, int CN, int kD, int LD>
__device__ __forceinline__ void mm_abt(const float* __restrict__ A, const float* __restrict__ B,
                                       float (&c)[RM][CN], int ty, int tx) {
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < CN; ++j) c[i][j] = 0.f;
#pragma unroll 4
  for (int d = 0; d < kD; d += 4) {
    float4 bv[CN];
#pragma unroll
    for (int j = 0; j < CN; ++j) bv[j] = *reinterpret_cast<const float4*>(B + (tx + kTX * j) * LD + d);
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const float4 av = *reinterpret_cast<const float4*>(A + (ty + kTY * i) * LD + d);
#pragma unroll
      for (int j = 0; j < CN; ++j) {
        c[i][j] = fmaf(av.x, bv[j].x, c[i][j]);
        c[i][j] = fmaf(av.y, bv[j].y, c[i][j]);
        c[i][j] = fmaf(av.z, bv[j].z, c[i][j]);
        c[i][j] = fmaf(av.w, bv[j].w, c[i][j]);
      }
    }
  }
}

// acc[i][j] += sum_n P[(ty + 8i) * LDP + n] · B[n * LD + tx + 16j] over n < BN.
template <int RM, int DN, int BN, int LDP, int LD>
__device__ __forceinline__ void mm_pb(const float* __restrict__ P, const float* __restrict__ B,
                                      float (&acc)[RM][DN], int ty, int tx) {
#pragma unroll 2
  for (int n = 0; n < BN; n += 4) {
    float4 pv[RM];
#pragma unroll
    for (int i = 0; i < RM; ++i) pv[i] = *reinterpret_cast<const float4*>(P + (ty + kTY * i) * LDP + n);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      float bv[DN];
#pragma unroll
      for (int j = 0; j < DN; ++j) bv[j] = B[(n + k) * LD + tx + kTX * j];
#pragma unroll
      for (int i = 0; i < RM; ++i) {
        const float pk = f4_get(pv[i], k);
#pragma unroll
        for (int j = 0; j < DN; ++j) acc[i][j] = fmaf(pk, bv[j], acc[i][j]);
      }
    }
  }
}

// mm_pb for a tile on the causal diagonal: terms of keys hidden from a row are skipped, not
// added as 0·V (a NaN or inf in such a value must not reach the row). Rows are q0 + ty + 8i,
// keys k0 + n; key j is visible to row i iff j - i <= Tk - Tq.
template <int RM, int DN, int BN, int LDP, int LD>
__device__ __forceinline__ void mm_pb_causal(const float* __restrict__ P, const float* __restrict__ B,
                                             float (&acc)[RM][DN], int ty, int tx, int64_t q0, int64_t k0,
                                             int64_t off) {
  for (int n = 0; n < BN; ++n) {
    float bv[DN];
#pragma unroll
    for (int j = 0; j < DN; ++j) bv[j] = B[n * LD + tx + kTX * j];
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int r = ty + kTY * i;
      if (k0 + n - (q0 + r) > off) continue;
      const float pk = P[r * LDP + n];
#pragma unroll
      for (int j = 0; j < DN; ++j) acc[i][j] = fmaf(pk, bv[j], acc[i][j]);
    }
  }
}

// Max / sum over the 16 lanes of a half-warp (the lanes that share a row).
__device__ __forceinline__ float half_warp_max(float x) {
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float half_warp_sum(float x) {
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Keys [0, key_limit) of batch b can be visible: key_lengths[b] clamped to [0, Tk].
__device__ __forceinline__ int64_t key_limit(const Args& a, int64_t b) {
  int64_t n = a.Tk;
  if (a.key_lengths != nullptr) {
    const int64_t len = a.key_lengths[b];
    n = len < 0 ? 0 : (len < n ? len : n);
  }
  return n;
}

// First key no row up to `last_row` can see (params.h: attention_causal_end), capped by klen.
__device__ __forceinline__ int64_t key_end(const Args& a, int64_t klen, int64_t last_row) {
  if (!a.causal) return klen;
  int64_t e = last_row + (a.Tk - a.Tq) + 1;
  e = e < 0 ? 0 : (e > a.Tk ? a.Tk : e);
  return e < klen ? e : klen;
}

// Causal visibility of key j from query i: j < attention_causal_end(i) <=> j - i <= Tk - Tq.
__device__ __forceinline__ bool causal_ok(const Args& a, int64_t i, int64_t j) {
  return !a.causal || j - i <= a.Tk - a.Tq;
}

template <class T>
__device__ __forceinline__ const T* head_ptr(const void* p, const AttnStrides& s, int64_t b, int64_t h) {
  return static_cast<const T*>(p) + b * s.b + h * s.h;
}
template <class T>
__device__ __forceinline__ T* head_ptr_mut(void* p, const AttnStrides& s, int64_t b, int64_t h) {
  return static_cast<T*>(p) + b * s.b + h * s.h;
}

// ---------------------------------------------------------------------------------------------
// Forward. Grid: (B·H·ceil(Tq/BM)); block k of a head is query rows [q0, q0 + BM).

template <int kD, int BM, int BN>
using FwdSmem = Smem<kD, BM, BN, /*two_a=*/false, /*nvec=*/0, /*nflags=*/BN + 8>;  // + two int counters

template <class T, int kD, int BM, int BN>
__global__ void __launch_bounds__(kThreads) attention_fwd_kernel(const Args a) {
  using S = FwdSmem<kD, BM, BN>;
  constexpr int RM = BM / kTY, CN = BN / kTX, DN = kD / kTX, LD = S::LD, LDP = S::LDP;
  extern __shared__ float4 smem_f4[];
  float* smem = reinterpret_cast<float*>(smem_f4);
  float* sQ = smem + S::a0;
  float* sK = smem + S::b0;
  float* sV = smem + S::b1;
  float* sP = smem + S::p;
  uint8_t* sZ = reinterpret_cast<uint8_t*>(smem + S::floats);
  uint8_t* sOk = sZ + S::zbytes;
  // Per step parity: how many threads loaded a non-finite value hidden from some row of the block
  // (then the step takes mm_pb_causal, which skips hidden terms; else plain mm_pb). Step k counts
  // in sBad[k & 1]; thread 0 clears the other one after the step's second barrier, when nobody
  // reads it any more and before anybody counts in it again.
  int* sBad = reinterpret_cast<int*>(sOk + BN);
  if (threadIdx.x < 2) sBad[threadIdx.x] = 0;

  const int tx = threadIdx.x % kTX, ty = threadIdx.x / kTX;
  const int64_t nqb = (a.Tq + BM - 1) / BM;
  const int64_t bh = blockIdx.x / nqb;
  const int64_t qb = nqb - 1 - static_cast<int64_t>(blockIdx.x % nqb);  // heavy causal blocks first
  const int64_t b = bh / a.H, h = bh % a.H;
  const int64_t q0 = qb * BM;
  const int64_t last_row = (q0 + BM < a.Tq ? q0 + BM : a.Tq) - 1;
  const int64_t klen = key_limit(a, b);
  const int64_t kv_end = key_end(a, klen, last_row);

  const T* qp = head_ptr<T>(a.q, a.q_s, b, h);
  const T* kp = head_ptr<T>(a.k, a.k_s, b, h);
  const T* vp = head_ptr<T>(a.v, a.v_s, b, h);
  load_rows<T, kD, LD>(sQ, BM, qp, q0, a.Tq, a.q_s.t, a.D);

  float acc[RM][DN];
  float m[RM], l[RM];  // running max (base-2 scaled scores) and sum of exp2(s - m)
  float seen[RM];      // 1 once this lane met a key its row sees (a row that sees none gives zeros)
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
    seen[i] = 0.f;
#pragma unroll
    for (int j = 0; j < DN; ++j) acc[i][j] = 0.f;
  }

  // keys >= hidden_from are hidden from row q0, the block's first (causal); none otherwise
  const int64_t hidden_from = a.causal ? q0 + (a.Tk - a.Tq) + 1 : INT64_MAX;
  for (int64_t kv0 = 0, step = 0; kv0 < kv_end; kv0 += BN, ++step) {
    __syncthreads();  // the previous step is done with sK, sV, sZ, sOk, sBad
    load_rows<T, kD, LD>(sK, BN, kp, kv0, a.Tk, a.k_s.t, a.D);
    if (load_value_rows<T, kD, LD>(sV, BN, vp, kv0, klen, a.v_s.t, a.D, a, b, hidden_from))
      atomicAdd(&sBad[step & 1], 1);
    load_key_flags(sOk, BN, a, b, kv0, klen);
    if (a.dropout) fill_dropout(sZ, BM, BN, a, bh, q0, kv0);
    __syncthreads();
    const bool hidden_bad = sBad[step & 1] != 0;
    if (threadIdx.x == 0) sBad[(step + 1) & 1] = 0;

    float s[RM][CN];
    mm_abt<RM, CN, kD, LD>(sQ, sK, s, ty, tx);

#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int r = ty + kTY * i;
      const int64_t row = q0 + r;
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < CN; ++j) {
        const int c = tx + kTX * j;
        const bool vis = sOk[c] && causal_ok(a, row, kv0 + c);
        s[i][j] = vis ? s[i][j] * a.scale_log2 : -INFINITY;
        seen[i] = vis ? 1.f : seen[i];
        mx = fmaxf(mx, s[i][j]);
      }
      mx = half_warp_max(mx);
      const float m_new = fmaxf(m[i], mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing visible yet: exps are 0
      const float alpha = exp2f(m[i] - m_use);
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < CN; ++j) {
        const int c = tx + kTX * j;
        float pr = exp2f(s[i][j] - m_use);
        sum += pr;  // the normalizer sums probabilities before dropout
        if (a.dropout) pr = sZ[r * BN + c] ? pr * a.keep_scale : 0.f;
        sP[r * LDP + c] = pr;
      }
      sum = half_warp_sum(sum);
      l[i] = l[i] * alpha + sum;
      m[i] = m_new;
#pragma unroll
      for (int j = 0; j < DN; ++j) acc[i][j] *= alpha;
    }
    __syncwarp();  // sP rows of this half-warp are written
    if (hidden_bad)  // a key of the tile hidden from some row holds a NaN or inf: skip hidden terms (rare)
      mm_pb_causal<RM, DN, BN, LDP, LD>(sP, sV, acc, ty, tx, q0, kv0, a.Tk - a.Tq);
    else
      mm_pb<RM, DN, BN, LDP, LD>(sP, sV, acc, ty, tx);
  }

#pragma unroll
  for (int i = 0; i < RM; ++i) seen[i] = half_warp_max(seen[i]);  // every lane, before any leaves the loop below
  T* op = head_ptr_mut<T>(a.out, a.out_s, b, h);
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    const int64_t row = q0 + ty + kTY * i;
    if (row >= a.Tq) continue;
    // A row that sees no key: out = 0, lse = -inf. One that sees keys whose scores are all -inf
    // (l = 0) or meets a NaN score (l = NaN) gives NaN, as softmax does, so divergence shows.
    const bool any = seen[i] > 0.f;
    const float inv = 1.f / l[i];  // l = 0: acc is 0 (or NaN) too, and 0·inf = NaN
    T* orow = op + row * a.out_s.t;
#pragma unroll
    for (int j = 0; j < DN; ++j) {
      const int d = tx + kTX * j;
      if (d < a.D) orow[d] = from_f32<T>(any ? acc[i][j] * inv : 0.f);
    }
    if (tx == 0) a.lse[bh * a.Tq + row] = any ? (m[i] + log2f(l[i])) * kLn2 : -INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward 1: Delta_i = sum_d dout[i, d] · out[i, d] (fp32), one warp per row.

template <class T>
__global__ void __launch_bounds__(kThreads) attention_bwd_delta_kernel(const Args a) {
  const int lane = threadIdx.x % 32;
  const int64_t rows = a.B * a.H * a.Tq;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (kThreads / 32);
  for (int64_t w = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32; w < rows; w += warps) {
    const int64_t bh = w / a.Tq, i = w % a.Tq;
    const int64_t b = bh / a.H, h = bh % a.H;
    const T* o = head_ptr<T>(a.out, a.out_s, b, h) + i * a.out_s.t;
    const T* g = head_ptr<T>(a.dout, a.dout_s, b, h) + i * a.dout_s.t;
    float sum = 0.f;
    for (int d = lane; d < a.D; d += 32) sum = fmaf(to_f32<T>(g[d]), to_f32<T>(o[d]), sum);
#pragma unroll
    for (int o2 = 16; o2 > 0; o2 >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o2);
    if (lane == 0) a.delta[w] = sum;
  }
}

// The element-wise step both gradient kernels share, for one visible-or-not (query row, key)
// pair: from the raw score s = q·k, dpd = dout·v (= dP_drop), the row's lse in base 2 and its
// Delta, returns pd = P·keep/(1-p) (for dV) and ds = P·(dP_drop·keep/(1-p) − Delta) (dS without
// the softmax scale, which dQ and dK apply once at the end). Masked pairs give 0 and 0.
struct GradPair {
  float pd, ds;
};
__device__ __forceinline__ GradPair grad_elem(const Args& a, bool vis, float s, float dpd, float lse2, float delta,
                                              bool keep) {
  const float p = vis ? exp2f(s * a.scale_log2 - lse2) : 0.f;
  const float pd = keep ? p * a.keep_scale : 0.f;
  const float dp = keep ? dpd * a.keep_scale : 0.f;
  // A hidden key's dS is 0, not 0·(dP − Δ): dP reads its V row, which may hold a NaN or inf.
  return GradPair{pd, vis ? p * (dp - delta) : 0.f};
}

// ---------------------------------------------------------------------------------------------
// Backward 2: dK, dV. Grid: (B·H·ceil(Tk/BM)); block k of a head is keys [k0, k0 + BM), the CTA
// streams query blocks of BN rows. Scores are computed transposed (rows = keys).

template <int kD, int BM, int BN>
using KvSmem = Smem<kD, BM, BN, /*two_a=*/true, /*nvec=*/BN, /*nflags=*/BM>;

template <class T, int kD, int BM, int BN>
__global__ void __launch_bounds__(kThreads) attention_bwd_dkdv_kernel(const Args a) {
  using S = KvSmem<kD, BM, BN>;
  constexpr int RM = BM / kTY, CN = BN / kTX, DN = kD / kTX, LD = S::LD, LDP = S::LDP;
  extern __shared__ float4 smem_f4[];
  float* smem = reinterpret_cast<float*>(smem_f4);
  float* sK = smem + S::a0;
  float* sV = smem + S::a1;
  float* sQ = smem + S::b0;
  float* sG = smem + S::b1;  // dout
  float* sP = smem + S::p;   // P_dropᵀ, then dSᵀ (BM keys × BN queries)
  float* sL = smem + S::vec0;  // lse · log2(e) per query row (-inf past Tq)
  float* sDelta = smem + S::vec1;
  uint8_t* sZ = reinterpret_cast<uint8_t*>(smem + S::floats);  // [query r][key c]
  uint8_t* sOk = sZ + S::zbytes;

  const int tx = threadIdx.x % kTX, ty = threadIdx.x / kTX;
  const int64_t nkb = (a.Tk + BM - 1) / BM;
  const int64_t bh = blockIdx.x / nkb, kb = blockIdx.x % nkb;
  const int64_t b = bh / a.H, h = bh % a.H;
  const int64_t k0 = kb * BM;
  const int64_t klen = key_limit(a, b);

  // Queries before q_begin see none of these keys (causal) and none do past key_lengths.
  int64_t q_begin = 0;
  if (k0 >= klen) {
    q_begin = a.Tq;
  } else if (a.causal) {
    const int64_t first = k0 - (a.Tk - a.Tq);  // first query row that sees key k0
    q_begin = first <= 0 ? 0 : first / BN * BN;
  }

  const T* qp = head_ptr<T>(a.q, a.q_s, b, h);
  const T* gp = head_ptr<T>(a.dout, a.dout_s, b, h);
  if (q_begin < a.Tq) {  // otherwise k and v may be null (Tq == 0) and are not needed
    load_rows<T, kD, LD>(sK, BM, head_ptr<T>(a.k, a.k_s, b, h), k0, a.Tk, a.k_s.t, a.D);
    load_rows<T, kD, LD>(sV, BM, head_ptr<T>(a.v, a.v_s, b, h), k0, a.Tk, a.v_s.t, a.D);
    load_key_flags(sOk, BM, a, b, k0, klen);
  }

  float dk[RM][DN], dv[RM][DN];
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < DN; ++j) dk[i][j] = dv[i][j] = 0.f;

  for (int64_t q0 = q_begin; q0 < a.Tq; q0 += BN) {
    __syncthreads();  // the previous step is done with sQ, sG, sL, sDelta, sZ
    load_rows<T, kD, LD>(sQ, BN, qp, q0, a.Tq, a.q_s.t, a.D);
    load_rows<T, kD, LD>(sG, BN, gp, q0, a.Tq, a.dout_s.t, a.D);
    for (int r = threadIdx.x; r < BN; r += kThreads) {
      const int64_t row = q0 + r;
      sL[r] = row < a.Tq ? a.lse[bh * a.Tq + row] * kLog2e : -INFINITY;
      sDelta[r] = row < a.Tq ? a.delta[bh * a.Tq + row] : 0.f;
    }
    if (a.dropout) fill_dropout(sZ, BN, BM, a, bh, q0, k0);
    __syncthreads();

    float s[RM][CN], dp[RM][CN];
    mm_abt<RM, CN, kD, LD>(sK, sQ, s, ty, tx);   // sᵀ[key][query] = k · q
    mm_abt<RM, CN, kD, LD>(sV, sG, dp, ty, tx);  // dP_dropᵀ[key][query] = v · dout
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int c = ty + kTY * i;
#pragma unroll
      for (int j = 0; j < CN; ++j) {
        const int r = tx + kTX * j;
        const int64_t row = q0 + r;
        const float lse2 = sL[r];
        const bool vis = sOk[c] && row < a.Tq && lse2 != -INFINITY && causal_ok(a, row, k0 + c);
        const bool keep = !a.dropout || sZ[r * BM + c];
        const GradPair g = grad_elem(a, vis, s[i][j], dp[i][j], lse2, sDelta[r], keep);
        dp[i][j] = g.ds;  // kept for the dK product below
        sP[c * LDP + r] = g.pd;
      }
    }
    __syncwarp();
    mm_pb<RM, DN, BN, LDP, LD>(sP, sG, dv, ty, tx);  // dV += P_dropᵀ dO
    __syncwarp();                                    // all lanes are done reading P_dropᵀ
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < CN; ++j) sP[(ty + kTY * i) * LDP + tx + kTX * j] = dp[i][j];
    __syncwarp();
    mm_pb<RM, DN, BN, LDP, LD>(sP, sQ, dk, ty, tx);  // dK += dSᵀ Q (scale applied below)
  }

  T* dkp = head_ptr_mut<T>(a.dk, a.dk_s, b, h);
  T* dvp = head_ptr_mut<T>(a.dv, a.dv_s, b, h);
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    const int64_t key = k0 + ty + kTY * i;
    if (key >= a.Tk) continue;
#pragma unroll
    for (int j = 0; j < DN; ++j) {
      const int d = tx + kTX * j;
      if (d < a.D) {
        dkp[key * a.dk_s.t + d] = from_f32<T>(dk[i][j] * a.scale);
        dvp[key * a.dv_s.t + d] = from_f32<T>(dv[i][j]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backward 3: dQ. Grid: (B·H·ceil(Tq/BM)); block k of a head is query rows [q0, q0 + BM), the
// CTA streams key blocks of BN keys as the forward does.

template <int kD, int BM, int BN>
using QSmem = Smem<kD, BM, BN, /*two_a=*/true, /*nvec=*/BM, /*nflags=*/BN>;

template <class T, int kD, int BM, int BN>
__global__ void __launch_bounds__(kThreads) attention_bwd_dq_kernel(const Args a) {
  using S = QSmem<kD, BM, BN>;
  constexpr int RM = BM / kTY, CN = BN / kTX, DN = kD / kTX, LD = S::LD, LDP = S::LDP;
  extern __shared__ float4 smem_f4[];
  float* smem = reinterpret_cast<float*>(smem_f4);
  float* sQ = smem + S::a0;
  float* sG = smem + S::a1;  // dout
  float* sK = smem + S::b0;
  float* sV = smem + S::b1;
  float* sP = smem + S::p;  // dS (BM queries × BN keys)
  float* sL = smem + S::vec0;
  float* sDelta = smem + S::vec1;
  uint8_t* sZ = reinterpret_cast<uint8_t*>(smem + S::floats);  // [query r][key c]
  uint8_t* sOk = sZ + S::zbytes;

  const int tx = threadIdx.x % kTX, ty = threadIdx.x / kTX;
  const int64_t nqb = (a.Tq + BM - 1) / BM;
  const int64_t bh = blockIdx.x / nqb;
  const int64_t qb = nqb - 1 - static_cast<int64_t>(blockIdx.x % nqb);
  const int64_t b = bh / a.H, h = bh % a.H;
  const int64_t q0 = qb * BM;
  const int64_t last_row = (q0 + BM < a.Tq ? q0 + BM : a.Tq) - 1;
  const int64_t klen = key_limit(a, b);
  const int64_t kv_end = key_end(a, klen, last_row);

  const T* kp = head_ptr<T>(a.k, a.k_s, b, h);
  const T* vp = head_ptr<T>(a.v, a.v_s, b, h);
  if (kv_end > 0) {
    load_rows<T, kD, LD>(sQ, BM, head_ptr<T>(a.q, a.q_s, b, h), q0, a.Tq, a.q_s.t, a.D);
    load_rows<T, kD, LD>(sG, BM, head_ptr<T>(a.dout, a.dout_s, b, h), q0, a.Tq, a.dout_s.t, a.D);
    for (int r = threadIdx.x; r < BM; r += kThreads) {
      const int64_t row = q0 + r;
      sL[r] = row < a.Tq ? a.lse[bh * a.Tq + row] * kLog2e : -INFINITY;
      sDelta[r] = row < a.Tq ? a.delta[bh * a.Tq + row] : 0.f;
    }
  }

  float dq[RM][DN];
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < DN; ++j) dq[i][j] = 0.f;

  for (int64_t kv0 = 0; kv0 < kv_end; kv0 += BN) {
    __syncthreads();  // the previous step is done with sK, sV, sZ, sOk
    // Masked keys' rows as zeros: dQ += dS·K must not meet a NaN or inf there (dS is 0, 0·NaN is not).
    load_value_rows<T, kD, LD>(sK, BN, kp, kv0, klen, a.k_s.t, a.D, a, b);
    load_value_rows<T, kD, LD>(sV, BN, vp, kv0, klen, a.v_s.t, a.D, a, b);
    load_key_flags(sOk, BN, a, b, kv0, klen);
    if (a.dropout) fill_dropout(sZ, BM, BN, a, bh, q0, kv0);
    __syncthreads();

    float s[RM][CN], dp[RM][CN];
    mm_abt<RM, CN, kD, LD>(sQ, sK, s, ty, tx);
    mm_abt<RM, CN, kD, LD>(sG, sV, dp, ty, tx);
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int r = ty + kTY * i;
      const int64_t row = q0 + r;
      const float lse2 = sL[r], delta = sDelta[r];
#pragma unroll
      for (int j = 0; j < CN; ++j) {
        const int c = tx + kTX * j;
        const bool vis = sOk[c] && row < a.Tq && lse2 != -INFINITY && causal_ok(a, row, kv0 + c);
        const bool keep = !a.dropout || sZ[r * BN + c];
        sP[r * LDP + c] = grad_elem(a, vis, s[i][j], dp[i][j], lse2, delta, keep).ds;
      }
    }
    __syncwarp();
    mm_pb<RM, DN, BN, LDP, LD>(sP, sK, dq, ty, tx);  // dQ += dS K (scale applied below)
  }

  T* dqp = head_ptr_mut<T>(a.dq, a.dq_s, b, h);
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    const int64_t row = q0 + ty + kTY * i;
    if (row >= a.Tq) continue;
#pragma unroll
    for (int j = 0; j < DN; ++j) {
      const int d = tx + kTX * j;
      if (d < a.D) dqp[row * a.dq_s.t + d] = from_f32<T>(dq[i][j] * a.scale);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

const char* dtype_name(AttnDType t) {
  switch (t) {
    case AttnDType::kFloat32: return "float32";
    case AttnDType::kFloat64: return "float64";
    case AttnDType::kFloat16: return "float16";
    case AttnDType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

void check_cuda_params(const AttentionParams& p, bool backward, const char* fn) {
  attention_check_params(p, backward, fn);
  FE_CHECK(p.dtype == AttnDType::kFloat32 || p.dtype == AttnDType::kFloat16 || p.dtype == AttnDType::kBFloat16,
           TypeError, fn, ": dtype must be float32, float16 or bfloat16 on CUDA, got ", dtype_name(p.dtype),
           " (float64 attention runs on the CPU only)");
  FE_CHECK(p.D <= kMaxHeadDim, ValueError, fn, ": head dimension D must be <= ", kMaxHeadDim, " on CUDA, got D=",
           p.D);
}

Args make_args(const AttentionParams& p) {
  Args a{};
  a.q = p.q;
  a.k = p.k;
  a.v = p.v;
  a.dout = p.dout;
  a.out = p.out;
  a.lse = static_cast<float*>(p.lse);
  a.dq = p.dq;
  a.dk = p.dk;
  a.dv = p.dv;
  a.delta = nullptr;
  a.q_s = p.q_s;
  a.k_s = p.k_s;
  a.v_s = p.v_s;
  a.out_s = p.out_s;
  a.dout_s = p.dout_s;
  a.dq_s = p.dq_s;
  a.dk_s = p.dk_s;
  a.dv_s = p.dv_s;
  a.B = p.B;
  a.H = p.H;
  a.Tq = p.Tq;
  a.Tk = p.Tk;
  a.D = static_cast<int>(p.D);
  a.key_lengths = p.key_lengths;
  a.key_padding = p.key_padding;
  a.key_padding_sb = p.key_padding_sb;
  a.causal = p.causal ? 1 : 0;
  a.dropout = p.dropout_p > 0.0 ? 1 : 0;
  a.scale = static_cast<float>(p.scale);
  a.scale_log2 = static_cast<float>(p.scale * 1.4426950408889634);
  a.keep_scale = static_cast<float>(1.0 / (1.0 - p.dropout_p));
  a.threshold = attention_dropout_threshold(p.dropout_p);
  a.seed = p.seed;
  a.offset = p.offset;
  return a;
}

// One CTA per (b, h, block of `block` rows out of `rows`); gridDim.x is limited to 2^31 - 1.
unsigned int grid_size(const AttentionParams& p, int64_t rows, int block, const char* fn) {
  const int64_t per_head = (rows + block - 1) / block;
  FE_CHECK(per_head <= std::numeric_limits<int32_t>::max() / p.B / p.H, ValueError, fn,
           ": too many thread blocks for one launch (B=", p.B, " H=", p.H, " T=", rows, ")");
  return static_cast<unsigned int>(per_head * p.B * p.H);
}

template <class Kernel>
void launch(Kernel kernel, unsigned int grid, size_t smem, cudaStream_t stream, const Args& a) {
  FE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  kernel<<<grid, kThreads, smem, stream>>>(a);
  FE_CUDA_CHECK_LAUNCH();
}

template <class T, int kD>
void forward_dispatch(const AttentionParams& p, const Args& a, cudaStream_t stream, const char* fn) {
  constexpr int BM = Tiles<kD>::kFwdM, BN = Tiles<kD>::kFwdN;
  launch(attention_fwd_kernel<T, kD, BM, BN>, grid_size(p, p.Tq, BM, fn), FwdSmem<kD, BM, BN>::bytes, stream, a);
}

template <class T, int kD>
void backward_dispatch(const AttentionParams& p, const Args& a, cudaStream_t stream, const char* fn) {
  constexpr int KM = Tiles<kD>::kKvM, KN = Tiles<kD>::kKvN, QM = Tiles<kD>::kQM, QN = Tiles<kD>::kQN;
  if (p.Tq > 0) {
    const int64_t rows = p.B * p.H * p.Tq;
    attention_bwd_delta_kernel<T><<<cuda_blocks(rows, kThreads / 32), kThreads, 0, stream>>>(a);
    FE_CUDA_CHECK_LAUNCH();
  }
  if (p.Tk > 0)  // also when Tq == 0: dk and dv are overwritten with zeros
    launch(attention_bwd_dkdv_kernel<T, kD, KM, KN>, grid_size(p, p.Tk, KM, fn), KvSmem<kD, KM, KN>::bytes,
           stream, a);
  if (p.Tq > 0)  // also when Tk == 0: dq is overwritten with zeros
    launch(attention_bwd_dq_kernel<T, kD, QM, QN>, grid_size(p, p.Tq, QM, fn), QSmem<kD, QM, QN>::bytes, stream,
           a);
}

template <class T, template <class, int> class Body>
void by_head_dim(const AttentionParams& p, const Args& a, cudaStream_t stream, const char* fn) {
  if (p.D <= 32)
    Body<T, 32>::run(p, a, stream, fn);
  else if (p.D <= 64)
    Body<T, 64>::run(p, a, stream, fn);
  else if (p.D <= 128)
    Body<T, 128>::run(p, a, stream, fn);
  else
    Body<T, 256>::run(p, a, stream, fn);
}

template <class T, int kD>
struct ForwardBody {
  static void run(const AttentionParams& p, const Args& a, cudaStream_t s, const char* fn) {
    forward_dispatch<T, kD>(p, a, s, fn);
  }
};
template <class T, int kD>
struct BackwardBody {
  static void run(const AttentionParams& p, const Args& a, cudaStream_t s, const char* fn) {
    backward_dispatch<T, kD>(p, a, s, fn);
  }
};

template <template <class, int> class Body>
void by_dtype(const AttentionParams& p, const Args& a, cudaStream_t stream, const char* fn) {
  switch (p.dtype) {
    case AttnDType::kFloat32: by_head_dim<float, Body>(p, a, stream, fn); break;
    case AttnDType::kFloat16: by_head_dim<__half, Body>(p, a, stream, fn); break;
    case AttnDType::kBFloat16: by_head_dim<__nv_bfloat16, Body>(p, a, stream, fn); break;
    default: FE_FAIL(TypeError, fn, ": unsupported dtype ", dtype_name(p.dtype));
  }
}

// Stream-ordered workspace: freed on the stream after the kernels that use it, also when a
// launch check throws.
struct StreamBuffer {
  void* ptr = nullptr;
  cudaStream_t stream;
  StreamBuffer(size_t bytes, cudaStream_t s) : stream(s) {
    if (bytes > 0) FE_CUDA_CHECK(cudaMallocAsync(&ptr, bytes, stream));
  }
  ~StreamBuffer() {
    if (ptr != nullptr && cudaFreeAsync(ptr, stream) != cudaSuccess) (void)cudaGetLastError();
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
};

}  // namespace

void attention_forward_cuda(const AttentionParams& p, void* stream) {
  constexpr const char* fn = "attention_forward_cuda";
  check_cuda_params(p, /*backward=*/false, fn);
  if (p.Tq == 0) return;  // Tk == 0 still launches: out = 0, lse = -inf
  by_dtype<ForwardBody>(p, make_args(p), static_cast<cudaStream_t>(stream), fn);
}

void attention_backward_cuda(const AttentionParams& p, void* stream) {
  constexpr const char* fn = "attention_backward_cuda";
  check_cuda_params(p, /*backward=*/true, fn);
  if (p.Tq == 0 && p.Tk == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  Args a = make_args(p);
  StreamBuffer delta(static_cast<size_t>(p.B * p.H * p.Tq) * sizeof(float), s);  // (B, H, Tq)
  a.delta = static_cast<float*>(delta.ptr);
  by_dtype<BackwardBody>(p, a, s, fn);
}

}  // namespace fe
