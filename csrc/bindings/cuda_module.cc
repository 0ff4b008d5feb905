// fastembed._C_cuda: the optional CUDA module. It takes device pointers (Python ints), sizes,
// strides and a stream handle (an int, e.g. torch.cuda.current_stream().cuda_stream) and links
// no libtorch, so it works with any PyTorch (or CuPy) build. Launches are asynchronous on the
// given stream; pointers are checked to be device memory on the current device.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cuda_runtime.h>

#include <string>

#include "bindings/args.h"
#include "bindings/errors.h"
#include "blas/axpy.h"
#include "cuda/cuda_check.h"
#include "rng/rng.h"

#ifndef FE_CUDA_ARCHS
#define FE_CUDA_ARCHS ""
#endif
#ifndef FE_NVCC_FLAGS
#define FE_NVCC_FLAGS ""
#endif

namespace fe::bindings {
namespace {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: report zero, do not raise
    return 0;
  }
  return n;
}

// A device pointer argument: must be device (or managed) memory on the current device.
void* arg_device_ptr(py::handle obj, const char* fn, const char* name, bool allow_null) {
  const uint64_t v = arg_uint64(obj, fn, name);
  void* p = reinterpret_cast<void*>(static_cast<uintptr_t>(v));
  if (p == nullptr) {
    FE_CHECK(allow_null, ValueError, fn, ": argument '", name, "' is a null pointer");
    return p;
  }
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, p);
  if (err != cudaSuccess) (void)cudaGetLastError();
  FE_CHECK(err == cudaSuccess && (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged),
           ValueError, fn, ": argument '", name, "' (0x", std::hex, v, std::dec,
           ") is not CUDA device memory; pass tensor.data_ptr() of a CUDA tensor");
  int current = 0;
  FE_CUDA_CHECK(cudaGetDevice(&current));
  FE_CHECK(attr.type == cudaMemoryTypeManaged || attr.device == current, ValueError, fn, ": argument '", name,
           "' lives on device ", attr.device, " but the current device is ", current,
           "; call inside torch.cuda.device(", attr.device, ")");
  return p;
}

void* arg_stream(py::handle obj, const char* fn) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(arg_uint64(obj, fn, "stream")));
}

void bind_all(py::module_& m) {
  m.def("device_count", &device_count, "Number of visible CUDA devices (0 without a driver).");

  m.def("build_info", [] {
    py::dict d;
    d["cuda_runtime_version"] = CUDART_VERSION;  // e.g. 13000
    d["archs"] = std::string(FE_CUDA_ARCHS);
    d["nvcc_flags"] = std::string(FE_NVCC_FLAGS);
    int driver = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess) (void)cudaGetLastError();
    d["driver_version"] = driver;  // 0 without a driver
    py::list devices;
    for (int i = 0, n = device_count(); i < n; ++i) {
      cudaDeviceProp prop{};
      if (cudaGetDeviceProperties(&prop, i) == cudaSuccess)
        devices.append(std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")");
    }
    d["devices"] = devices;
    return d;
  });

  m.def("synchronize", [] {
    py::gil_scoped_release release;
    FE_CUDA_CHECK(cudaDeviceSynchronize());
  }, "Wait for all work on the current device; raises RuntimeError on an asynchronous fault.");

  m.def("axpy", [](py::handle alpha, py::handle n, py::handle x, py::handle incx, py::handle y,
                   py::handle incy, const std::string& dtype, py::handle stream) {
    constexpr const char* fn = "axpy (cuda)";
    const double a = arg_double(alpha, fn, "alpha");
    const int64_t count = arg_int64(n, fn, "n", 0);
    const int64_t ix = arg_int64(incx, fn, "incx"), iy = arg_int64(incy, fn, "incy");
    void* xp = arg_device_ptr(x, fn, "x", count == 0);
    void* yp = arg_device_ptr(y, fn, "y", count == 0);
    void* s = arg_stream(stream, fn);
    if (dtype == "float32")
      axpy_cuda<float>(count, static_cast<float>(a), static_cast<const float*>(xp), ix, static_cast<float*>(yp), iy, s);
    else if (dtype == "float64")
      axpy_cuda<double>(count, a, static_cast<const double*>(xp), ix, static_cast<double*>(yp), iy, s);
    else
      FE_FAIL(TypeError, fn, ": argument 'dtype' must be 'float32' or 'float64', got '", dtype, "'");
  }, py::arg("alpha"), py::arg("n"), py::arg("x"), py::arg("incx"), py::arg("y"), py::arg("incy"),
     py::arg("dtype"), py::arg("stream"), "y[i*incy] += alpha * x[i*incx] on device pointers, on `stream`.");

  m.def("philox_fill", [](py::handle seed, py::handle subsequence, py::handle offset, py::handle n,
                          py::handle out, const std::string& kind, py::handle stream) {
    constexpr const char* fn = "philox_fill (cuda)";
    const uint64_t s = arg_uint64(seed, fn, "seed"), sub = arg_uint64(subsequence, fn, "subsequence"),
                   off = arg_uint64(offset, fn, "offset");
    const int64_t count = arg_int64(n, fn, "n", 0);
    void* o = arg_device_ptr(out, fn, "out", count == 0);
    void* st = arg_stream(stream, fn);
    if (kind == "u32")
      rng_fill_u32_cuda(s, sub, off, count, static_cast<uint32_t*>(o), st);
    else if (kind == "uniform")
      rng_fill_uniform_cuda(s, sub, off, count, static_cast<float*>(o), st);
    else
      FE_FAIL(ValueError, fn, ": argument 'kind' must be 'u32' or 'uniform', got '", kind, "'");
  }, py::arg("seed"), py::arg("subsequence"), py::arg("offset"), py::arg("n"), py::arg("out"), py::arg("kind"),
     py::arg("stream"), "Fill device memory with the Philox stream (same bits as _C.philox_u32).");
}

}  // namespace
}  // namespace fe::bindings

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "fastembed native core (CUDA). Use the fastembed package, not this module directly.";
  fe::bindings::register_error_translator();
  fe::bindings::bind_all(m);
}
