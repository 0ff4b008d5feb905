// Fibers and the block scheduler of the CUDA emulator (scheduler.h has the rules).
#include "cuda_emu/scheduler.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(FE_EMU_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#define FE_TSAN(...) __VA_ARGS__
#else
#define FE_TSAN(...)
#endif

// x86-64: a context switch saves the callee-saved registers on the old stack and swaps stack
// pointers (a few ns; glibc's swapcontext also makes a sigprocmask system call per switch).
// Floating-point control state (MXCSR, x87) is not switched: kernels never change it, so every
// fiber runs with its CPU thread's. Other machines use ucontext.
#if defined(__x86_64__)
extern "C" void fe_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .p2align 4
  .globl fe_emu_switch
  .hidden fe_emu_switch
  .type fe_emu_switch,@function
fe_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fe_emu_switch,.-fe_emu_switch
)");
#endif

extern "C" [[noreturn]] void fe_emu_fiber_entry();

namespace fe_emu {
namespace {
thread_local Scheduler* tls_scheduler = nullptr;  // the scheduler running a block on this thread
}
}  // namespace fe_emu

extern "C" [[noreturn]] void fe_emu_fiber_entry() { fe_emu::tls_scheduler->fiber_body(); }

namespace fe_emu {

enum class State : uint8_t { kReady, kRunning, kBlockBarrier, kWarp, kDone };

struct Fiber {
  FiberView view{};
  int index = 0, warp = 0, lane = 0;
  State state = State::kDone;
  // The warp collective this fiber waits in.
  WarpOp op = WarpOp::kSync;
  unsigned mask = 0;
  int arg = 0, width = 32;
  uint64_t value = 0, result = 0;
  const char* what = "";
  // Context.
  void* sp = nullptr;
#if !defined(__x86_64__)
  ucontext_t uc{};
#endif
  void* map = nullptr;  // stack mapping (guard page first)
  size_t map_bytes = 0;
  void* tsan = nullptr;
};

namespace {

constexpr size_t kStackBytes = 256 * 1024;
thread_local Fiber* tls_fiber = nullptr;
thread_local const BlockView* tls_block = nullptr;

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::kSync: return "__syncwarp";
    case WarpOp::kShflIdx: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
  }
  return "?";
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// "0-31, 40, 64-127" from a sorted list of thread indices.
std::string ranges(const std::vector<int>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    os << (i ? ", " : "") << v[i];
    if (j > i) os << "-" << v[j];
    i = j + 1;
  }
  return os.str();
}

}  // namespace

const FiberView& this_thread() { return tls_fiber->view; }
const BlockView& this_block() { return *tls_block; }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* what) {
  return tls_scheduler->warp_collective(op, mask, value, arg, width, what);
}
void sync_block() { tls_scheduler->sync_block(); }

Scheduler& Scheduler::current() {
  static thread_local Scheduler s;
  return s;
}

Scheduler::Scheduler() : main_(new Fiber) { FE_TSAN(main_->tsan = __tsan_get_current_fiber()); }

Scheduler::~Scheduler() {
  for (auto& f : fibers_) {
    FE_TSAN(__tsan_destroy_fiber(f->tsan));
    munmap(f->map, f->map_bytes);
  }
  std::free(smem_);
}

void Scheduler::ensure_fibers(int n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  while (static_cast<int>(fibers_.size()) < n) {
    auto f = std::make_unique<Fiber>();
    f->map_bytes = kStackBytes + page;
    f->map = mmap(nullptr, f->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f->map == MAP_FAILED) throw std::bad_alloc();
    mprotect(f->map, page, PROT_NONE);  // a stack overflow faults instead of corrupting a neighbour
    FE_TSAN(f->tsan = __tsan_create_fiber(0));
    fibers_.push_back(std::move(f));
  }
}

// A fresh context whose first switch enters fe_emu_fiber_entry on an empty stack.
static void init_context(Fiber* f) {
  char* top = static_cast<char*>(f->map) + f->map_bytes;
#if defined(__x86_64__)
  uint64_t* s = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t{15});
  *--s = 0;                                                     // fake return address of the entry
  *--s = reinterpret_cast<uint64_t>(&fe_emu_fiber_entry);       // popped by fe_emu_switch's ret
  for (int r = 0; r < 6; ++r) *--s = 0;                         // rbp rbx r12 r13 r14 r15
  f->sp = s;
#else
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = static_cast<char*>(f->map) + sysconf(_SC_PAGESIZE);
  f->uc.uc_stack.ss_size = kStackBytes;
  f->uc.uc_link = nullptr;
  makecontext(&f->uc, reinterpret_cast<void (*)()>(&fe_emu_fiber_entry), 0);
  (void)top;
#endif
}

