// axpy on numpy arrays, in place on y.
#include "bindings/args.h"
#include "blas/axpy.h"
#include "common/error.h"

namespace fe::bindings {

namespace {
template <class T>
void axpy_typed(double alpha, const ArrayArg& x, const ArrayArg& y) {
  const int64_t n = y.shape[0], incx = x.stride_elems(0), incy = y.stride_elems(0);
  const T* xp = static_cast<const T*>(x.data);
  T* yp = static_cast<T*>(y.data);
  py::gil_scoped_release release;
  axpy_cpu<T>(n, static_cast<T>(alpha), xp, incx, yp, incy);
}
}  // namespace

void bind_blas(py::module_& m) {
  m.def("axpy", [](py::handle alpha, py::handle x, py::handle y) {
    constexpr const char* fn = "axpy";
    const double a = arg_double(alpha, fn, "alpha");
    FE_CHECK(py::isinstance<py::array>(y), TypeError, fn,
             ": argument 'y' must be a numpy.ndarray of float32 or float64 (it is updated in place), got ",
             std::string(py::str(py::type::handle_of(y).attr("__name__"))));
    const py::dtype dt = py::reinterpret_borrow<py::array>(y).dtype();
    const bool f32 = dt.equal(py::dtype::of<float>());
    FE_CHECK(f32 || dt.equal(py::dtype::of<double>()), TypeError, fn,
             ": argument 'y' must have dtype float32 or float64, got ", dtype_name(dt));
    const ArrayArg ya = arg_array(y, fn, "y", dt, 1, /*writeable=*/true);
    const ArrayArg xa = arg_array(x, fn, "x", dt, 1, /*writeable=*/false);
    FE_CHECK(xa.shape[0] == ya.shape[0], ValueError, fn, ": arguments 'x' and 'y' must have the same length, got ",
             xa.shape[0], " and ", ya.shape[0]);
    if (f32)
      axpy_typed<float>(a, xa, ya);
    else
      axpy_typed<double>(a, xa, ya);
  }, py::arg("alpha"), py::arg("x"), py::arg("y"),
     "y += alpha * x, in place. x and y: 1-D, same length, same dtype (float32 or float64).");
}

}  // namespace fe::bindings
