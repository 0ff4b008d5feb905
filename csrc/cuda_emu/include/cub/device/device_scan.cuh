// The CUDA emulator's cub::DeviceScan: the calls fastembed uses, done plainly on the host (the
// launch runs at the call, like every emulated stream operation). The two-phase protocol is kept:
// a call with a null workspace only reports the bytes it needs.
#pragma once

#include <cstddef>

#include "cuda_runtime.h"

namespace cub {

struct DeviceScan {
  // In place: data[i] = data[0] + ... + data[i - 1], data[0] = 0.
  template <class It, class N>
  static cudaError_t ExclusiveSum(void* temp, size_t& temp_bytes, It data, N num_items, cudaStream_t stream = 0) {
    return ExclusiveSum(temp, temp_bytes, data, data, num_items, stream);
  }
  template <class In, class Out, class N>
  static cudaError_t ExclusiveSum(void* temp, size_t& temp_bytes, In in, Out out, N num_items,
                                  cudaStream_t stream = 0) {
    (void)stream;
    if (temp == nullptr) {
      temp_bytes = 1;
      return cudaSuccess;
    }
    if (temp_bytes < 1 || num_items < 0) return cudaErrorInvalidValue;
    using T = typename std::remove_reference<decltype(*out)>::type;
    T sum{};
    for (N i = 0; i < num_items; ++i) {
      const T x = in[i];
      out[i] = sum;
      sum = sum + x;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
