// CUDA axpy: a grid-stride loop, int64 indices, on the caller's stream. Twin of axpy_cpu.cc.
#include "blas/axpy.h"
#include "cuda/cuda_check.h"

namespace fe {
namespace {

template <class T>
__global__ void axpy_kernel(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i * incy] += alpha * x[i * incx];
}

}  // namespace

template <class T>
void axpy_cuda(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy, void* stream) {
  axpy_check_args(n, x, incx, y, incy, sizeof(T));
  if (n == 0 || alpha == T(0)) return;
  constexpr int kThreads = 256;
  axpy_kernel<T><<<cuda_blocks(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      n, alpha, x, incx, y, incy);
  FE_CUDA_CHECK_LAUNCH();
}

template void axpy_cuda<float>(int64_t, float, const float*, int64_t, float*, int64_t, void*);
template void axpy_cuda<double>(int64_t, double, const double*, int64_t, double*, int64_t, void*);

}  // namespace fe