void Scheduler::switch_from(Fiber* from, Fiber* to, bool sync) {
  running_ = to;
  tls_fiber = to;
  FE_TSAN(__tsan_switch_to_fiber(to->tsan, sync ? 0u : 1u /* __tsan_switch_to_fiber_no_sync */));
#if defined(__x86_64__)
  fe_emu_switch(&from->sp, to->sp);
#else
  swapcontext(&from->uc, &to->uc);
#endif
}

void Scheduler::push_ready(int i) {
  ready_[tail_] = i;
  if (++tail_ == ready_.size()) tail_ = 0;
  ++queued_;
}

int Scheduler::pop_ready() {
  if (queued_ == 0) return -1;
  const int i = ready_[head_];
  if (++head_ == ready_.size()) head_ = 0;
  --queued_;
  return i;
}

bool Scheduler::run_block(const BlockJob& job, uint3 idx, std::string& error) {
  job_ = &job;
  nthreads_ = static_cast<int>(job.block.x * job.block.y * job.block.z);
  ensure_fibers(nthreads_);
  if (job.smem > smem_capacity_) {
    std::free(smem_);
    smem_capacity_ = (job.smem + 127) / 128 * 128;
    smem_ = static_cast<unsigned char*>(std::aligned_alloc(128, smem_capacity_));
    if (smem_ == nullptr) {
      smem_capacity_ = 0;
      throw std::bad_alloc();
    }
  }
  // Junk in shared memory (all bits set: NaN as float, -1 as an integer, true as a flag), so a
  // read of memory no thread of this block wrote changes the results.
  if (job.smem > 0) std::memset(smem_, 0xff, job.smem);
  view_ = BlockView{idx, job.block, job.grid, smem_};
  tls_block = &view_;
  tls_scheduler = this;

  const int nwarps = (nthreads_ + kWarpSize - 1) / kWarpSize;
  warp_waiting_.assign(static_cast<size_t>(nwarps), 0u);
  groups_.assign(static_cast<size_t>(nwarps), WarpGroup{});
  warp_gone_.assign(static_cast<size_t>(nwarps), 0u);
  if (nthreads_ % kWarpSize != 0)  // lanes past the block size count as returned
    warp_gone_.back() = ~((1u << (nthreads_ % kWarpSize)) - 1u);
  warp_tags_.assign(2 * static_cast<size_t>(nwarps), 0);
  warp_syncs_.assign(static_cast<size_t>(nwarps), 0u);
  block_syncs_ = 0;
  ready_.assign(static_cast<size_t>(nthreads_), 0);
  head_ = tail_ = queued_ = 0;
  const unsigned bx = job.block.x, by = job.block.y;
  for (int i = 0; i < nthreads_; ++i) {
    Fiber* f = fibers_[static_cast<size_t>(i)].get();
    const unsigned u = static_cast<unsigned>(i);
    f->view.tid = uint3{u % bx, (u / bx) % by, u / (bx * by)};
    f->index = i;
    f->warp = i / kWarpSize;
    f->lane = i % kWarpSize;
    f->state = State::kReady;
    init_context(f);
    push_ready(i);
  }
  live_ = nthreads_;
  at_block_barrier_ = 0;
  failed_ = false;
  error_.clear();

  FE_TSAN(__tsan_release(&start_tag_));  // the junk fill and block setup, for every fiber
  Fiber* first = fibers_[static_cast<size_t>(pop_ready())].get();
  first->state = State::kRunning;
  switch_from(main_.get(), first, /*sync=*/true);
  // Back on the CPU thread's own stack: every fiber has returned, or the block is stuck.
  FE_TSAN(__tsan_acquire(&done_tag_));
  // A block that failed or deadlocked leaves fibers that never return: what each did before it
  // last stopped is ordered before the next block's use of the same memory.
  FE_TSAN(if (failed_ || live_ > 0) __tsan_acquire(&abandon_tag_));
  tls_block = nullptr;
  tls_fiber = nullptr;
  running_ = nullptr;
  if (failed_) {
    error = error_;
    return false;
  }
  if (live_ > 0) {
    error = "deadlock: no thread can go on. " + describe_waits();
    return false;
  }
  return true;
}

void Scheduler::fiber_body() {
  FE_TSAN(__tsan_acquire(&start_tag_));
  job_->body(job_->ctx);
  fiber_exit();
}

void Scheduler::block_current() {
  Fiber* self = running_;
  FE_TSAN(__tsan_release(&abandon_tag_));  // read only if the block fails (run_block)
  const int next = pop_ready();
  Fiber* to = next >= 0 ? fibers_[static_cast<size_t>(next)].get() : main_.get();
  if (next >= 0) to->state = State::kRunning;
  switch_from(self, to, /*sync=*/false);
}

