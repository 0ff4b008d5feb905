// Word counting for BPE training: pre-tokenize text and count each distinct piece.
//
// Counting is the expensive half of training, so it runs on all threads: the input is cut into
// chunks at text boundaries (one Python string, or one line of a file), each thread counts its
// chunks into a private table, and the tables are merged. Counts from separate runs (other
// processes, other machines) merge with WordCounts::merge, so counting can be map-reduced.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpe/pretokenize.h"
#include "common/page_alloc.h"
#include "common/progress.h"

namespace fe::bpe {

// Piece -> count: the pieces' bytes copied once into an arena, found again by open addressing on
// a 64-bit hash (no allocation per piece, no pointer chasing; its big buffers are mapped pages, so
// they go back to the system when the table is dropped).
class PieceTable {
 public:
  PieceTable() { slots_.assign(1 << 10, Slot{}); }
  // Adds `count` (>= 0) to the piece s[0, n); ValueError if its total would overflow int64.
  void add(const uint8_t* s, size_t n, int64_t count = 1) { add_hashed(hash_of(s, n), s, n, count); }
  void merge(const PieceTable& other) {
    for (const Slot& slot : other.slots_)
      if (slot.hash != 0) add_hashed(slot.hash, other.arena_.data() + slot.offset, slot.length, slot.count);
  }
  // Like merge; an empty table takes other's buffers instead of copying them.
  void merge(PieceTable&& other) {
    if (empty())
      std::swap(*this, other);
    else
      merge(other);
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // f(std::string_view piece, int64_t count) for every piece, in table order.
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_)
      if (slot.hash != 0)
        f(std::string_view(reinterpret_cast<const char*>(arena_.data() + slot.offset), slot.length), slot.count);
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty
    uint64_t offset = 0;
    uint32_t length = 0;
    int64_t count = 0;
  };
  static uint64_t hash_of(const uint8_t* s, size_t n);
  void add_hashed(uint64_t h, const uint8_t* s, size_t n, int64_t count);
  void grow();
  big_vector<Slot> slots_;
  big_vector<uint8_t> arena_;
  size_t size_ = 0;
};

class WordCounts {
 public:
  explicit WordCounts(Pattern pattern) : pattern_(pattern) {}

  // Counts the pieces of n texts stored back to back in `data`; text i is
  // data[offsets[i], offsets[i + 1]). Each text is pre-tokenized on its own.
  void add_texts(const char* data, const int64_t* offsets, int64_t n, Progress* progress = nullptr);
  // The same for n texts anywhere in memory (e.g. the UTF-8 of Python strings, read in place:
  // no copy of the batch). The memory must stay valid and unchanged during the call.
  void add_views(const std::string_view* texts, int64_t n, Progress* progress = nullptr);
  // Counts a file, each line (with its '\n') pre-tokenized on its own; fe::RuntimeError if unreadable.
  void add_file(const std::string& path, Progress* progress = nullptr);
  // Adds `count` to a piece (e.g. counts computed elsewhere); count must be >= 0.
  void add_piece(std::string_view piece, int64_t count);
  void merge(const WordCounts& other);
  // Like merge; when this table is empty it takes other's table instead of copying it.
  void merge(WordCounts&& other);

  const PieceTable& table() const { return table_; }
  Pattern pattern() const { return pattern_; }

 private:
  Pattern pattern_;
  PieceTable table_;
};

}  // namespace fe::bpe
