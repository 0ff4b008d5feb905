// Facts about this build and this CPU, for fastembed.build_info(). No Python here.
#pragma once

#include <string>
#include <vector>

namespace fe {

// Instruction-set extensions the compiler was allowed to use (from predefined macros), e.g.
// {"sse4.2", "avx", "avx2", "fma"}; highest first is simd_level().
std::vector<std::string> compiled_simd_features();
// The widest vector extension compiled in: "avx512", "avx2", "avx", "sse4.2", "sse2", "neon", "none".
std::string simd_level();
// Extensions this CPU supports at run time (x86 only; empty elsewhere).
std::vector<std::string> cpu_simd_features();
// Compiler name and version, e.g. "gcc 12.2.0".
std::string compiler_version();
// OpenMP version macro (yyyymm), 0 without OpenMP.
int openmp_version();

}  // namespace fe
