// Per-row int8 quantization (see quantize.h for what and why).
#include "nn/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/parallel.h"

#include "common/isa.h"

#ifndef FE_ISA_NS
#error "compiled once per dispatch level by setup.py (-DFE_ISA_NS=isa_<level>; csrc/README.md, Runtime dispatch)"
#endif

namespace fe {
FE_ISA_BEGIN
namespace {

// The largest |v| of a row, and whether the row holds a NaN (which max would skip).
template <bool kScaled>
inline float row_amax(const float* row, const float* col_scale, int64_t cols, bool* nan) {
  float amax = 0.0f;
  bool seen_nan = false;
  for (int64_t c = 0; c < cols; ++c) {
    const float v = std::fabs(kScaled ? row[c] * col_scale[c] : row[c]);
    amax = v > amax ? v : amax;
    seen_nan |= v != v;
  }
  *nan = seen_nan;
  return amax;
}

template <bool kScaled>
inline void row_codes(const float* row, const float* col_scale, int64_t cols, float inv, int8_t* out) {
  // nearbyint rounds half to even in the default rounding mode, as torch.round; |v·inv| <= 127 up
  // to one rounding, so the conversion needs no clamp.
  for (int64_t c = 0; c < cols; ++c)
    out[c] = static_cast<int8_t>(std::nearbyint((kScaled ? row[c] * col_scale[c] : row[c]) * inv));
}

}  // namespace

void quantize_rows_s8_cpu(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* col_scale,
                          int8_t* q, float* row_scale) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* row = x + r * ldx;
      int8_t* out = q + r * cols;
      bool nan = false;
      const float amax = col_scale ? row_amax<true>(row, col_scale, cols, &nan) : row_amax<false>(row, nullptr, cols, &nan);
      if (nan || !std::isfinite(amax)) {  // a non-finite row stays non-finite downstream, never UB here
        std::memset(out, 0, static_cast<size_t>(cols));
        row_scale[r] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      const float inv = 127.0f / std::max(amax, 1e-30f);
      if (col_scale)
        row_codes<true>(row, col_scale, cols, inv, out);
      else
        row_codes<false>(row, nullptr, cols, inv, out);
      row_scale[r] = amax / 127.0f;
    }
  });
}

FE_ISA_END
}  // namespace fe
