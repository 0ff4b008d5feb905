// word2vec on CUDA: skip-gram (per-pair negatives, or one draw shared by a window as in pWord2Vec)
// and CBOW with negative sampling (Mikolov et al. 2013; Ji et al. 2016 for shared negatives), Hogwild
// across warps (Recht et al. 2011). The semantics are the CPU trainer's (train.h / train.cc); the
// design is in train_cuda.h.
//
// One epoch is four launches on the caller's stream:
//   keep_kernel      flag[x] = 1 when corpus position x survives subsampling (Philox draw x of
//                    subsequence 0 against the word's threshold), flag[N] = 0;
//   cub ExclusiveSum in place: pos[x] = kept words before x, pos[N] = K;
//   compact_kernel   kept_ids[pos[x]] = ids[x], kept_orig[pos[x]] = x for kept x, and
//   kept_off_kernel  kept_off[s] = pos[offsets[s]] (each sentence's range in the kept stream);
//   train_kernel     one warp per centre word (a contiguous chunk of centres per warp).
//
// Per centre kp (its own Philox subsequence kp + 1 of the epoch key; element 0 shrinks the
// window, elements 2n+2 and 2n+3 form the 64 bits of negative draw n):
//   skip-gram, per pair:  context t draws negatives t·negative + [0, negative);
//   skip-gram, shared:    negatives [0, negative) for the context words before the centre,
//                         [negative, 2·negative) for those after (the pairs still in turn);
//   CBOW:                 negatives [0, negative) against the window's mean (or sum).
// A draw equal to the centre is dropped, as on the CPU. Lane l owns vector elements l, l+32, ...
// of every row the warp touches, so a warp's own reads after its writes need no barrier; scores
// are warp-shuffle sums (an xor butterfly: every lane gets the same bits, so branches on a score
// are warp-uniform). Loss (double) and pair counts are summed per warp and added atomically once.
//
// Left out on purpose: tensor-core batching of windows, fp16 weights, a deterministic mode.
#include "word2vec/train_cuda.h"

#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "cuda/cuda_check.h"
#include "word2vec/sampler.h"

