// Negative sampling from unigram^0.75 with Walker's alias method (Vose's construction: "A linear
// algorithm for generating random numbers with a given distribution", 1991): two V-sized arrays
// (8 bytes per word), O(1) per draw with one random 64-bit number. word2vec.c uses a 1e8-entry
// table (400 MB, a cache miss per draw) and gensim a cumulative table with binary search
// (log V misses); the alias table is both small and constant-time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fe::w2v {

class AliasSampler {
 public:
  AliasSampler() = default;
  // weights[i] = counts[i]^power; every count must be >= 0 and at least one > 0.
  AliasSampler(const int64_t* counts, int64_t n, double power);

  // A draw from 64 random bits: the high 32 bits pick a column, the low 32 its coin.
  int32_t sample(uint64_t bits) const {
    const uint32_t col = static_cast<uint32_t>((static_cast<uint64_t>(bits >> 32) * n_) >> 32);
    const Entry e = table_[col];  // one cache line holds both halves of a column
    return static_cast<uint32_t>(bits) < e.prob ? static_cast<int32_t>(col) : e.alias;
  }
  // P(draw == i), exactly as the table encodes it (for tests).
  std::vector<double> probabilities() const;
  int64_t size() const { return n_; }
  // Column c of the table: sample() keeps c iff coin < prob(c) (2^32 scale), else gives alias(c).
  // For device copies (the CUDA trainer draws exactly as sample() does).
  uint32_t prob(int64_t c) const { return table_[static_cast<std::size_t>(c)].prob; }
  int32_t alias(int64_t c) const { return table_[static_cast<std::size_t>(c)].alias; }

 private:
  int64_t n_ = 0;
  struct Entry {
    uint32_t prob;  // keep column i iff coin < prob (2^32 scale), else take alias
    int32_t alias;
  };
  std::vector<Entry> table_;
};

// Mikolov's subsampling rule: the probability (2^32 scale) that each word is kept, word w with
// count c kept with min(1, (sqrt(c / (sample·N)) + 1) · sample·N / c), N = Σ counts; sample 0
// keeps everything. Shared by the CPU and CUDA trainers.
void keep_thresholds(const int64_t* counts, int64_t V, double sample, uint32_t* out);

}  // namespace fe::w2v
