// fastembed._C._testing: hooks that let the tests reach behaviour no public function shows on
// demand (each exception kind, an exception thrown inside a parallel region, thread usage).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "bindings/args.h"
#include "common/error.h"
#include "common/parallel.h"
#include "common/rng.h"

namespace fe::bindings {

void bind_testing(py::module_& m) {
  m.def("raise_error", [](const std::string& kind, const std::string& message) {
    if (kind == "ValueError") throw fe::ValueError(message);
    if (kind == "TypeError") throw fe::TypeError(message);
    if (kind == "IndexError") throw fe::IndexError(message);
    if (kind == "RuntimeError") throw fe::RuntimeError(message);
    if (kind == "Error") throw fe::Error(message);
    if (kind == "bad_alloc") throw std::bad_alloc();
    FE_FAIL(ValueError, "raise_error: unknown kind '", kind, "'");
  }, py::arg("kind"), py::arg("message"));

  // Runs a parallel_for over [0, n) whose chunk holding `fail_at` throws fe::IndexError.
  m.def("parallel_raise", [](int64_t n, int64_t fail_at) {
    py::gil_scoped_release release;
    parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
      if (fail_at >= lo && fail_at < hi) FE_FAIL(IndexError, "item ", fail_at, " failed on purpose");
    });
  }, py::arg("n"), py::arg("fail_at"));

  // Sums i over [0, n) in a parallel_for with the given grain; returns (sum, distinct threads).
  m.def("parallel_sum", [](int64_t n, int64_t grain) {
    std::atomic<int64_t> total{0};
    std::set<std::thread::id> ids;
    std::mutex mu;
    {
      py::gil_scoped_release release;
      parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
        int64_t s = 0;
        for (int64_t i = lo; i < hi; ++i) s += i;
        total += s;
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
      });
    }
    return py::make_tuple(total.load(), static_cast<int64_t>(ids.size()));
  }, py::arg("n"), py::arg("grain") = 1);

  m.def("set_forked_child_flag", &set_forked_child_flag_for_testing, py::arg("forked"));

  // The raw Philox4x32-10 bijection, for the Random123 known-answer vectors.
  m.def("philox4x32_10", [](uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    const U32x4 r = philox4x32_10(U32x4{c0, c1, c2, c3}, k0, k1);
    return py::make_tuple(r.x, r.y, r.z, r.w);
  });

  // The first n outputs of fe::SplitMix64(seed), and of its below(bound).
  m.def("splitmix64", [](uint64_t seed, int64_t n, uint64_t bound) {
    FE_CHECK(n >= 0, ValueError, "splitmix64: n must be >= 0");
    py::array_t<uint64_t> out(n);
    SplitMix64 rng(seed);
    auto* p = out.mutable_data();
    for (int64_t i = 0; i < n; ++i) p[i] = bound ? rng.below(bound) : rng.next();
    return out;
  }, py::arg("seed"), py::arg("n"), py::arg("bound") = 0);
}

}  // namespace fe::bindings
