// Argument rules shared by the CPU and CUDA axpy (compiled into both modules).
#include <algorithm>
#include <cstdint>

#include "blas/axpy.h"
#include "common/error.h"

namespace fe {
namespace {

// [first, last] byte addresses touched by n elements at stride inc (elements) from p.
void byte_extent(const void* p, int64_t n, int64_t inc, int64_t itemsize, uintptr_t& first, uintptr_t& last) {
  const auto base = reinterpret_cast<uintptr_t>(p);
  const int64_t span = (n - 1) * inc * itemsize;  // may be negative
  first = base + static_cast<uintptr_t>(std::min<int64_t>(span, 0));
  last = base + static_cast<uintptr_t>(std::max<int64_t>(span, 0)) + itemsize - 1;
}

}  // namespace

void axpy_check_args(int64_t n, const void* x, int64_t incx, const void* y, int64_t incy, int64_t itemsize) {
  FE_CHECK(n >= 0, ValueError, "axpy: n must be >= 0, got ", n);
  if (n == 0) return;
  FE_CHECK(x != nullptr && y != nullptr, ValueError, "axpy: x and y must not be null when n > 0");
  FE_CHECK(incy != 0 || n == 1, ValueError,
           "axpy: incy must not be 0 when n > 1 (every element would write the same y)");
  if (x == y && incx == incy) return;  // y += alpha * y, elementwise
  uintptr_t x0, x1, y0, y1;
  byte_extent(x, n, incx, itemsize, x0, x1);
  byte_extent(y, n, incy, itemsize, y0, y1);
  if (x1 < y0 || y1 < x0) return;  // disjoint byte ranges
  // Interleaved views with one stride (x = a[0::2], y = a[1::2]) never share an element when the
  // pointer difference is not a whole number of strides.
  const int64_t diff = static_cast<int64_t>(reinterpret_cast<uintptr_t>(y) - reinterpret_cast<uintptr_t>(x));
  const int64_t step = incx * itemsize;
  const bool interleaved = incx == incy && step != 0 && diff % step != 0;
  FE_CHECK(interleaved, ValueError,
           "axpy: x and y overlap in memory without being the same array; pass a copy of x");
}

}  // namespace fe