namespace fe::w2v {
namespace {

// σ and log σ tables over [-kMaxExp, kMaxExp], built as train.cc builds them.
constexpr float kMaxExp = 6.0f;
constexpr int kTable = 1000;
constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxWarpsPerBlock = 8;
constexpr int kThreads = kMaxWarpsPerBlock * kWarp;
constexpr int kFillThreads = 256;
// A warp trains at least this many consecutive centres (when the corpus allows): on a small
// corpus fewer warps race on the same rows.
constexpr int64_t kMinCentresPerWarp = 1024;
constexpr int64_t kMaxWindowOrNegative = int64_t{1} << 24;  // keeps workspace sizes far from overflow

enum Mode : int { kSgPairs = 0, kSgShared = 1, kCbow = 2 };

struct Args {
  float* syn0;                 // (V, D)
  float* syn1neg;              // (V, D)
  const int32_t* kept_ids;     // (K,)
  const int64_t* kept_orig;    // (K,) original positions (for the learning rate)
  const int64_t* kept_off;     // (S + 1,) sentence starts in the kept stream; kept_off[S] = K
  const uint2* alias;          // (V,) (prob, alias) columns
  const float* sigmoid;        // (kTable + 1,)
  const float* log_sigmoid;    // (kTable + 1,)
  int64_t V, D, S, N;
  int64_t window, negative;
  int mode;
  bool cbow_mean;
  int64_t epochs, epoch;
  double alpha, min_alpha;
  uint64_t key;  // the epoch's Philox key
  int64_t warps; // warps in the grid; warp w trains centres [w·K/warps, (w+1)·K/warps)
  // Per-warp workspace in shared memory, in 4-byte words from the warp's base.
  int64_t ws_words, off_e, off_h, off_ctx, off_outs;
  double* loss;
  unsigned long long* pairs;
};

// ---------------------------------------------------------------------------------------------
// Device helpers

// (f + 6) · (1000 / 12) + 0.5 rounded as the CPU rounds it (no FMA contraction), truncated.
__device__ __forceinline__ int table_index(float f) {
  return static_cast<int>(__fadd_rn(__fmul_rn(__fadd_rn(f, kMaxExp), kTable / (2 * kMaxExp)), 0.5f));
}

// label − σ(f), 0 outside (-6, 6) and for NaN (gensim's no-update rule; train.cc grad_scale).
__device__ __forceinline__ float grad_scale(float f, float label, const float* sigmoid) {
  if (!(f > -kMaxExp && f < kMaxExp)) return 0.0f;
  return label - sigmoid[table_index(f)];
}

// −log σ(x) (train.cc nll).
__device__ __forceinline__ double nll(float x, const float* log_sigmoid) {
  if (isnan(x)) return static_cast<double>(x);
  if (x >= kMaxExp) return exp(-static_cast<double>(x));
  if (x <= -kMaxExp) return -static_cast<double>(x) + log1p(exp(static_cast<double>(x)));
  return -static_cast<double>(log_sigmoid[table_index(x)]);
}

// Sum over the warp; every lane gets the same bits (each butterfly step adds the same two
// values on both partners, and float addition is commutative).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// x · y over D elements, lane l taking l, l + 32, ...; the whole warp must call it.
__device__ __forceinline__ float warp_dot(const float* x, const float* y, int64_t D, int lane) {
  float s = 0.0f;
  for (int64_t i = lane; i < D; i += kWarp) s += x[i] * y[i];
  return warp_sum(s);
}

// Draw n (64 bits) of a centre's stream: elements 2n+2 (high half) and 2n+3 (low half).
__device__ __forceinline__ uint64_t centre_draw(uint64_t key, uint64_t sub, uint64_t n) {
  const uint64_t e = 2 * n + 2;
  const U32x4 b = philox_block(key, sub, e >> 2);
  const int w = static_cast<int>(e & 3);  // 0 or 2
  return (static_cast<uint64_t>(u32x4_get(b, w)) << 32) | u32x4_get(b, w + 1);
}

// AliasSampler::sample on the device copy of its table.
__device__ __forceinline__ int32_t alias_sample(const uint2* table, int64_t V, uint64_t bits) {
  const uint32_t col = static_cast<uint32_t>(((bits >> 32) * static_cast<uint64_t>(V)) >> 32);
  const uint2 e = table[col];
  return static_cast<uint32_t>(bits) < e.x ? static_cast<int32_t>(col) : static_cast<int32_t>(e.y);
}

// outs[0] = centre, then draws n0 .. n0 + negative − 1 that differ from the centre, in draw
// order (lanes draw 32 at a time; a ballot packs them). Returns the number of outputs k.
__device__ __forceinline__ int draw_outputs(const Args& a, uint64_t sub, uint64_t n0, int32_t centre, int32_t* outs, int lane) {
  __syncwarp();  // earlier readers of outs are done
  if (lane == 0) outs[0] = centre;
  int k = 1;
  for (int64_t base = 0; base < a.negative; base += kWarp) {
    const int64_t d = base + lane;
    int32_t target = centre;
    if (d < a.negative) target = alias_sample(a.alias, a.V, centre_draw(a.key, sub, n0 + static_cast<uint64_t>(d)));
    const bool keep = target != centre;
    const unsigned mask = __ballot_sync(kFullMask, keep);
    if (keep) outs[k + __popc(mask & ((1u << lane) - 1u))] = target;
    k += __popc(mask);
  }
  __syncwarp();
  return k;
}

// The learning rate at corpus position x of this epoch: linear over all epochs' words.
__device__ __forceinline__ float centre_alpha(const Args& a, int64_t x) {
  const double run = fmax(1.0, static_cast<double>(a.epochs) * static_cast<double>(a.N));
  const double frac = (static_cast<double>(a.epoch) * static_cast<double>(a.N) + static_cast<double>(x)) / run;
  return static_cast<float>(fmax(a.min_alpha, a.alpha - (a.alpha - a.min_alpha) * frac));
}

// ---------------------------------------------------------------------------------------------
// Kernels

__global__ void keep_kernel(const int32_t* ids, int64_t N, const uint32_t* thresholds, bool subsample, uint64_t key,
                            int64_t* flags) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; x < N; x += stride) {
    // train.cc drops a word when its threshold < the draw.
    const bool keep = !subsample || philox_u32(key, 0, static_cast<uint64_t>(x)) <= thresholds[ids[x]];
    flags[x] = keep ? 1 : 0;
  }
}

