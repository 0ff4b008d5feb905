// Thread-count state and the fork handler behind fe::parallel_for (see parallel.h).
#include "common/parallel.h"

#include <atomic>

#include "common/error.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FE_HAVE_PTHREAD_ATFORK 1
#endif

namespace fe {
namespace {

std::atomic<bool> g_forked_child{false};

int query_default_threads() {
#ifdef _OPENMP
  return std::max(1, omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}

// Registers the fork handler once, at load time of the shared library.
struct ForkGuard {
  ForkGuard() {
#ifdef FE_HAVE_PTHREAD_ATFORK
    pthread_atfork(nullptr, nullptr, [] { g_forked_child.store(true); });
#endif
  }
};
const ForkGuard g_fork_guard;

thread_local int t_local_threads = 0;  // 0: no override on this thread

std::atomic<int>& threads_setting() {
  static std::atomic<int> n{query_default_threads()};
  return n;
}

}  // namespace

int default_num_threads() {
  static const int n = query_default_threads();
  return n;
}

int num_threads() {
  if (g_forked_child.load(std::memory_order_relaxed)) return 1;
#ifdef _OPENMP
  if (t_local_threads > 0) return t_local_threads;
  return threads_setting().load(std::memory_order_relaxed);
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  FE_CHECK(n >= 1, ValueError, "set_num_threads: n must be >= 1, got ", n);
  threads_setting().store(n);
}

void set_local_num_threads(int n) {
  FE_CHECK(n >= 0, ValueError, "set_local_num_threads: n must be >= 0 (0 clears the override), got ", n);
  t_local_threads = n;
}

int local_num_threads() { return t_local_threads; }

bool in_forked_child() { return g_forked_child.load(); }

void set_forked_child_flag_for_testing(bool forked) { g_forked_child.store(forked); }

}  // namespace fe