void Scheduler::fail(std::string message) {
  FE_TSAN(__tsan_release(&abandon_tag_));
  failed_ = true;
  error_ = std::move(message);
  switch_from(running_, main_.get(), false);  // this fiber is abandoned: it never runs again
  __builtin_unreachable();
}

void Scheduler::release_block_barrier(int self) {
  for (int i = 0; i < nthreads_; ++i) {
    Fiber* f = fibers_[static_cast<size_t>(i)].get();
    if (f->state == State::kBlockBarrier && i != self) {
      f->state = State::kReady;
      push_ready(i);
    }
  }
  at_block_barrier_ = 0;
  ++block_syncs_;
}

void Scheduler::sync_block() {
  Fiber* f = running_;
  // This barrier's sync object: consecutive barriers alternate between two, so a thread that has
  // passed this barrier and released at the next one adds no order between the threads still
  // resuming from this one (no thread can be two barriers ahead of another).
  char* tag = &block_tags_[block_syncs_ & 1u];
  (void)tag;
  FE_TSAN(__tsan_release(tag));
  f->state = State::kBlockBarrier;
  if (++at_block_barrier_ == live_) {
    release_block_barrier(f->index);
    f->state = State::kRunning;
  } else {
    block_current();
  }
  FE_TSAN(__tsan_acquire(tag));
}

uint64_t Scheduler::warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* what) {
  Fiber* f = running_;
  const size_t w = static_cast<size_t>(f->warp);
  const int base = f->warp * kWarpSize;
  auto lane_desc = [&](int lane) {
    return "lane " + std::to_string(lane) + " of warp " + std::to_string(f->warp) + " (thread " +
           std::to_string(base + lane) + ")";
  };
  if (!((mask >> f->lane) & 1u))
    fail(std::string(what) + ": " + lane_desc(f->lane) + " passes mask " + hex(mask) + ", which leaves out the caller");
  if (op != WarpOp::kSync && op != WarpOp::kBallot && op != WarpOp::kAny && op != WarpOp::kAll &&
      (width < 1 || width > kWarpSize || (width & (width - 1)) != 0))
    fail(std::string(what) + ": width must be a power of 2 in [1, 32], got " + std::to_string(width));
  // Lanes that meet must agree on the mask and the collective. Usually every waiting lane of the
  // warp is in one group (uniform): one comparison. Otherwise compare with each waiting lane.
  WarpGroup& group = groups_[w];
  if (warp_waiting_[w] == 0) {
    group = WarpGroup{mask, op, true};
  } else if (!(group.uniform && group.mask == mask && group.op == op)) {
    for (unsigned rest = warp_waiting_[w]; rest != 0; rest &= rest - 1) {
      const int l = __builtin_ctz(rest);
      const Fiber* g = fibers_[static_cast<size_t>(base + l)].get();
      const bool overlap = ((mask >> l) & 1u) || ((g->mask >> f->lane) & 1u);
      if (overlap && g->mask != mask)
        fail(std::string(what) + ": " + lane_desc(f->lane) + " passes mask " + hex(mask) + " while " + lane_desc(l) +
             " waits in " + g->what + " with mask " + hex(g->mask));
      if (overlap && g->op != op)
        fail(std::string(what) + ": " + lane_desc(f->lane) + " meets " + lane_desc(l) + ", which waits in " +
             op_name(g->op) + " (different warp collectives cannot pair up)");
    }
    group.uniform = false;  // disjoint groups wait side by side
  }
  f->op = op;
  f->mask = mask;
  f->value = value;
  f->arg = arg;
  f->width = width;
  f->what = what;
  // Only __syncwarp orders memory between lanes: shuffles and votes exchange values, not memory
  // (CUDA's memory model), so under TSan they add no happens-before. Sync objects alternate as
  // for __syncthreads.
  char* tag = op == WarpOp::kSync ? &warp_tags_[2 * w + (warp_syncs_[w] & 1u)] : nullptr;
  (void)tag;
  FE_TSAN(if (tag) __tsan_release(tag));
  f->state = State::kWarp;
  warp_waiting_[w] |= 1u << f->lane;
  if (try_complete_warp(f->warp, mask, f->index))
    f->state = State::kRunning;
  else
    block_current();
  FE_TSAN(if (tag) __tsan_acquire(tag));
  return f->result;
}

