// BERT normalizer + pre-tokenizer + WordPiece over whole texts (see bert_text.h).
//
// Each text is one left-to-right pass. A source character (index src) goes through the
// normalizer's steps as a small stream of code points, each carrying the index of the source
// character whose span it takes:
//   normalize()  clean_text, chinese_chars
//   decompose()  strip_accents: NFD; non-starters wait in marks_ until the next starter, are put
//                in canonical order and then given spans by position, as HF's NFD does
//   finish()     drop Mn (strip_accents), lower-case
//   split()      the pre-tokenizer: white space ends a word, punctuation is a word of its own
// and a finished word goes to WordPiece. ASCII bytes skip all of it through a 128-entry table
// when no marks are waiting.
#include "bpe/bert_text.h"

#include <algorithm>
#include <string>

#include "common/parallel.h"

namespace fe::bpe {

namespace {

enum : uint8_t { kControl = 1, kSpace = 2, kPunct = 4, kMn = 8, kCjk = 16, kDecomp = 32, kLower = 64 };

struct BertProps {
  uint8_t flags;
  uint8_t ccc;  // canonical combining class; 0: a starter
};

struct BertMapping {
  uint32_t cp;
  uint16_t offset;  // into kBertPool
  uint8_t size;
};

#include "bpe/bert_tables.inc"

constexpr uint32_t kReplacement = 0xFFFD;
constexpr uint32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

inline BertProps props_of(uint32_t cp) {
  if (cp >= 0x110000) return {0, 0};
  const uint32_t block = kBertBlock[cp >> kBertShift];
  return kBertProps[kBertRecord[(block << kBertShift) | (cp & kBertMask)]];
}

template <size_t N>
const BertMapping& mapping_of(const BertMapping (&table)[N], uint32_t cp) {
  // Only called for code points whose flags say they are in the table.
  return *std::lower_bound(std::begin(table), std::end(table), cp,
                           [](const BertMapping& m, uint32_t c) { return m.cp < c; });
}

// One code point of s[0 .. n), n >= 1, as Python's UTF-8 with "surrogatepass" (ED A0..BF xx is
// a surrogate). Returns its length; an ill-formed byte is U+FFFD of length 1.
inline int decode(const uint8_t* s, size_t n, uint32_t* cp) {
  const uint8_t b0 = s[0];
  auto cont = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) {
    *cp = (uint32_t(b0 & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF && cont(1) && cont(2) && (b0 != 0xE0 || s[1] >= 0xA0)) {
    *cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4 && cont(1) && cont(2) && cont(3) && (b0 != 0xF0 || s[1] >= 0x90) &&
      (b0 != 0xF4 || s[1] < 0x90)) {
    *cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(s[1] & 0x3F) << 12) | (uint32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
  }
  *cp = b0 < 0x80 ? b0 : kReplacement;
  return 1;
}

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// What the ASCII fast path does with a byte.
enum : uint8_t { kAsciiWord = 0, kAsciiDrop = 1, kAsciiBreak = 2, kAsciiAlone = 3 };

// Tokenizes texts one after another into one BertBatch (one per thread part).
class Pipeline {
 public:
  Pipeline(const WordPiece& wp, const BertOptions& opt, bool offsets, bool words, BertBatch& out)
      : wp_(wp), opt_(opt), offsets_(offsets), words_(words), out_(out) {
    for (uint32_t c = 0; c < 128; ++c) {
      const uint8_t f = props_of(c).flags;
      uint8_t kind = kAsciiWord;
      if (opt.clean_text && (f & kControl)) kind = kAsciiDrop;
      else if (f & kSpace) kind = kAsciiBreak;  // as ' ' after clean_text, or split as it is
      else if (f & kPunct) kind = kAsciiAlone;
      ascii_kind_[c] = kind;
      ascii_byte_[c] = static_cast<char>(opt.lowercase && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }

  // Appends the tokens of one text (its row's start is the caller's).
  void run(const uint8_t* s, size_t n) {
    word_index_ = 0;
    last_src_ = 0;
    int64_t src = 0;  // code point index of s[i]
    size_t i = 0;
    while (i < n) {
      const uint8_t b = s[i];
      if (b < 0x80 && marks_.empty()) {
        switch (ascii_kind_[b]) {
          case kAsciiWord:
            word_.push_back(ascii_byte_[b]);
            if (offsets_) word_src_.push_back(src);
            break;
          case kAsciiBreak:
            end_word();
            break;
          case kAsciiAlone:
            end_word();
            word_.push_back(static_cast<char>(b));
            if (offsets_) word_src_.push_back(src);
            end_word();
            break;
          default:  // removed: not a character NFD sees
            ++i;
            ++src;
            continue;
        }
        last_src_ = src;  // a starter, its own span
        ++i;
        ++src;
        continue;
      }
      uint32_t cp;
      i += decode(s + i, n - i, &cp);
      normalize(cp, src++);
    }
    flush_marks();
    end_word();
  }

 private:
  struct Mark {
    uint32_t cp;
    BertProps props;
    bool first;   // first code point of its source character's decomposition
    int64_t src;
  };

  // clean_text and chinese_chars.
  void normalize(uint32_t cp, int64_t src) {
    BertProps p = props_of(cp);
    if (opt_.clean_text) {
      if (p.flags & kControl) return;
      if (p.flags & kSpace) {
        cp = ' ';
        p = props_of(cp);
      }
    }
    if (opt_.chinese_chars && (p.flags & kCjk)) {
      const BertProps space = props_of(' ');
      decompose(' ', space, src);
      decompose(cp, p, src);
      decompose(' ', space, src);
      return;
    }
    decompose(cp, p, src);
  }

  // strip_accents' NFD. HF numbers the characters going in; a code point that starts a
  // character's decomposition takes the span of the next one in that order, the rest of a
  // decomposition the span of the last one taken. Without reordering that is the code point's
  // own source character.
  void decompose(uint32_t cp, BertProps p, int64_t src) {
    if (!opt_.strip_accents) {
      finish(cp, p, src);
      return;
    }
    if (!(p.flags & kDecomp)) {
      nfd_item(cp, p, true, src);
    } else if (cp >= kHangulFirst && cp <= kHangulLast) {  // L V (T), all plain starters
      const uint32_t s = cp - kHangulFirst, t = s % 28;
      nfd_item(0x1100 + s / (21 * 28), {0, 0}, true, src);
      nfd_item(0x1161 + (s % (21 * 28)) / 28, {0, 0}, false, src);
      if (t) nfd_item(0x11A7 + t, {0, 0}, false, src);
    } else {
      const BertMapping& m = mapping_of(kBertDecomp, cp);
      for (int k = 0; k < m.size; ++k) {
        const uint32_t d = kBertPool[m.offset + k];
        nfd_item(d, props_of(d), k == 0, src);
      }
    }
  }

  void nfd_item(uint32_t cp, BertProps p, bool first, int64_t src) {
    if (p.ccc != 0) {
      marks_.push_back({cp, p, first, src});
      return;
    }
    flush_marks();
    if (first) last_src_ = src;
    if (!(p.flags & kMn)) finish(cp, p, last_src_);
  }

  // Canonical order (a stable sort by combining class) for the waiting non-starters, then spans
  // by position: the k-th first-of-its-character in the new order takes the k-th one's source.
  void flush_marks() {
    if (marks_.empty()) return;
    if (marks_.size() > 1) {
      firsts_.clear();
      for (const Mark& m : marks_)
        if (m.first) firsts_.push_back(m.src);
      std::stable_sort(marks_.begin(), marks_.end(),
                       [](const Mark& a, const Mark& b) { return a.props.ccc < b.props.ccc; });
      size_t k = 0;
      for (Mark& m : marks_)
        if (m.first) m.src = firsts_[k++];
    }
    for (const Mark& m : marks_) {
      if (m.first) last_src_ = m.src;
      if (!(m.props.flags & kMn)) finish(m.cp, m.props, last_src_);
    }
    marks_.clear();
  }

  // Lower-casing (after accents are gone, as in HF), then the pre-tokenizer.
  void finish(uint32_t cp, BertProps p, int64_t src) {
    if (opt_.lowercase && (p.flags & kLower)) {
      const BertMapping& m = mapping_of(kBertLower, cp);
      for (int k = 0; k < m.size; ++k) {
        const uint32_t c = kBertPool[m.offset + k];
        split(c, props_of(c), src);
      }
      return;
    }
    split(cp, p, src);
  }

  void split(uint32_t cp, BertProps p, int64_t src) {
    if (p.flags & kSpace) {
      end_word();
      return;
    }
    const bool alone = p.flags & kPunct;
    if (alone) end_word();
    append_utf8(word_, cp);
    if (offsets_) word_src_.resize(word_.size(), src);
    if (alone) end_word();
  }

  void end_word() {
    if (word_.empty()) return;
    const auto* w = reinterpret_cast<const uint8_t*>(word_.data());
    if (offsets_) {
      ends_.clear();
      wp_.encode_word(w, word_.size(), out_.ids, &ends_);
      size_t begin = 0;
      for (const size_t end : ends_) {
        out_.offsets.push_back(word_src_[begin]);
        out_.offsets.push_back(word_src_[end - 1] + 1);
        begin = end;
      }
      word_src_.clear();
    } else {
      wp_.encode_word(w, word_.size(), out_.ids);
    }
    if (words_) out_.words.resize(out_.ids.size(), word_index_);
    ++word_index_;
    word_.clear();
  }

  const WordPiece& wp_;
  const BertOptions opt_;
  const bool offsets_, words_;
  BertBatch& out_;
  uint8_t ascii_kind_[128];
  char ascii_byte_[128];
  std::string word_;               // the current word, normalized (UTF-8)
  std::vector<int64_t> word_src_;  // source character of each of its bytes (with offsets)
  std::vector<size_t> ends_;       // where each WordPiece token of the word ends
  std::vector<Mark> marks_;        // non-starters waiting for the next starter
  std::vector<int64_t> firsts_;
  int64_t last_src_ = 0;
  int32_t word_index_ = 0;
};

}  // namespace

void bert_encode_batch(const WordPiece& wp, const BertOptions& opt, const std::string_view* texts,
                       int64_t n_texts, bool offsets, bool words, BertBatch& out) {
  out = BertBatch{};
  out.starts.reserve(static_cast<size_t>(n_texts) + 1);
  out.starts.push_back(0);
  if (n_texts <= 0) return;

  // Parts of about equal bytes, one per thread; a small batch stays one part.
  constexpr size_t kMinPartBytes = 16 << 10;
  size_t total = 0;
  for (int64_t i = 0; i < n_texts; ++i) total += texts[i].size();
  const int64_t n_parts = std::max<int64_t>(
      1, std::min<int64_t>({num_threads(), n_texts, static_cast<int64_t>(total / kMinPartBytes)}));
  std::vector<int64_t> bounds{0};
  for (int64_t i = 0, p = 1, acc = 0; i < n_texts && p < n_parts; ++i) {
    acc += static_cast<int64_t>(texts[i].size());
    if (acc * n_parts >= static_cast<int64_t>(total) * p) {
      bounds.push_back(i + 1);
      ++p;
    }
  }
  bounds.push_back(n_texts);
  const size_t parts = bounds.size() - 1;

  auto encode_part = [&](size_t p, BertBatch& dst) {
    Pipeline pipeline(wp, opt, offsets, words, dst);
    const size_t reserve = total / 4 / parts + 16;  // about one token per 4 bytes of English
    dst.ids.reserve(dst.ids.size() + reserve);
    if (offsets) dst.offsets.reserve(dst.offsets.size() + 2 * reserve);
    if (words) dst.words.reserve(dst.words.size() + reserve);
    for (int64_t i = bounds[p]; i < bounds[p + 1]; ++i) {
      pipeline.run(reinterpret_cast<const uint8_t*>(texts[i].data()), texts[i].size());
      dst.starts.push_back(static_cast<int64_t>(dst.ids.size()));
    }
  };
  if (parts == 1) {
    encode_part(0, out);
    return;
  }
  std::vector<BertBatch> part(parts);
  parallel_for(0, static_cast<int64_t>(parts), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) encode_part(static_cast<size_t>(p), part[p]);
  });
  size_t n_ids = 0;
  for (const BertBatch& b : part) n_ids += b.ids.size();
  out.ids.reserve(n_ids);
  if (offsets) out.offsets.reserve(2 * n_ids);
  if (words) out.words.reserve(n_ids);
  for (const BertBatch& b : part) {
    const int64_t base = static_cast<int64_t>(out.ids.size());
    for (const int64_t s : b.starts) out.starts.push_back(base + s);
    out.ids.insert(out.ids.end(), b.ids.begin(), b.ids.end());
    out.offsets.insert(out.offsets.end(), b.offsets.begin(), b.offsets.end());
    out.words.insert(out.words.end(), b.words.begin(), b.words.end());
  }
}

}  // namespace fe::bpe
