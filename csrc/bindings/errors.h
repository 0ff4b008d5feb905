// The one place where native exceptions become Python exceptions (used by _C and _C_cuda).
#pragma once

#include <pybind11/pybind11.h>

namespace fe::bindings {

// fe::ValueError -> ValueError, fe::TypeError -> TypeError, fe::IndexError -> IndexError,
// fe::RuntimeError and any other fe::Error -> RuntimeError. pybind11's defaults cover the rest
// (std::bad_alloc -> MemoryError, std::exception -> RuntimeError).
void register_error_translator();

}  // namespace fe::bindings