__global__ void compact_kernel(const int32_t* ids, int64_t N, const int64_t* pos, int32_t* kept_ids,
                               int64_t* kept_orig) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; x < N; x += stride) {
    const int64_t p = pos[x];
    if (pos[x + 1] != p) {
      kept_ids[p] = ids[x];
      kept_orig[p] = x;
    }
  }
}

__global__ void kept_off_kernel(const int64_t* offsets, int64_t S, const int64_t* pos, int64_t* kept_off) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; s <= S; s += stride)
    kept_off[s] = pos[offsets[s]];
}

// Skip-gram: word2vec.c's inner loop over the window's (context, centre) pairs, with fresh
// negatives per pair or (shared) one draw for the `left` context words before the centre and one
// for those after it.
__device__ __forceinline__ void sg_pairs(const Args& a, int32_t centre, const int32_t* ctx, int64_t m, int64_t left,
                         uint64_t sub, float alpha, bool shared, float* e, int32_t* outs, int lane, double& loss,
                         unsigned long long& pairs) {
  const int64_t D = a.D;
  int k = 0;
  for (int64_t t = 0; t < m; ++t) {
    if (!shared)
      k = draw_outputs(a, sub, static_cast<uint64_t>(t * a.negative), centre, outs, lane);
    else if (t == 0 || t == left)
      k = draw_outputs(a, sub, t < left ? 0 : static_cast<uint64_t>(a.negative), centre, outs, lane);
    float* v = a.syn0 + static_cast<int64_t>(ctx[t]) * D;
    for (int64_t i = lane; i < D; i += kWarp) e[i] = 0.0f;
    for (int s = 0; s < k; ++s) {
      float* u = a.syn1neg + static_cast<int64_t>(outs[s]) * D;
      const float f = warp_dot(v, u, D, lane);
      const float label = s == 0 ? 1.0f : 0.0f;
      if (lane == 0) loss += nll(s == 0 ? f : -f, a.log_sigmoid);
      const float g = grad_scale(f, label, a.sigmoid) * alpha;
      if (g != 0.0f) {  // warp-uniform; a zero update writes nothing (no Hogwild clobbering)
        for (int64_t i = lane; i < D; i += kWarp) {
          const float ui = u[i];
          e[i] += g * ui;
          u[i] = ui + g * v[i];
        }
      }
    }
    for (int64_t i = lane; i < D; i += kWarp) v[i] += e[i];
    pairs += static_cast<unsigned long long>(k);
  }
}

