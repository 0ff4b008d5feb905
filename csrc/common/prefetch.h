// Prefetching a cache line that the caller is about to write.
//
// PREFETCHW fetches the line for ownership (exclusive), so the store that follows needs no second
// trip to the other cores' caches. Where threads write shared rows (word2vec's Hogwild updates)
// that is most of the prefetch's worth: with a plain read prefetch the portable build's word2vec
// ran at 0.8x a -march=native build on two threads (benchmarks/portable_paired.py). The
// instruction is not in x86-64-v3 (Haswell lacks it; Broadwell and every AMD CPU with AVX2 have
// it), so -march=x86-64-v3/v4 code gets a read prefetch from __builtin_prefetch(p, 1): the level
// code asks the CPU once instead and emits PREFETCHW itself where the CPU has it.
#pragma once

#include "common/isa.h"

namespace fe {

// CPUID 0x80000001 ECX bit 8 (PRFCHW; "3dnowprefetch" in /proc/cpuinfo); false off x86.
// Read once, then cached. Defined in dispatch/dispatch.cc, next to the other CPUID checks.
bool cpu_has_prefetchw();

FE_ISA_BEGIN
inline void prefetch_for_write(const void* p, bool prefetchw) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__PRFCHW__)
  if (prefetchw)
    __asm__("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
  else
    __builtin_prefetch(p, 1, 3);  // a read prefetch here (prefetcht0)
#else
  (void)prefetchw;  // the compiler's own write prefetch: PREFETCHW, or PRFM PSTL1KEEP on AArch64
  __builtin_prefetch(p, 1, 3);
#endif
}
FE_ISA_END

}  // namespace fe
