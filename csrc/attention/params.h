// The one argument struct of fused masked attention, shared by the CPU and CUDA kernels.
//
//   out = softmax(scale · Q Kᵀ + mask) · V, with optional dropout on the probabilities,
//
// computed tile by tile with an online softmax so the Tq × Tk score matrix is never stored
// (FlashAttention-2: Dao, "FlashAttention-2: Faster Attention with Better Parallelism and Work
// Partitioning", 2023). The forward keeps the natural-log log-sum-exp of every row's scaled
// scores; the backward recomputes the scores from it.
//
// Layout. Every tensor is addressed as (B, T, H, D) through element strides for b, t and h; the D
// axis is contiguous (stride 1). Layout (B, H, T, D), a packed QKV projection (B, T, 3, H, D) read
// in place, or any other view with a contiguous D axis is just a choice of strides.
//
// Masks, applied together:
// - causal: query i sees key j iff j <= i + (Tk - Tq) ("bottom-right" alignment: with a KV cache
//   the Tq new queries are the last Tq positions of the Tk keys). Tq == Tk is the usual triangle.
// - key_lengths (B,) int64: keys j >= key_lengths[b] are padding. Values outside [0, Tk] are an
//   error on the CPU (checked by the binding) and clamped by the CUDA kernel.
// - key_padding (B, Tk) uint8/bool, row stride key_padding_sb: nonzero marks a padded key (the
//   torch.nn.MultiheadAttention convention). May be given with key_lengths (the kernels then
//   skip blocks past the length and test the bits inside it).
// A query row that sees no key gets out = 0 and lse = -inf, never NaN, and no gradient.
// Non-finite inputs (fastembed/ops/_reference.py states the same): a NaN or inf in q, or in a
// key or value a row sees, reaches that row as softmax math says (a row whose visible scores are
// all -inf, or that meets a NaN score, gets NaN); a padded key (or one past key_lengths) reaches
// no output and no gradient whatever its K and V hold; a value in a row's causal future never
// reaches that row's output (a non-finite K or q there can still reach dQ / dK through 0·NaN).
//
// Dropout (probability dropout_p on the normalized probabilities, survivors scaled by
// 1 / (1 - dropout_p)): element (b, h, i, j) is kept iff
//   philox_u32(seed, offset + (b·H + h)·Tq + i, j) >= dropout_threshold(dropout_p)
// (common/rng.h: stream = row, element = key), so the backward, the CUDA kernel and the debug
// mask (attention_dropout_mask_cpu) all regenerate the same bits.
#pragma once

#include <cstdint>

namespace fe {

enum class AttnDType : int32_t { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

// Element strides of a (B, T, H, D) view; the D stride is 1.
struct AttnStrides {
  int64_t b = 0, t = 0, h = 0;
};

struct AttentionParams {
  // Sizes. B, H, D >= 1; Tq, Tk >= 0.
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, D = 0;
  AttnDType dtype = AttnDType::kFloat32;  // of q, k, v, out, dout, dq, dk, dv

  // Forward inputs and outputs.
  const void* q = nullptr;  // (B, Tq, H, D)
  const void* k = nullptr;  // (B, Tk, H, D)
  const void* v = nullptr;  // (B, Tk, H, D)
  void* out = nullptr;      // (B, Tq, H, D)
  // (B, H, Tq), contiguous: log-sum-exp of the scaled, masked scores (before dropout). float32,
  // except float64 when dtype is kFloat64.
  void* lse = nullptr;
  AttnStrides q_s, k_s, v_s, out_s;

  // Backward: dout is read, dq/dk/dv are written (overwritten, not accumulated).
  const void* dout = nullptr;  // (B, Tq, H, D)
  void* dq = nullptr;          // (B, Tq, H, D)
  void* dk = nullptr;          // (B, Tk, H, D)
  void* dv = nullptr;          // (B, Tk, H, D)
  AttnStrides dout_s, dq_s, dk_s, dv_s;

  // Masks (see above).
  bool causal = false;
  const int64_t* key_lengths = nullptr;  // (B,) or null
  const uint8_t* key_padding = nullptr;  // (B, Tk) or null
  int64_t key_padding_sb = 0;            // row stride of key_padding, in elements

  double scale = 1.0;      // usually 1/sqrt(D)
  double dropout_p = 0.0;  // in [0, 1)
  uint64_t seed = 0, offset = 0;
};

// Keep element iff its Philox word >= this threshold: P(keep) = 1 - p up to 2^-32.
inline uint32_t attention_dropout_threshold(double p) {
  const double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(t);
}

// First key index past the causal horizon of query row i: keys [0, causal_end) are visible.
inline int64_t attention_causal_end(int64_t i, int64_t Tq, int64_t Tk) {
  const int64_t e = i + (Tk - Tq) + 1;
  return e < 0 ? 0 : (e > Tk ? Tk : e);
}

// Argument rules both devices share (throws fe::ValueError / fe::TypeError naming the field):
// sizes, non-null pointers where work is to be done, dropout_p in [0, 1), a finite scale.
// `backward` also checks dout, dq, dk, dv.
void attention_check_params(const AttentionParams& p, bool backward, const char* fn);

// CPU kernels (attention_cpu.cc). dtype kFloat32 or kFloat64. Parallel over batch × heads ×
// blocks through fe::parallel_for; results do not depend on the thread count.
void attention_forward_cpu(const AttentionParams& p);
void attention_backward_cpu(const AttentionParams& p);
// The dropout keep-mask the kernels use, as (B, H, Tq, Tk) bytes (1 = kept): for tests/debugging.
void attention_dropout_mask_cpu(int64_t B, int64_t H, int64_t Tq, int64_t Tk, double p, uint64_t seed,
                                uint64_t offset, uint8_t* mask);

// CUDA kernels (attention_cuda.cu, _C_cuda only). All pointers, including key_lengths and
// key_padding, are device pointers; `stream` is a cudaStream_t. dtype kFloat32, kFloat16 or
// kBFloat16 (fp32 accumulation); lse is float32; D <= 256. The kernel keeps device copies of
// the causal and dropout rules above (attention_cuda.cu: key_end, causal_ok).
void attention_forward_cuda(const AttentionParams& p, void* stream);
void attention_backward_cuda(const AttentionParams& p, void* stream);

}  // namespace fe
