// What a transformer layer does to a matrix product's output before the next product reads it,
// fused into one pass over each row while it is in cache (inference, CPU, float32):
//
//   bias:                      y = y + bias                             a product read by attention
//   bias_gelu:                 y = GELU(y + bias)                       the FFN's first product
//   bias_residual_layer_norm:  y = LayerNorm(y + bias + residual)·γ + β  post-LN BERT, after the
//                                                                       attention output and the
//                                                                       FFN's second product
//
// row_scale (nullable, (rows,)): y is first multiplied by row_scale[r] in each row r: the
// per-token activation scale of an int8 product (nn/quantize.h), whose int32 sums come out of the
// matmul with only the per-channel weight scale applied. Null means 1 and gives bit for bit the
// result without it.
//
// PyTorch runs each as two or three kernels (the bias is first broadcast-copied into the output
// by addmm, then GELU, then add, then LayerNorm), each reading and writing the whole activation.
// Here the product is computed without its bias (a plain matmul) and one pass does the rest.
//
// GELU is the exact one, x·Φ(x) = x/2·(1 + erf(x/√2)), not the tanh approximation; erf is a
// rational approximation with |error| < 7e-8 in exact arithmetic (epilogue_cpu.cc). In float32
// the result is within 1.5e-6 of the float64 GELU (largest near |x| = 5.7, where it is ~3e-7 of
// |x|), against 3.7e-7 for PyTorch's own kernel (A&S 7.1.26 with an exp), and it runs about 1.7×
// faster than that kernel.
// LayerNorm is two passes over the row (mean, then the centred variance), biased variance as in
// PyTorch.
//
// Layout: y and residual are (rows, cols) with unit column stride and row strides ldy / ldr
// (elements); bias, gamma and beta are (cols,). Rows are split across fe::parallel_for threads;
// each row's arithmetic is the same whatever the thread count.
#pragma once

#include <cstdint>

namespace fe {

void bias_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias, const float* row_scale);

void bias_gelu_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias,
                   const float* row_scale = nullptr);

void bias_residual_layer_norm_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias,
                                  const float* residual, int64_t ldr, const float* gamma, const float* beta,
                                  float eps, const float* row_scale = nullptr);

}  // namespace fe
