// Transformer-layer epilogues (csrc/nn/epilogue.h) on float32 numpy arrays, in place on y.
#include "bindings/args.h"
#include "common/error.h"
#include "nn/epilogue.h"
#include "nn/panel_linear.h"
#include "nn/quantize.h"

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

// A float32 (n,) vector, contiguous; `what` names what its length must match.
const float* vector(py::handle obj, const char* fn, const char* name, int64_t n,
                    const char* what = "columns of 'y'") {
  const ArrayArg a = arg_array(obj, fn, name, py::dtype::of<float>(), 1, false);
  FE_CHECK(a.shape[0] == n, ValueError, fn, ": argument '", name, "' must have shape (", n, ",) to match the ",
           what, ", got ", shape_str(a.array));
  FE_CHECK(n <= 1 || a.stride_elems(0) == 1, ValueError, fn, ": argument '", name, "' must be contiguous");
  return static_cast<const float*>(a.data);
}

// The same, or null for None.
const float* optional_vector(py::handle obj, const char* fn, const char* name, int64_t n, const char* what) {
  return obj.is_none() ? nullptr : vector(obj, fn, name, n, what);
}

// y = op(y * row_scale[:, None] + bias) in place: the epilogues that take only a bias.
using BiasKernel = void (*)(float*, int64_t, int64_t, int64_t, const float*, const float*);

void def_bias_epilogue(py::module_& m, const char* fn, BiasKernel kernel, const char* doc) {
  m.def(fn, [fn, kernel](py::handle y, py::handle bias, py::handle row_scale) {
    const ArrayArg ya = matrix(y, fn, "y", true);
    const int64_t rows = ya.shape[0], cols = ya.shape[1];
    const float* b = vector(bias, fn, "bias", cols);
    const float* s = optional_vector(row_scale, fn, "row_scale", rows, "rows of 'y'");
    float* yp = static_cast<float*>(ya.data);
    const int64_t ldy = ya.stride_elems(0);
    py::gil_scoped_release release;
    kernel(yp, rows, cols, ldy, b, s);
  }, py::arg("y"), py::arg("bias"), py::arg("row_scale") = py::none(), doc);
}

}  // namespace

