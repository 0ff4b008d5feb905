// Fused masked attention on numpy arrays (CPU). The torch op (fastembed/ops) passes zero-copy
// numpy views of CPU tensors; outputs are allocated by the caller and written in place.
#include <cmath>
#include <string>
#include <utility>

#include "attention/decode.h"
#include "attention/params.h"
#include "bindings/args.h"
#include "common/error.h"

namespace fe::bindings {

namespace {

// A (B, T, H, D) array with a contiguous D axis; returns its strides (b, t, h) in elements.
AttnStrides bthd(const ArrayArg& a, const char* fn, const char* name) {
  const bool empty = a.shape[0] == 0 || a.shape[1] == 0 || a.shape[2] == 0 || a.shape[3] == 0;
  FE_CHECK(empty || a.shape[3] == 1 || a.stride_elems(3) == 1, ValueError, fn, ": argument '", name,
           "' must have a contiguous last (head-dim) axis, got a stride of ", a.stride_elems(3),
           " elements; pass a copy (numpy.ascontiguousarray)");
  return AttnStrides{a.stride_elems(0), a.stride_elems(1), a.stride_elems(2)};
}

void check_shape(const ArrayArg& a, const char* fn, const char* name, int64_t B, int64_t T, int64_t H, int64_t D,
                 const char* what) {
  FE_CHECK(a.shape[0] == B && a.shape[1] == T && a.shape[2] == H && a.shape[3] == D, ValueError, fn,
           ": argument '", name, "' must have shape (", B, ", ", T, ", ", H, ", ", D, ") ", what, ", got ",
           shape_str(a.array));
}

struct Common {
  AttentionParams p;
  py::dtype dt;
};

// Validates q, k, v, out, lse, masks and scalars; fills the forward half of the params. out and
// lse are written by the forward (writeable) and read by the backward.
Common parse_common(const char* fn, py::handle q, py::handle k, py::handle v, py::handle out, py::handle lse,
                    bool causal, py::handle scale, py::handle dropout_p, py::handle seed, py::handle offset,
                    py::handle key_lengths, py::handle key_padding_mask, bool forward) {
  Common c;
  AttentionParams& p = c.p;
  FE_CHECK(py::isinstance<py::array>(q), TypeError, fn, ": argument 'q' must be a numpy.ndarray, got ",
           std::string(py::str(py::type::handle_of(q).attr("__name__"))));
  c.dt = py::reinterpret_borrow<py::array>(q).dtype();
  const bool f64 = c.dt.equal(py::dtype::of<double>());
  FE_CHECK(f64 || c.dt.equal(py::dtype::of<float>()), TypeError, fn,
           ": argument 'q' must have dtype float32 or float64, got ", dtype_name(c.dt));
  p.dtype = f64 ? AttnDType::kFloat64 : AttnDType::kFloat32;
  const ArrayArg qa = arg_array(q, fn, "q", c.dt, 4, false);
  const ArrayArg ka = arg_array(k, fn, "k", c.dt, 4, false);
  const ArrayArg va = arg_array(v, fn, "v", c.dt, 4, false);
  p.B = qa.shape[0];
  p.Tq = qa.shape[1];
  p.H = qa.shape[2];
  p.D = qa.shape[3];
  p.Tk = ka.shape[1];
  FE_CHECK(p.B >= 1 && p.H >= 1 && p.D >= 1, ValueError, fn, ": 'q' must have B, H, D >= 1, got shape ",
           shape_str(qa.array));
  check_shape(ka, fn, "k", p.B, p.Tk, p.H, p.D, "(B, Tk, H, D) matching q");
  check_shape(va, fn, "v", p.B, p.Tk, p.H, p.D, "like k");
  const ArrayArg oa = arg_array(out, fn, "out", c.dt, 4, forward);
  check_shape(oa, fn, "out", p.B, p.Tq, p.H, p.D, "like q");
  p.q = qa.data;
  p.k = ka.data;
  p.v = va.data;
  p.out = oa.data;
  p.q_s = bthd(qa, fn, "q");
  p.k_s = bthd(ka, fn, "k");
  p.v_s = bthd(va, fn, "v");
  p.out_s = bthd(oa, fn, "out");
  const ArrayArg la = arg_array(lse, fn, "lse", c.dt, 3, forward);
  FE_CHECK(la.shape[0] == p.B && la.shape[1] == p.H && la.shape[2] == p.Tq, ValueError, fn,
           ": argument 'lse' must have shape (B, H, Tq) = (", p.B, ", ", p.H, ", ", p.Tq, "), got ",
           shape_str(la.array));
  FE_CHECK(p.Tq == 0 || (la.stride_elems(2) == 1 && la.stride_elems(1) == p.Tq && la.stride_elems(0) == p.H * p.Tq),
           ValueError, fn, ": argument 'lse' must be C-contiguous");
  p.lse = la.data;

  p.causal = causal;
  p.scale = arg_double(scale, fn, "scale");
  p.dropout_p = arg_double(dropout_p, fn, "dropout_p");
  p.seed = arg_uint64(seed, fn, "seed");
  p.offset = arg_uint64(offset, fn, "offset");
  if (!key_lengths.is_none()) {
    const ArrayArg a = arg_array(key_lengths, fn, "key_lengths", py::dtype::of<int64_t>(), 1, false);
    FE_CHECK(a.shape[0] == p.B, ValueError, fn, ": argument 'key_lengths' must have shape (B,) = (", p.B,
             ",), got ", shape_str(a.array));
    FE_CHECK(p.B <= 1 || a.stride_elems(0) == 1, ValueError, fn, ": argument 'key_lengths' must be contiguous");
    p.key_lengths = static_cast<const int64_t*>(a.data);
    for (int64_t b = 0; b < p.B; ++b)
      FE_CHECK(p.key_lengths[b] >= 0 && p.key_lengths[b] <= p.Tk, ValueError, fn, ": key_lengths[", b, "] = ",
               p.key_lengths[b], " is outside [0, Tk = ", p.Tk, "]");
  }
  if (!key_padding_mask.is_none()) {
    const ArrayArg a = arg_array(key_padding_mask, fn, "key_padding_mask", py::dtype::of<bool>(), 2, false);
    FE_CHECK(a.shape[0] == p.B && a.shape[1] == p.Tk, ValueError, fn,
             ": argument 'key_padding_mask' must have shape (B, Tk) = (", p.B, ", ", p.Tk, "), got ",
             shape_str(a.array));
    FE_CHECK(p.Tk <= 1 || a.stride_elems(1) == 1, ValueError, fn,
             ": argument 'key_padding_mask' must be contiguous along Tk");
    p.key_padding = static_cast<const uint8_t*>(a.data);
    p.key_padding_sb = a.stride_elems(0);
  }
  return c;
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", [](py::handle q, py::handle k, py::handle v, py::handle out, py::handle lse,
                                bool causal, py::handle scale, py::handle dropout_p, py::handle seed,
                                py::handle offset, py::handle key_lengths, py::handle key_padding_mask) {
    constexpr const char* fn = "attention_forward";
    Common c = parse_common(fn, q, k, v, out, lse, causal, scale, dropout_p, seed, offset, key_lengths,
                            key_padding_mask, /*forward=*/true);
    attention_check_params(c.p, false, fn);
    py::gil_scoped_release release;
    attention_forward_cpu(c.p);
  }, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("causal"),
     py::arg("scale"), py::arg("dropout_p"), py::arg("seed"), py::arg("offset"), py::arg("key_lengths"),
     py::arg("key_padding_mask"),
     "Fused masked attention forward on (B, T, H, D) arrays (float32/float64, contiguous D axis); writes\n"
     "out (B, Tq, H, D) and lse (B, H, Tq). See csrc/attention/params.h for the masks and dropout.");

