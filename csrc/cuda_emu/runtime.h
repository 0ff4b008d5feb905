// Host-side CUDA runtime for the emulator: one emulated sm_90 device whose "device memory" is
// host memory. Memory calls are malloc / memcpy / memset; every stream runs its work in order
// at the call (a launch returns when the grid is done), so stream order holds trivially.
//
// Launches: the build step (rewrite.py) turns `kernel<<<grid, block, smem, stream>>>(args)` into a
// call of fe_emu::launch_at (below).
// A launch checks its configuration as a GPU does (block <= 1024 threads, grid limits, dynamic
// shared memory <= the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize, 48 KiB unless raised,
// and at most 227 KiB), then runs the blocks on a persistent pool of CPU threads, each block's
// threads as fibers (scheduler.h). A bad configuration, a deadlock (threads of a block waiting at
// different barriers) or a misused warp intrinsic makes the launch fail: cudaGetLastError()
// returns the error and cudaGetErrorString() the emulator's description of it.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_emu/types.h"

#define CUDART_VERSION 13000

cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr);

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = 0);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
template <class T>
cudaError_t cudaMallocAsync(T** ptr, size_t bytes, cudaStream_t stream) {
  return cudaMallocAsync(reinterpret_cast<void**>(ptr), bytes, stream);
}

namespace fe_emu {

// sm_90 (H100 SXM) figures the runtime reports and enforces.
constexpr int kWarpSize = 32;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultDynamicSmem = 48 * 1024;
constexpr size_t kMaxDynamicSmemOptin = 227 * 1024;
constexpr size_t kSmemPerSM = 228 * 1024;
constexpr size_t kSmemReservedPerBlock = 1024;
constexpr int kMultiProcessors = 132;
constexpr int kMaxThreadsPerSM = 2048;
constexpr int kMaxBlocksPerSM = 32;

struct LaunchSite {
  const void* func;  // identifies the kernel (its attributes)
  const char* name;
  const char* file;
  int line;
};

// Runs body(ctx) as every thread of a grid; returns the launch's error.
cudaError_t launch_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t smem, void (*body)(const void*),
                        const void* ctx);
cudaError_t func_set_attribute(const void* func, cudaFuncAttribute attr, int value);
cudaError_t occupancy(int* blocks, const void* func, int threads, size_t smem);
// Declares [ptr, ptr + bytes) as memory whose unsynchronized updates are intended (Hogwild), so
// the race detector of the ThreadSanitizer build does not report them. No effect otherwise.
void benign_race(const void* ptr, size_t bytes, const char* why);

// The kernel a launch names, as a function pointer: the name itself when it names one function
// (or a specialization), else the specialization a call with these arguments deduces (a function
// template launched without template arguments, as CUDA allows).
struct DeducedKernel {};
struct NamedKernel : DeducedKernel {};
template <class... P, class... A>
auto kernel_pointer(NamedKernel, void (*kernel)(P...), A&&...) -> void (*)(P...) {
  return kernel;
}
template <class... A>
auto kernel_pointer(DeducedKernel, void (*kernel)(std::decay_t<A>...), A&&...) -> void (*)(std::decay_t<A>...) {
  return kernel;
}

// `kernel<<<grid, block, smem, stream>>>(args...)` after rewrite.py:
// `launch_at("kernel", __FILE__, __LINE__, grid, block, smem, stream)(pick, args...)`, where
// `pick(args...)` returns the kernel's pointer (kernel_pointer above).
class launch_at {
 public:
  launch_at(const char* name, const char* file, int line, dim3 grid, dim3 block, size_t smem = 0,
            cudaStream_t stream = nullptr)
      : name_(name), file_(file), line_(line), grid_(grid), block_(block), smem_(smem) {
    (void)stream;  // every stream runs in order at the call
  }

  // The arguments are copied once, as a GPU launch copies them; every thread calls the kernel
  // with that copy (converted to the parameter types).
  template <class Pick, class... A>
  void operator()(Pick pick, A&&... args) const {
    using Args = std::tuple<std::decay_t<A>...>;
    const Args stored(std::forward<A>(args)...);
    const auto kernel = std::apply(pick, stored);
    struct Bound {
      decltype(kernel) k;
      const Args* args;
      static void run(const void* ctx) {
        const Bound& b = *static_cast<const Bound*>(ctx);
        std::apply(b.k, *b.args);
      }
    };
    const Bound bound{kernel, &stored};
    (void)launch_grid(LaunchSite{reinterpret_cast<const void*>(kernel), name_, file_, line_}, grid_, block_, smem_,
                      &Bound::run, &bound);
  }

 private:
  const char* name_;
  const char* file_;
  int line_;
  dim3 grid_, block_;
  size_t smem_;
};

}  // namespace fe_emu

template <class... P>
cudaError_t cudaFuncSetAttribute(void (*func)(P...), cudaFuncAttribute attr, int value) {
  return fe_emu::func_set_attribute(reinterpret_cast<const void*>(func), attr, value);
}
template <class... P>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, void (*func)(P...), int threads,
                                                          size_t smem) {
  return fe_emu::occupancy(blocks, reinterpret_cast<const void*>(func), threads, smem);
}
