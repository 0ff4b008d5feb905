#include "bpe/train.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "bpe/hash.h"
#include "common/error.h"

namespace fe::bpe {
namespace {

using Pair = uint64_t;  // (left << 32) | right
inline Pair make_pair(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
inline uint32_t left_of(Pair p) { return static_cast<uint32_t>(p >> 32); }
inline uint32_t right_of(Pair p) { return static_cast<uint32_t>(p); }

struct HeapEntry {
  int64_t count;
  Pair pair;
  // Max-heap on count; on equal counts the smaller pair is "greater", i.e. popped first.
  bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

// Pair -> count, open addressing with linear probing; a count that drops to 0 stays as a
// zero entry (the heap skips it), so there is no deletion. Several times faster than
// std::unordered_map here, where every merge updates counts for thousands of words.
class PairCounts {
 public:
  static constexpr Pair kEmpty = ~Pair{0};  // ids < 2^31, so no real pair is ~0
  explicit PairCounts(size_t n) { rehash(table_capacity(n)); }
  int64_t get(Pair p) const {
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == p) return values_[i];
      if (keys_[i] == kEmpty) return 0;
    }
  }
  int64_t& operator[](Pair p) {
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == p) return values_[i];
      if (keys_[i] == kEmpty) {
        if (2 * (size_ + 1) > keys_.size()) {
          rehash(keys_.size() * 2);
          return (*this)[p];
        }
        ++size_;
        keys_[i] = p;
        values_[i] = 0;
        return values_[i];
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != kEmpty && values_[i] != 0) f(keys_[i], values_[i]);
  }

 private:
  void rehash(size_t capacity) {
    std::vector<Pair> keys(capacity, kEmpty);
    std::vector<int64_t> values(capacity, 0);
    const size_t mask = capacity - 1;
    for (size_t j = 0; j < keys_.size(); ++j) {
      if (keys_[j] == kEmpty) continue;
      size_t i = mix64(keys_[j]) & mask;
      while (keys[i] != kEmpty) i = (i + 1) & mask;
      keys[i] = keys_[j];
      values[i] = values_[j];
    }
    keys_.swap(keys);
    values_.swap(values);
    mask_ = capacity - 1;
  }
  std::vector<Pair> keys_;
  std::vector<int64_t> values_;
  size_t size_ = 0, mask_ = 0;
};

// All words' token ids live back to back in one array (a word only ever shrinks, in place), so
// the merge loop, which visits affected words in index order, walks memory forwards.
struct Corpus {
  std::vector<uint32_t> ids;       // word i is ids[start[i], start[i] + length[i])
  std::vector<uint64_t> start;
  std::vector<uint32_t> length;
  std::vector<int64_t> count;
  uint32_t* word(size_t i) { return ids.data() + start[i]; }
  size_t size() const { return count.size(); }
};

// Replaces the non-overlapping occurrences of (a, b) in ids[0, n), left to right, by `id`.
// Returns the new length (n if there were none).
uint32_t merge_word(uint32_t* ids, uint32_t n, uint32_t a, uint32_t b, uint32_t id) {
  uint32_t w = 0;
  for (uint32_t r = 0; r < n;) {
    if (r + 1 < n && ids[r] == a && ids[r + 1] == b) {
      ids[w++] = id;
      r += 2;
    } else {
      ids[w++] = ids[r++];
    }
  }
  return w;
}

}  // namespace