  m.def("attention_backward", [](py::handle dout, py::handle q, py::handle k, py::handle v, py::handle out,
                                 py::handle lse, py::handle dq, py::handle dk, py::handle dv, bool causal,
                                 py::handle scale, py::handle dropout_p, py::handle seed, py::handle offset,
                                 py::handle key_lengths, py::handle key_padding_mask) {
    constexpr const char* fn = "attention_backward";
    Common c = parse_common(fn, q, k, v, out, lse, causal, scale, dropout_p, seed, offset, key_lengths,
                            key_padding_mask, /*forward=*/false);
    AttentionParams& p = c.p;
    const ArrayArg doa = arg_array(dout, fn, "dout", c.dt, 4, false);
    check_shape(doa, fn, "dout", p.B, p.Tq, p.H, p.D, "like q");
    const ArrayArg dqa = arg_array(dq, fn, "dq", c.dt, 4, true);
    check_shape(dqa, fn, "dq", p.B, p.Tq, p.H, p.D, "like q");
    const ArrayArg dka = arg_array(dk, fn, "dk", c.dt, 4, true);
    check_shape(dka, fn, "dk", p.B, p.Tk, p.H, p.D, "like k");
    const ArrayArg dva = arg_array(dv, fn, "dv", c.dt, 4, true);
    check_shape(dva, fn, "dv", p.B, p.Tk, p.H, p.D, "like v");
    p.dout = doa.data;
    p.dq = dqa.data;
    p.dk = dka.data;
    p.dv = dva.data;
    p.dout_s = bthd(doa, fn, "dout");
    p.dq_s = bthd(dqa, fn, "dq");
    p.dk_s = bthd(dka, fn, "dk");
    p.dv_s = bthd(dva, fn, "dv");
    attention_check_params(p, true, fn);
    py::gil_scoped_release release;
    attention_backward_cpu(p);
  }, py::arg("dout"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("dq"),
     py::arg("dk"), py::arg("dv"), py::arg("causal"), py::arg("scale"), py::arg("dropout_p"), py::arg("seed"),
     py::arg("offset"), py::arg("key_lengths"), py::arg("key_padding_mask"),
     "Fused masked attention backward: writes dq, dk, dv from dout and the forward's out and lse.");

  m.def("attention_dropout_mask", [](py::handle B, py::handle H, py::handle Tq, py::handle Tk, py::handle p,
                                     py::handle seed, py::handle offset) {
    constexpr const char* fn = "attention_dropout_mask";
    const int64_t b = arg_int64(B, fn, "B", 0), h = arg_int64(H, fn, "H", 0), tq = arg_int64(Tq, fn, "Tq", 0),
                  tk = arg_int64(Tk, fn, "Tk", 0);
    const double pr = arg_double(p, fn, "p");
    const uint64_t s = arg_uint64(seed, fn, "seed"), off = arg_uint64(offset, fn, "offset");
    py::array_t<bool> mask({b, h, tq, tk});
    uint8_t* data = reinterpret_cast<uint8_t*>(mask.mutable_data());
    {
      py::gil_scoped_release release;
      attention_dropout_mask_cpu(b, h, tq, tk, pr, s, off, data);
    }
    return mask;
  }, py::arg("B"), py::arg("H"), py::arg("Tq"), py::arg("Tk"), py::arg("p"), py::arg("seed"), py::arg("offset"),
     "The attention kernels' dropout keep-mask (B, H, Tq, Tk), True = kept (for tests and debugging).");

  m.def("decode_attention", [](py::handle qkv, py::handle k, py::handle v, py::handle n, py::handle padded,
                               py::handle scale, py::handle out) {
    constexpr const char* fn = "decode_attention";
    const ArrayArg ka = arg_array(k, fn, "k", py::dtype::of<float>(), 4, true);
    const ArrayArg va = arg_array(v, fn, "v", py::dtype::of<float>(), 4, true);
    const int64_t B = ka.shape[0], H = ka.shape[1], cap = ka.shape[2], D = ka.shape[3], C = H * D;
    FE_CHECK(B >= 1 && H >= 1 && cap >= 1 && D >= 1, ValueError, fn,
             ": argument 'k' must have shape (B, H, capacity, D), all >= 1, got ", shape_str(ka.array));
    FE_CHECK(va.shape[0] == B && va.shape[1] == H && va.shape[2] == cap && va.shape[3] == D, ValueError, fn,
             ": argument 'v' must have the shape of 'k' ", shape_str(ka.array), ", got ", shape_str(va.array));
    FE_CHECK((ka.array.flags() & py::array::c_style) && (va.array.flags() & py::array::c_style), ValueError, fn,
             ": the caches 'k' and 'v' must be C-contiguous");
    const int64_t len = arg_int64(n, fn, "n", 1, cap);
    const ArrayArg qa = arg_array(qkv, fn, "qkv", py::dtype::of<float>(), 2, false);
    FE_CHECK(qa.shape[0] == B && qa.shape[1] == 3 * C, ValueError, fn, ": argument 'qkv' must have shape (B, 3·H·D) = (",
             B, ", ", 3 * C, ") for caches of shape ", shape_str(ka.array), ", got ", shape_str(qa.array));
    FE_CHECK(qa.stride_elems(1) == 1, ValueError, fn, ": argument 'qkv' must have a contiguous last axis");
    const ArrayArg oa = arg_array(out, fn, "out", py::dtype::of<float>(), 2, true);
    FE_CHECK(oa.shape[0] == B && oa.shape[1] == C, ValueError, fn, ": argument 'out' must have shape (B, H·D) = (", B,
             ", ", C, "), got ", shape_str(oa.array));
    FE_CHECK(oa.stride_elems(1) == 1, ValueError, fn, ": argument 'out' must have a contiguous last axis");
    const uint8_t* pad = nullptr;
    int64_t ldp = 0;
    if (!padded.is_none()) {
      const ArrayArg pa = arg_array(padded, fn, "padded", py::dtype::of<bool>(), 2, false);
      FE_CHECK(pa.shape[0] == B && pa.shape[1] >= len, ValueError, fn, ": argument 'padded' must have shape (B, >= n) = (",
               B, ", >= ", len, "), got ", shape_str(pa.array));
      FE_CHECK(len <= 1 || pa.stride_elems(1) == 1, ValueError, fn, ": argument 'padded' must be contiguous along keys");
      pad = static_cast<const uint8_t*>(pa.data);
      ldp = pa.stride_elems(0);
    }
    const double sc = arg_double(scale, fn, "scale");
    FE_CHECK(std::isfinite(sc), ValueError, fn, ": argument 'scale' must be finite, got ", sc);
    // out is written while qkv and the caches are read: it may overlap none of them.
    const auto span = [](const ArrayArg& a, int64_t rows, int64_t cols) {
      const char* p = static_cast<const char*>(a.data);
      return std::pair<const char*, const char*>(p, p + ((rows - 1) * a.stride_elems(0) + cols) * 4);
    };
    const auto o = span(oa, B, C);
    for (const auto& [other, name] : {std::pair{span(qa, B, 3 * C), "qkv"},
                                      std::pair{span(ka, 1, B * H * cap * D), "k"},
                                      std::pair{span(va, 1, B * H * cap * D), "v"}})
      FE_CHECK(o.second <= other.first || other.second <= o.first, ValueError, fn,
               ": argument 'out' must not overlap '", name, "'");
    const auto kspan = span(ka, 1, B * H * cap * D), vspan = span(va, 1, B * H * cap * D);
    FE_CHECK(kspan.second <= vspan.first || vspan.second <= kspan.first, ValueError, fn,
             ": the caches 'k' and 'v' must not overlap");
    const float* qp = static_cast<const float*>(qa.data);
    float* kp = static_cast<float*>(ka.data);
    float* vp = static_cast<float*>(va.data);
    float* op = static_cast<float*>(oa.data);
    const int64_t ldq = qa.stride_elems(0), ldo = oa.stride_elems(0);
    py::gil_scoped_release release;
    decode_attention_cpu(qp, ldq, B, H, D, kp, vp, cap, len, pad, ldp, static_cast<float>(sc), op, ldo);
  }, py::arg("qkv"), py::arg("k"), py::arg("v"), py::arg("n"), py::arg("padded"), py::arg("scale"), py::arg("out"),
     "One decoding step's attention (csrc/attention/decode.h): writes each row's new key and value (from qkv) at "
     "position n - 1 of the caches, then out[b, h·D:(h+1)·D] = softmax(scale · q·K[b, h, :n]ᵀ, keys with padded[b, j] "
     "hidden) · V[b, h, :n]; zeros where no key is visible. qkv: float32 (B, 3·H·D), q | k | v; k, v: float32 (B, H, "
     "capacity, D), C-contiguous, updated in place; n: keys after the append, 1..capacity; padded: bool (B, >= n) "
     "or None; out: float32 (B, H·D).");
}

}  // namespace fe::bindings
