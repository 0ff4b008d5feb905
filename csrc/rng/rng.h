// Bulk random fills on the CPU and (in _C_cuda) on a CUDA device, from the Philox stream
// convention in common/rng.h. A fill of [offset, offset + n) gives the same values whatever the
// thread count or device, so a kernel can regenerate any slice later.
#pragma once

#include <cstdint>

namespace fe {

// out[j] = philox_u32(seed, subsequence, offset + j), j in [0, n).
void rng_fill_u32_cpu(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, uint32_t* out);
// out[j] = u32_to_uniform(philox_u32(seed, subsequence, offset + j)), in [0, 1).
void rng_fill_uniform_cpu(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, float* out);

// CUDA twins (defined in rng_cuda.cu, built into _C_cuda only). `out` is a device pointer and
// `stream` a cudaStream_t passed as an opaque pointer; the launch is asynchronous on it.
void rng_fill_u32_cuda(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, uint32_t* out,
                       void* stream);
void rng_fill_uniform_cuda(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, float* out,
                           void* stream);

}  // namespace fe