// CBOW: the window's mean (cbow_mean) or sum predicts the centre; its gradient goes to every
// window word (divided by the window size for a sum, as gensim does).
__device__ __forceinline__ void cbow(const Args& a, int32_t centre, const int32_t* ctx, int64_t m, uint64_t sub, float alpha,
                     float* h, float* e, int32_t* outs, int lane, double& loss, unsigned long long& pairs) {
  const int64_t D = a.D;
  for (int64_t i = lane; i < D; i += kWarp) {
    h[i] = 0.0f;
    e[i] = 0.0f;
  }
  for (int64_t r = 0; r < m; ++r) {
    const float* c = a.syn0 + static_cast<int64_t>(ctx[r]) * D;
    for (int64_t i = lane; i < D; i += kWarp) h[i] += c[i];
  }
  const float inv = 1.0f / static_cast<float>(m);
  if (a.cbow_mean)
    for (int64_t i = lane; i < D; i += kWarp) h[i] *= inv;
  const int k = draw_outputs(a, sub, 0, centre, outs, lane);
  for (int s = 0; s < k; ++s) {
    float* u = a.syn1neg + static_cast<int64_t>(outs[s]) * D;
    const float f = warp_dot(h, u, D, lane);
    if (lane == 0) loss += nll(s == 0 ? f : -f, a.log_sigmoid);
    const float g = grad_scale(f, s == 0 ? 1.0f : 0.0f, a.sigmoid) * alpha;
    if (g != 0.0f) {
      for (int64_t i = lane; i < D; i += kWarp) {
        const float ui = u[i];
        e[i] += g * ui;
        u[i] = ui + g * h[i];
      }
    }
  }
  if (!a.cbow_mean)
    for (int64_t i = lane; i < D; i += kWarp) e[i] *= inv;
  for (int64_t r = 0; r < m; ++r) {
    float* c = a.syn0 + static_cast<int64_t>(ctx[r]) * D;
    for (int64_t i = lane; i < D; i += kWarp) c[i] += e[i];
  }
  pairs += static_cast<unsigned long long>(k);
}

__global__ void __launch_bounds__(kThreads, 2) train_kernel(const Args a) {
  extern __shared__ float smem[];
  const int lane = static_cast<int>(threadIdx.x) & (kWarp - 1);
  const int warp_in_block = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t w = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarp) + warp_in_block;
  if (w >= a.warps) return;  // whole warps only
  float* ws = smem + warp_in_block * a.ws_words;
  float* e = ws + a.off_e;
  float* h = ws + a.off_h;
  int32_t* ctx = reinterpret_cast<int32_t*>(ws + a.off_ctx);
  int32_t* outs = reinterpret_cast<int32_t*>(ws + a.off_outs);

  const int64_t K = a.kept_off[a.S];
  const int64_t begin = w * K / a.warps, end = (w + 1) * K / a.warps;
  double loss = 0.0;
  unsigned long long pairs = 0;
  int64_t s = 0;  // the sentence of centre kp: kept_off[s] <= kp < kept_off[s + 1]
  if (begin < end) {
    int64_t lo = 0, hi = a.S;  // kept_off[lo] <= begin < kept_off[hi]
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (a.kept_off[mid] <= begin)
        lo = mid;
      else
        hi = mid;
    }
    s = lo;
  }
  for (int64_t kp = begin; kp < end; ++kp) {
    while (a.kept_off[s + 1] <= kp) ++s;
    const int64_t ks = a.kept_off[s], ke = a.kept_off[s + 1];
    const uint64_t sub = static_cast<uint64_t>(kp) + 1;  // subsequence 0 is subsampling's
    const uint32_t r0 = philox_block(a.key, sub, 0).x;
    const int64_t b =
        a.window - static_cast<int64_t>((static_cast<uint64_t>(r0) * static_cast<uint64_t>(a.window)) >> 32);  // [1, window]
    const int64_t lo = max(ks, kp - b), hi = min(ke, kp + b + 1);
    const int64_t m = hi - lo - 1;  // context words
    if (m <= 0) continue;
    __syncwarp();  // earlier readers of ctx are done
    for (int64_t j = lo + lane; j < hi; j += kWarp)
      if (j != kp) ctx[j < kp ? j - lo : j - lo - 1] = a.kept_ids[j];
    __syncwarp();
    const int32_t centre = a.kept_ids[kp];
    const float alpha = centre_alpha(a, a.kept_orig[kp]);
    if (a.mode != kCbow)
      sg_pairs(a, centre, ctx, m, kp - lo, sub, alpha, a.mode == kSgShared, e, outs, lane, loss, pairs);
    else
      cbow(a, centre, ctx, m, sub, alpha, h, e, outs, lane, loss, pairs);
  }
  if (lane == 0) {
    atomicAdd(a.loss, loss);
    atomicAdd(a.pairs, pairs);
  }
}

// ---------------------------------------------------------------------------------------------
// Host helpers

