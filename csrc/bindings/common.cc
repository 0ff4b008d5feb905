// Build facts and thread control.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/args.h"
#include "common/build_info.h"
#include "common/parallel.h"
#include "common/progress.h"
#include "dispatch/kernels.h"

#ifndef FE_BUILD_FLAGS
#define FE_BUILD_FLAGS ""
#endif
#ifndef FE_BUILD_ARCH
#define FE_BUILD_ARCH ""
#endif
#ifndef FE_SANITIZERS
#define FE_SANITIZERS ""
#endif

namespace fe::bindings {
namespace {

py::dict selection_dict(const dispatch::Selection& s) {
  py::dict d;
  d["level"] = s.level;
  d["compiled"] = s.compiled;
  py::dict flags;
  for (size_t i = 0; i < s.compiled.size(); ++i) flags[py::str(s.compiled[i])] = s.flags[i];
  d["flags"] = flags;
  d["cpu"] = s.cpu;
  d["cap"] = s.cap.empty() ? py::object(py::none()) : py::object(py::str(s.cap));
  d["warning"] = s.warning.empty() ? py::object(py::none()) : py::object(py::str(s.warning));
  return d;
}

}  // namespace

void bind_common(py::module_& m) {
  m.def("build_info", [] {
    py::dict d;
    d["compiler"] = compiler_version();
    d["flags"] = std::string(FE_BUILD_FLAGS);
    d["arch"] = std::string(FE_BUILD_ARCH);
    d["sanitizers"] = std::string(FE_SANITIZERS);
    d["openmp"] = has_openmp();
    d["openmp_version"] = openmp_version();
    d["simd"] = simd_level();
    d["simd_features"] = compiled_simd_features();
    d["cpu_simd_features"] = cpu_simd_features();
    d["dispatch"] = selection_dict(dispatch::current());
    return d;
  }, "Facts about how _C was compiled (a dict); see fastembed.build_info().");

  m.def("get_num_threads", &num_threads, "Threads native parallel loops use (1 in a forked child).");
  m.def("set_num_threads", [](py::handle n) {
    set_num_threads(static_cast<int>(arg_int64(n, "set_num_threads", "n", 1, 1 << 20)));
  }, py::arg("n"), "Set the process-wide thread count of native parallel loops (n >= 1).");
  m.def("set_local_num_threads", [](py::handle n) {
    set_local_num_threads(static_cast<int>(arg_int64(n, "set_local_num_threads", "n", 0, 1 << 20)));
  }, py::arg("n"), "Override the thread count of native loops started on the calling thread (0 clears it).");
  m.def("local_num_threads", &local_num_threads, "The calling thread's override of the thread count (0: none).");
  m.def("default_num_threads", &default_num_threads, "OpenMP's default thread count at start-up.");
  py::class_<Progress>(m, "Progress", "Progress and cancellation of a long native call (see common/progress.h).")
      .def(py::init<>())
      .def_property_readonly("done", [](const Progress& p) { return p.done.load(); })
      .def_property_readonly("total", [](const Progress& p) { return p.total.load(); })
      .def("cancel", [](Progress& p) { p.cancel.store(true); }, "Ask the native call to stop at its next check.");

  m.def("select_isa", [](const std::string& cap, const std::string& pretend_cpu) {
    return selection_dict(dispatch::select(cap, pretend_cpu));
  }, py::arg("cap"), py::arg("pretend_cpu") = "",
     "Choose the kernels' instruction-set level once, at import (FASTEMBED_ISA; see csrc/dispatch/kernels.h).");

  m.def("in_forked_child", &in_forked_child, "True in a child forked after fastembed was loaded.");
}

}  // namespace fe::bindings
