// axpy: y[i * incy] += alpha * x[i * incx] for i in [0, n).
//
// The smallest real kernel of the core, with a CPU and a CUDA twin; later work uses it for
// gradient accumulation and weight averaging. Strides are in elements (int64, may be negative:
// the pointer addresses element 0, as numpy's data pointer does). incy must not be 0 when n > 1,
// and x may be y itself (y *= 1 + alpha, elementwise) but must not partially overlap it.
#pragma once

#include <cstdint>

namespace fe {

template <class T>
void axpy_cpu(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy);

// CUDA twin (axpy_cuda.cu, built into _C_cuda only): x and y are device pointers, `stream` a
// cudaStream_t passed as an opaque pointer; the launch is asynchronous on that stream.
template <class T>
void axpy_cuda(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy, void* stream);

// Shared argument rules for both twins (throws fe::ValueError): n >= 0, non-null pointers,
// incy != 0 when n > 1, and x and y either identical (same pointer and stride) or disjoint.
void axpy_check_args(int64_t n, const void* x, int64_t incx, const void* y, int64_t incy, int64_t itemsize);

}  // namespace fe
