// Seedable random numbers that give the same bits on the CPU and on a CUDA device.
//
// Two generators:
// - Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
//   counter-based generator. Element i of stream (seed, subsequence) is a pure function of
//   (seed, subsequence, i), so any thread on any device can produce any element without state.
//   Dropout masks use it so the backward pass can regenerate the forward's mask.
// - SplitMix64 (Steele et al. 2014): a tiny sequential generator for per-thread CPU streams
//   (e.g. a Hogwild worker's negative samples) and for deriving seeds.
//
// Stream convention for Philox (shared by fe::philox_u32, the CPU fill and the CUDA fill):
//   key     = (seed & 0xffffffff, seed >> 32)
//   counter = (c & 0xffffffff, c >> 32, subsequence & 0xffffffff, subsequence >> 32), c = i / 4
//   element i is word (i % 4) of philox4x32_10(counter, key).
// The test suite checks this header against the Random123 known-answer vectors and against a
// pure-Python implementation (tests/native/_rng_reference.py).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FE_HOST_DEVICE inline
#endif

namespace fe {

struct U32x4 {
  uint32_t x, y, z, w;
};

namespace philox_detail {
constexpr uint32_t kM0 = 0xD2511F53u;  // round multipliers
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt(3) - 1)
constexpr uint32_t kW1 = 0xBB67AE85u;

FE_HOST_DEVICE void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  lo = a * b;
  hi = __umulhi(a, b);
#else
  const uint64_t p = static_cast<uint64_t>(a) * b;
  lo = static_cast<uint32_t>(p);
  hi = static_cast<uint32_t>(p >> 32);
#endif
}

FE_HOST_DEVICE U32x4 round(U32x4 c, uint32_t k0, uint32_t k1) {
  uint32_t hi0, lo0, hi1, lo1;
  mulhilo(kM0, c.x, hi0, lo0);
  mulhilo(kM1, c.z, hi1, lo1);
  return U32x4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
}
}  // namespace philox_detail

// The Philox4x32 bijection with 10 rounds.
FE_HOST_DEVICE U32x4 philox4x32_10(U32x4 counter, uint32_t k0, uint32_t k1) {
  using namespace philox_detail;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    counter = round(counter, k0, k1);
  }
  return counter;
}

// The four consecutive elements 4c .. 4c+3 of stream (seed, subsequence).
FE_HOST_DEVICE U32x4 philox_block(uint64_t seed, uint64_t subsequence, uint64_t c) {
  const U32x4 counter{static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32),
                      static_cast<uint32_t>(subsequence), static_cast<uint32_t>(subsequence >> 32)};
  return philox4x32_10(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

FE_HOST_DEVICE uint32_t u32x4_get(const U32x4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Element i of stream (seed, subsequence). Fills should use philox_block (4 elements per call).
FE_HOST_DEVICE uint32_t philox_u32(uint64_t seed, uint64_t subsequence, uint64_t i) {
  return u32x4_get(philox_block(seed, subsequence, i >> 2), static_cast<int>(i & 3));
}

// Maps 32 random bits to a float in [0, 1) with 24 bits of resolution (exact in fp32).
FE_HOST_DEVICE float u32_to_uniform(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// SplitMix64: sequential, 64-bit state, passes BigCrush; also the standard seed expander.
struct SplitMix64 {
  uint64_t state;
  FE_HOST_DEVICE explicit SplitMix64(uint64_t seed) : state(seed) {}
  FE_HOST_DEVICE uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) for bound >= 1 (Lemire's multiply-shift; bias < bound / 2^64).
  FE_HOST_DEVICE uint64_t below(uint64_t bound) {
#if defined(__CUDA_ARCH__)
    return __umul64hi(next(), bound);
#else
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
#endif
  }
  FE_HOST_DEVICE float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
};

}  // namespace fe
