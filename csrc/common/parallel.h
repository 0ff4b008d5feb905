// parallel_for over OpenMP with a serial fallback, thread control and fork safety.
//
// Rules (see csrc/README.md):
// - All native parallelism goes through fe::parallel_for, so thread count, fork safety and
//   exception handling live in one place.
// - The thread count starts at OpenMP's default (which honours OMP_NUM_THREADS) and is changed
//   with fe::set_num_threads (Python: fastembed.set_num_threads). It is process-wide, unless the
//   calling thread overrides it for itself (fe::set_local_num_threads).
// - GNU libgomp deadlocks when a forked child enters a parallel region after the parent used one
//   (its thread pool does not survive fork). A pthread_atfork handler marks the child, and every
//   parallel_for in a forked child runs serially. Results never depend on the thread count.
// - An exception thrown inside a worker is caught, the region finishes, and the first exception is
//   rethrown on the calling thread (an exception escaping an OpenMP region would terminate).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fe {

// Threads that parallel_for will use (>= 1). 1 in a forked child and in builds without OpenMP.
int num_threads();
// Sets the process-wide thread count; n must be >= 1 (fe::ValueError otherwise).
void set_num_threads(int n);
// Overrides the count for loops started on the calling thread only: n >= 1 sets it, 0 clears it
// (the process-wide count applies again). For a thread that does its own share of a job beside
// others, e.g. one batch per worker thread, each loop then running on that thread alone.
void set_local_num_threads(int n);
// The calling thread's override (0 when none).
int local_num_threads();
// The most threads OpenMP would give us at start-up (OMP_NUM_THREADS, else the core count).
int default_num_threads();
// True in a child created by fork() after this module was loaded.
bool in_forked_child();
// Tests only: overrides the forked-child flag, so a test can show that a forked child without
// the guard deadlocks (tests/native/test_fork.py).
void set_forked_child_flag_for_testing(bool forked);
// True when compiled with OpenMP.
constexpr bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

// Calls f(lo, hi) over disjoint contiguous chunks covering [begin, end). Chunks hold at least
// `grain` items (except possibly the last), so tiny loops stay serial. Each thread gets one
// contiguous chunk (static schedule): good for uniform work such as vector kernels.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t nt = std::min<int64_t>(num_threads(), (n + grain - 1) / grain);
#ifdef _OPENMP
  if (omp_in_parallel()) nt = 1;  // nested call: stay on this thread
#endif
  if (nt <= 1) {
    f(begin, end);
    return;
  }
#ifdef _OPENMP
  std::exception_ptr error = nullptr;
  std::mutex error_mutex;
#pragma omp parallel num_threads(static_cast<int>(nt))
  {
    const int64_t tid = omp_get_thread_num();
    const int64_t nthreads = omp_get_num_threads();  // may be fewer than asked for
    const int64_t chunk = (n + nthreads - 1) / nthreads;
    const int64_t lo = begin + tid * chunk;
    const int64_t hi = std::min(end, lo + chunk);
    if (lo < hi) {
      try {
        f(lo, hi);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
#else
  f(begin, end);
#endif
}

// Calls f(i) for every i in [begin, end), handing items to threads one at a time as they free
// up (dynamic schedule): for tasks of uneven cost, such as causal-attention blocks. Same serial
// fallback, fork guard and exception rule as parallel_for; f must not depend on which thread runs it.
template <class F>
void parallel_for_each_dynamic(int64_t begin, int64_t end, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  int64_t nt = std::min<int64_t>(num_threads(), n);
#ifdef _OPENMP
  if (omp_in_parallel()) nt = 1;
#endif
  if (nt <= 1) {
    for (int64_t i = begin; i < end; ++i) f(i);
    return;
  }
#ifdef _OPENMP
  std::exception_ptr error = nullptr;
  std::mutex error_mutex;
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast<int>(nt))
  for (int64_t i = begin; i < end; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;  // drain the loop, do no more work
    try {
      f(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
#else
  for (int64_t i = begin; i < end; ++i) f(i);
#endif
}

}  // namespace fe
