// CPU bulk fills from the Philox stream (see rng.h). Work is split into blocks of 4 elements so
// each Philox call yields four outputs; chunk edges that are not multiples of 4 are handled by
// philox_u32 directly.
#include "rng/rng.h"

#include "common/error.h"
#include "common/parallel.h"
#include "common/rng.h"

namespace fe {
namespace {

template <class T, class Convert>
void fill(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, T* out, Convert convert) {
  FE_CHECK(n >= 0, ValueError, "rng fill: n must be >= 0, got ", n);
  FE_CHECK(n == 0 || out != nullptr, ValueError, "rng fill: out is null");
  parallel_for(0, n, 1 << 14, [&](int64_t lo, int64_t hi) {
    int64_t j = lo;
    // Head: until the stream index is a multiple of 4.
    for (; j < hi && ((offset + j) & 3) != 0; ++j) out[j] = convert(philox_u32(seed, subsequence, offset + j));
    // Body: whole blocks of 4.
    for (; j + 4 <= hi; j += 4) {
      const U32x4 b = philox_block(seed, subsequence, (offset + j) >> 2);
      out[j] = convert(b.x);
      out[j + 1] = convert(b.y);
      out[j + 2] = convert(b.z);
      out[j + 3] = convert(b.w);
    }
    // Tail.
    for (; j < hi; ++j) out[j] = convert(philox_u32(seed, subsequence, offset + j));
  });
}

}  // namespace

void rng_fill_u32_cpu(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, uint32_t* out) {
  fill(seed, subsequence, offset, n, out, [](uint32_t b) { return b; });
}

void rng_fill_uniform_cpu(uint64_t seed, uint64_t subsequence, uint64_t offset, int64_t n, float* out) {
  fill(seed, subsequence, offset, n, out, [](uint32_t b) { return u32_to_uniform(b); });
}

}  // namespace fe
