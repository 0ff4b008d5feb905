// CPU axpy. Unit strides take a vectorized loop (the compiler emits AVX2/AVX-512 FMAs at the
// build's -march; see csrc/README.md "SIMD policy"); other strides a plain loop. Chunks of at
// least 32K elements per thread keep small calls serial, where threads cost more than they save.
#include "blas/axpy.h"
#include "common/parallel.h"

namespace fe {

template <class T>
void axpy_cpu(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy) {
  axpy_check_args(n, x, incx, y, incy, sizeof(T));
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

template void axpy_cpu<float>(int64_t, float, const float*, int64_t, float*, int64_t);
template void axpy_cpu<double>(int64_t, double, const double*, int64_t, double*, int64_t);

}  // namespace fe
