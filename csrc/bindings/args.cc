#include "bindings/args.h"

#include <sstream>

#include "common/error.h"

namespace fe::bindings {

namespace {
std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }
}  // namespace

std::string dtype_name(const py::dtype& dt) { return py::str(dt); }

std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}

double arg_double(py::handle obj, const char* fn, const char* name) {
  if (!PyBool_Check(obj.ptr())) {
    const double v = PyFloat_AsDouble(obj.ptr());
    if (!(v == -1.0 && PyErr_Occurred())) return v;
    PyErr_Clear();
  }
  FE_FAIL(TypeError, fn, ": argument '", name, "' must be a real number, got ", type_name(obj));
}

int64_t arg_int64(py::handle obj, const char* fn, const char* name, int64_t lo, int64_t hi) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    FE_FAIL(TypeError, fn, ": argument '", name, "' must be an integer, got ", type_name(obj));
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow == 0 && v == -1 && PyErr_Occurred()) throw py::error_already_set();
  FE_CHECK(overflow == 0 && v >= lo && v <= hi, ValueError, fn, ": argument '", name, "' must be in [", lo,
           ", ", hi, "], got ", std::string(py::str(obj)));
  return v;
}

uint64_t arg_uint64(py::handle obj, const char* fn, const char* name) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    FE_FAIL(TypeError, fn, ": argument '", name, "' must be an integer, got ", type_name(obj));
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) throw py::error_already_set();
  const unsigned long long v = PyLong_AsUnsignedLongLong(index.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    FE_FAIL(ValueError, fn, ": argument '", name, "' must be in [0, 2**64), got ", std::string(py::str(obj)));
  }
  return v;
}

std::string_view arg_text(py::handle obj, const char* fn, const char* name) {
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(obj.ptr(), &n);
    if (s == nullptr) throw py::error_already_set();
    return {s, static_cast<size_t>(n)};
  }
  if (PyBytes_Check(obj.ptr())) return {PyBytes_AS_STRING(obj.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(obj.ptr()))};
  FE_FAIL(TypeError, fn, ": argument '", name, "' must be str or bytes, got ", type_name(obj));
}

int64_t ArrayArg::stride_elems(int axis) const { return strides[axis] / itemsize; }

ArrayArg arg_array(py::handle obj, const char* fn, const char* name, const py::dtype& dtype, int ndim,
                   bool writeable) {
  if (!py::isinstance<py::array>(obj))
    FE_FAIL(TypeError, fn, ": argument '", name, "' must be a numpy.ndarray of ", dtype_name(dtype), ", got ",
            type_name(obj), writeable ? " (it is updated in place, so no conversion is made)" : "");
  auto a = py::reinterpret_borrow<py::array>(obj);
  FE_CHECK(a.dtype().equal(dtype), TypeError, fn, ": argument '", name, "' must have dtype ", dtype_name(dtype),
           ", got ", dtype_name(a.dtype()));
  FE_CHECK(ndim < 0 || a.ndim() == ndim, ValueError, fn, ": argument '", name, "' must be ", ndim,
           "-D, got shape ", shape_str(a));
  FE_CHECK(!writeable || a.writeable(), ValueError, fn, ": argument '", name,
           "' is read-only, but it is updated in place; pass a writeable array");
  const int64_t itemsize = a.itemsize();
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    FE_CHECK(a.strides(i) % itemsize == 0, ValueError, fn, ": argument '", name, "' has stride ", a.strides(i),
             " bytes on axis ", i, ", not a multiple of its item size ", itemsize,
             "; pass a copy (numpy.ascontiguousarray)");
  void* data = writeable ? a.mutable_data() : const_cast<void*>(a.data());
  return ArrayArg{a, data, a.ndim(), itemsize, a.shape(), a.strides()};
}

}  // namespace fe::bindings
