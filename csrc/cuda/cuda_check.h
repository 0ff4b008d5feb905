// Error checking for CUDA runtime calls and kernel launches: failures become fe::RuntimeError
// with the call site and CUDA's own message, so Python sees a RuntimeError, never an abort.
#pragma once

#include <cuda_runtime.h>

#include "common/error.h"

#define FE_CUDA_CHECK(expr)                                                                  \
  do {                                                                                       \
    const cudaError_t fe_err_ = (expr);                                                      \
    if (fe_err_ != cudaSuccess) {                                                            \
      (void)cudaGetLastError(); /* clear a sticky-free error so later calls are unaffected */ \
      FE_FAIL(RuntimeError, "CUDA error ", cudaGetErrorName(fe_err_), " (",                 \
              cudaGetErrorString(fe_err_), ") in ", #expr, " at ", __FILE__, ":", __LINE__); \
    }                                                                                        \
  } while (0)

// After a <<<...>>> launch: reports bad launch configurations at once (asynchronous faults
// surface at the next synchronizing call).
#define FE_CUDA_CHECK_LAUNCH() FE_CUDA_CHECK(cudaGetLastError())

// Memory whose unsynchronized updates are intended (Hogwild): declared to ThreadSanitizer in the
// emulated build (csrc/cuda_emu), so that exactly these races are not reported; nothing on a GPU.
#if defined(FE_CUDA_EMU)
#define FE_CUDA_BENIGN_RACE(ptr, bytes, why) ::fe_emu::benign_race(ptr, bytes, why)
#else
#define FE_CUDA_BENIGN_RACE(ptr, bytes, why) ((void)0)
#endif

namespace fe {
// Grid size for n items at `threads` per block, capped so the kernel grid-strides past it.
inline unsigned int cuda_blocks(int64_t n, int threads, int64_t cap = 65535LL * 8) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned int>(b < 1 ? 1 : (b > cap ? cap : b));
}
}  // namespace fe
