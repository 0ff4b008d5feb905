// The dispatch level's namespace for code compiled once per instruction-set level.
//
// The hot kernels (csrc/dispatch/README section in csrc/README.md) are compiled several times from
// the same source, each time with other -march flags and -DFE_ISA_NS=isa_<level>. Everything they
// define, and the inline SIMD helpers they include (simd.h, tile_gemm.h, vecops.h, ...), sits in
// FE_ISA_BEGIN ... FE_ISA_END: an inline namespace named for the level. Code reads as before
// (fe::simd::exp_vec still names the helper), but the symbols differ per level
// (fe::isa_avx2::simd::exp_vec), so the linker cannot merge an AVX-512 copy of an inline function
// with the baseline copy and hand it to a caller on a CPU without AVX-512 (an ODR violation that
// would surface as SIGILL). Outside the kernel translation units FE_ISA_NS is not defined and the
// macros expand to nothing.
#pragma once

#if defined(FE_ISA_NS)
#define FE_ISA_BEGIN inline namespace FE_ISA_NS {
#define FE_ISA_END }
#else
#define FE_ISA_BEGIN
#define FE_ISA_END
#endif
