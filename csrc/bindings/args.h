// Argument conversion and validation for the bindings. Every failure throws an fe::Error whose
// message names the function and the argument, says what was expected and what was got.
// These run with the GIL held, before any release.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fe::bindings {

namespace py = pybind11;

// A real number (int, float, numpy scalar): fe::TypeError otherwise.
double arg_double(py::handle obj, const char* fn, const char* name);
// An integer (int, numpy integer; not float or bool) in [lo, hi].
int64_t arg_int64(py::handle obj, const char* fn, const char* name, int64_t lo = INT64_MIN,
                  int64_t hi = INT64_MAX);
// An integer in [0, 2^64).
uint64_t arg_uint64(py::handle obj, const char* fn, const char* name);

// A numpy array argument with the given dtype and ndim (-1: any). When `writeable`, the array
// must be writeable: it is updated in place, so no converted copy is ever made.
struct ArrayArg {
  py::array array;
  void* data;
  int64_t ndim;
  int64_t itemsize;
  const py::ssize_t* shape;
  const py::ssize_t* strides;  // bytes
  // Stride of axis `axis` in elements (throws if not a whole number of elements).
  int64_t stride_elems(int axis) const;
};
ArrayArg arg_array(py::handle obj, const char* fn, const char* name, const py::dtype& dtype, int ndim,
                   bool writeable);

// A str (its UTF-8, cached by Python: no copy) or bytes argument, viewed without copying; valid
// while the object lives. fe::TypeError otherwise. A str with lone surrogates raises
// UnicodeEncodeError (the Python layer retries with surrogatepass bytes).
std::string_view arg_text(py::handle obj, const char* fn, const char* name);

// Moves a vector into a 1-D numpy array that owns it (no copy).
template <class T>
py::array_t<T> vector_to_array(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owned->size()), owned->data(), owner);
}

// "float32", "(2, 3)": for messages.
std::string dtype_name(const py::dtype& dt);
std::string shape_str(const py::array& a);

}  // namespace fe::bindings
