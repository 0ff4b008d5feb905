// Word counting and id encoding of whitespace-tokenized files (see corpus.h).
#include "word2vec/corpus.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <unordered_map>

#include "bpe/hash.h"
#include "bpe/unicode.h"
#include "common/error.h"
#include "common/parallel.h"

namespace fe::w2v {
namespace {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Shard boundaries: nshards + 1 offsets into data, each (but the ends) just after a '\n'.
std::vector<size_t> line_shards(const std::string& data, int64_t nshards) {
  std::vector<size_t> cuts{0};
  for (int64_t s = 1; s < nshards; ++s) {
    size_t pos = std::max(cuts.back(), data.size() * static_cast<size_t>(s) / static_cast<size_t>(nshards));
    while (pos > 0 && pos < data.size() && data[pos - 1] != '\n') ++pos;  // just after a line end
    cuts.push_back(std::min(pos, data.size()));
  }
  cuts.push_back(data.size());
  return cuts;
}

// Calls word(view) for each word and line_end() after each line of data[lo, hi).
template <class Word, class LineEnd>
void scan(const std::string& data, size_t lo, size_t hi, Word&& word, LineEnd&& line_end) {
  const char* p = data.data();
  size_t i = lo;
  while (i < hi) {
    while (i < hi && is_space(p[i])) ++i;
    if (i >= hi) break;
    if (p[i] == '\n') {
      line_end();
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < hi && !is_space(p[i]) && p[i] != '\n') ++i;
    word(std::string_view(p + start, i - start));
  }
  if (hi > lo && p[hi - 1] != '\n') line_end();  // a last line without '\n'
}

constexpr int64_t kShardsPerThread = 4;

// Offset of the first byte of data[lo, hi) that is not well-formed UTF-8, or npos. Text is mostly
// ASCII, so 8 bytes at a time are checked for a high bit before decoding anything.
size_t first_invalid_utf8(const std::string& data, size_t lo, size_t hi) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = lo;
  while (i < hi) {
    if (i + 8 <= hi) {
      uint64_t block;
      std::memcpy(&block, p + i, 8);
      if ((block & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    const int len = bpe::utf8_decode(p + i, hi - i, &cp);
    if (cp == bpe::kInvalidCodePoint) return i;
    i += static_cast<size_t>(len);
  }
  return std::string::npos;
}

}  // namespace

void check_utf8(const std::string& data, const std::string& path) {
  // Shards end just after a '\n', which is never inside a multi-byte sequence, so each shard is
  // checked on its own; the first bad byte is the smallest shard's.
  const int64_t nshards = std::max<int64_t>(1, num_threads() * kShardsPerThread);
  const std::vector<size_t> cuts = line_shards(data, nshards);
  std::vector<size_t> bad(static_cast<size_t>(nshards));
  parallel_for(0, nshards, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) bad[static_cast<size_t>(s)] = first_invalid_utf8(data, cuts[s], cuts[s + 1]);
  });
  const size_t first = *std::min_element(bad.begin(), bad.end());
  if (first == std::string::npos) return;
  const auto line = 1 + std::count(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(first), '\n');
  static const char* hex = "0123456789ABCDEF";
  const auto byte = static_cast<uint8_t>(data[first]);
  FE_FAIL(ValueError, "'", path, "' is not UTF-8 text: byte 0x", hex[byte >> 4], hex[byte & 15], " at offset ", first,
          " (line ", line, ") is not valid UTF-8; a binary file, or text in another encoding? Convert it first, "
          "e.g. iconv -f cp1252 -t utf-8 '", path, "' > '", path, ".utf8'");
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  FE_CHECK(f.good(), RuntimeError, "cannot open '", path, "' for reading");
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  FE_CHECK(!f.bad(), RuntimeError, "error while reading '", path, "'");
  return data;
}

WordCountTable count_words(const std::string& data, Progress* progress) {
  const int64_t nshards = std::max<int64_t>(1, num_threads() * kShardsPerThread);
  const std::vector<size_t> cuts = line_shards(data, nshards);
  using Table = std::unordered_map<std::string_view, int64_t>;
  std::vector<Table> tables(static_cast<size_t>(nshards));
  std::vector<int64_t> lines(static_cast<size_t>(nshards), 0);
  if (progress) progress->total.store(static_cast<int64_t>(data.size()));
  parallel_for(0, nshards, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      Table& t = tables[static_cast<size_t>(s)];
      scan(data, cuts[s], cuts[s + 1], [&](std::string_view w) { ++t[w]; },
           [&] { ++lines[static_cast<size_t>(s)]; });
      progress_step(progress, static_cast<int64_t>(cuts[s + 1] - cuts[s]));
    }
  });
  Table all = std::move(tables[0]);
  for (size_t s = 1; s < tables.size(); ++s)
    for (const auto& [w, c] : tables[s]) all[w] += c;
  std::vector<std::pair<std::string_view, int64_t>> items(all.begin(), all.end());
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  WordCountTable out;
  out.words.reserve(items.size());
  out.counts.reserve(items.size());
  for (const auto& [w, c] : items) {
    out.words.emplace_back(w);
    out.counts.push_back(c);
    out.total_words += c;
  }
  for (int64_t l : lines) out.lines += l;
  return out;
}

void encode_words(const std::string& data, const std::vector<std::string>& vocab, std::vector<int32_t>& ids,
                  std::vector<int64_t>& offsets, Progress* progress) {
  FE_CHECK(vocab.size() < (size_t{1} << 31), ValueError, "word2vec: vocabulary too large (", vocab.size(), ")");
  bpe::BytesToId index;
  index.reset(&vocab, vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) index.insert(static_cast<uint32_t>(i));
  const int64_t nshards = std::max<int64_t>(1, num_threads() * kShardsPerThread);
  const std::vector<size_t> cuts = line_shards(data, nshards);
  std::vector<std::vector<int32_t>> shard_ids(static_cast<size_t>(nshards));
  std::vector<std::vector<int64_t>> shard_ends(static_cast<size_t>(nshards));  // sentence ends, shard-local
  if (progress) progress->total.store(static_cast<int64_t>(data.size()));
  parallel_for(0, nshards, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      auto& out = shard_ids[static_cast<size_t>(s)];
      auto& ends = shard_ends[static_cast<size_t>(s)];
      out.reserve((cuts[s + 1] - cuts[s]) / 6);
      scan(data, cuts[s], cuts[s + 1],
           [&](std::string_view w) {
             const uint32_t id = index.find(reinterpret_cast<const uint8_t*>(w.data()), w.size());
             if (id != bpe::BytesToId::kEmpty) out.push_back(static_cast<int32_t>(id));
           },
           [&] {
             if (ends.empty() ? !out.empty() : ends.back() != static_cast<int64_t>(out.size()))
               ends.push_back(static_cast<int64_t>(out.size()));
           });
      progress_step(progress, static_cast<int64_t>(cuts[s + 1] - cuts[s]));
    }
  });
  size_t total = 0;
  for (const auto& v : shard_ids) total += v.size();
  ids.clear();
  ids.reserve(total);
  offsets.assign(1, 0);
  for (size_t s = 0; s < shard_ids.size(); ++s) {
    const int64_t base = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), shard_ids[s].begin(), shard_ids[s].end());
    for (int64_t e : shard_ends[s]) offsets.push_back(base + e);
  }
}

}  // namespace fe::w2v
