// Transformer-layer inference kernels on float32 numpy arrays: the epilogues (csrc/nn/epilogue.h),
// in place on y, and the product against a packed weight (csrc/nn/linear.h).
#include <cstring>
#include <string>

#include "bindings/args.h"
#include "common/error.h"
#include "nn/epilogue.h"
#include "nn/linear.h"

namespace fe::bindings {

namespace {

// pack_linear_weight's array: (N, K) as two int64 in its first 16 floats (64 bytes, so the packed
// panels that follow keep the array's alignment), so that linear_packed can check its 'n' and x.
constexpr int64_t kPackedHeader = 16;

// A writeable float32 (rows, cols) matrix with a contiguous last axis.
ArrayArg matrix(py::handle obj, const char* fn, const char* name, bool writeable) {
  ArrayArg a = arg_array(obj, fn, name, py::dtype::of<float>(), 2, writeable);
  if (a.shape[0] == 0 || a.shape[1] == 0) return a;  // nothing is read or written
  FE_CHECK(a.shape[1] == 1 || a.stride_elems(1) == 1, ValueError, fn, ": argument '", name,
           "' must have a contiguous last axis, got a stride of ", a.stride_elems(1), " elements");
  FE_CHECK(a.shape[0] == 1 || a.stride_elems(0) >= a.shape[1], ValueError, fn, ": argument '", name,
           "' has overlapping rows (row stride ", a.stride_elems(0), " < ", a.shape[1], " columns)");
  return a;
}

// A float32 (cols,) vector, contiguous.
const float* vector(py::handle obj, const char* fn, const char* name, int64_t cols) {
  const ArrayArg a = arg_array(obj, fn, name, py::dtype::of<float>(), 1, false);
  FE_CHECK(a.shape[0] == cols, ValueError, fn, ": argument '", name, "' must have shape (", cols,
           ",) to match the columns of 'y', got ", shape_str(a.array));
  FE_CHECK(cols <= 1 || a.stride_elems(0) == 1, ValueError, fn, ": argument '", name, "' must be contiguous");
  return static_cast<const float*>(a.data);
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def("pack_linear_weight", [](py::handle w) {
    constexpr const char* fn = "pack_linear_weight";
    const ArrayArg wa = matrix(w, fn, "w", false);
    const int64_t N = wa.shape[0], K = wa.shape[1];
    py::array_t<float> out(static_cast<py::ssize_t>(kPackedHeader + pack_weight_size(N, K)));
    float* op = out.mutable_data();
    const int64_t shape[2] = {N, K};
    std::memcpy(op, shape, sizeof(shape));
    const float* wp = static_cast<const float*>(wa.data);
    const int64_t ldw = wa.stride_elems(0);
    {
      py::gil_scoped_release release;
      pack_weight_cpu(wp, N, K, ldw, op + kPackedHeader);
    }
    return out;
  }, py::arg("w"),
     "The packed form (1-D float32) of a linear layer's weight w: float32 (N, K), contiguous last axis; "
     "see csrc/nn/linear.h. Its first 64 bytes record (N, K).");

  m.def("linear_packed", [](py::handle x, py::handle packed, py::handle n, py::handle bias, py::handle y) {
    constexpr const char* fn = "linear_packed";
    const ArrayArg xa = matrix(x, fn, "x", false);
    const ArrayArg ya = matrix(y, fn, "y", true);
    const int64_t M = xa.shape[0], K = xa.shape[1];
    const int64_t N = arg_int64(n, fn, "n", 0, int64_t{1} << 40);
    FE_CHECK(ya.shape[0] == M && ya.shape[1] == N, ValueError, fn, ": argument 'y' must have shape (", M, ", ", N,
             ") (rows of 'x', n), got ", shape_str(ya.array));
    const ArrayArg pa = arg_array(packed, fn, "packed", py::dtype::of<float>(), 1, false);
    int64_t shape[2] = {-1, -1};
    if (pa.shape[0] == kPackedHeader + pack_weight_size(N, K) && pa.stride_elems(0) == 1)
      std::memcpy(shape, pa.data, sizeof(shape));
    FE_CHECK(shape[0] == N && shape[1] == K, ValueError, fn, ": argument 'packed' must be the contiguous packed "
             "form of an (", N, ", ", K, ") weight (from pack_linear_weight), got ",
             shape[0] < 0 ? shape_str(pa.array) : "one of a (" + std::to_string(shape[0]) + ", " +
             std::to_string(shape[1]) + ") weight");
    const float* b = bias.is_none() ? nullptr : vector(bias, fn, "bias", N);
    const float* xp = static_cast<const float*>(xa.data);
    float* yp = static_cast<float*>(ya.data);
    const float* wp = static_cast<const float*>(pa.data) + kPackedHeader;
    const char* x_end = reinterpret_cast<const char*>(xp + (M > 0 ? (M - 1) * xa.stride_elems(0) + K : 0));
    const char* y_end = reinterpret_cast<const char*>(yp + (M > 0 ? (M - 1) * ya.stride_elems(0) + N : 0));
    FE_CHECK(M == 0 || N == 0 || K == 0 || x_end <= reinterpret_cast<const char*>(yp) ||
             y_end <= reinterpret_cast<const char*>(xp), ValueError, fn, ": 'y' must not overlap 'x'");
    const int64_t ldx = xa.stride_elems(0), ldy = ya.stride_elems(0);
    py::gil_scoped_release release;
    linear_packed_cpu(xp, M, K, ldx, wp, N, b, yp, ldy);
  }, py::arg("x"), py::arg("packed"), py::arg("n"), py::arg("bias"), py::arg("y"),
     "y = x @ w.T + bias into y, with w packed by pack_linear_weight. x: float32 (M, K), y: float32 (M, n), "
     "each with a contiguous last axis; bias: float32 (n,) or None.");

  m.def("bias_gelu_", [](py::handle y, py::handle bias) {
    constexpr const char* fn = "bias_gelu_";
    const ArrayArg ya = matrix(y, fn, "y", true);
    const int64_t rows = ya.shape[0], cols = ya.shape[1];
    const float* b = vector(bias, fn, "bias", cols);
    float* yp = static_cast<float*>(ya.data);
    const int64_t ldy = ya.stride_elems(0);
    py::gil_scoped_release release;
    bias_gelu_cpu(yp, rows, cols, ldy, b);
  }, py::arg("y"), py::arg("bias"),
     "y = gelu(y + bias) in place (exact, erf-based GELU). y: float32 (rows, cols) with a contiguous last "
     "axis; bias: float32 (cols,).");

  m.def("bias_residual_layer_norm_", [](py::handle y, py::handle bias, py::handle residual, py::handle weight,
                                        py::handle ln_bias, py::handle eps) {
    constexpr const char* fn = "bias_residual_layer_norm_";
    const ArrayArg ya = matrix(y, fn, "y", true);
    const int64_t rows = ya.shape[0], cols = ya.shape[1];
    const ArrayArg ra = matrix(residual, fn, "residual", false);
    FE_CHECK(ra.shape[0] == rows && ra.shape[1] == cols, ValueError, fn,
             ": argument 'residual' must have the shape of 'y' ", shape_str(ya.array), ", got ", shape_str(ra.array));
    const float* b = vector(bias, fn, "bias", cols);
    const float* g = vector(weight, fn, "weight", cols);
    const float* beta = vector(ln_bias, fn, "ln_bias", cols);
    const double e = arg_double(eps, fn, "eps");
    FE_CHECK(e > 0, ValueError, fn, ": argument 'eps' must be > 0, got ", e);
    FE_CHECK(cols >= 1 || rows == 0, ValueError, fn, ": argument 'y' must have at least one column");
    float* yp = static_cast<float*>(ya.data);
    const float* rp = static_cast<const float*>(ra.data);
    const int64_t ldy = ya.stride_elems(0), ldr = ra.stride_elems(0);
    py::gil_scoped_release release;
    bias_residual_layer_norm_cpu(yp, rows, cols, ldy, b, rp, ldr, g, beta, static_cast<float>(e));
  }, py::arg("y"), py::arg("bias"), py::arg("residual"), py::arg("weight"), py::arg("ln_bias"), py::arg("eps"),
     "y = layer_norm(y + bias + residual) * weight + ln_bias in place, over the last axis. y, residual: float32 "
     "(rows, cols) with a contiguous last axis (residual may be y itself); bias, weight, ln_bias: float32 (cols,).");
}

}  // namespace fe::bindings
