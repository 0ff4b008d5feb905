// fastembed._C_cuda: the optional CUDA module. It takes device pointers (Python ints), sizes,
// strides and a stream handle (an int, e.g. torch.cuda.current_stream().cuda_stream) and links
// no libtorch, so it works with any PyTorch (or CuPy) build. Launches are asynchronous on the
// given stream; pointers are checked to be device memory on the current device.
//
// Built a second time as fastembed._C_cuda_emu (FE_CUDA_EMU): the same kernels and bindings on the
// CUDA emulator (csrc/cuda_emu), where "device pointers" are host pointers (numpy or CPU tensor
// data) and are not checked beyond being non-null; everything else, errors included, is the same.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <string_view>

#include "attention/params.h"
#include "bindings/args.h"
#include "bindings/errors.h"
#include "bindings/word2vec_args.h"
#include "blas/axpy.h"
#include "cuda/cuda_check.h"
#include "rng/rng.h"
#include "word2vec/train_cuda.h"
#if defined(FE_CUDA_EMU)
#include "cuda_emu/selftest.h"
#endif

#ifndef FE_CUDA_ARCHS
#define FE_CUDA_ARCHS ""
#endif
#if defined(FE_CUDA_EMU)
#define FE_CUDA_MODULE _C_cuda_emu
#define FE_CUDA_MODULE_DOC "fastembed native core (CUDA kernels on the CPU emulator). Use the fastembed package."
#else
#define FE_CUDA_MODULE _C_cuda
#define FE_CUDA_MODULE_DOC "fastembed native core (CUDA). Use the fastembed package, not this module directly."
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
#if defined(FE_CUDA_EMU)
  return p;  // the emulator's device memory is host memory
#endif
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

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

bool arg_bool(py::handle obj, const char* fn, const char* name) {
  FE_CHECK(PyBool_Check(obj.ptr()), TypeError, fn, ": argument '", name, "' must be a bool, got ", type_name(obj));
  return obj.ptr() == Py_True;
}

// (b, t, h) element strides of a (B, T, H, D) view: a tuple (or list) of three integers.
AttnStrides arg_strides(py::handle obj, const char* fn, const char* name) {
  FE_CHECK(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), TypeError, fn, ": argument '", name,
           "' must be a tuple of 3 integers (b, t, h strides in elements), got ", type_name(obj));
  const auto seq = py::reinterpret_borrow<py::sequence>(obj);
  FE_CHECK(seq.size() == 3, ValueError, fn, ": argument '", name,
           "' must have 3 items (b, t, h strides in elements), got ", seq.size());
  const std::string n(name);
  return AttnStrides{arg_int64(seq[0], fn, (n + "[0]").c_str()), arg_int64(seq[1], fn, (n + "[1]").c_str()),
                     arg_int64(seq[2], fn, (n + "[2]").c_str())};
}

AttnDType arg_attn_dtype(py::handle obj, const char* fn) {
  const std::string_view s = arg_text(obj, fn, "dtype");
  if (s == "float32") return AttnDType::kFloat32;
  if (s == "float16") return AttnDType::kFloat16;
  if (s == "bfloat16") return AttnDType::kBFloat16;
  FE_FAIL(TypeError, fn, ": argument 'dtype' must be 'float32', 'float16' or 'bfloat16', got '", s, "'");
}

// The arguments attention_forward and attention_backward share: sizes, q/k/v/out/lse, masks,
// scale, dropout. Pointers may be null only where params.h needs no memory: q, out and lse when
// Tq == 0; k and v when Tq == 0 or Tk == 0; key_lengths and key_padding always (absent).
AttentionParams attention_common_args(const char* fn, py::handle q, py::handle k, py::handle v, py::handle out,
                                      py::handle lse, py::handle B, py::handle H, py::handle Tq, py::handle Tk,
                                      py::handle D, py::handle q_strides, py::handle k_strides,
                                      py::handle v_strides, py::handle out_strides, py::handle dtype,
                                      py::handle causal, py::handle scale, py::handle dropout_p, py::handle seed,
                                      py::handle offset, py::handle key_lengths, py::handle key_padding,
                                      py::handle key_padding_sb) {
  AttentionParams p;
  p.B = arg_int64(B, fn, "B", 1);
  p.H = arg_int64(H, fn, "H", 1);
  p.Tq = arg_int64(Tq, fn, "Tq", 0);
  p.Tk = arg_int64(Tk, fn, "Tk", 0);
  p.D = arg_int64(D, fn, "D", 1);
  p.dtype = arg_attn_dtype(dtype, fn);
  const bool no_q = p.Tq == 0, no_kv = p.Tq == 0 || p.Tk == 0;
  p.q = arg_device_ptr(q, fn, "q", no_q);
  p.k = arg_device_ptr(k, fn, "k", no_kv);
  p.v = arg_device_ptr(v, fn, "v", no_kv);
  p.out = arg_device_ptr(out, fn, "out", no_q);
  p.lse = arg_device_ptr(lse, fn, "lse", no_q);
  p.q_s = arg_strides(q_strides, fn, "q_strides");
  p.k_s = arg_strides(k_strides, fn, "k_strides");
  p.v_s = arg_strides(v_strides, fn, "v_strides");
  p.out_s = arg_strides(out_strides, fn, "out_strides");
  p.causal = arg_bool(causal, fn, "causal");
  p.scale = arg_double(scale, fn, "scale");
  p.dropout_p = arg_double(dropout_p, fn, "dropout_p");
  p.seed = arg_uint64(seed, fn, "seed");
  p.offset = arg_uint64(offset, fn, "offset");
  p.key_lengths = static_cast<const int64_t*>(arg_device_ptr(key_lengths, fn, "key_lengths", true));
  p.key_padding = static_cast<const uint8_t*>(arg_device_ptr(key_padding, fn, "key_padding", true));
  p.key_padding_sb = arg_int64(key_padding_sb, fn, "key_padding_sb");
  return p;
}

