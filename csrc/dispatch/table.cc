// One level's KernelTable (dispatch/kernels.h). Compiled once per level, like the kernels it lists,
// with FE_ISA_NS, FE_ISA_NAME and FE_ISA_FLAGS set by setup.py.
#include "dispatch/kernels.h"
#include "attention/decode.h"
#include "nn/epilogue.h"
#include "nn/panel_linear.h"
#include "nn/quantize.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif
#ifndef FE_ISA_NAME
#define FE_ISA_NAME "native"
#endif
#ifndef FE_ISA_FLAGS
#define FE_ISA_FLAGS ""
#endif

namespace fe {
FE_ISA_BEGIN
// This level's copies (attention_cpu.cc, decode_cpu.cc, epilogue_cpu.cc, quantize_cpu.cc, panel_linear_cpu.cc).
void attention_forward_cpu(const AttentionParams& p);
void attention_backward_cpu(const AttentionParams& p);
void attention_dropout_mask_cpu(int64_t B, int64_t H, int64_t Tq, int64_t Tk, double p, uint64_t seed,
                                uint64_t offset, uint8_t* mask);
void decode_attention_cpu(const float* qkv, int64_t ldqkv, int64_t B, int64_t H, int64_t D, float* k, float* v,
                          int64_t cap, int64_t n, const uint8_t* padded, int64_t ldp, float scale, float* out,
                          int64_t ldo);
void bias_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias, const float* row_scale);
void bias_gelu_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias, const float* row_scale);
void bias_residual_layer_norm_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias,
                                  const float* residual, int64_t ldr, const float* gamma, const float* beta,
                                  float eps, const float* row_scale);
void quantize_rows_s8_cpu(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* col_scale,
                          int8_t* q, float* row_scale);
void panel_linear_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* packed, int64_t N,
                      const float* bias, float* y, int64_t ldy, int epilogue);
// This level's axpy (blas/axpy_cpu.cc).
void axpy_f32_cpu(int64_t n, float alpha, const float* x, int64_t incx, float* y, int64_t incy);
void axpy_f64_cpu(int64_t n, double alpha, const double* x, int64_t incx, double* y, int64_t incy);
FE_ISA_END
}  // namespace fe

namespace fe::w2v {
FE_ISA_BEGIN
// This level's copies (word2vec/train.cc).
void train_epoch(TrainParams& p, Progress* progress);
double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha);
FE_ISA_END
}  // namespace fe::w2v

// word2vec's updates gain nothing from AVX-512 (python -m benchmarks isa: 0.93-0.98x the AVX2 copy
// on a Sapphire Rapids Xeon, twice), so where both are compiled the avx512 table keeps the AVX2
// copy: only what measured faster stays (csrc/README.md, Runtime dispatch).
#if defined(FE_ISA_LEVEL) && FE_ISA_LEVEL == 2 && defined(FE_HAVE_ISA_AVX2)
namespace fe::w2v::isa_avx2 {
void train_epoch(TrainParams& p, Progress* progress);
double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha);
}  // namespace fe::w2v::isa_avx2
#define FE_W2V_NS isa_avx2
#else
#define FE_W2V_NS FE_ISA_NS
#endif

namespace fe {
FE_ISA_BEGIN

namespace {
// The level a "native" copy needs: what its flags let the compiler use.
constexpr int kCompiledLevel =
#if defined(FE_ISA_LEVEL)
    FE_ISA_LEVEL;
#elif defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
    dispatch::kAvx512;
#elif defined(__AVX2__) && defined(__FMA__)
    dispatch::kAvx2;
#else
    dispatch::kBaseline;
#endif
}  // namespace

const dispatch::KernelTable& kernel_table() {
  static const dispatch::KernelTable t{
      FE_ISA_NAME,
      kCompiledLevel,
      FE_ISA_FLAGS,
      &FE_ISA_NS::attention_forward_cpu,
      &FE_ISA_NS::attention_backward_cpu,
      &FE_ISA_NS::attention_dropout_mask_cpu,
      &FE_ISA_NS::decode_attention_cpu,
      &FE_ISA_NS::bias_cpu,
      &FE_ISA_NS::bias_gelu_cpu,
      &FE_ISA_NS::bias_residual_layer_norm_cpu,
      &FE_ISA_NS::quantize_rows_s8_cpu,
      &FE_ISA_NS::panel_linear_cpu,
      &FE_ISA_NS::axpy_f32_cpu,
      &FE_ISA_NS::axpy_f64_cpu,
      &w2v::FE_W2V_NS::train_epoch,
      &w2v::FE_W2V_NS::train_step_for_testing,
  };
  return t;
}

FE_ISA_END
}  // namespace fe
