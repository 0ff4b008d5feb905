// Runtime dispatch of the hot CPU kernels (csrc/README.md, "Runtime dispatch").
//
// The kernel sources (attention/attention_cpu.cc, attention/decode_cpu.cc, blas/axpy_cpu.cc, nn/epilogue_cpu.cc,
// nn/quantize_cpu.cc, nn/panel_linear_cpu.cc, word2vec/train.cc) and dispatch/table.cc are compiled once per level, each
// time with that level's -march and -DFE_ISA_NS=isa_<level>, so every copy lives in its own
// namespace. Each copy of table.cc returns a KernelTable of its level's functions. dispatch.cc
// (compiled for the baseline, like the rest of the module) picks one table at import from what the
// CPU reports, capped by FASTEMBED_ISA, and the public entry points (fe::attention_forward_cpu,
// fe::bias_gelu_cpu, ...) call through it. Argument checks that the bindings rely on stay in
// baseline code.
//
// Levels: baseline (x86-64-v2 on x86-64; the compiler's default, NEON included, on aarch64), avx2
// (x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE) and avx512 (x86-64-v4: AVX-512 F, BW, CD,
// DQ, VL). A build with FASTEMBED_ARCH=native/portable/<march> compiles one copy with the module's
// own flags, named "native".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attention/params.h"
#include "common/isa.h"
#include "common/progress.h"
#include "word2vec/train.h"

namespace fe::dispatch {

enum Level : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

struct KernelTable {
  const char* name;   // "baseline", "avx2", "avx512" or "native"
  int level;          // Level it needs from the CPU (native: what its flags enabled)
  const char* flags;  // the -march flags it was compiled with
  void (*attention_forward)(const AttentionParams&);
  void (*attention_backward)(const AttentionParams&);
  void (*attention_dropout_mask)(int64_t, int64_t, int64_t, int64_t, double, uint64_t, uint64_t, uint8_t*);
  void (*decode_attention)(const float*, int64_t, int64_t, int64_t, int64_t, float*, float*, int64_t, int64_t,
                           const uint8_t*, int64_t, float, float*, int64_t);
  void (*bias)(float*, int64_t, int64_t, int64_t, const float*, const float*);
  void (*bias_gelu)(float*, int64_t, int64_t, int64_t, const float*, const float*);
  void (*bias_residual_layer_norm)(float*, int64_t, int64_t, int64_t, const float*, const float*, int64_t,
                                   const float*, const float*, float, const float*);
  void (*quantize_rows_s8)(const float*, int64_t, int64_t, int64_t, const float*, int8_t*, float*);
  void (*panel_linear)(const float*, int64_t, int64_t, int64_t, const float*, int64_t, const float*, float*, int64_t,
                       int);
  void (*axpy_f32)(int64_t, float, const float*, int64_t, float*, int64_t);
  void (*axpy_f64)(int64_t, double, const double*, int64_t, double*, int64_t);
  void (*w2v_train_epoch)(w2v::TrainParams&, Progress*);
  double (*w2v_train_step_for_testing)(const w2v::TrainParams&, int, int32_t, const int32_t*, int64_t,
                                       const int32_t*, int64_t, float);
};

// The table in use. Before select() it is the best level this CPU supports.
const KernelTable& kernels();

struct Selection {
  std::string level;                 // the table chosen
  std::vector<std::string> compiled; // the tables in this build, lowest first
  std::vector<std::string> flags;    // their -march flags, same order
  std::string cpu;                   // the highest level this CPU (and OS) supports
  std::string cap;                   // FASTEMBED_ISA as given ("" when unset)
  std::string warning;               // why the cap could not be honoured ("" when it was)
};

// Chooses the table once (at import): the highest compiled level that the CPU supports and `cap`
// allows. cap: "", "baseline", "avx2" or "avx512" (fe::ValueError otherwise). pretend_cpu (tests
// only; "" for none) lowers the CPU level detection reports, so the fallback can be tested on a
// machine that has everything without running an unsupported instruction.
Selection select(const std::string& cap, const std::string& pretend_cpu);
// What the last select() chose (or the default choice when it was never called).
Selection current();

}  // namespace fe::dispatch

// Each level's copy of table.cc defines fe::isa_<level>::kernel_table().
namespace fe {
FE_ISA_BEGIN
#if defined(FE_ISA_NS)
const dispatch::KernelTable& kernel_table();
#endif
FE_ISA_END
}  // namespace fe