// Completes the group of `warp` named by `mask` when every lane in it waits there (or returned):
// computes each member's result and makes the members ready (all but `self`, which goes on).
bool Scheduler::try_complete_warp(int warp, unsigned mask, int self) {
  const size_t w = static_cast<size_t>(warp);
  const int base = warp * kWarpSize;
  const unsigned waiting = mask & warp_waiting_[w];
  if ((mask & ~warp_gone_[w]) != waiting || waiting == 0) return false;
  const WarpOp op = fibers_[static_cast<size_t>(base + __builtin_ctz(waiting))]->op;
  unsigned votes = 0;
  for (unsigned rest = waiting; rest != 0; rest &= rest - 1) {
    const int l = __builtin_ctz(rest);
    if (fibers_[static_cast<size_t>(base + l)]->value != 0) votes |= 1u << l;
  }
  for (unsigned rest = waiting; rest != 0; rest &= rest - 1) {
    const int l = __builtin_ctz(rest);
    Fiber* g = fibers_[static_cast<size_t>(base + l)].get();
    switch (op) {
      case WarpOp::kSync: g->result = 0; break;
      case WarpOp::kBallot: g->result = votes; break;
      case WarpOp::kAny: g->result = votes != 0; break;
      case WarpOp::kAll: g->result = votes == waiting; break;
      default: {
        // PTX shfl.sync: segments of `width` lanes; an out-of-segment source reads the own lane.
        const int seg = kWarpSize - g->width;
        const int lo = l & seg, hi = lo | (31 & ~seg);
        int src = l;
        bool ok = true;
        if (op == WarpOp::kShflIdx) {
          src = lo | (g->arg & 31 & ~seg);
        } else if (op == WarpOp::kShflUp) {
          src = l - g->arg;
          ok = src >= lo;
        } else if (op == WarpOp::kShflDown) {
          src = l + g->arg;
          ok = src <= hi;
        } else {
          src = l ^ g->arg;
          ok = src >= 0 && src <= hi;
        }
        if (!ok) src = l;
        if (!((waiting >> src) & 1u))
          fail(std::string(g->what) + ": lane " + std::to_string(l) + " of warp " + std::to_string(warp) +
               " reads lane " + std::to_string(src) + ", which " +
               (((mask >> src) & 1u) ? "has returned" : "is not in the mask " + hex(mask)) +
               " (the value would be undefined on a GPU)");
        g->result = fibers_[static_cast<size_t>(base + src)]->value;
      }
    }
  }
  warp_waiting_[w] &= ~waiting;
  if (op == WarpOp::kSync) ++warp_syncs_[w];
  for (unsigned rest = waiting; rest != 0; rest &= rest - 1) {
    const int l = __builtin_ctz(rest);
    if (base + l == self) continue;
    Fiber* g = fibers_[static_cast<size_t>(base + l)].get();
    g->state = State::kReady;
    push_ready(base + l);
  }
  return true;
}

void Scheduler::fiber_exit() {
  Fiber* f = running_;
  FE_TSAN(__tsan_release(&done_tag_));
  f->state = State::kDone;
  --live_;
  const size_t w = static_cast<size_t>(f->warp);
  warp_gone_[w] |= 1u << f->lane;
  // A returned thread leaves both barriers: groups that waited only for it can complete now.
  if (at_block_barrier_ > 0 && at_block_barrier_ == live_) release_block_barrier(-1);
  const int base = f->warp * kWarpSize;
  for (unsigned pending = warp_waiting_[w]; pending != 0;) {
    const Fiber* g = fibers_[static_cast<size_t>(base + __builtin_ctz(pending))].get();
    const unsigned group = g->mask;  // lanes that meet share one mask (checked on arrival)
    if ((group >> f->lane) & 1u) try_complete_warp(f->warp, group, -1);
    pending &= ~group;
  }
  block_current();
  __builtin_unreachable();
}

std::string Scheduler::describe_waits() const {
  std::vector<int> at_block, done;
  std::ostringstream os;
  std::vector<std::pair<std::string, std::vector<int>>> warp_waits;
  for (int i = 0; i < nthreads_; ++i) {
    const Fiber* f = fibers_[static_cast<size_t>(i)].get();
    if (f->state == State::kBlockBarrier) at_block.push_back(i);
    if (f->state == State::kDone) done.push_back(i);
    if (f->state == State::kWarp) {
      const std::string key = std::string(f->what) + " (warp " + std::to_string(f->warp) + ", mask " + hex(f->mask) + ")";
      if (warp_waits.empty() || warp_waits.back().first != key) warp_waits.push_back({key, {}});
      warp_waits.back().second.push_back(i);
    }
  }
  if (!at_block.empty()) os << "threads " << ranges(at_block) << " wait at __syncthreads; ";
  for (const auto& [where, who] : warp_waits) os << "threads " << ranges(who) << " wait in " << where << "; ";
  if (!done.empty()) os << "threads " << ranges(done) << " have returned; ";
  std::string s = os.str();
  if (s.size() >= 2) s.resize(s.size() - 2);
  return s;
}

}  // namespace fe_emu
