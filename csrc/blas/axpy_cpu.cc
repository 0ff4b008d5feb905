// CPU axpy, compiled once per dispatch level (csrc/README.md, "Runtime dispatch"): the unit-stride
// loop is written for the compiler to vectorize, so each level's copy gets that level's vectors and
// FMAs. Other strides take a plain loop. Chunks of at least 32K elements per thread keep small
// calls serial, where threads cost more than they save. The argument rules (axpy_check.cc) run in
// baseline code before the call reaches a level (dispatch.cc).
#include "common/isa.h"
#include "common/parallel.h"

#include <cstdint>

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

namespace fe {
FE_ISA_BEGIN
namespace {

template <class T>
void axpy(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy) {
  if (n == 0 || alpha == T(0)) return;
  constexpr int64_t kGrain = 1 << 15;
  if (incx == 1 && incy == 1) {
    parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
      // `omp simd` (not __restrict): x == y is allowed and stays elementwise-correct.
#pragma omp simd
      for (int64_t i = lo; i < hi; ++i) y[i] += alpha * x[i];
    });
  } else {
    parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i * incy] += alpha * x[i * incx];
    });
  }
}

}  // namespace

void axpy_f32_cpu(int64_t n, float alpha, const float* x, int64_t incx, float* y, int64_t incy) {
  axpy<float>(n, alpha, x, incx, y, incy);
}
void axpy_f64_cpu(int64_t n, double alpha, const double* x, int64_t incx, double* y, int64_t incy) {
  axpy<double>(n, alpha, x, incx, y, incy);
}

FE_ISA_END
}  // namespace fe
