#include "word2vec/sampler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace fe::w2v {

AliasSampler::AliasSampler(const int64_t* counts, int64_t n, double power) : n_(n) {
  FE_CHECK(n >= 1 && n < (int64_t{1} << 31), ValueError, "word2vec: sampler needs 1 <= V < 2^31 words, got ", n);
  std::vector<double> w(static_cast<size_t>(n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    FE_CHECK(counts[i] >= 0, ValueError, "word2vec: word counts must be >= 0, got ", counts[i], " for word ", i);
    w[i] = std::pow(static_cast<double>(counts[i]), power);
    sum += w[i];
  }
  FE_CHECK(sum > 0.0, ValueError, "word2vec: every word count is 0; nothing to sample");
  // Scaled so the mean column holds 1; small (< 1) and large (>= 1) columns pair up.
  std::vector<double> scaled(static_cast<size_t>(n));
  std::vector<int32_t> small, large;
  for (int64_t i = 0; i < n; ++i) {
    scaled[i] = w[i] * static_cast<double>(n) / sum;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<int32_t>(i));
  }
  std::vector<uint32_t> prob_(static_cast<size_t>(n), 0);
  std::vector<int32_t> alias_(static_cast<size_t>(n), 0);
  auto to_u32 = [](double p) -> uint32_t {
    const double t = p * 4294967296.0;
    return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(std::llround(t));
  };
  while (!small.empty() && !large.empty()) {
    const int32_t s = small.back(), l = large.back();
    small.pop_back();
    prob_[s] = to_u32(scaled[s]);
    alias_[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  for (int32_t i : large) {  // what is left holds 1 up to rounding
    prob_[i] = 0xFFFFFFFFu;
    alias_[i] = i;
  }
  for (int32_t i : small) {
    prob_[i] = 0xFFFFFFFFu;
    alias_[i] = i;
  }
  table_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) table_[i] = Entry{prob_[i], alias_[i]};
}

std::vector<double> AliasSampler::probabilities() const {
  std::vector<double> p(static_cast<size_t>(n_), 0.0);
  for (int64_t c = 0; c < n_; ++c) {
    const double keep = static_cast<double>(table_[c].prob) / 4294967296.0;
    p[c] += keep / static_cast<double>(n_);
    p[table_[c].alias] += (1.0 - keep) / static_cast<double>(n_);
  }
  return p;
}

void keep_thresholds(const int64_t* counts, int64_t V, double sample, uint32_t* out) {
  int64_t total = 0;
  for (int64_t i = 0; i < V; ++i) total += counts[i];
  const double threshold = sample * static_cast<double>(total);
  for (int64_t i = 0; i < V; ++i) {
    double keep = 1.0;
    if (sample > 0.0 && counts[i] > 0) {
      const double c = static_cast<double>(counts[i]);
      keep = std::min(1.0, (std::sqrt(c / threshold) + 1.0) * threshold / c);
    }
    const double scaled = keep * 4294967296.0;
    out[i] = scaled >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(scaled);
  }
}

}  // namespace fe::w2v
