// The CUDA emulator's host runtime (runtime.h): errors, the one emulated device, memory, kernel
// attributes, occupancy, and launches on a persistent pool of CPU threads.
#include "cuda_emu/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_emu/scheduler.h"

#if defined(FE_EMU_TSAN)
extern "C" void AnnotateBenignRaceSized(const char* file, int line, const volatile void* mem, size_t size,
                                        const char* description);
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Errors: the last error of this CPU thread (cleared by cudaGetLastError) and the description of
// the last failure (kept, so FE_CUDA_CHECK can print it after clearing the code).

thread_local cudaError_t g_last = cudaSuccess;
thread_local cudaError_t g_described = cudaSuccess;
thread_local std::string g_description;

cudaError_t record(cudaError_t err, std::string description = {}) {
  if (err != cudaSuccess) {
    g_last = err;
    g_described = description.empty() ? cudaSuccess : err;
    g_description = std::move(description);
  }
  return err;
}

const char* generic_string(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
  }
  return "unknown error";
}

// ---------------------------------------------------------------------------------------------
// Kernel attributes (per kernel function): the dynamic shared memory a launch may ask for.

std::mutex g_attr_mutex;
std::map<const void*, size_t>& smem_limits() {
  static std::map<const void*, size_t> m;
  return m;
}

size_t smem_limit(const void* func) {
  const std::lock_guard<std::mutex> lock(g_attr_mutex);
  const auto it = smem_limits().find(func);
  return it == smem_limits().end() ? fe_emu::kDefaultDynamicSmem : it->second;
}

// ---------------------------------------------------------------------------------------------
// The thread pool. Blocks are taken from a shared counter by the pool's threads and by the
// launching thread. One launch at a time (one emulated device). Made anew in a forked child,
// whose copy has no threads.

struct Job {
  fe_emu::BlockJob block;
  uint64_t total = 0;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
};

void run_blocks(Job& job) {
  fe_emu::Scheduler& s = fe_emu::Scheduler::current();
  const dim3 g = job.block.grid;
  std::string err;
  while (!job.failed.load(std::memory_order_relaxed)) {
    const uint64_t b = job.next.fetch_add(1, std::memory_order_relaxed);
    if (b >= job.total) break;
    const uint3 idx{static_cast<unsigned>(b % g.x), static_cast<unsigned>(b / g.x % g.y),
                    static_cast<unsigned>(b / (uint64_t{g.x} * g.y))};
    bool ok = false;
    try {
      ok = s.run_block(job.block, idx, err);
    } catch (const std::exception& e) {
      err = std::string("the emulator could not run the block: ") + e.what();
    }
    if (!ok) {
      const std::lock_guard<std::mutex> lock(job.error_mutex);
      if (!job.failed.exchange(true))
        job.error = "block (" + std::to_string(idx.x) + ", " + std::to_string(idx.y) + ", " + std::to_string(idx.z) +
                    "): " + err;
      break;
    }
  }
}

int pool_threads() {
  if (const char* env = std::getenv("FE_CUDA_EMU_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(Job& job) {
    const std::lock_guard<std::mutex> one_launch(launch_mutex_);
    const int helpers = static_cast<int>(std::min<uint64_t>(workers_.size(), job.total - 1));
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      wanted_ = helpers;
      busy_ = helpers;
      ++generation_;
    }
    if (helpers > 0) wake_.notify_all();
    run_blocks(job);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    job_ = nullptr;
  }

 private:
  void work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && wanted_ > 0); });
      if (stop_) return;
      seen = generation_;
      --wanted_;
      Job* job = job_;
      lock.unlock();
      run_blocks(*job);
      lock.lock();
      if (--busy_ == 0) done_.notify_all();
    }
  }

  std::mutex launch_mutex_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int wanted_ = 0, busy_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static std::mutex m;
  static Pool* p = nullptr;  // never destroyed: its threads may outlive static destruction order
  static pid_t owner = 0;
  const std::lock_guard<std::mutex> lock(m);
  if (p == nullptr || owner != getpid()) {  // first use, or a forked child (the parent's pool has no threads here)
    p = new Pool(pool_threads());
    owner = getpid();
  }
  return *p;
}

void* allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded);
  // Fresh device memory holds junk, as on a GPU: a kernel that reads what nobody wrote shows it.
  if (p != nullptr) std::memset(p, 0xff, rounded);
  return p;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Runtime API

cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return g_last; }

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t err) {
  if (err == g_described && !g_description.empty()) return g_description.c_str();
  return generic_string(err);
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice, "the emulator has one device (0)");
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }  // all work ran at its call
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice, "the emulator has one device (0)");
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "fastembed CUDA emulator", sizeof prop->name - 1);
  prop->totalGlobalMem = size_t{80} << 30;
  prop->sharedMemPerBlock = fe_emu::kDefaultDynamicSmem;
  prop->regsPerBlock = 65536;
  prop->warpSize = fe_emu::kWarpSize;
  prop->maxThreadsPerBlock = fe_emu::kMaxThreadsPerBlock;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = fe_emu::kMultiProcessors;
  prop->sharedMemPerBlockOptin = fe_emu::kMaxDynamicSmemOptin;
  prop->sharedMemPerMultiprocessor = fe_emu::kSmemPerSM;
  prop->maxThreadsPerMultiProcessor = fe_emu::kMaxThreadsPerSM;
  prop->maxBlocksPerMultiProcessor = fe_emu::kMaxBlocksPerSM;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice, "the emulator has one device (0)");
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = fe_emu::kMaxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(fe_emu::kDefaultDynamicSmem); break;
    case cudaDevAttrWarpSize: *value = fe_emu::kWarpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = fe_emu::kMultiProcessors; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = static_cast<int>(fe_emu::kSmemPerSM); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(fe_emu::kMaxDynamicSmemOptin); break;
    default: return record(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute not emulated");
  }
  return cudaSuccess;
}

// Every pointer counts as device memory: the emulated module takes host pointers where the real
// one takes device pointers (the bindings skip this check in the emulated build).
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* ptr) {
  *attr = cudaPointerAttributes{cudaMemoryTypeDevice, 0, const_cast<void*>(ptr), const_cast<void*>(ptr)};
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = allocate(bytes);
  return *ptr ? cudaSuccess
              : record(cudaErrorMemoryAllocation, "cudaMalloc: out of memory for " + std::to_string(bytes) + " bytes");
}
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) { return cudaFree(ptr); }

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return record(cudaErrorInvalidValue, "cudaMemcpy: null pointer");
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (ptr == nullptr) return record(cudaErrorInvalidValue, "cudaMemset: null pointer");
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) { return cudaMemset(ptr, value, bytes); }

namespace fe_emu {

cudaError_t func_set_attribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: attribute not emulated");
  if (value < 0 || static_cast<size_t>(value) > kMaxDynamicSmemOptin)
    return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: cudaFuncAttributeMaxDynamicSharedMemorySize = " +
                                             std::to_string(value) + " is outside [0, " +
                                             std::to_string(kMaxDynamicSmemOptin) + "] (sm_90's opt-in limit)");
  const std::lock_guard<std::mutex> lock(g_attr_mutex);
  smem_limits()[func] = static_cast<size_t>(value);
  return cudaSuccess;
}

cudaError_t occupancy(int* blocks, const void* func, int threads, size_t smem) {
  if (threads < 1 || threads > kMaxThreadsPerBlock)
    return record(cudaErrorInvalidValue, "cudaOccupancyMaxActiveBlocksPerMultiprocessor: block size " +
                                             std::to_string(threads) + " is outside [1, 1024]");
  if (smem > smem_limit(func)) {
    *blocks = 0;
    return cudaSuccess;
  }
  const int warps = (threads + kWarpSize - 1) / kWarpSize;
  const int by_threads = kMaxThreadsPerSM / (warps * kWarpSize);
  const int by_smem = static_cast<int>(kSmemPerSM / (smem + kSmemReservedPerBlock));
  *blocks = std::min({by_threads, by_smem, kMaxBlocksPerSM});
  return cudaSuccess;
}

cudaError_t launch_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t smem, void (*body)(const void*),
                        const void* ctx) {
  const std::string where = std::string(site.name) + " at " + site.file + ":" + std::to_string(site.line);
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.x > 1024 || block.y > 1024 || block.z > 64)
    return record(cudaErrorInvalidConfiguration, "launch of " + where + ": block (" + std::to_string(block.x) + ", " +
                                                     std::to_string(block.y) + ", " + std::to_string(block.z) +
                                                     ") is outside the limits (at most 1024 threads; 1024, 1024, 64)");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    return record(cudaErrorInvalidConfiguration, "launch of " + where + ": grid (" + std::to_string(grid.x) + ", " +
                                                     std::to_string(grid.y) + ", " + std::to_string(grid.z) +
                                                     ") is outside the limits (1..2^31-1, 1..65535, 1..65535)");
  const size_t limit = smem_limit(site.func);
  if (smem > limit)
    return record(cudaErrorInvalidValue, "launch of " + where + ": " + std::to_string(smem) +
                                             " bytes of dynamic shared memory exceed the kernel's limit of " +
                                             std::to_string(limit) +
                                             " (48 KiB unless raised with cudaFuncSetAttribute, at most 227 KiB)");
  Job job;
  job.block = BlockJob{body, ctx, grid, block, smem};
  job.total = uint64_t{grid.x} * grid.y * grid.z;
  pool().run(job);
  if (job.failed) return record(cudaErrorLaunchFailure, "launch of " + where + " failed in " + job.error);
  return cudaSuccess;
}

void benign_race(const void* ptr, size_t bytes, const char* why) {
#if defined(FE_EMU_TSAN)
  AnnotateBenignRaceSized(__FILE__, __LINE__, ptr, bytes, why);
#else
  (void)ptr;
  (void)bytes;
  (void)why;
#endif
}

}  // namespace fe_emu
