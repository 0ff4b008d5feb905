// One exception family for the native core, and the FE_CHECK macros that throw it.
//
// The core never includes Python headers. It throws fe::Error subclasses; the bindings translate
// them in exactly one place (csrc/bindings/errors.cc) to the Python exception of the same name:
//
//   fe::ValueError   -> ValueError     bad value or shape ("n must be >= 0, got -3")
//   fe::TypeError    -> TypeError      wrong dtype / kind of argument
//   fe::IndexError   -> IndexError     an id or position out of range
//   fe::RuntimeError -> RuntimeError   anything that is our fault or the system's (CUDA errors, I/O)
//
// Messages name the argument and say what was expected and what was got.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace fe {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ValueError : public Error {
 public:
  using Error::Error;
};
class TypeError : public Error {
 public:
  using Error::Error;
};
class IndexError : public Error {
 public:
  using Error::Error;
};
class RuntimeError : public Error {
 public:
  using Error::Error;
};

namespace detail {
// Streams any number of arguments into one string: str("n=", n, ", got ", x).
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace fe

// FE_CHECK(cond, Kind, parts...): throw fe::Kind with the streamed message when cond is false.
//   FE_CHECK(n >= 0, ValueError, "axpy: n must be >= 0, got ", n);
#define FE_CHECK(cond, Kind, ...)                                  \
  do {                                                             \
    if (!(cond)) throw ::fe::Kind(::fe::detail::str(__VA_ARGS__)); \
  } while (0)

// FE_FAIL(Kind, parts...): throw unconditionally.
#define FE_FAIL(Kind, ...) throw ::fe::Kind(::fe::detail::str(__VA_ARGS__))
