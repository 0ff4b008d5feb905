// word2vec: corpus files to ids, the training epoch, and test hooks for the sampler and the
// subsampling rule. Weight matrices are updated in place, so they are checked, never converted.
#include <Python.h>

#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings/args.h"
#include "bindings/word2vec_args.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/rng.h"
#include "word2vec/corpus.h"
#include "word2vec/sampler.h"
#include "word2vec/train.h"

namespace fe::bindings {

namespace {

// Words are bytes; Python sees them as str decoded with surrogateescape (lossless for any bytes).
py::str word_to_str(const std::string& w) {
  PyObject* s = PyUnicode_DecodeUTF8(w.data(), static_cast<Py_ssize_t>(w.size()), "surrogateescape");
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

ArrayArg contiguous(py::handle obj, const char* fn, const char* name, const py::dtype& dt, int ndim, bool writeable) {
  ArrayArg a = arg_array(obj, fn, name, dt, ndim, writeable);
  FE_CHECK(py::reinterpret_borrow<py::array>(obj).flags() & py::array::c_style, ValueError, fn, ": argument '", name,
           "' must be C-contiguous", writeable ? " (it is updated in place)" : "");
  return a;
}

}  // namespace

void bind_word2vec(py::module_& m) {
  m.def("w2v_count_file", [](const std::string& path, Progress* progress) {
    w2v::WordCountTable t;
    {
      py::gil_scoped_release release;
      const std::string data = w2v::read_file(path);
      w2v::check_utf8(data, path);  // before training, not at save time (or never, for a text file)
      t = w2v::count_words(data, progress);
    }
    py::list words;
    for (const auto& w : t.words) words.append(word_to_str(w));
    return py::make_tuple(words, vector_to_array(std::move(t.counts)), t.total_words, t.lines);
  }, py::arg("path"), py::arg("progress") = nullptr,
     "Counts the whitespace-separated words of a UTF-8 file (ValueError naming the first bad byte otherwise):\n"
     "(words by count desc, counts, total words, lines).");

  m.def("w2v_encode_file", [](const std::string& path, const std::vector<std::string>& vocab, Progress* progress) {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets;
    {
      py::gil_scoped_release release;
      const std::string data = w2v::read_file(path);
      w2v::encode_words(data, vocab, ids, offsets, progress);
    }
    return py::make_tuple(vector_to_array(std::move(ids)), vector_to_array(std::move(offsets)));
  }, py::arg("path"), py::arg("vocab"), py::arg("progress") = nullptr,
     "Token ids of a file's words in `vocab` (a list of bytes; others dropped), one sentence per line:\n"
     "(ids int32, offsets int64).");

  m.def("w2v_train_epoch", [](py::handle syn0, py::handle syn1neg, py::handle ids, py::handle offsets,
                              py::handle counts, bool sg, bool cbow_mean, bool shared_negatives, py::handle window,
                              py::handle negative, py::handle epochs, py::handle epoch, py::handle sample,
                              py::handle alpha, py::handle min_alpha, py::handle ns_exponent, py::handle seed,
                              py::handle workers, Progress* progress) {
    constexpr const char* fn = "w2v_train_epoch";
    const ArrayArg s0 = contiguous(syn0, fn, "syn0", py::dtype::of<float>(), 2, true);
    const ArrayArg s1 = contiguous(syn1neg, fn, "syn1neg", py::dtype::of<float>(), 2, true);
    FE_CHECK(s1.shape[0] == s0.shape[0] && s1.shape[1] == s0.shape[1], ValueError, fn,
             ": 'syn1neg' must have the shape of 'syn0' ", shape_str(s0.array), ", got ", shape_str(s1.array));
    FE_CHECK(s0.data != s1.data, ValueError, fn, ": 'syn0' and 'syn1neg' must be different arrays");
    const ArrayArg ia = contiguous(ids, fn, "ids", py::dtype::of<int32_t>(), 1, false);
    const ArrayArg oa = contiguous(offsets, fn, "offsets", py::dtype::of<int64_t>(), 1, false);
    const ArrayArg ca = contiguous(counts, fn, "counts", py::dtype::of<int64_t>(), 1, false);
    w2v::TrainParams p;
    p.V = s0.shape[0];
    p.D = s0.shape[1];
    FE_CHECK(ca.shape[0] == p.V, ValueError, fn, ": 'counts' must have one entry per word (", p.V, "), got ",
             ca.shape[0]);
    FE_CHECK(oa.shape[0] >= 1, ValueError, fn, ": 'offsets' must have at least one entry");
    const auto* off = static_cast<const int64_t*>(oa.data);
    const int64_t n_sent = oa.shape[0] - 1;
    FE_CHECK(off[0] >= 0 && off[n_sent] <= ia.shape[0], ValueError, fn, ": 'offsets' must lie in [0, len(ids) = ",
             ia.shape[0], "]");
    for (int64_t s = 0; s < n_sent; ++s)
      FE_CHECK(off[s] <= off[s + 1], ValueError, fn, ": 'offsets' must be non-decreasing (at ", s, ")");
    const auto* id = static_cast<const int32_t*>(ia.data);
    for (int64_t i = off[0]; i < off[n_sent]; ++i)
      FE_CHECK(id[i] >= 0 && id[i] < p.V, IndexError, fn, ": token id ", id[i], " at position ", i,
               " is outside the vocabulary [0, ", p.V, ")");
    p.syn0 = static_cast<float*>(s0.data);
    p.syn1neg = static_cast<float*>(s1.data);
    p.ids = id;
    p.offsets = off;
    p.n_sentences = n_sent;
    p.counts = static_cast<const int64_t*>(ca.data);
    read_w2v_settings(p, fn, sg, cbow_mean, shared_negatives, window, negative, epochs, epoch, sample, alpha,
                      min_alpha, ns_exponent, seed);
    p.workers = arg_int64(workers, fn, "workers");
    w2v::check_train_params(p);
    {
      py::gil_scoped_release release;
      w2v::train_epoch(p, progress);
    }
    return w2v_epoch_result(p);
  }, py::arg("syn0"), py::arg("syn1neg"), py::arg("ids"), py::arg("offsets"), py::arg("counts"), py::arg("sg"),
     py::arg("cbow_mean"), py::arg("shared_negatives"), py::arg("window"), py::arg("negative"), py::arg("epochs"),
     py::arg("epoch"), py::arg("sample"), py::arg("alpha"), py::arg("min_alpha"), py::arg("ns_exponent"),
     py::arg("seed"), py::arg("workers"), py::arg("progress") = nullptr,
     "Trains one word2vec epoch in place on syn0/syn1neg (see csrc/word2vec/train.h); returns\n"
     "{'loss', 'trained_words', 'pairs'}.");

  m.def("w2v_step_for_testing", [](py::handle syn0, py::handle syn1neg, const std::string& mode, int32_t centre,
                                   py::handle contexts, py::handle negatives, float alpha, bool cbow_mean) {
    constexpr const char* fn = "w2v_step_for_testing";
    const ArrayArg s0 = contiguous(syn0, fn, "syn0", py::dtype::of<float>(), 2, true);
    const ArrayArg s1 = contiguous(syn1neg, fn, "syn1neg", py::dtype::of<float>(), 2, true);
    const ArrayArg ca = contiguous(contexts, fn, "contexts", py::dtype::of<int32_t>(), 1, false);
    const ArrayArg na = contiguous(negatives, fn, "negatives", py::dtype::of<int32_t>(), 1, false);
    w2v::TrainParams p;
    p.syn0 = static_cast<float*>(s0.data);
    p.syn1neg = static_cast<float*>(s1.data);
    p.V = s0.shape[0];
    p.D = s0.shape[1];
    p.cbow_mean = cbow_mean;
    const auto* c = static_cast<const int32_t*>(ca.data);
    const auto* n = static_cast<const int32_t*>(na.data);
    auto check = [&](int32_t id) {
      FE_CHECK(id >= 0 && id < p.V, IndexError, fn, ": id ", id, " outside [0, ", p.V, ")");
    };
    check(centre);
    for (int64_t i = 0; i < ca.shape[0]; ++i) check(c[i]);
    for (int64_t i = 0; i < na.shape[0]; ++i) check(n[i]);
    const int m = mode == "sg" ? 0 : mode == "cbow" ? 1 : -1;
    FE_CHECK(m >= 0, ValueError, fn, ": mode must be 'sg' or 'cbow'");
    return w2v::train_step_for_testing(p, m, centre, c, ca.shape[0], n, na.shape[0], alpha);
  }, py::arg("syn0"), py::arg("syn1neg"), py::arg("mode"), py::arg("centre"), py::arg("contexts"),
     py::arg("negatives"), py::arg("alpha"), py::arg("cbow_mean") = true,
     "Tests: one update of one centre word with given contexts and negatives (trainer code path).");

  m.def("w2v_keep_thresholds", [](py::handle counts, py::handle sample) {
    constexpr const char* fn = "w2v_keep_thresholds";
    const ArrayArg ca = contiguous(counts, fn, "counts", py::dtype::of<int64_t>(), 1, false);
    const double s = arg_double(sample, fn, "sample");
    std::vector<uint32_t> out(static_cast<size_t>(ca.shape[0]));
    w2v::keep_thresholds(static_cast<const int64_t*>(ca.data), ca.shape[0], s, out.data());
    return vector_to_array(std::move(out));
  }, py::arg("counts"), py::arg("sample"), "Subsampling keep probabilities (2^32 scale) as training applies them.");

  m.def("w2v_sampler", [](py::handle counts, py::handle power, py::handle n, py::handle seed) {
    constexpr const char* fn = "w2v_sampler";
    const ArrayArg ca = contiguous(counts, fn, "counts", py::dtype::of<int64_t>(), 1, false);
    const w2v::AliasSampler s(static_cast<const int64_t*>(ca.data), ca.shape[0], arg_double(power, fn, "power"));
    const int64_t draws = arg_int64(n, fn, "n", 0);
    SplitMix64 rng(arg_uint64(seed, fn, "seed"));
    std::vector<int32_t> out(static_cast<size_t>(draws));
    for (auto& x : out) x = s.sample(rng.next());
    return py::make_tuple(vector_to_array(s.probabilities()), vector_to_array(std::move(out)));
  }, py::arg("counts"), py::arg("power"), py::arg("n"), py::arg("seed"),
     "The negative sampler's exact probabilities and n draws from it (for tests).");
}

}  // namespace fe::bindings
