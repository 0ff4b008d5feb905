// Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
// Subword Units"; byte-level as in GPT-2, Radford et al. 2019).
//
// Start from the 256 byte tokens (id = byte value). Repeatedly take the adjacent pair with the
// highest count over all words (count = sum over words of word count x occurrences, overlapping
// occurrences included), make it a new token with the next id, and replace its non-overlapping
// occurrences in every word, left to right. Stop after `num_merges` merges, or when the best pair
// occurs fewer than `min_frequency` times.
//
// Ties: among pairs with the highest count, the smallest (left id, right id) wins. Ids grow with
// creation order, so this prefers pairs of older tokens and makes training deterministic.
//
// Counts are updated incrementally: a merge touches only the words that contain its pair (found
// through a pair -> words index), and for each of them the pairs before and after the merge are
// diffed into the global counts. A max-heap with lazy deletion gives the best pair.
//
// Memory: the words' ids (4 bytes per byte of distinct words), one 24-byte hash slot per live
// pair, the pair -> words lists in one pool (4 bytes per entry) and the heap.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/page_alloc.h"
#include "common/progress.h"

namespace fe::bpe {

struct Merge {
  uint32_t left, right;  // the pair
  uint32_t id;           // the new token: 256 + index of the merge
  int64_t count;         // how often the pair occurred when it was merged
};

// The distinct training words and their counts, as token ids (bytes to begin with) stored back to
// back; training rewrites them in place. Build it, drop whatever held the words (e.g. a
// WordCounts table), then train: the two never need to be in memory at once.
class TrainingWords {
 public:
  // Room for n words of `bytes` bytes in all (optional; avoids regrowing).
  void reserve(size_t n, size_t bytes);
  // Adds a word seen `count` times (count >= 0; words with no pairs are dropped).
  void add(std::string_view word, int64_t count);

 private:
  friend std::vector<Merge> train_bpe(TrainingWords words, int64_t num_merges, int64_t min_frequency,
                                      Progress* progress);
  struct Word {
    uint64_t start;   // ids_[start, start + length)
    int64_t count;
    uint32_t length;  // shrinks as merges apply
  };
  big_vector<uint32_t> ids_;
  big_vector<Word> words_;
  int64_t pair_bound_ = 0;  // sum of count * (length - 1): every pair count stays below it
};

std::vector<Merge> train_bpe(TrainingWords words, int64_t num_merges, int64_t min_frequency,
                             Progress* progress = nullptr);

// words[i] occurs counts[i] times (counts >= 0). progress->total is set to num_merges.
std::vector<Merge> train_bpe(const std::vector<std::string_view>& words, const std::vector<int64_t>& counts,
                             int64_t num_merges, int64_t min_frequency, Progress* progress = nullptr);

}  // namespace fe::bpe
