// Philox fills as new numpy arrays (zero-copy: the array owns the memory the core wrote).
#include "bindings/args.h"
#include "rng/rng.h"

namespace fe::bindings {

namespace {
template <class T, class Fill>
py::array_t<T> fill_new(const char* fn, py::handle seed, py::handle subsequence, py::handle offset,
                        py::handle n, Fill fill) {
  const uint64_t s = arg_uint64(seed, fn, "seed");
  const uint64_t sub = arg_uint64(subsequence, fn, "subsequence");
  const uint64_t off = arg_uint64(offset, fn, "offset");
  const int64_t count = arg_int64(n, fn, "n", 0);
  py::array_t<T> out(count);
  T* ptr = out.mutable_data();
  {
    py::gil_scoped_release release;
    fill(s, sub, off, count, ptr);
  }
  return out;
}
}  // namespace

void bind_rng(py::module_& m) {
  m.def("philox_u32", [](py::handle seed, py::handle subsequence, py::handle offset, py::handle n) {
    return fill_new<uint32_t>("philox_u32", seed, subsequence, offset, n, rng_fill_u32_cpu);
  }, py::arg("seed"), py::arg("subsequence"), py::arg("offset"), py::arg("n"),
     "Elements [offset, offset + n) of Philox4x32-10 stream (seed, subsequence) as uint32.");
  m.def("philox_uniform", [](py::handle seed, py::handle subsequence, py::handle offset, py::handle n) {
    return fill_new<float>("philox_uniform", seed, subsequence, offset, n, rng_fill_uniform_cpu);
  }, py::arg("seed"), py::arg("subsequence"), py::arg("offset"), py::arg("n"),
     "The same stream mapped to float32 in [0, 1) (24-bit resolution).");
}

}  // namespace fe::bindings