// A C-contiguous numpy array argument (host memory: the word2vec trainer uploads it).
ArrayArg contiguous_array(py::handle obj, const char* fn, const char* name, const py::dtype& dt, int ndim,
                          bool writeable) {
  ArrayArg a = arg_array(obj, fn, name, dt, ndim, writeable);
  FE_CHECK(a.array.flags() & py::array::c_style, ValueError, fn, ": argument '", name, "' must be C-contiguous",
           writeable ? " (it is written in place)" : "", "; pass numpy.ascontiguousarray(", name, ")");
  return a;
}

// word2vec on the GPU (word2vec/train_cuda.h): numpy arrays in, uploaded once; one call per epoch.
void bind_word2vec_cuda(py::module_& m) {
  // module_local: _C_cuda and _C_cuda_emu both bind this C++ class and may be loaded together.
  py::class_<w2v::Word2VecCuda>(m, "Word2VecCuda", py::module_local(),
                                "word2vec weights and corpus on the current CUDA device: train_epoch() per epoch, "
                                "download() to copy the weights back (see csrc/word2vec/train_cuda.h).")
      .def(py::init([](py::handle syn0, py::handle syn1neg, py::handle ids, py::handle offsets, py::handle counts) {
             constexpr const char* fn = "Word2VecCuda";
             const ArrayArg s0 = contiguous_array(syn0, fn, "syn0", py::dtype::of<float>(), 2, false);
             const ArrayArg s1 = contiguous_array(syn1neg, fn, "syn1neg", py::dtype::of<float>(), 2, false);
             FE_CHECK(s1.shape[0] == s0.shape[0] && s1.shape[1] == s0.shape[1], ValueError, fn,
                      ": 'syn1neg' must have the shape of 'syn0' ", shape_str(s0.array), ", got ", shape_str(s1.array));
             const ArrayArg ia = contiguous_array(ids, fn, "ids", py::dtype::of<int32_t>(), 1, false);
             const ArrayArg oa = contiguous_array(offsets, fn, "offsets", py::dtype::of<int64_t>(), 1, false);
             const ArrayArg ca = contiguous_array(counts, fn, "counts", py::dtype::of<int64_t>(), 1, false);
             const int64_t V = s0.shape[0], D = s0.shape[1];
             FE_CHECK(V >= 1 && D >= 1, ValueError, fn, ": 'syn0' must be (V, D) with V, D >= 1, got ",
                      shape_str(s0.array));
             FE_CHECK(ca.shape[0] == V, ValueError, fn, ": 'counts' must have one entry per word (", V, "), got ",
                      ca.shape[0]);
             FE_CHECK(oa.shape[0] >= 1, ValueError, fn, ": 'offsets' must have at least one entry");
             FE_CHECK(device_count() > 0, RuntimeError, fn, ": no CUDA GPU is visible");
             py::gil_scoped_release release;
             // The core checks offsets (range, order), token ids against V and counts (>= 0).
             return std::make_unique<w2v::Word2VecCuda>(
                 static_cast<const float*>(s0.data), static_cast<const float*>(s1.data), V, D,
                 static_cast<const int32_t*>(ia.data), ia.shape[0], static_cast<const int64_t*>(oa.data),
                 oa.shape[0] - 1, static_cast<const int64_t*>(ca.data));
           }),
           py::arg("syn0"), py::arg("syn1neg"), py::arg("ids"), py::arg("offsets"), py::arg("counts"),
           "Uploads syn0, syn1neg (V, D) float32, ids int32, offsets int64 (sentence s is "
           "ids[offsets[s]:offsets[s+1]]) and counts (V,) int64 to the current device.")
      .def("train_epoch",
           [](w2v::Word2VecCuda& self, bool sg, bool cbow_mean, bool shared_negatives, py::handle window,
              py::handle negative, py::handle epochs, py::handle epoch, py::handle sample, py::handle alpha,
              py::handle min_alpha, py::handle ns_exponent, py::handle seed, py::handle stream) {
             constexpr const char* fn = "Word2VecCuda.train_epoch";
             w2v::TrainParams p;
             read_w2v_settings(p, fn, sg, cbow_mean, shared_negatives, window, negative, epochs, epoch, sample,
                               alpha, min_alpha, ns_exponent, seed);
             void* s = arg_stream(stream, fn);
             {
               py::gil_scoped_release release;
               self.train_epoch(p, s);  // waits for the stream
             }
             return w2v_epoch_result(p);
           },
           py::arg("sg"), py::arg("cbow_mean"), py::arg("shared_negatives"), py::arg("window"), py::arg("negative"),
           py::arg("epochs"), py::arg("epoch"), py::arg("sample"), py::arg("alpha"), py::arg("min_alpha"),
           py::arg("ns_exponent"), py::arg("seed"), py::arg("stream") = 0,
           "Trains one epoch on the device weights (the CPU trainer's semantics, csrc/word2vec/train.h) on "
           "`stream` and waits for it; returns {'loss', 'trained_words', 'pairs'}.")
      .def("download",
           [](const w2v::Word2VecCuda& self, py::handle syn0, py::handle syn1neg) {
             constexpr const char* fn = "Word2VecCuda.download";
             const ArrayArg s0 = contiguous_array(syn0, fn, "syn0", py::dtype::of<float>(), 2, true);
             const ArrayArg s1 = contiguous_array(syn1neg, fn, "syn1neg", py::dtype::of<float>(), 2, true);
             const int64_t V = self.vocab_size(), D = self.vector_size();
             FE_CHECK(s0.shape[0] == V && s0.shape[1] == D, ValueError, fn, ": 'syn0' must have shape (", V, ", ",
                      D, "), got ", shape_str(s0.array));
             FE_CHECK(s1.shape[0] == V && s1.shape[1] == D, ValueError, fn, ": 'syn1neg' must have shape (", V,
                      ", ", D, "), got ", shape_str(s1.array));
             FE_CHECK(s0.data != s1.data, ValueError, fn, ": 'syn0' and 'syn1neg' must be different arrays");
             py::gil_scoped_release release;
             self.download(static_cast<float*>(s0.data), static_cast<float*>(s1.data));
           },
           py::arg("syn0"), py::arg("syn1neg"), "Copies the device weights into writeable (V, D) float32 arrays.")
      .def_property_readonly("vocab_size", &w2v::Word2VecCuda::vocab_size)
      .def_property_readonly("vector_size", &w2v::Word2VecCuda::vector_size)
      .def_property_readonly("corpus_words", &w2v::Word2VecCuda::corpus_words);
}