// train.cc's check_train_params for the fields the CUDA trainer reads, plus its own limits.
void check_params(const TrainParams& p) {
  constexpr const char* fn = "word2vec (cuda)";
  FE_CHECK(p.window >= 1 && p.window <= kMaxWindowOrNegative, ValueError, fn, ": window must be in [1, ",
           kMaxWindowOrNegative, "], got ", p.window);
  FE_CHECK(p.negative >= 1 && p.negative <= kMaxWindowOrNegative, ValueError, fn, ": negative must be in [1, ",
           kMaxWindowOrNegative, "], got ", p.negative);
  FE_CHECK(p.epochs >= 1 && p.epoch >= 0 && p.epoch < p.epochs, ValueError, fn, ": epoch ", p.epoch,
           " is outside [0, epochs = ", p.epochs, ")");
  FE_CHECK(p.sample >= 0.0 && std::isfinite(p.sample), ValueError, fn, ": sample must be >= 0, got ", p.sample);
  FE_CHECK(p.alpha > 0.0 && p.min_alpha >= 0.0 && std::isfinite(p.alpha) && std::isfinite(p.min_alpha), ValueError,
           fn, ": alpha must be > 0 and min_alpha >= 0, got ", p.alpha, " and ", p.min_alpha);
  FE_CHECK(std::isfinite(p.ns_exponent), ValueError, fn, ": ns_exponent must be finite, got ", p.ns_exponent);
}

uint64_t epoch_key(uint64_t seed, int64_t epoch) {
  SplitMix64 s(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1)));
  return s.next();
}

template <class T>
T* device_alloc(int64_t n) {
  void* p = nullptr;
  FE_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T)));
  return static_cast<T*>(p);
}

// Makes `device` current for a scope and restores the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    FE_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) {
      FE_CUDA_CHECK(cudaSetDevice(device));
      changed_ = true;
    }
  }
  ~DeviceScope() {
    if (changed_) (void)cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

}  // namespace

