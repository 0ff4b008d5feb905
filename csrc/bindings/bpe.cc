// Byte-level BPE: pre-tokenizer, word counting, training, encoder. The Python API is
// fastembed/tokenizers/bpe.py; these are its mechanical bindings.
#include <pybind11/stl.h>

#include <memory>

#include "bindings/args.h"
#include "bpe/bert_text.h"
#include "bpe/counts.h"
#include "bpe/encoder.h"
#include "bpe/pretokenize.h"
#include "bpe/train.h"
#include "bpe/wordpiece.h"
#include "common/error.h"
#include "common/parallel.h"

namespace fe::bindings {

using namespace fe::bpe;

namespace {

const uint8_t* bytes_of(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// How text_views reads a non-ASCII str (an ASCII str is its own UTF-8: never a copy).
enum class StrUtf8 {
  // The UTF-8 copy Python caches inside the str. A str with lone surrogates raises
  // UnicodeEncodeError, as arg_text.
  kCached,
  // A temporary bytes object kept in `temps`, instead of the cached copy that would stay in the
  // str for the rest of its life: a text read once (training) should not double its memory.
  kTemporary,
  // Cached, except that a str with lone surrogates becomes temporary "surrogatepass" bytes (a
  // surrogate as ED A0..BF xx, one code point), so it is read instead of refused.
  kSurrogatePass,
};

// Views of the str/bytes items of a list, taken with the GIL held. The returned tuple holds a
// reference to every item, so the views stay valid while the GIL is released even if another
// thread changes the list meanwhile; keep it alive as long as the views, and `temps` too.
std::vector<std::string_view> text_views(const py::list& texts, const char* fn, py::tuple& keep,
                                         StrUtf8 mode = StrUtf8::kCached, std::vector<py::object>* temps = nullptr) {
  keep = py::reinterpret_steal<py::tuple>(PySequence_Tuple(texts.ptr()));
  if (!keep) throw py::error_already_set();
  std::vector<std::string_view> views;
  views.reserve(keep.size());
  for (size_t i = 0; i < keep.size(); ++i) {
    PyObject* o = keep[i].ptr();
    PyObject* b = nullptr;
    if (mode == StrUtf8::kTemporary && PyUnicode_Check(o) && !PyUnicode_IS_ASCII(o)) {
      b = PyUnicode_AsUTF8String(o);  // UnicodeEncodeError for lone surrogates, as arg_text
      if (!b) throw py::error_already_set();
    } else if (mode == StrUtf8::kSurrogatePass && PyUnicode_Check(o) && !PyUnicode_IS_ASCII(o)) {
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(o, &n);
      if (s) {
        views.emplace_back(s, static_cast<size_t>(n));
        continue;
      }
      if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
      PyErr_Clear();
      b = PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass");
      if (!b) throw py::error_already_set();
    }
    if (b) {
      temps->push_back(py::reinterpret_steal<py::object>(b));
      views.emplace_back(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
      continue;
    }
    const std::string name = "texts[" + std::to_string(i) + "]";
    views.push_back(arg_text(keep[i], fn, name.c_str()));
  }
  return views;
}

py::list require_list(py::handle obj, const char* fn, const char* name) {
  FE_CHECK(PyList_Check(obj.ptr()), TypeError, fn, ": argument '", name, "' must be a list, got ",
           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  return py::reinterpret_borrow<py::list>(obj);
}

// The entries of a WordCounts sorted by piece, so the order (and everything downstream) is
// deterministic.
std::vector<std::pair<std::string_view, int64_t>> sorted_rows(const WordCounts& wc) {
  std::vector<std::pair<std::string_view, int64_t>> rows;
  rows.reserve(wc.table().size());
  wc.table().for_each([&](std::string_view piece, int64_t n) { rows.emplace_back(piece, n); });
  std::sort(rows.begin(), rows.end());
  return rows;
}

// (left, right, new id, count) rows.
py::array_t<int64_t> merges_array(const std::vector<Merge>& merges) {
  py::array_t<int64_t> out({static_cast<py::ssize_t>(merges.size()), py::ssize_t{4}});
  auto r = out.mutable_unchecked<2>();
  for (size_t i = 0; i < merges.size(); ++i) {
    r(i, 0) = merges[i].left;
    r(i, 1) = merges[i].right;
    r(i, 2) = merges[i].id;
    r(i, 3) = merges[i].count;
  }
  return out;
}

// Per-text token vectors, filled in parallel, then concatenated into the arrays the Python side
// reads: ids (N,) uint32, starts (n + 1,) int64, offsets (N, 2) int64 or None, words (N,) int32 or None.
struct FlatTokens {
  std::vector<std::vector<uint32_t>> ids;
  std::vector<std::vector<int64_t>> offsets;
  std::vector<std::vector<int32_t>> words;
  FlatTokens(size_t n, bool with_offsets, bool with_words)
      : ids(n), offsets(with_offsets ? n : 0), words(with_words ? n : 0) {}

  py::tuple to_python() {
    const size_t n = ids.size();
    py::array_t<int64_t> starts(static_cast<py::ssize_t>(n + 1));
    int64_t* st = starts.mutable_data();
    st[0] = 0;
    for (size_t i = 0; i < n; ++i) st[i + 1] = st[i] + static_cast<int64_t>(ids[i].size());
    const py::ssize_t total = static_cast<py::ssize_t>(st[n]);
    py::array_t<uint32_t> flat_ids(total);
    py::object flat_offsets = py::none(), flat_words = py::none();
    py::array_t<int64_t> off_arr;
    py::array_t<int32_t> word_arr;
    if (!offsets.empty()) off_arr = py::array_t<int64_t>({total, py::ssize_t{2}});
    if (!words.empty()) word_arr = py::array_t<int32_t>(total);
    {
      uint32_t* pi = flat_ids.mutable_data();
      int64_t* po = offsets.empty() ? nullptr : off_arr.mutable_data();
      int32_t* pw = words.empty() ? nullptr : word_arr.mutable_data();
      py::gil_scoped_release release;
      for (size_t i = 0; i < n; ++i) {
        std::copy(ids[i].begin(), ids[i].end(), pi + st[i]);
        if (po) std::copy(offsets[i].begin(), offsets[i].end(), po + 2 * st[i]);
        if (pw) std::copy(words[i].begin(), words[i].end(), pw + st[i]);
      }
    }
    if (!offsets.empty()) flat_offsets = off_arr;
    if (!words.empty()) flat_words = word_arr;
    return py::make_tuple(flat_ids, starts, flat_offsets, flat_words);
  }
};

}  // namespace

void bind_bpe(py::module_& m) {
  m.def("bpe_pretokenize", [](py::handle text, const std::string& pattern) {
    const std::string_view s = arg_text(text, "bpe_pretokenize", "text");
    const Pattern p = pattern_from_name(pattern);
    std::vector<int64_t> bounds;
    {
      py::gil_scoped_release release;
      pretokenize(p, bytes_of(s), s.size(), [&](size_t b, size_t e) {
        bounds.push_back(static_cast<int64_t>(b));
        bounds.push_back(static_cast<int64_t>(e));
      });
    }
    return vector_to_array(std::move(bounds));
  }, py::arg("text"), py::arg("pattern") = "gpt2",
     "Byte offsets [start0, end0, start1, end1, ...] of the pre-tokenizer's pieces of text's UTF-8.");

  py::class_<WordCounts>(m, "WordCounts")
      .def(py::init([](const std::string& pattern) { return new WordCounts(pattern_from_name(pattern)); }),
           py::arg("pattern") = "gpt2")
      .def("add_texts", [](WordCounts& self, py::handle texts, Progress* progress) {
        const py::list list = require_list(texts, "add_texts", "texts");
        py::tuple keep;
        std::vector<py::object> temps;
        const auto views = text_views(list, "add_texts", keep, StrUtf8::kTemporary, &temps);
        // The counting threads read the texts' bytes in place (str's UTF-8, bytes' buffer), kept
        // alive and unchanged by `keep`; they never touch a Python object.
        // Count into a private table without the GIL; merge with it held, and only on success,
        // so a concurrent call on `self` never races and a cancelled call adds nothing.
        WordCounts local(self.pattern());
        {
          py::gil_scoped_release release;
          local.add_views(views.data(), static_cast<int64_t>(views.size()), progress);
        }
        self.merge(std::move(local));
      }, py::arg("texts"), py::arg("progress") = nullptr, "Count the pieces of each str/bytes in a list.")
      .def("add_file", [](WordCounts& self, const std::string& path, Progress* progress) {
        WordCounts local(self.pattern());
        {
          py::gil_scoped_release release;
          local.add_file(path, progress);
        }
        self.merge(std::move(local));
      }, py::arg("path"), py::arg("progress") = nullptr, "Count a file, each line on its own.")
      .def("add", [](WordCounts& self, py::handle piece, py::handle count) {
        self.add_piece(arg_text(piece, "WordCounts.add", "piece"), arg_int64(count, "WordCounts.add", "count", 0));
      }, py::arg("piece"), py::arg("count"))
      .def("merge", [](WordCounts& self, const WordCounts& other) { self.merge(other); }, py::arg("other"))
      .def("__len__", [](const WordCounts& self) { return self.table().size(); })
      .def("items", [](const WordCounts& self) {
        const auto rows = sorted_rows(self);
        py::list pieces;
        std::vector<int64_t> counts;
        counts.reserve(rows.size());
        for (const auto& [piece, n] : rows) {
          pieces.append(py::bytes(piece.data(), piece.size()));
          counts.push_back(n);
        }
        return py::make_tuple(pieces, vector_to_array(std::move(counts)));
      }, "(pieces: list[bytes] sorted, counts: int64 array)");

  m.def("bpe_train", [](py::handle words, py::handle counts, py::handle num_merges, py::handle min_frequency,
                        Progress* progress) {
    constexpr const char* fn = "bpe_train";
    const py::list list = require_list(words, fn, "words");
    const ArrayArg c = arg_array(counts, fn, "counts", py::dtype::of<int64_t>(), 1, false);
    FE_CHECK(static_cast<size_t>(c.shape[0]) == list.size(), ValueError, fn, ": 'words' has ", list.size(),
             " entries but 'counts' has ", c.shape[0]);
    py::tuple keep;  // the words are read in place while the GIL is released
    const std::vector<std::string_view> w = text_views(list, fn, keep);
    std::vector<int64_t> cv(list.size());
    for (size_t i = 0; i < cv.size(); ++i)
      cv[i] = *reinterpret_cast<const int64_t*>(static_cast<const char*>(c.data) + i * c.strides[0]);
    const int64_t nm = arg_int64(num_merges, fn, "num_merges", 0, int64_t{1} << 31);
    const int64_t mf = arg_int64(min_frequency, fn, "min_frequency", 1);
    std::vector<Merge> merges;
    {
      py::gil_scoped_release release;
      merges = train_bpe(w, cv, nm, mf, progress);
    }
    return merges_array(merges);
  }, py::arg("words"), py::arg("counts"), py::arg("num_merges"), py::arg("min_frequency") = 1,
     py::arg("progress") = nullptr, "Merges as an int64 array of rows (left, right, new id, count).");

  m.def("bpe_train_counts", [](WordCounts& counts, py::handle num_merges, py::handle min_frequency,
                               Progress* progress) {
    constexpr const char* fn = "bpe_train_counts";
    const int64_t nm = arg_int64(num_merges, fn, "num_merges", 0, int64_t{1} << 31);
    const int64_t mf = arg_int64(min_frequency, fn, "min_frequency", 1);
    // The table moves out of `counts` (left empty), so nothing can change it while the GIL is
    // released. Its pieces are copied into the trainer's words, in the table's order (merges do
    // not depend on the order: counts are sums, ties go to the smaller pair), and the table is
    // freed before training starts.
    auto wc = std::make_unique<WordCounts>(counts.pattern());
    wc->merge(std::move(counts));
    std::vector<Merge> merges;
    {
      py::gil_scoped_release release;
      TrainingWords words;
      size_t bytes = 0;
      wc->table().for_each([&](std::string_view piece, int64_t) { bytes += piece.size(); });
      words.reserve(wc->table().size(), bytes);
      wc->table().for_each([&](std::string_view piece, int64_t n) { words.add(piece, n); });
      wc.reset();
      merges = train_bpe(std::move(words), nm, mf, progress);
    }
    return merges_array(merges);
  }, py::arg("word_counts"), py::arg("num_merges"), py::arg("min_frequency") = 1, py::arg("progress") = nullptr,
     "bpe_train on a WordCounts, which it empties (its pieces never become a Python list).");

  py::class_<Encoder>(m, "BpeEncoder")
      .def(py::init([](py::handle vocab, py::handle rules, const std::string& pattern) {
        constexpr const char* fn = "BpeEncoder";
        const py::list list = require_list(vocab, fn, "vocab");
        std::vector<std::string> v;
        v.reserve(list.size());
        for (size_t i = 0; i < list.size(); ++i) {
          FE_CHECK(PyBytes_Check(list[i].ptr()), TypeError, fn, ": vocab[", i, "] must be bytes");
          v.emplace_back(arg_text(list[i], fn, "vocab[i]"));
        }
        const ArrayArg r = arg_array(rules, fn, "rules", py::dtype::of<uint32_t>(), 2, false);
        FE_CHECK(r.shape[1] == 4, ValueError, fn, ": 'rules' must have 4 columns (left, right, rank, id), got ",
                 r.shape[1]);
        std::vector<MergeRule> mr(static_cast<size_t>(r.shape[0]));
        const char* base = static_cast<const char*>(r.data);
        for (size_t i = 0; i < mr.size(); ++i) {
          auto at = [&](int j) { return *reinterpret_cast<const uint32_t*>(base + i * r.strides[0] + j * r.strides[1]); };
          mr[i] = {at(0), at(1), at(2), at(3)};
        }
        py::gil_scoped_release release;
        return new Encoder(std::move(v), mr, pattern_from_name(pattern));
      }), py::arg("vocab"), py::arg("rules"), py::arg("pattern") = "gpt2")
      .def_property_readonly("vocab_size", &Encoder::vocab_size)
      .def("encode_ordinary", [](const Encoder& self, py::handle text) {
        const std::string_view s = arg_text(text, "encode", "text");
        std::vector<uint32_t> out;
        {
          py::gil_scoped_release release;
          out.reserve(s.size() / 3 + 8);
          self.encode_ordinary_parallel(bytes_of(s), s.size(), out);
        }
        return vector_to_array(std::move(out));
      }, py::arg("text"), "Token ids (uint32 array) of text, special tokens not recognized; long texts use all threads.")
      .def("encode_ordinary_batch", [](const Encoder& self, py::handle texts) {
        const py::list list = require_list(texts, "encode_batch", "texts");
        py::tuple keep;
        const auto views = text_views(list, "encode_batch", keep);
        std::vector<std::vector<uint32_t>> outs(views.size());
        {
          py::gil_scoped_release release;
          parallel_for(0, static_cast<int64_t>(views.size()), 1, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) self.encode_ordinary(bytes_of(views[i]), views[i].size(), outs[i]);
          });
        }
        py::list result;
        for (auto& o : outs) result.append(vector_to_array(std::move(o)));
        return result;
      }, py::arg("texts"), "encode_ordinary over a list, on all threads.")
      .def("encode_flat", [](const Encoder& self, py::handle texts, bool offsets, bool words) {
        const py::list list = require_list(texts, "encode_flat", "texts");
        py::tuple keep;
        const auto views = text_views(list, "encode_flat", keep);
        const size_t n = views.size();
        FlatTokens flat(n, offsets, words);
        {
          py::gil_scoped_release release;
          parallel_for(0, static_cast<int64_t>(n), 16, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i)
              self.encode_ordinary_aligned(bytes_of(views[i]), views[i].size(), flat.ids[i],
                                           words ? &flat.words[i] : nullptr, offsets ? &flat.offsets[i] : nullptr);
          });
        }
        return flat.to_python();
      }, py::arg("texts"), py::arg("offsets") = false, py::arg("words") = false,
         "All texts' ids in one uint32 array, row i at [starts[i], starts[i+1]): (ids, starts, offsets (N, 2) "
         "int64 code-point spans or None, words (N,) int32 piece indices or None), on all threads.")
      .def("encode_pieces", [](const Encoder& self, py::handle pieces) {
        const py::list list = require_list(pieces, "encode_pieces", "pieces");
        py::tuple keep;
        const auto views = text_views(list, "encode_pieces", keep);
        std::vector<uint32_t> out;
        {
          py::gil_scoped_release release;
          for (const auto& v : views)
            if (!v.empty()) self.encode_piece(bytes_of(v), v.size(), out);
        }
        return vector_to_array(std::move(out));
      }, py::arg("pieces"), "Token ids of already pre-tokenized pieces (a custom pattern's split).")
      .def("encode_piece", [](const Encoder& self, py::bytes piece) {
        const std::string_view s = arg_text(piece, "encode_piece", "piece");
        std::vector<uint32_t> out;
        if (!s.empty()) self.encode_piece(bytes_of(s), s.size(), out);
        return vector_to_array(std::move(out));
      }, py::arg("piece"))
      .def("decode", [](const Encoder& self, py::handle ids) {
        const ArrayArg a = arg_array(ids, "decode", "ids", py::dtype::of<uint32_t>(), 1, false);
        std::vector<uint32_t> copy;
        const uint32_t* p = static_cast<const uint32_t*>(a.data);
        const size_t n = static_cast<size_t>(a.shape[0]);
        if (a.stride_elems(0) != 1) {
          for (size_t i = 0; i < n; ++i) copy.push_back(p[i * a.stride_elems(0)]);
          p = copy.data();
        }
        size_t size;
        {
          py::gil_scoped_release release;
          size = self.decoded_size(p, n);
        }
        // Decode straight into the bytes object: one copy of the text, not two.
        py::object out = py::reinterpret_steal<py::object>(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size)));
        if (!out) throw py::error_already_set();
        char* buffer = PyBytes_AS_STRING(out.ptr());
        {
          py::gil_scoped_release release;
          self.decode_into(p, n, buffer, size);
        }
        return out;
      }, py::arg("ids"), "The bytes of a uint32 array of ids.")
      .def("token_bytes", [](const Encoder& self, py::handle id) {
        const int64_t i = arg_int64(id, "token_bytes", "id", 0);
        FE_CHECK(static_cast<size_t>(i) < self.vocab_size() && !self.token_bytes(static_cast<uint32_t>(i)).empty(),
                 ValueError, "token_bytes: token id ", i, " is not in the vocabulary (size ", self.vocab_size(), ")");
        return py::bytes(self.token_bytes(static_cast<uint32_t>(i)));
      }, py::arg("id"))
      .def("token_id", [](const Encoder& self, py::handle piece) -> py::object {
        const std::string_view s = arg_text(piece, "token_id", "piece");
        const uint32_t id = self.token_id(bytes_of(s), s.size());
        if (id == BytesToId::kEmpty) return py::none();
        return py::int_(id);
      }, py::arg("piece"), "Id of the token with exactly these bytes, or None.");

  py::class_<WordPiece>(m, "WordPiece")
      .def(py::init([](py::handle vocab, py::handle unk_id, const std::string& prefix, py::handle max_chars) {
        constexpr const char* fn = "WordPiece";
        const py::list list = require_list(vocab, fn, "vocab");
        std::vector<std::string> v;
        v.reserve(list.size());
        for (size_t i = 0; i < list.size(); ++i) v.emplace_back(arg_text(list[i], fn, "vocab[i]"));
        return new WordPiece(std::move(v), static_cast<uint32_t>(arg_int64(unk_id, fn, "unk_id", 0, UINT32_MAX)),
                             prefix, arg_int64(max_chars, fn, "max_chars", 1));
      }), py::arg("vocab"), py::arg("unk_id"), py::arg("prefix") = "##", py::arg("max_chars") = 100)
      .def("encode_words", [](const WordPiece& self, py::handle words) {
        const py::list list = require_list(words, "encode_words", "words");
        py::tuple keep;
        const auto views = text_views(list, "encode_words", keep);
        std::vector<uint32_t> ids, word_of;
        {
          py::gil_scoped_release release;
          ids.reserve(views.size() * 2);
          for (size_t w = 0; w < views.size(); ++w) {
            self.encode_word(bytes_of(views[w]), views[w].size(), ids);
            word_of.resize(ids.size(), static_cast<uint32_t>(w));
          }
        }
        return py::make_tuple(vector_to_array(std::move(ids)), vector_to_array(std::move(word_of)));
      }, py::arg("words"), "(ids, word index of each id) for a list of normalized words.")
      .def("encode_flat", [](const WordPiece& self, py::handle texts, bool lowercase, bool strip_accents,
                             bool clean_text, bool chinese_chars, bool offsets, bool words) {
        constexpr const char* fn = "encode_flat";
        const py::list list = require_list(texts, fn, "texts");
        for (size_t i = 0; i < list.size(); ++i)
          FE_CHECK(PyUnicode_Check(list[i].ptr()), TypeError, fn, ": texts[", i, "] must be str, got ",
                   std::string(py::str(py::type::handle_of(list[i]).attr("__name__"))));
        py::tuple keep;
        std::vector<py::object> temps;  // strs with lone surrogates, as surrogatepass UTF-8
        const auto views = text_views(list, fn, keep, StrUtf8::kSurrogatePass, &temps);
        BertOptions opt;
        opt.clean_text = clean_text;
        opt.chinese_chars = chinese_chars;
        opt.strip_accents = strip_accents;
        opt.lowercase = lowercase;
        BertBatch out;
        {
          py::gil_scoped_release release;
          bert_encode_batch(self, opt, views.data(), static_cast<int64_t>(views.size()), offsets, words, out);
        }
        const auto n_ids = static_cast<py::ssize_t>(out.ids.size());
        py::object offs = py::none(), word_ids = py::none();
        if (offsets) offs = vector_to_array(std::move(out.offsets)).reshape({n_ids, py::ssize_t{2}});
        if (words) word_ids = vector_to_array(std::move(out.words));
        return py::make_tuple(vector_to_array(std::move(out.ids)), vector_to_array(std::move(out.starts)), offs,
                              word_ids);
      }, py::arg("texts"), py::arg("lowercase"), py::arg("strip_accents"), py::arg("clean_text"),
         py::arg("chinese_chars"), py::arg("offsets") = false, py::arg("words") = false,
         "BERT normalizer + pre-tokenizer + WordPiece over a list of str, on all threads (bpe/bert_text.h): "
         "(ids uint32[N], starts int64[n+1], offsets int64[N, 2] or None, words int32[N] or None); text i's "
         "ids are ids[starts[i]:starts[i+1]], offsets are code point indices into it.")
      .def_property_readonly("vocab_size", &WordPiece::vocab_size);
}

}  // namespace fe::bindings