void bind_nn(py::module_& m) {
  def_bias_epilogue(m, "bias_", &bias_cpu,
                    "y = y * row_scale[:, None] + bias in place. y: float32 (rows, cols) with a contiguous last axis; "
                    "bias: float32 (cols,); row_scale: float32 (rows,) or None (1).");
  def_bias_epilogue(m, "bias_gelu_", &bias_gelu_cpu,
                    "y = gelu(y * row_scale[:, None] + bias) in place (exact, erf-based GELU). y: float32 (rows, cols) "
                    "with a contiguous last axis; bias: float32 (cols,); row_scale: float32 (rows,) or None (1).");

  m.def("quantize_rows_s8", [](py::handle x, py::handle col_scale, py::handle q, py::handle row_scale) {
    constexpr const char* fn = "quantize_rows_s8";
    const ArrayArg xa = matrix(x, fn, "x", false);
    const int64_t rows = xa.shape[0], cols = xa.shape[1];
    const float* cs = optional_vector(col_scale, fn, "col_scale", cols, "columns of 'x'");
    const ArrayArg qa = arg_array(q, fn, "q", py::dtype::of<int8_t>(), 2, true);
    FE_CHECK(qa.shape[0] == rows && qa.shape[1] == cols, ValueError, fn, ": argument 'q' must have the shape of 'x' ",
             shape_str(xa.array), ", got ", shape_str(qa.array));
    FE_CHECK(rows * cols == 0 || ((cols == 1 || qa.stride_elems(1) == 1) && (rows == 1 || qa.stride_elems(0) == cols)),
             ValueError, fn, ": argument 'q' must be C-contiguous");
    const ArrayArg sa = arg_array(row_scale, fn, "row_scale", py::dtype::of<float>(), 1, true);
    FE_CHECK(sa.shape[0] == rows, ValueError, fn, ": argument 'row_scale' must have shape (", rows,
             ",) to match the rows of 'x', got ", shape_str(sa.array));
    FE_CHECK(rows <= 1 || sa.stride_elems(0) == 1, ValueError, fn, ": argument 'row_scale' must be contiguous");
    const float* xp = static_cast<const float*>(xa.data);
    int8_t* qp = static_cast<int8_t*>(qa.data);
    float* sp = static_cast<float*>(sa.data);
    const int64_t ldx = xa.stride_elems(0);
    py::gil_scoped_release release;
    quantize_rows_s8_cpu(xp, rows, cols, ldx, cs, qp, sp);
  }, py::arg("x"), py::arg("col_scale"), py::arg("q"), py::arg("row_scale"),
     "Per-row symmetric int8 quantization (csrc/nn/quantize.h): writes q (int8, rows x cols, C-contiguous) and "
     "row_scale (float32, rows) so that x * col_scale ~= q * row_scale[:, None]. x: float32 (rows, cols) with a "
     "contiguous last axis; col_scale: float32 (cols,) or None.");

  m.def("panel_linear", [](py::handle x, py::handle packed, py::handle bias, py::handle y, int epilogue) {
    constexpr const char* fn = "panel_linear";
    const ArrayArg xa = matrix(x, fn, "x", false);
    const int64_t M = xa.shape[0], K = xa.shape[1];
    const ArrayArg pa = arg_array(packed, fn, "packed", py::dtype::of<float>(), 3, false);
    FE_CHECK(pa.shape[1] == K && pa.shape[2] == kPanel, ValueError, fn, ": argument 'packed' must have shape (panels, ",
             K, ", ", kPanel, ") for x with ", K, " columns, got ", shape_str(pa.array));
    FE_CHECK(pa.array.flags() & py::array::c_style, ValueError, fn, ": argument 'packed' must be C-contiguous");
    const ArrayArg ya = matrix(y, fn, "y", true);
    const int64_t N = ya.shape[1];
    FE_CHECK(ya.shape[0] == M, ValueError, fn, ": argument 'y' must have ", M, " rows (those of 'x'), got ",
             shape_str(ya.array));
    FE_CHECK(pa.shape[0] == (N + kPanel - 1) / kPanel, ValueError, fn, ": argument 'packed' holds ", pa.shape[0],
             " panels of ", kPanel, " columns; 'y' with ", N, " columns needs ", (N + kPanel - 1) / kPanel);
    const float* b = optional_vector(bias, fn, "bias", N, "columns of 'y'");
    FE_CHECK(epilogue == kPanelStore || epilogue == kPanelAccumulate || epilogue == kPanelGeluTanh, ValueError, fn,
             ": argument 'epilogue' must be 0 (store), 1 (accumulate) or 2 (gelu_tanh), got ", epilogue);
    const char* xb = static_cast<const char*>(xa.data);
    const char* yb = static_cast<const char*>(ya.data);
    const int64_t xbytes = M * K == 0 ? 0 : ((M - 1) * xa.stride_elems(0) + K) * 4;
    const int64_t ybytes = M * N == 0 ? 0 : ((M - 1) * ya.stride_elems(0) + N) * 4;
    FE_CHECK(xbytes == 0 || ybytes == 0 || yb + ybytes <= xb || xb + xbytes <= yb, ValueError, fn,
             ": argument 'y' must not overlap 'x'");
    if (M == 0 || N == 0) return;
    const float* xp = static_cast<const float*>(xa.data);
    const float* wp = static_cast<const float*>(pa.data);
    float* yp = static_cast<float*>(ya.data);
    const int64_t ldx = xa.stride_elems(0), ldy = ya.stride_elems(0);
    py::gil_scoped_release release;
    panel_linear_cpu(xp, M, K, ldx, wp, N, b, yp, ldy, epilogue);
  }, py::arg("x"), py::arg("packed"), py::arg("bias"), py::arg("y"), py::arg("epilogue") = 0,
     "y = x @ W + bias for few rows of x, W packed in column panels (csrc/nn/panel_linear.h): packed[p, k, j] = "
     "W[k, 32 p + j], zeros past W's columns. x: float32 (M, K) with a contiguous last axis; packed: float32 "
     "(ceil(N / 32), K, 32), C-contiguous; bias: float32 (N,) or None; y: float32 (M, N) with a contiguous last axis, "
     "written (not overlapping x). epilogue: 0 y = z, 1 y += z, 2 y = GELU_tanh(z), z = x @ W + bias.");

  m.def("bias_residual_layer_norm_", [](py::handle y, py::handle bias, py::handle residual, py::handle weight,
                                        py::handle ln_bias, py::handle eps, py::handle row_scale) {
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
    const float* s = optional_vector(row_scale, fn, "row_scale", rows, "rows of 'y'");
    float* yp = static_cast<float*>(ya.data);
    const float* rp = static_cast<const float*>(ra.data);
    const int64_t ldy = ya.stride_elems(0), ldr = ra.stride_elems(0);
    py::gil_scoped_release release;
    bias_residual_layer_norm_cpu(yp, rows, cols, ldy, b, rp, ldr, g, beta, static_cast<float>(e), s);
  }, py::arg("y"), py::arg("bias"), py::arg("residual"), py::arg("weight"), py::arg("ln_bias"), py::arg("eps"),
     py::arg("row_scale") = py::none(),
     "y = layer_norm(y * row_scale[:, None] + bias + residual) * weight + ln_bias in place, over the last axis. y, "
     "residual: float32 (rows, cols) with a contiguous last axis (residual may be y itself); bias, weight, ln_bias: "
     "float32 (cols,); row_scale: float32 (rows,) or None (1).");
}

}  // namespace fe::bindings