Word2VecCuda::Word2VecCuda(const float* syn0, const float* syn1neg, int64_t V, int64_t D, const int32_t* ids,
                           int64_t n_ids, const int64_t* offsets, int64_t n_sentences, const int64_t* counts) {
  constexpr const char* fn = "Word2VecCuda";
  FE_CHECK(V >= 1 && V < (int64_t{1} << 31), ValueError, fn, ": vocabulary size must be in [1, 2^31), got ", V);
  FE_CHECK(D >= 1 && D < (int64_t{1} << 31), ValueError, fn, ": vector_size must be in [1, 2^31), got ", D);
  FE_CHECK(n_ids >= 0 && n_sentences >= 0, ValueError, fn, ": negative sizes (", n_ids, " ids, ", n_sentences,
           " sentences)");
  FE_CHECK(syn0 && syn1neg && counts && offsets && (ids || n_ids == 0), ValueError, fn, ": null array");
  FE_CHECK(offsets[0] >= 0 && offsets[n_sentences] <= n_ids, ValueError, fn,
           ": 'offsets' must lie in [0, len(ids) = ", n_ids, "]");
  for (int64_t s = 0; s < n_sentences; ++s)
    FE_CHECK(offsets[s] <= offsets[s + 1], ValueError, fn, ": 'offsets' must be non-decreasing (at ", s, ")");
  const int64_t first = offsets[0];
  for (int64_t i = first; i < offsets[n_sentences]; ++i)
    FE_CHECK(ids[i] >= 0 && ids[i] < V, IndexError, fn, ": token id ", ids[i], " at position ", i,
             " of 'ids' is outside the vocabulary [0, ", V, ")");
  int64_t total = 0;
  for (int64_t i = 0; i < V; ++i) {
    FE_CHECK(counts[i] >= 0, ValueError, fn, ": 'counts' must be >= 0, got ", counts[i], " for word ", i);
    total += counts[i];
  }
  FE_CHECK(total > 0, ValueError, fn, ": every word count is 0; nothing to sample");

  V_ = V;
  D_ = D;
  S_ = n_sentences;
  N_ = offsets[n_sentences] - first;
  counts_.assign(counts, counts + V);
  FE_CUDA_CHECK(cudaGetDevice(&device_));
  std::vector<int64_t> rel(static_cast<size_t>(S_ + 1));
  for (int64_t s = 0; s <= S_; ++s) rel[static_cast<size_t>(s)] = offsets[s] - first;
  std::vector<float> tables(2 * (kTable + 1));
  for (int i = 0; i <= kTable; ++i) {  // train.cc's Tables
    const double x = (2.0 * i / kTable - 1.0) * kMaxExp;
    tables[static_cast<size_t>(i)] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    tables[static_cast<size_t>(kTable + 1 + i)] = static_cast<float>(-std::log1p(std::exp(-x)));
  }
  try {
    const size_t mat = static_cast<size_t>(V) * static_cast<size_t>(D) * sizeof(float);
    syn0_ = device_alloc<float>(V * D);
    syn1neg_ = device_alloc<float>(V * D);
    // Hogwild (Recht et al. 2011): warps update shared embedding rows without locks, by design.
    FE_CUDA_BENIGN_RACE(syn0_, mat, "word2vec syn0: Hogwild row updates");
    FE_CUDA_BENIGN_RACE(syn1neg_, mat, "word2vec syn1neg: Hogwild row updates");
    ids_ = device_alloc<int32_t>(N_);
    offsets_ = device_alloc<int64_t>(S_ + 1);
    kept_pos_ = device_alloc<int64_t>(N_ + 1);
    kept_orig_ = device_alloc<int64_t>(N_);
    kept_ids_ = device_alloc<int32_t>(N_);
    kept_off_ = device_alloc<int64_t>(S_ + 1);
    thresholds_ = device_alloc<uint32_t>(V);
    alias_ = device_alloc<uint32_t>(2 * V);
    tables_ = device_alloc<float>(2 * (kTable + 1));
    loss_ = device_alloc<double>(1);
    pairs_ = device_alloc<unsigned long long>(1);
    FE_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_temp_bytes_, kept_pos_, N_ + 1));
    scan_temp_ = device_alloc<unsigned char>(static_cast<int64_t>(scan_temp_bytes_));
    FE_CUDA_CHECK(cudaMemcpy(syn0_, syn0, mat, cudaMemcpyHostToDevice));
    FE_CUDA_CHECK(cudaMemcpy(syn1neg_, syn1neg, mat, cudaMemcpyHostToDevice));
    if (N_ > 0)
      FE_CUDA_CHECK(cudaMemcpy(ids_, ids + first, static_cast<size_t>(N_) * sizeof(int32_t), cudaMemcpyHostToDevice));
    FE_CUDA_CHECK(cudaMemcpy(offsets_, rel.data(), rel.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
    FE_CUDA_CHECK(cudaMemcpy(tables_, tables.data(), tables.size() * sizeof(float), cudaMemcpyHostToDevice));
    // A pageable host-to-device copy may still be in flight when cudaMemcpy returns; later work
    // runs on the caller's stream, which need not order after the legacy default stream.
    FE_CUDA_CHECK(cudaDeviceSynchronize());
  } catch (...) {
    free_all();
    throw;
  }
}

Word2VecCuda::~Word2VecCuda() {
  int previous = 0;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device_ &&
                        cudaSetDevice(device_) == cudaSuccess;
  free_all();
  if (switched) (void)cudaSetDevice(previous);
  (void)cudaGetLastError();  // a destructor reports nothing
}

void Word2VecCuda::free_all() noexcept {
  void* ptrs[] = {syn0_,     syn1neg_, ids_,  offsets_, kept_pos_, kept_orig_, kept_ids_, kept_off_,
                  thresholds_, alias_, tables_, loss_, pairs_, scan_temp_};
  for (void* p : ptrs)
    if (p) (void)cudaFree(p);
  syn0_ = syn1neg_ = tables_ = nullptr;
  ids_ = kept_ids_ = nullptr;
  offsets_ = kept_pos_ = kept_orig_ = kept_off_ = nullptr;
  thresholds_ = alias_ = nullptr;
  loss_ = nullptr;
  pairs_ = nullptr;
  scan_temp_ = nullptr;
}

