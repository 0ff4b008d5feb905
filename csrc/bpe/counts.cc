#include "bpe/counts.h"

#include <cstring>
#include <fstream>
#include <mutex>

#include "bpe/hash.h"
#include "common/error.h"
#include "common/page_alloc.h"
#include "common/parallel.h"

namespace fe::bpe {
namespace {

// Counts texts [0, n) given by begin(i)/end(i) over all threads, then merges into `table`.
template <class Span>
void count_parallel(Pattern pattern, int64_t n, Span span, PieceTable& table, Progress* progress) {
  std::mutex mu;
  // Small chunks so threads share the load when text lengths vary; progress per chunk.
  parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
    PieceTable local;
    for (int64_t i = lo; i < hi; ++i) {
      const auto [s, len] = span(i);
      pretokenize(pattern, s, len, [&](size_t b, size_t e) { local.add(s + b, e - b); });
      if ((i & 1023) == 1023) progress_step(progress, 1024);
    }
    std::lock_guard<std::mutex> lock(mu);
    table.merge(std::move(local));
  });
}

}  // namespace

uint64_t PieceTable::hash_of(const uint8_t* s, size_t n) { return hash_bytes(s, n) | 1; }

void PieceTable::add_hashed(uint64_t h, const uint8_t* s, size_t n, int64_t count) {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.hash == 0) {
      FE_CHECK(n < (size_t{1} << 32), ValueError, "a piece of ", n, " bytes (at most 2^32 - 1)");
      slot = Slot{h, arena_.size(), static_cast<uint32_t>(n), count};
      arena_.insert(arena_.end(), s, s + n);
      if (2 * ++size_ > slots_.size()) grow();
      return;
    }
    if (slot.hash == h && slot.length == n && std::memcmp(arena_.data() + slot.offset, s, n) == 0) {
      FE_CHECK(!__builtin_add_overflow(slot.count, count, &slot.count), ValueError, "word count overflows int64");
      return;
    }
  }
}

void PieceTable::grow() {
  big_vector<Slot> old(slots_.size() * 2, Slot{});
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.hash == 0) continue;
    size_t i = slot.hash & mask;
    while (slots_[i].hash != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void WordCounts::add_texts(const char* data, const int64_t* offsets, int64_t n, Progress* progress) {
  FE_CHECK(n >= 0, ValueError, "add_texts: n must be >= 0");
  for (int64_t i = 0; i < n; ++i)
    FE_CHECK(offsets[i] <= offsets[i + 1] && offsets[i] >= 0, ValueError, "add_texts: offsets must be non-decreasing");
  const auto* base = reinterpret_cast<const uint8_t*>(data);
  count_parallel(pattern_, n, [&](int64_t i) {
    return std::pair<const uint8_t*, size_t>(base + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i]));
  }, table_, progress);
}

void WordCounts::add_views(const std::string_view* texts, int64_t n, Progress* progress) {
  FE_CHECK(n >= 0, ValueError, "add_views: n must be >= 0");
  count_parallel(pattern_, n, [&](int64_t i) {
    return std::pair<const uint8_t*, size_t>(reinterpret_cast<const uint8_t*>(texts[i].data()), texts[i].size());
  }, table_, progress);
}

void WordCounts::add_file(const std::string& path, Progress* progress) {
  std::ifstream f(path, std::ios::binary);
  FE_CHECK(f.good(), RuntimeError, "cannot open '", path, "' for reading");
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  FE_CHECK(!f.bad(), RuntimeError, "error while reading '", path, "'");
  // Lines, each with its '\n'.
  std::vector<int64_t> offsets{0};
  for (size_t i = 0; i < data.size(); ++i)
    if (data[i] == '\n') offsets.push_back(static_cast<int64_t>(i + 1));
  if (offsets.back() != static_cast<int64_t>(data.size())) offsets.push_back(static_cast<int64_t>(data.size()));
  add_texts(data.data(), offsets.data(), static_cast<int64_t>(offsets.size()) - 1, progress);
}

void WordCounts::add_piece(std::string_view piece, int64_t count) {
  FE_CHECK(count >= 0, ValueError, "word counts must be >= 0, got ", count, " for a piece of ", piece.size(), " bytes");
  if (count == 0) return;
  table_.add(reinterpret_cast<const uint8_t*>(piece.data()), piece.size(), count);
}

void WordCounts::merge(const WordCounts& other) {
  FE_CHECK(other.pattern_ == pattern_, ValueError, "cannot merge word counts made with different patterns");
  table_.merge(other.table_);
}

void WordCounts::merge(WordCounts&& other) {
  FE_CHECK(other.pattern_ == pattern_, ValueError, "cannot merge word counts made with different patterns");
  table_.merge(std::move(other.table_));
}

}  // namespace fe::bpe
