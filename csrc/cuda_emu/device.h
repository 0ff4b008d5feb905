// Device-side CUDA for the emulator: the keywords, built-in variables, warp and block
// synchronization, shuffles, ballots, atomics and math intrinsics that kernels use. Kernel
// bodies compile unchanged as host C++; every CUDA thread of a block is a fiber on one CPU
// thread (scheduler.h), so the built-ins read the running fiber's coordinates.
//
// Semantics that matter for finding bugs (scheduler.cc has the rules in full):
// - __syncthreads() waits for every thread of the block that has not returned;
// - __syncwarp, __shfl_*_sync, __ballot_sync, __any_sync and __all_sync wait for the lanes of
//   the calling warp named in `mask` (never the rest of the block); a returned lane leaves; the
//   mask must include the caller and agree among the lanes that meet; a shuffle that reads a lane
//   that did not take part is an error, not a silent value;
// - atomics are real atomic read-modify-writes (blocks run on several CPU threads).
#pragma once

#include <math.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_emu/types.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __constant__
// Static __shared__ arrays are not emulated (they would be per fiber); the build step rejects them
// and this name makes any that slip through a compile error.
#define __shared__ FE_EMU_STATIC_SHARED_MEMORY_IS_NOT_SUPPORTED

namespace fe_emu {

// The running fiber and block (scheduler.cc). Fibers never move between CPU threads.
struct FiberView {
  uint3 tid;
};
struct BlockView {
  uint3 idx;
  dim3 dim;
  dim3 grid;
  unsigned char* smem;
};
const FiberView& this_thread();
const BlockView& this_block();

enum class WarpOp : uint8_t { kSync, kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll };
// Meets the other lanes of the caller's warp named in `mask`; returns the op's result for the
// caller (shuffles: the source lane's 64 value bits; votes: the ballot / any / all result).
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* what);
void sync_block();

template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(this_block().smem);
}

template <class T>
T shuffle(WarpOp op, unsigned mask, T var, int arg, int width, const char* what) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffled values are at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = warp_collective(op, mask, bits, arg, width, what);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

template <class T>
T atomic_add(T* p, T v) {
  if constexpr (std::is_integral<T>::value) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
  } else {
    T old, desired;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
      desired = old + v;
    } while (!__atomic_compare_exchange(p, &old, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
  }
}

}  // namespace fe_emu

#define threadIdx (::fe_emu::this_thread().tid)
#define blockIdx (::fe_emu::this_block().idx)
#define blockDim (::fe_emu::this_block().dim)
#define gridDim (::fe_emu::this_block().grid)
constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------
// Synchronization and warp intrinsics

inline void __syncthreads() { ::fe_emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  (void)::fe_emu::warp_collective(::fe_emu::WarpOp::kSync, mask, 0, 0, 32, "__syncwarp");
}
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return ::fe_emu::shuffle(::fe_emu::WarpOp::kShflIdx, mask, var, src_lane, width, "__shfl_sync");
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::fe_emu::shuffle(::fe_emu::WarpOp::kShflUp, mask, var, static_cast<int>(delta), width, "__shfl_up_sync");
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::fe_emu::shuffle(::fe_emu::WarpOp::kShflDown, mask, var, static_cast<int>(delta), width,
                           "__shfl_down_sync");
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return ::fe_emu::shuffle(::fe_emu::WarpOp::kShflXor, mask, var, lane_mask, width, "__shfl_xor_sync");
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return static_cast<unsigned>(
      ::fe_emu::warp_collective(::fe_emu::WarpOp::kBallot, mask, pred != 0, 0, 32, "__ballot_sync"));
}
inline int __any_sync(unsigned mask, int pred) {
  return static_cast<int>(::fe_emu::warp_collective(::fe_emu::WarpOp::kAny, mask, pred != 0, 0, 32, "__any_sync"));
}
inline int __all_sync(unsigned mask, int pred) {
  return static_cast<int>(::fe_emu::warp_collective(::fe_emu::WarpOp::kAll, mask, pred != 0, 0, 32, "__all_sync"));
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------------------------------------
// Atomics (real atomics: blocks run concurrently on CPU threads)

inline int atomicAdd(int* p, int v) { return ::fe_emu::atomic_add(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return ::fe_emu::atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return ::fe_emu::atomic_add(p, v);
}
inline float atomicAdd(float* p, float v) { return ::fe_emu::atomic_add(p, v); }
inline double atomicAdd(double* p, double v) { return ::fe_emu::atomic_add(p, v); }
template <class T>
T atomicExch(T* p, T v) {
  return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
template <class T>
T atomicCAS(T* p, T expected, T desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;
}
template <class T>
T atomicMax(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class T>
T atomicMin(T* p, T v) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---------------------------------------------------------------------------------------------
// Integer and floating-point intrinsics. The _rn arithmetic is exact IEEE rounding because the
// emulated sources are compiled with -ffp-contract=off (no fused multiply-add unless fmaf asks).

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class T>
constexpr T max(T a, T b) {
  return a < b ? b : a;
}
template <class T>
constexpr T min(T a, T b) {
  return b < a ? b : a;
}
