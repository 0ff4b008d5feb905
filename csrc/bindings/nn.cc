// Transformer-layer epilogues (csrc/nn/epilogue.h) on float32 numpy arrays, in place on y.
#include "bindings/args.h"
#include "common/error.h"
#include "nn/epilogue.h"

namespace fe::bindings {

namespace {

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
