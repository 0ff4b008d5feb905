// Progress and cancellation for long native work that runs with the GIL released.
//
// Python owns a Progress object, passes it to the native call (which runs in a worker thread)
// and polls `done`/`total` to draw a progress bar; setting `cancel` (on KeyboardInterrupt) makes
// the native loop stop at its next check with fe::Cancelled.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/error.h"

namespace fe {

class Cancelled : public RuntimeError {
 public:
  Cancelled() : RuntimeError("cancelled") {}
};

struct Progress {
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> total{0};
  std::atomic<bool> cancel{false};
};

// Adds `n` to done and throws fe::Cancelled if cancellation was asked for. p may be null.
inline void progress_step(Progress* p, int64_t n = 1) {
  if (p == nullptr) return;
  p->done.fetch_add(n, std::memory_order_relaxed);
  if (p->cancel.load(std::memory_order_relaxed)) throw Cancelled();
}

}  // namespace fe
