// fastembed._C: the CPU native module. Each component binds itself in its own file.
#include <pybind11/pybind11.h>

#include "bindings/errors.h"

namespace fe::bindings {
void bind_common(pybind11::module_& m);
void bind_rng(pybind11::module_& m);
void bind_blas(pybind11::module_& m);
void bind_bpe(pybind11::module_& m);
void bind_attention(pybind11::module_& m);
void bind_nn(pybind11::module_& m);
void bind_word2vec(pybind11::module_& m);
void bind_testing(pybind11::module_& m);
}  // namespace fe::bindings

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastembed native core (CPU). Use the fastembed package, not this module directly.";
  fe::bindings::register_error_translator();
  fe::bindings::bind_common(m);
  fe::bindings::bind_rng(m);
  fe::bindings::bind_blas(m);
  fe::bindings::bind_bpe(m);
  fe::bindings::bind_attention(m);
  fe::bindings::bind_nn(m);
  fe::bindings::bind_word2vec(m);
  auto testing = m.def_submodule("_testing", "Hooks for fastembed's own tests.");
  fe::bindings::bind_testing(testing);
}