#if defined(FE_CUDA_EMU)
// The emulator's own checks (tests/cuda/test_emulator.py): its semantics, and its fp16 / bf16
// conversions against numpy's and torch's.
void bind_emulator(py::module_& m) {
  m.def("_selftest_names", &fe_emu::selftest_names);
  m.def("_selftest", [](const std::string& name) {
    py::gil_scoped_release release;
    return fe_emu::selftest(name);
  }, py::arg("name"), "Runs an emulator check kernel; returns what it wrote (RuntimeError when its launch fails).");
  auto convert = [](void (*fn)(const float*, int64_t, uint16_t*), const char* name) {
    return [fn, name](py::handle x) {
      const ArrayArg a = contiguous_array(x, name, "x", py::dtype::of<float>(), 1, false);
      py::array_t<uint16_t> out(a.shape[0]);
      fn(static_cast<const float*>(a.data), a.shape[0], out.mutable_data());
      return out;
    };
  };
  m.def("_float_to_half_bits", convert(&fe_emu::float_to_half_bits, "_float_to_half_bits"), py::arg("x"));
  m.def("_float_to_bfloat16_bits", convert(&fe_emu::float_to_bfloat16_bits, "_float_to_bfloat16_bits"), py::arg("x"));
}
#endif

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
#if defined(FE_CUDA_EMU)
    d["emulated"] = true;
#else
    d["emulated"] = false;
