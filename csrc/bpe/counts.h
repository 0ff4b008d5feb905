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
#include <unordered_map>
#include <vector>

#include "bpe/pretokenize.h"
#include "common/progress.h"

namespace fe::bpe {

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

  const std::unordered_map<std::string, int64_t>& table() const { return table_; }
  Pattern pattern() const { return pattern_; }

 private:
  Pattern pattern_;
  std::unordered_map<std::string, int64_t> table_;
};

}  // namespace fe::bpe
