// Negative sampling from unigram^0.75 with Walker's alias method (Vose's construction: "A linear
// algorithm for generating random numbers with a given distribution", 1991): two V-sized arrays
// (8 bytes per word), O(1) per draw with one random 64-bit number. word2vec.c uses a 1e8-entry
// table (400 MB, a cache miss per draw) and gensim a cumulative table with binary search
// (log V misses); the alias table is both small and constant-time.
#pragma once

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
    return static_cast<uint32_t>(bits) < prob_[col] ? static_cast<int32_t>(col) : alias_[col];
  }
  // P(draw == i), exactly as the table encodes it (for tests).
  std::vector<double> probabilities() const;
  int64_t size() const { return n_; }

 private:
  int64_t n_ = 0;
  std::vector<uint32_t> prob_;   // keep column i iff coin < prob_[i] (2^32 scale)
  std::vector<int32_t> alias_;
};

}  // namespace fe::w2v
