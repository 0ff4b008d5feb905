// Per-row symmetric int8 quantization of a float32 activation, for int8 matrix products with
// per-token scales (fastembed/models/precision.py):
//
//   v[r][c]      = x[r][c] · col_scale[c]          (col_scale nullable: SmoothQuant's migration of
//                                                   the input channels into the weight; null = 1)
//   row_scale[r] = max_c |v[r][c]| / 127
//   q[r][c]      = round_half_even(v[r][c] · (127 / max(max_c |v[r][c]|, 1e-30)))   in [-127, 127]
//
// so that v[r] ≈ q[r] · row_scale[r]. An all-zero row gets scale 0 and codes 0; a row with a NaN
// or an infinity gets codes 0 and scale NaN, so the product's row comes out NaN instead of a
// finite-looking guess. The arithmetic is
// that of the PyTorch expression in precision.py's quantize_rows (two float32 products, then
// round to nearest even), so the two agree bit for bit; one pass reads each row for its maximum and
// a second, from cache, writes the codes, where PyTorch's version walks the whole matrix four times.
//
// Layout: x (rows, cols) with unit column stride and row stride ldx; q (rows, cols) contiguous;
// row_scale (rows,). Rows are split across fe::parallel_for threads.
#pragma once

#include <cstdint>

namespace fe {

void quantize_rows_s8_cpu(const float* x, int64_t rows, int64_t cols, int64_t ldx, const float* col_scale,
                          int8_t* q, float* row_scale);

}  // namespace fe
