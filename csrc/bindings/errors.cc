#include "bindings/errors.h"

#include "common/error.h"

namespace fe::bindings {

void register_error_translator() {
  pybind11::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fe::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const fe::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const fe::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const fe::Error& e) {  // fe::RuntimeError and the base
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace fe::bindings
