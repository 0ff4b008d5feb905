// CUDA twins of rng_cpu.cc: each thread produces one Philox block (4 elements), so the bits are
// identical to the CPU fill for any (seed, subsequence, offset, n).
#include "common/rng.h"
#include "cuda/cuda_check.h"
#include "rng/rng.h"

namespace fe {
namespace {

struct AsU32 {
  __device__ uint32_t operator()(uint32_t b) const { return b; }
};
struct AsUniform {
  __device__ float operator()(uint32_t b) const { return u32_to_uniform(b); }
};

// Block c of the stream covers stream indices 4c .. 4c+3; outputs are those that fall in
// [offset, offset + n).
template <class T, class Convert>
__global__ void fill_kernel(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, T* out,
                            Convert convert) {
  const uint64_t first_block = offset >> 2;
  const uint64_t end = offset + static_cast<uint64_t>(n);
  const uint64_t nblocks = ((end + 3) >> 2) - first_block;
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t b = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < nblocks; b += stride) {
    const uint64_t c = first_block + b;
    const U32x4 v = philox_block(seed, subsequence, c);
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const uint64_t i = 4 * c + w;
      if (i >= offset && i < end) out[i - offset] = convert(u32x4_get(v, w));
    }
  }
}

template <class T, class Convert>
void launch_fill(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, T* out, void* stream,
                 Convert convert) {
  FE_CHECK(n >= 0, ValueError, "rng fill: n must be >= 0, got ", n);
  if (n == 0) return;
  FE_CHECK(out != nullptr, ValueError, "rng fill: out is null");
  constexpr int kThreads = 256;
  const int64_t nblocks = (n + 3) / 4 + 1;
  fill_kernel<<<cuda_blocks(nblocks, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      seed, subsequence, offset, n, out, convert);
  FE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void rng_fill_u32_cuda(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, uint32_t* out,
                       void* stream) {
  launch_fill(seed, subsequence, offset, n, out, stream, AsU32{});
}

void rng_fill_uniform_cuda(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, float* out,
                           void* stream) {
  launch_fill(seed, subsequence, offset, n, out, stream, AsUniform{});
}

}  // namespace fe