std::vector<Merge> train_bpe(const std::vector<std::string_view>& words, const std::vector<int64_t>& counts,
                             int64_t num_merges, int64_t min_frequency, Progress* progress) {
  FE_CHECK(words.size() == counts.size(), ValueError, "train_bpe: ", words.size(), " words but ", counts.size(),
           " counts");
  FE_CHECK(num_merges >= 0, ValueError, "train_bpe: num_merges must be >= 0, got ", num_merges);
  FE_CHECK(num_merges <= (int64_t{1} << 31), ValueError, "train_bpe: num_merges too large: ", num_merges);
  min_frequency = std::max<int64_t>(min_frequency, 1);
  if (progress) progress->total.store(num_merges);

  Corpus corpus;
  // Every pair count is at most sum(count * (length - 1)); keep that sum inside int64.
  int64_t bound = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    FE_CHECK(counts[i] >= 0, ValueError, "train_bpe: counts must be >= 0, got ", counts[i]);
    int64_t pairs = 0;
    const int64_t len = static_cast<int64_t>(words[i].size());
    FE_CHECK(!__builtin_mul_overflow(counts[i], len > 0 ? len - 1 : 0, &pairs) &&
                 !__builtin_add_overflow(bound, pairs, &bound),
             ValueError, "train_bpe: word counts are too large (pair counts would overflow int64)");
    if (counts[i] == 0 || words[i].size() < 2) continue;  // no pairs to count
    FE_CHECK(words[i].size() < (size_t{1} << 32), ValueError, "train_bpe: a word of ", words[i].size(), " bytes");
    corpus.start.push_back(corpus.ids.size());
    corpus.length.push_back(static_cast<uint32_t>(words[i].size()));
    corpus.count.push_back(counts[i]);
    corpus.ids.insert(corpus.ids.end(), reinterpret_cast<const uint8_t*>(words[i].data()),
                      reinterpret_cast<const uint8_t*>(words[i].data()) + words[i].size());
  }

  // Pair counts and, for each pair, the words it occurs in (may hold stale or repeated entries).
  PairCounts pair_count(1 << 16);
  std::unordered_map<Pair, std::vector<uint32_t>> where;
  for (uint32_t wi = 0; wi < corpus.size(); ++wi) {
    const uint32_t* ids = corpus.word(wi);
    for (size_t j = 0; j + 1 < corpus.length[wi]; ++j) {
      const Pair p = make_pair(ids[j], ids[j + 1]);
      pair_count[p] += corpus.count[wi];
      auto& list = where[p];
      if (list.empty() || list.back() != wi) list.push_back(wi);
    }
  }
  std::priority_queue<HeapEntry> heap;
  pair_count.for_each([&](Pair p, int64_t c) { heap.push({c, p}); });

  std::vector<Merge> merges;
  merges.reserve(static_cast<size_t>(num_merges));
  std::vector<Pair> before, after;
  while (static_cast<int64_t>(merges.size()) < num_merges && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const int64_t current = pair_count.get(top.pair);
    if (current != top.count) {  // stale entry: re-queue with the true count
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < min_frequency) break;

    const uint32_t a = left_of(top.pair), b = right_of(top.pair);
    const uint32_t id = 256 + static_cast<uint32_t>(merges.size());
    merges.push_back({a, b, id, current});

    std::vector<uint32_t> affected = std::move(where[top.pair]);
    where.erase(top.pair);
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
    std::vector<Pair> grown;
    for (const uint32_t wi : affected) {
      uint32_t* ids = corpus.word(wi);
      const uint32_t n = corpus.length[wi];
      const int64_t wcount = corpus.count[wi];
      before.clear();
      for (uint32_t j = 0; j + 1 < n; ++j) before.push_back(make_pair(ids[j], ids[j + 1]));
      const uint32_t m = merge_word(ids, n, a, b, id);
      if (m == n) continue;  // stale index entry
      corpus.length[wi] = m;
      after.clear();
      for (uint32_t j = 0; j + 1 < m; ++j) after.push_back(make_pair(ids[j], ids[j + 1]));
      // Touch only the pairs whose multiplicity changed: walk the two sorted lists together.
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      size_t x = 0, y = 0;
      while (x < before.size() || y < after.size()) {
        if (y == after.size() || (x < before.size() && before[x] < after[y])) {
          pair_count[before[x++]] -= wcount;
        } else if (x == before.size() || after[y] < before[x]) {
          const Pair p = after[y++];
          pair_count[p] += wcount;
          if (left_of(p) == id || right_of(p) == id) {
            auto& list = where[p];
            if (list.empty() || list.back() != wi) list.push_back(wi);
            grown.push_back(p);
          }
        } else {  // the same pair in both: unchanged
          ++x;
          ++y;
        }
      }
    }
    // Only pairs with the new token can have grown; the others only shrank and their heap
    // entries are corrected lazily when popped.
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (const Pair p : grown) {
      const int64_t c = pair_count.get(p);
      if (c > 0) heap.push({c, p});
    }
    progress_step(progress);
  }
  return merges;
}

}  // namespace fe::bpe
