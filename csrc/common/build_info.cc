// See build_info.h.
#include "common/build_info.h"

namespace fe {

std::vector<std::string> compiled_simd_features() {
  std::vector<std::string> f;
#if defined(__SSE2__)
  f.push_back("sse2");
#endif
#if defined(__SSE4_2__)
  f.push_back("sse4.2");
#endif
#if defined(__AVX__)
  f.push_back("avx");
#endif
#if defined(__AVX2__)
  f.push_back("avx2");
#endif
#if defined(__FMA__)
  f.push_back("fma");
#endif
#if defined(__F16C__)
  f.push_back("f16c");
#endif
#if defined(__AVX512F__)
  f.push_back("avx512f");
#endif
#if defined(__AVX512BW__)
  f.push_back("avx512bw");
#endif
#if defined(__AVX512VL__)
  f.push_back("avx512vl");
#endif
#if defined(__AVX512BF16__)
  f.push_back("avx512bf16");
#endif
#if defined(__ARM_NEON)
  f.push_back("neon");
#endif
  return f;
}

std::string simd_level() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE4_2__)
  return "sse4.2";
#elif defined(__SSE2__)
  return "sse2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "none";
#endif
}

std::vector<std::string> cpu_simd_features() {
  std::vector<std::string> f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse2")) f.push_back("sse2");
  if (__builtin_cpu_supports("sse4.2")) f.push_back("sse4.2");
  if (__builtin_cpu_supports("avx")) f.push_back("avx");
  if (__builtin_cpu_supports("avx2")) f.push_back("avx2");
  if (__builtin_cpu_supports("fma")) f.push_back("fma");
  if (__builtin_cpu_supports("avx512f")) f.push_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) f.push_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) f.push_back("avx512vl");
#endif
  return f;
}

std::string compiler_version() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

int openmp_version() {
#ifdef _OPENMP
  return _OPENMP;
#else
  return 0;
#endif
}

}  // namespace fe