#endif
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

  // Fused masked attention (attention/params.h): tensors are (B, T, H, D) views given by device
  // pointer and (b, t, h) element strides, D contiguous; lse is float32 (B, H, Tq) contiguous.
  m.def("attention_forward", [](py::handle q, py::handle k, py::handle v, py::handle out, py::handle lse,
                                py::handle B, py::handle H, py::handle Tq, py::handle Tk, py::handle D,
                                py::handle q_strides, py::handle k_strides, py::handle v_strides,
                                py::handle out_strides, py::handle dtype, py::handle causal, py::handle scale,
                                py::handle dropout_p, py::handle seed, py::handle offset, py::handle key_lengths,
                                py::handle key_padding, py::handle key_padding_sb, py::handle stream) {
    constexpr const char* fn = "attention_forward (cuda)";
    const AttentionParams p = attention_common_args(fn, q, k, v, out, lse, B, H, Tq, Tk, D, q_strides, k_strides,
                                                    v_strides, out_strides, dtype, causal, scale, dropout_p, seed,
                                                    offset, key_lengths, key_padding, key_padding_sb);
    void* s = arg_stream(stream, fn);
    py::gil_scoped_release release;
    attention_forward_cuda(p, s);
  }, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("B"), py::arg("H"),
     py::arg("Tq"), py::arg("Tk"), py::arg("D"), py::arg("q_strides"), py::arg("k_strides"), py::arg("v_strides"),
     py::arg("out_strides"), py::arg("dtype"), py::arg("causal"), py::arg("scale"), py::arg("dropout_p"),
     py::arg("seed"), py::arg("offset"), py::arg("key_lengths"), py::arg("key_padding"), py::arg("key_padding_sb"),
     py::arg("stream"),
     "Fused masked attention forward on device pointers, on `stream`: writes out (B, Tq, H, D) and lse "
     "(B, H, Tq, float32). dtype: 'float32', 'float16' or 'bfloat16'.");

  m.def("attention_backward", [](py::handle dout, py::handle q, py::handle k, py::handle v, py::handle out,
                                 py::handle lse, py::handle dq, py::handle dk, py::handle dv, py::handle B,
                                 py::handle H, py::handle Tq, py::handle Tk, py::handle D, py::handle dout_strides,
                                 py::handle q_strides, py::handle k_strides, py::handle v_strides,
                                 py::handle out_strides, py::handle dq_strides, py::handle dk_strides,
                                 py::handle dv_strides, py::handle dtype, py::handle causal, py::handle scale,
                                 py::handle dropout_p, py::handle seed, py::handle offset, py::handle key_lengths,
                                 py::handle key_padding, py::handle key_padding_sb, py::handle stream) {
    constexpr const char* fn = "attention_backward (cuda)";
    AttentionParams p = attention_common_args(fn, q, k, v, out, lse, B, H, Tq, Tk, D, q_strides, k_strides,
                                              v_strides, out_strides, dtype, causal, scale, dropout_p, seed, offset,
                                              key_lengths, key_padding, key_padding_sb);
    p.dout = arg_device_ptr(dout, fn, "dout", p.Tq == 0);
    p.dq = arg_device_ptr(dq, fn, "dq", p.Tq == 0);
    p.dk = arg_device_ptr(dk, fn, "dk", p.Tk == 0);
    p.dv = arg_device_ptr(dv, fn, "dv", p.Tk == 0);
    p.dout_s = arg_strides(dout_strides, fn, "dout_strides");
    p.dq_s = arg_strides(dq_strides, fn, "dq_strides");
    p.dk_s = arg_strides(dk_strides, fn, "dk_strides");
    p.dv_s = arg_strides(dv_strides, fn, "dv_strides");
    void* s = arg_stream(stream, fn);
    py::gil_scoped_release release;
    attention_backward_cuda(p, s);
  }, py::arg("dout"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("dq"),
     py::arg("dk"), py::arg("dv"), py::arg("B"), py::arg("H"), py::arg("Tq"), py::arg("Tk"), py::arg("D"),
     py::arg("dout_strides"), py::arg("q_strides"), py::arg("k_strides"), py::arg("v_strides"),
     py::arg("out_strides"), py::arg("dq_strides"), py::arg("dk_strides"), py::arg("dv_strides"), py::arg("dtype"),
     py::arg("causal"), py::arg("scale"), py::arg("dropout_p"), py::arg("seed"), py::arg("offset"),
     py::arg("key_lengths"), py::arg("key_padding"), py::arg("key_padding_sb"), py::arg("stream"),
     "Fused masked attention backward on device pointers, on `stream`: overwrites dq, dk, dv from dout and the "
     "forward's out and lse (regenerating its dropout mask from seed and offset).");

  bind_word2vec_cuda(m);
#if defined(FE_CUDA_EMU)
  bind_emulator(m);
#endif
}

}  // namespace
}  // namespace fe::bindings

PYBIND11_MODULE(FE_CUDA_MODULE, m) {
  m.doc() = FE_CUDA_MODULE_DOC;
  fe::bindings::register_error_translator();
  fe::bindings::bind_all(m);
}
