// __half and __nv_bfloat16 for the CUDA emulator: 16-bit storage types with the conversions
// CUDA's intrinsics define. float -> half and float -> bfloat16 round to nearest even (the _rn
// intrinsics, which are also what the types' float constructors use), overflow to infinity, keep
// subnormals, and turn NaN into the canonical 0x7fff as CUDA's own host code does. half / bfloat16
// -> float is exact. Arithmetic on the 16-bit types is left out: the kernels compute in float.
#pragma once

#include <cstdint>
#include <cstring>

namespace fe_emu {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return 0x7fffu;             // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;     // rounds to >= 65520: infinity
  if (abs < 0x33000001u) return sign;                // below half the smallest subnormal (2^-25): zero
  const int exp = static_cast<int>(abs >> 23) - 127;
  uint32_t mant = (abs & 0x7fffffu) | 0x800000u;     // 24-bit significand with the hidden bit
  if (exp >= -14) {                                  // normal half: keep 10 fraction bits
    const uint32_t rest = mant & 0x1fffu, half = 0x1000u;
    uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | ((mant >> 13) & 0x3ffu);
    if (rest > half || (rest == half && (h & 1u))) ++h;  // a carry into the exponent is correct
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half: value = m · 2^-24 with m = mant · 2^(exp + 1) (exp in [-25, -15]).
  const int shift = -exp - 1;  // 14 .. 24: bits of mant dropped
  const uint32_t kept = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
  uint32_t h = kept;
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  const float sub = static_cast<float>(mant) * (1.0f / 16777216.0f);  // mant · 2^-24, exact
  return sign ? -sub : sub;
}

inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;  // NaN
  const uint32_t lsb = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7fffu + lsb) >> 16);  // ties to even; overflow gives inf
}

inline float bf16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

}  // namespace fe_emu

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(fe_emu::float_to_half_bits(f)) {}
  operator float() const { return fe_emu::half_bits_to_float(__x); }
};

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(fe_emu::float_to_bf16_bits(f)) {}
  operator float() const { return fe_emu::bf16_bits_to_float(__x); }
};

typedef __half half;
typedef __nv_bfloat16 nv_bfloat16;

inline __half __float2half_rn(float f) { return __half(f); }
inline __half __float2half(float f) { return __half(f); }
inline float __half2float(__half h) { return fe_emu::half_bits_to_float(h.__x); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return fe_emu::bf16_bits_to_float(b.__x); }
