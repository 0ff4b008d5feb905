// One CUDA thread block at a time on the calling CPU thread: every CUDA thread is a fiber with its
// own stack (guard page below), switched cooperatively. A fiber runs until it reaches a barrier or
// returns; then the next ready fiber runs (FIFO, so a block's schedule is deterministic).
//
//   __syncthreads    waits until every fiber of the block that has not returned is waiting there;
//   warp collectives wait until every lane named in the mask is waiting with that same mask or
//                    has returned; the lane that completes a group computes every member's result
//                    (shuffle source values, ballots) before any member resumes;
//   deadlock         no fiber ready while some still live (e.g. one warp at __syncthreads and
//                    another at __syncwarp): the block fails with a description of who waits where.
//
// Under ThreadSanitizer (FE_EMU_TSAN) every fiber is a TSan fiber, switches between fibers carry no
// happens-before, and barriers add exactly the edges CUDA promises (__syncthreads and __syncwarp;
// shuffles and votes none): so a missing __syncthreads or __syncwarp between a write and a read of
// shared memory shows up as a data race, also where a shuffle sits between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda_emu/device.h"
#include "cuda_emu/runtime.h"

namespace fe_emu {

struct Fiber;

struct BlockJob {
  void (*body)(const void*);
  const void* ctx;
  dim3 grid, block;
  size_t smem;
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs block `idx` of `job` to its end. Returns false with `error` set when it cannot finish.
  bool run_block(const BlockJob& job, uint3 idx, std::string& error);

  // Called from fibers (through device.h's intrinsics).
  void sync_block();
  uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* what);
  [[noreturn]] void fiber_exit();
  [[noreturn]] void fiber_body();

  static Scheduler& current();  // this CPU thread's scheduler

 private:
  void ensure_fibers(int n);
  void push_ready(int i);
  int pop_ready();
  // The running fiber waits: switch to the next ready fiber (or back to run_block).
  void block_current();
  void switch_from(Fiber* from, Fiber* to, bool sync);
  [[noreturn]] void fail(std::string message);
  bool try_complete_warp(int warp, unsigned mask, int self);
  void release_block_barrier(int self);
  std::string describe_waits() const;

  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::unique_ptr<Fiber> main_;
  std::vector<int> ready_;  // ring buffer of fiber indices
  size_t head_ = 0, tail_ = 0, queued_ = 0;
  const BlockJob* job_ = nullptr;
  BlockView view_{};
  int nthreads_ = 0, live_ = 0, at_block_barrier_ = 0;
  struct WarpGroup {
    unsigned mask = 0;
    WarpOp op = WarpOp::kSync;
    bool uniform = true;  // every waiting lane of the warp has this mask and op
  };
  std::vector<WarpGroup> groups_;
  std::vector<unsigned> warp_waiting_, warp_gone_;  // per warp: lanes in a collective, lanes returned
  unsigned char* smem_ = nullptr;
  size_t smem_capacity_ = 0;
  bool failed_ = false;
  std::string error_;
  Fiber* running_ = nullptr;
  // Addresses whose TSan sync clocks stand for the barriers: block setup, fibers' ends, two per
  // barrier kind (alternating), counted by completed barriers; abandon_tag_ gathers every stop of
  // every fiber, for after a failed block.
  char start_tag_ = 0, done_tag_ = 0, abandon_tag_ = 0;
  char block_tags_[2] = {0, 0};
  std::vector<char> warp_tags_;  // 2 per warp
  unsigned block_syncs_ = 0;
  std::vector<unsigned> warp_syncs_;
};

}  // namespace fe_emu
