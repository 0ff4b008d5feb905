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
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/progress.h"

namespace fe::bpe {

struct Merge {
  uint32_t left, right;  // the pair
  uint32_t id;           // the new token: 256 + index of the merge
  int64_t count;         // how often the pair occurred when it was merged
};

// words[i] occurs counts[i] times (counts >= 0). progress->total is set to num_merges.
std::vector<Merge> train_bpe(const std::vector<std::string_view>& words, const std::vector<int64_t>& counts,
                             int64_t num_merges, int64_t min_frequency, Progress* progress = nullptr);

}  // namespace fe::bpe
