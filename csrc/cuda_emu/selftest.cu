// Kernels that pin down the CUDA emulator's semantics (selftest.h): each one would behave the
// same on a GPU (or fail to launch there for the same reason), which is what the emulator has to
// show. Compiled only into fastembed._C_cuda_emu, through rewrite.py like the project's kernels.
#include "cuda_emu/selftest.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <functional>
#include <map>

#include "common/error.h"
#include "cuda/cuda_check.h"

namespace fe_emu {
namespace {

// Warp 0 meets at __syncwarp while warp 1 already waits at __syncthreads: a warp barrier must not
// wait for the other warp (a block-wide one would deadlock here).
__global__ void warp_barrier_kernel(int64_t* out) {
  if (threadIdx.x < 32) __syncwarp();
  __syncthreads();
  out[threadIdx.x] = 1;
}

// Lane 0 waits at __syncwarp for lanes 1..31, which wait at __syncthreads for it: a deadlock.
__global__ void divergent_barrier_kernel(int64_t* out) {
  if (threadIdx.x == 0)
    __syncwarp();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

// Reads shared memory nobody wrote: the emulator's junk pattern.
__global__ void junk_kernel(int64_t* out) {
  extern __shared__ unsigned int junk[];
  out[threadIdx.x] = junk[threadIdx.x];
}

// Touches all of its dynamic shared memory (sized by the launch).
__global__ void big_smem_kernel(int64_t* out, int64_t words) {
  extern __shared__ unsigned int big[];
  for (int64_t i = threadIdx.x; i < words; i += blockDim.x) big[i] = static_cast<unsigned int>(i);
  __syncthreads();
  if (threadIdx.x == 0) out[0] = big[words - 1];
}

// Shuffles and votes: out[lane * 8 + j] for 8 results per lane.
__global__ void shuffle_kernel(int64_t* out) {
  const int lane = threadIdx.x;
  const unsigned full = 0xffffffffu;
  int64_t* o = out + lane * 8;
  o[0] = __shfl_xor_sync(full, lane, 5);
  o[1] = __shfl_xor_sync(full, lane, 8, 16);
  o[2] = __shfl_up_sync(full, lane, 3, 16);
  o[3] = __shfl_down_sync(full, lane, 3, 8);
  o[4] = __shfl_sync(full, lane, 33, 16);  // source lane 33 % 16 of the lane's half
  o[5] = __ballot_sync(full, lane % 3 == 0);
  o[6] = __any_sync(full, lane == 7) + 2 * __all_sync(full, lane < 31);
  o[7] = static_cast<int64_t>(__shfl_xor_sync(full, 1000.5 + lane, 1));  // 8-byte value
}

// Lanes 16..31 return; the rest meet with the full mask: returned lanes leave the barrier.
__global__ void returned_lanes_kernel(int64_t* out) {
  if (threadIdx.x >= 16) return;
  __syncwarp();
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

// A shuffle that reads a lane that returned: undefined on a GPU, an error here.
__global__ void read_returned_lane_kernel(int64_t* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 16);
}

// A mask that leaves out the calling lane.
__global__ void bad_mask_kernel(int64_t* out) { out[threadIdx.x] = __ballot_sync(0xfffffffeu, 1); }

// Every thread of every block adds 1 (and 0.5) atomically.
__global__ void atomic_kernel(unsigned long long* count, double* sum, float* fsum) {
  atomicAdd(count, 1ull);
  atomicAdd(sum, 0.5);
  atomicAdd(fsum, 1.0f);
}

__global__ void nothing_kernel(int64_t* out) { out[0] = 1; }

using Check = std::function<std::vector<int64_t>()>;

// One block of `threads` threads; `words` int64 outputs (default: one per thread), preset to -7.
std::vector<int64_t> run_simple(void (*kernel)(int64_t*), unsigned threads, size_t smem = 0, size_t words = 0) {
  std::vector<int64_t> out(words ? words : threads, -7);
  void* d = nullptr;
  FE_CUDA_CHECK(cudaMalloc(&d, out.size() * sizeof(int64_t)));
  FE_CUDA_CHECK(cudaMemcpy(d, out.data(), out.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
  kernel<<<1, threads, smem>>>(static_cast<int64_t*>(d));
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) FE_CUDA_CHECK(cudaMemcpy(out.data(), d, out.size() * sizeof(int64_t), cudaMemcpyDeviceToHost));
  cudaFree(d);
  FE_CUDA_CHECK(err);
  return out;
}

// A launch with `bytes` of dynamic shared memory after raising the kernel's limit to `attribute`.
std::vector<int64_t> big_smem(size_t bytes, int attribute) {
  FE_CUDA_CHECK(cudaFuncSetAttribute(big_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, attribute));
  int64_t* d = nullptr;
  FE_CUDA_CHECK(cudaMalloc(&d, sizeof(int64_t)));
  big_smem_kernel<<<2, 128, bytes>>>(d, static_cast<int64_t>(bytes / 4));
  const cudaError_t err = cudaGetLastError();
  int64_t v = -1;
  if (err == cudaSuccess) FE_CUDA_CHECK(cudaMemcpy(&v, d, sizeof v, cudaMemcpyDeviceToHost));
  cudaFree(d);
  FE_CUDA_CHECK(err);
  return {v};
}

std::vector<int64_t> atomics() {
  unsigned long long* count = nullptr;
  double* sum = nullptr;
  float* fsum = nullptr;
  FE_CUDA_CHECK(cudaMalloc(&count, sizeof *count));
  FE_CUDA_CHECK(cudaMalloc(&sum, sizeof *sum));
  FE_CUDA_CHECK(cudaMalloc(&fsum, sizeof *fsum));
  FE_CUDA_CHECK(cudaMemset(count, 0, sizeof *count));
  FE_CUDA_CHECK(cudaMemset(sum, 0, sizeof *sum));
  FE_CUDA_CHECK(cudaMemset(fsum, 0, sizeof *fsum));
  atomic_kernel<<<64, 256>>>(count, sum, fsum);
  FE_CUDA_CHECK_LAUNCH();
  unsigned long long c = 0;
  double s = 0;
  float f = 0;
  FE_CUDA_CHECK(cudaMemcpy(&c, count, sizeof c, cudaMemcpyDeviceToHost));
  FE_CUDA_CHECK(cudaMemcpy(&s, sum, sizeof s, cudaMemcpyDeviceToHost));
  FE_CUDA_CHECK(cudaMemcpy(&f, fsum, sizeof f, cudaMemcpyDeviceToHost));
  std::vector<int64_t> r{static_cast<int64_t>(c), static_cast<int64_t>(s * 2), static_cast<int64_t>(f)};
  cudaFree(count);
  cudaFree(sum);
  cudaFree(fsum);
  return r;
}

const std::map<std::string, Check>& checks() {
  static const std::map<std::string, Check> m = {
      {"warp_barrier", [] { return run_simple(warp_barrier_kernel, 64); }},
      {"divergent_barrier", [] { return run_simple(divergent_barrier_kernel, 64); }},
      {"junk", [] { return run_simple(junk_kernel, 32, 32 * sizeof(unsigned int)); }},
      {"shuffle", [] { return run_simple(shuffle_kernel, 32, 0, 32 * 8); }},
      {"returned_lanes", [] { return run_simple(returned_lanes_kernel, 32); }},
      {"read_returned_lane", [] { return run_simple(read_returned_lane_kernel, 32); }},
      {"bad_mask", [] { return run_simple(bad_mask_kernel, 32); }},
      {"partial_warp", [] { return run_simple(shuffle_kernel, 20, 0, 32 * 8); }},
      {"too_many_threads", [] { return run_simple(nothing_kernel, 1025); }},
      {"smem_48k", [] { return big_smem(48 * 1024, 48 * 1024); }},
      {"smem_over_default", [] { return big_smem(48 * 1024 + 4, 48 * 1024); }},
      {"smem_opt_in", [] { return big_smem(200 * 1024, 200 * 1024); }},
      {"smem_over_opt_in", [] { return big_smem(228 * 1024, 228 * 1024); }},
      {"atomics", atomics},
  };
  return m;
}

}  // namespace

std::vector<int64_t> selftest(const std::string& name) {
  const auto it = checks().find(name);
  FE_CHECK(it != checks().end(), ValueError, "emulator selftest: unknown check '", name, "'");
  return it->second();
}

std::vector<std::string> selftest_names() {
  std::vector<std::string> names;
  for (const auto& [name, check] : checks()) names.push_back(name);
  return names;
}

void float_to_half_bits(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = __float2half_rn(x[i]).__x;
}

void float_to_bfloat16_bits(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = __float2bfloat16_rn(x[i]).__x;
}

}  // namespace fe_emu
