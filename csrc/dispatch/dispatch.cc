// Level selection and the public CPU entry points (see kernels.h). Compiled for the baseline.
//
// CPU detection reads CPUID directly and checks that the OS saves the vector state (XGETBV):
// a CPU with AVX-512 under an OS (or hypervisor) that does not save the ZMM registers must not
// run AVX-512 code. GCC's __builtin_cpu_supports does the same in recent versions, but not in all
// of the compilers this builds with, and it knows no x86-64-v3/v4 levels.
#include "dispatch/kernels.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <type_traits>

#include "blas/axpy.h"
#include "common/error.h"
#include "common/prefetch.h"
#include "nn/epilogue.h"
#include "nn/panel_linear.h"
#include "attention/decode.h"
#include "nn/quantize.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FE_X86 1
#endif

// The levels setup.py compiled (FE_HAVE_ISA_<LEVEL>=1), each with its kernel_table().
namespace fe {
#if defined(FE_HAVE_ISA_BASELINE)
namespace isa_baseline { const dispatch::KernelTable& kernel_table(); }
#endif
#if defined(FE_HAVE_ISA_AVX2)
namespace isa_avx2 { const dispatch::KernelTable& kernel_table(); }
#endif
#if defined(FE_HAVE_ISA_AVX512)
namespace isa_avx512 { const dispatch::KernelTable& kernel_table(); }
#endif
#if defined(FE_HAVE_ISA_NATIVE)
namespace isa_native { const dispatch::KernelTable& kernel_table(); }
#endif
}  // namespace fe

namespace fe::dispatch {
namespace {

const char* const kNames[] = {"baseline", "avx2", "avx512"};

// Lowest first.
std::vector<const KernelTable*> compiled_tables() {
  std::vector<const KernelTable*> t;
#if defined(FE_HAVE_ISA_BASELINE)
  t.push_back(&isa_baseline::kernel_table());
#endif
#if defined(FE_HAVE_ISA_AVX2)
  t.push_back(&isa_avx2::kernel_table());
#endif
#if defined(FE_HAVE_ISA_AVX512)
  t.push_back(&isa_avx512::kernel_table());
#endif
#if defined(FE_HAVE_ISA_NATIVE)
  t.push_back(&isa_native::kernel_table());
#endif
  FE_CHECK(!t.empty(), RuntimeError, "fastembed was built without any kernel table (setup.py, dispatch levels)");
  return t;
}

#if defined(FE_X86)
uint64_t xgetbv0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

// The highest level this CPU and OS support.
int detect_cpu_level() {
#if defined(FE_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return kBaseline;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12), f16c = c & (1u << 29),
             movbe = c & (1u << 22);
  if (!osxsave || !avx) return kBaseline;  // XGETBV itself faults without OSXSAVE
  const uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return kBaseline;  // XMM and YMM state
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return kBaseline;
  unsigned ae = 0, be = 0, ce = 0, de = 0;
  const bool lzcnt = __get_cpuid(0x80000001u, &ae, &be, &ce, &de) && (ce & (1u << 5));
  const bool avx2 = b7 & (1u << 5), bmi1 = b7 & (1u << 3), bmi2 = b7 & (1u << 8);
  if (!(avx2 && fma && f16c && movbe && bmi1 && bmi2 && lzcnt)) return kBaseline;
  const bool f = b7 & (1u << 16), dq = b7 & (1u << 17), cd = b7 & (1u << 28), bw = b7 & (1u << 30),
             vl = b7 & (1u << 31);
  if (!(f && dq && cd && bw && vl) || (xcr0 & 0xe6) != 0xe6) return kAvx2;  // + opmask, ZMM state
  return kAvx512;
#else
  return kBaseline;
#endif
}

int parse_level(const std::string& s, const char* what) {
  for (int i = 0; i < 3; ++i)
    if (s == kNames[i]) return i;
  FE_FAIL(ValueError, what, "=", s, ": expected baseline, avx2 or avx512 (or unset)");
}

struct State {
  std::mutex mu;
  const KernelTable* table = nullptr;
  Selection sel;
};
State& state() {
  static State s;
  return s;
}

Selection choose(const std::string& cap, const std::string& pretend_cpu, const KernelTable** out) {
  const std::vector<const KernelTable*> tables = compiled_tables();
  int cpu = detect_cpu_level();
  if (!pretend_cpu.empty()) cpu = std::min(cpu, parse_level(pretend_cpu, "FASTEMBED_TEST_CPU_LEVEL"));
  const int want = cap.empty() ? kAvx512 : parse_level(cap, "FASTEMBED_ISA");
  Selection s;
  s.cap = cap;
  s.cpu = kNames[cpu];
  for (const KernelTable* t : tables) {
    s.compiled.push_back(t->name);
    s.flags.push_back(t->flags);
  }
  const KernelTable* best = nullptr;
  for (const KernelTable* t : tables)
    if (t->level <= std::min(cpu, want)) best = t;
  if (best == nullptr) {
    // Only in a single-copy build whose copy needs more than the cap (FASTEMBED_ARCH=native with
    // FASTEMBED_ISA=baseline): that copy is all there is, and the CPU runs it (it was built here).
    best = tables.front();
    s.warning = "FASTEMBED_ISA=" + cap + ": this build has only the '" + best->name +
                "' kernels (FASTEMBED_ARCH was set at build time); using them";
  } else if (!cap.empty() && want > cpu) {
    s.warning = "FASTEMBED_ISA=" + cap + " asks for more than this CPU supports (" + kNames[cpu] +
                "); using the '" + best->name + "' kernels";
  } else if (!cap.empty() && best->level < want && best == tables.back()) {
    s.warning = "FASTEMBED_ISA=" + cap + ": not compiled in this build; using the '" + best->name + "' kernels";
  }
  s.level = best->name;
  *out = best;
  return s;
}

std::atomic<const KernelTable*> g_table{nullptr};

}  // namespace

const KernelTable& kernels() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (t) return *t;
  current();  // the default choice
  return *g_table.load(std::memory_order_acquire);
}