void Word2VecCuda::build_tables(double sample, double ns_exponent) {
  if (built_ && sample == built_sample_ && ns_exponent == built_exponent_) return;
  const AliasSampler sampler(counts_.data(), V_, ns_exponent);
  std::vector<uint32_t> alias(static_cast<size_t>(2 * V_)), keep(static_cast<size_t>(V_));
  for (int64_t c = 0; c < V_; ++c) {
    alias[static_cast<size_t>(2 * c)] = sampler.prob(c);
    alias[static_cast<size_t>(2 * c + 1)] = static_cast<uint32_t>(sampler.alias(c));
  }
  keep_thresholds(counts_.data(), V_, sample, keep.data());
  built_ = false;
  FE_CUDA_CHECK(cudaMemcpy(alias_, alias.data(), alias.size() * sizeof(uint32_t), cudaMemcpyHostToDevice));
  FE_CUDA_CHECK(cudaMemcpy(thresholds_, keep.data(), keep.size() * sizeof(uint32_t), cudaMemcpyHostToDevice));
  FE_CUDA_CHECK(cudaDeviceSynchronize());  // see the constructor
  built_ = true;
  built_sample_ = sample;
  built_exponent_ = ns_exponent;
}

void Word2VecCuda::train_epoch(TrainParams& p, void* stream) {
  check_params(p);
  constexpr const char* fn = "word2vec (cuda)";
  const std::lock_guard<std::mutex> lock(mutex_);
  DeviceScope scope(device_);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  build_tables(p.sample, p.ns_exponent);
  p.loss = 0.0;
  p.trained_words = 0;
  p.pairs = 0;
  if (N_ == 0) return;

  Args a{};
  a.mode = p.sg ? (p.shared_negatives ? kSgShared : kSgPairs) : kCbow;  // CBOW ignores shared_negatives, as train.cc
  // Per-warp workspace (4-byte words): context ids, the outputs, e (the input's gradient), and
  // h (CBOW's window vector).
  const int64_t mmax = 2 * p.window, kmax = p.negative + 1;
  int64_t words = 0;
  auto take = [&words](int64_t n) {
    const int64_t at = words;
    words += n;
    return at;
  };
  a.off_ctx = take(mmax);
  a.off_outs = take(kmax);
  a.off_e = take(D_);
  a.off_h = take(a.mode == kCbow ? D_ : 0);
  a.ws_words = words;
  const int64_t warp_bytes = words * 4;
  int max_smem = 0, sms = 0;
  FE_CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
  FE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_));
  const int64_t warps_per_block = std::min<int64_t>(kMaxWarpsPerBlock, max_smem / warp_bytes);
  FE_CHECK(warps_per_block >= 1, ValueError, fn, ": one warp's workspace (", warp_bytes,
           " bytes of shared memory for window = ", p.window, ", negative = ", p.negative, ", vector_size = ", D_,
           ") exceeds the GPU's ", max_smem, " bytes per block; lower them or train on the CPU");
  const int threads = static_cast<int>(warps_per_block) * kWarp;
  const size_t smem = static_cast<size_t>(warps_per_block * warp_bytes);
  FE_CUDA_CHECK(cudaFuncSetAttribute(train_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  int blocks_per_sm = 0;
  FE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, train_kernel, threads, smem));
  FE_CHECK(blocks_per_sm >= 1, RuntimeError, fn, ": the training kernel cannot run with ", threads, " threads and ",
           smem, " bytes of shared memory");
  // Enough warps to fill the GPU once, but no more than the corpus gives kMinCentresPerWarp each
  // (kept words are at most N; the kernel splits the actual count evenly).
  const int64_t want_warps = std::max<int64_t>(1, (N_ + kMinCentresPerWarp - 1) / kMinCentresPerWarp);
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>((want_warps + warps_per_block - 1) / warps_per_block, int64_t{blocks_per_sm} * sms));

  const uint64_t key = epoch_key(p.seed, p.epoch);
  // Subsampling and compaction.
  FE_CUDA_CHECK(cudaMemsetAsync(kept_pos_ + N_, 0, sizeof(int64_t), st));
  FE_CUDA_CHECK(cudaMemsetAsync(loss_, 0, sizeof(double), st));
  FE_CUDA_CHECK(cudaMemsetAsync(pairs_, 0, sizeof(unsigned long long), st));
  keep_kernel<<<cuda_blocks(N_, kFillThreads), kFillThreads, 0, st>>>(ids_, N_, thresholds_, p.sample > 0.0, key,
                                                                       kept_pos_);
  FE_CUDA_CHECK_LAUNCH();
  size_t temp_bytes = scan_temp_bytes_;
  FE_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scan_temp_, temp_bytes, kept_pos_, N_ + 1, st));
  compact_kernel<<<cuda_blocks(N_, kFillThreads), kFillThreads, 0, st>>>(ids_, N_, kept_pos_, kept_ids_,
                                                                         kept_orig_);
  FE_CUDA_CHECK_LAUNCH();
  kept_off_kernel<<<cuda_blocks(S_ + 1, kFillThreads), kFillThreads, 0, st>>>(offsets_, S_, kept_pos_, kept_off_);
  FE_CUDA_CHECK_LAUNCH();

  // Training.
  a.syn0 = syn0_;
  a.syn1neg = syn1neg_;
  a.kept_ids = kept_ids_;
  a.kept_orig = kept_orig_;
  a.kept_off = kept_off_;
  a.alias = reinterpret_cast<const uint2*>(alias_);
  a.sigmoid = tables_;
  a.log_sigmoid = tables_ + (kTable + 1);
  a.V = V_;
  a.D = D_;
  a.S = S_;
  a.N = N_;
  a.window = p.window;
  a.negative = p.negative;
  a.cbow_mean = p.cbow_mean;
  a.epochs = p.epochs;
  a.epoch = p.epoch;
  a.alpha = p.alpha;
  a.min_alpha = p.min_alpha;
  a.key = key;
  a.warps = std::min(want_warps, blocks * warps_per_block);  // the last block's extra warps return at once
  a.loss = loss_;
  a.pairs = pairs_;
  train_kernel<<<static_cast<unsigned int>(blocks), threads, smem, st>>>(a);
  FE_CUDA_CHECK_LAUNCH();

  double loss = 0.0;
  unsigned long long pairs = 0;
  int64_t kept = 0;
  FE_CUDA_CHECK(cudaMemcpyAsync(&loss, loss_, sizeof(double), cudaMemcpyDeviceToHost, st));
  FE_CUDA_CHECK(cudaMemcpyAsync(&pairs, pairs_, sizeof(pairs), cudaMemcpyDeviceToHost, st));
  FE_CUDA_CHECK(cudaMemcpyAsync(&kept, kept_pos_ + N_, sizeof(int64_t), cudaMemcpyDeviceToHost, st));
  FE_CUDA_CHECK(cudaStreamSynchronize(st));
  p.loss = loss;
  p.trained_words = kept;
  p.pairs = static_cast<int64_t>(pairs);
}

void Word2VecCuda::download(float* syn0, float* syn1neg) const {
  FE_CHECK(syn0 && syn1neg, ValueError, "Word2VecCuda.download: null array");
  const std::lock_guard<std::mutex> lock(mutex_);
  DeviceScope scope(device_);
  const size_t mat = static_cast<size_t>(V_) * static_cast<size_t>(D_) * sizeof(float);
  FE_CUDA_CHECK(cudaDeviceSynchronize());  // training on any stream has finished
  FE_CUDA_CHECK(cudaMemcpy(syn0, syn0_, mat, cudaMemcpyDeviceToHost));
  FE_CUDA_CHECK(cudaMemcpy(syn1neg, syn1neg_, mat, cudaMemcpyDeviceToHost));
}

}  // namespace fe::w2v