Selection select(const std::string& cap, const std::string& pretend_cpu) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const KernelTable* t = nullptr;
  st.sel = choose(cap, pretend_cpu, &t);
  st.table = t;
  g_table.store(t, std::memory_order_release);
  return st.sel;
}

Selection current() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.table == nullptr) {
    const KernelTable* t = nullptr;
    st.sel = choose("", "", &t);
    st.table = t;
    g_table.store(t, std::memory_order_release);
  }
  return st.sel;
}

}  // namespace fe::dispatch

// ---------------------------------------------------------------------------------------------
// The public entry points: the chosen level's copy.

namespace fe {

using dispatch::kernels;

void attention_forward_cpu(const AttentionParams& p) { kernels().attention_forward(p); }
void attention_backward_cpu(const AttentionParams& p) { kernels().attention_backward(p); }
void attention_dropout_mask_cpu(int64_t B, int64_t H, int64_t Tq, int64_t Tk, double p, uint64_t seed,
                                uint64_t offset, uint8_t* mask) {
  kernels().attention_dropout_mask(B, H, Tq, Tk, p, seed, offset, mask);
}
void bias_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias, const float* row_scale) {
  kernels().bias(y, rows, cols, ldy, bias, row_scale);
}
void bias_gelu_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias, const float* row_scale) {
  kernels().bias_gelu(y, rows, cols, ldy, bias, row_scale);
}
void bias_residual_layer_norm_cpu(float* y, int64_t rows, int64_t cols, int64_t ldy, const float* bias,
                                  const float* residual, int64_t ldr, const float* gamma, const float* beta,
                                  float eps, const float* row_scale) {
  kernels().bias_residual_layer_norm(y, rows, cols, ldy, bias, residual, ldr, gamma, beta, eps, row_scale);
}
void quantize_rows_s8_cpu(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* col_scale,
                          int8_t* q, float* row_scale) {
  kernels().quantize_rows_s8(x, rows, cols, ldx, col_scale, q, row_scale);
}
void decode_attention_cpu(const float* qkv, int64_t ldqkv, int64_t B, int64_t H, int64_t D, float* k, float* v,
                          int64_t cap, int64_t n, const uint8_t* padded, int64_t ldp, float scale, float* out,
                          int64_t ldo) {
  kernels().decode_attention(qkv, ldqkv, B, H, D, k, v, cap, n, padded, ldp, scale, out, ldo);
}
void panel_linear_cpu(const float* x, int64_t M, int64_t K, int64_t ldx, const float* packed, int64_t N,
                      const float* bias, float* y, int64_t ldy, int epilogue) {
  kernels().panel_linear(x, M, K, ldx, packed, N, bias, y, ldy, epilogue);
}

template <class T>
void axpy_cpu(int64_t n, T alpha, const T* x, int64_t incx, T* y, int64_t incy) {
  axpy_check_args(n, x, incx, y, incy, sizeof(T));
  if constexpr (std::is_same_v<T, float>) {
    kernels().axpy_f32(n, alpha, x, incx, y, incy);
  } else {
    kernels().axpy_f64(n, alpha, x, incx, y, incy);
  }
}
template void axpy_cpu<float>(int64_t, float, const float*, int64_t, float*, int64_t);
template void axpy_cpu<double>(int64_t, double, const double*, int64_t, double*, int64_t);

bool cpu_has_prefetchw() {
#if defined(FE_X86)
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8));
  }();
  return has;
#else
  return false;
#endif
}

namespace w2v {
void train_epoch(TrainParams& p, Progress* progress) { kernels().w2v_train_epoch(p, progress); }
double train_step_for_testing(const TrainParams& p, int mode, int32_t centre, const int32_t* contexts,
                              int64_t n_contexts, const int32_t* negatives, int64_t n_negatives, float alpha) {
  return kernels().w2v_train_step_for_testing(p, mode, centre, contexts, n_contexts, negatives, n_negatives, alpha);
}
}  // namespace w2v

}  // namespace fe
