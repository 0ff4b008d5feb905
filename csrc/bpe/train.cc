#include "bpe/train.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

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

struct Word {
  std::vector<uint32_t> ids;
  int64_t count;
};

// Replaces the non-overlapping occurrences of (a, b) in ids, left to right, by `id`.
// Returns false if there were none.
bool merge_word(std::vector<uint32_t>& ids, uint32_t a, uint32_t b, uint32_t id) {
  size_t w = 0;
  bool any = false;
  for (size_t r = 0; r < ids.size();) {
    if (r + 1 < ids.size() && ids[r] == a && ids[r + 1] == b) {
      ids[w++] = id;
      r += 2;
      any = true;
    } else {
      ids[w++] = ids[r++];
    }
  }
  ids.resize(w);
  return any;
}

}  // namespace

std::vector<Merge> train_bpe(const std::vector<std::string>& words, const std::vector<int64_t>& counts,
                             int64_t num_merges, int64_t min_frequency, Progress* progress) {
  FE_CHECK(words.size() == counts.size(), ValueError, "train_bpe: ", words.size(), " words but ", counts.size(),
           " counts");
  FE_CHECK(num_merges >= 0, ValueError, "train_bpe: num_merges must be >= 0, got ", num_merges);
  FE_CHECK(num_merges <= (int64_t{1} << 31), ValueError, "train_bpe: num_merges too large: ", num_merges);
  min_frequency = std::max<int64_t>(min_frequency, 1);
  if (progress) progress->total.store(num_merges);

  std::vector<Word> corpus;
  corpus.reserve(words.size());
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
    Word w{{}, counts[i]};
    w.ids.assign(reinterpret_cast<const uint8_t*>(words[i].data()),
                 reinterpret_cast<const uint8_t*>(words[i].data()) + words[i].size());
    corpus.push_back(std::move(w));
  }

  // Pair counts and, for each pair, the words it occurs in (may hold stale or repeated entries).
  std::unordered_map<Pair, int64_t> pair_count;
  std::unordered_map<Pair, std::vector<uint32_t>> where;
  for (uint32_t wi = 0; wi < corpus.size(); ++wi) {
    const auto& ids = corpus[wi].ids;
    for (size_t j = 0; j + 1 < ids.size(); ++j) {
      const Pair p = make_pair(ids[j], ids[j + 1]);
      pair_count[p] += corpus[wi].count;
      auto& list = where[p];
      if (list.empty() || list.back() != wi) list.push_back(wi);
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [p, c] : pair_count) heap.push({c, p});

  std::vector<Merge> merges;
  merges.reserve(static_cast<size_t>(num_merges));
  std::vector<Pair> before, after;
  while (static_cast<int64_t>(merges.size()) < num_merges && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const auto it = pair_count.find(top.pair);
    const int64_t current = it == pair_count.end() ? 0 : it->second;
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
      Word& w = corpus[wi];
      before.clear();
      for (size_t j = 0; j + 1 < w.ids.size(); ++j) before.push_back(make_pair(w.ids[j], w.ids[j + 1]));
      if (!merge_word(w.ids, a, b, id)) continue;  // stale index entry
      after.clear();
      for (size_t j = 0; j + 1 < w.ids.size(); ++j) after.push_back(make_pair(w.ids[j], w.ids[j + 1]));
      for (const Pair p : before) {
        auto pc = pair_count.find(p);
        if ((pc->second -= w.count) == 0) pair_count.erase(pc);
      }
      for (const Pair p : after) {
        pair_count[p] += w.count;
        if (left_of(p) == id || right_of(p) == id) {
          auto& list = where[p];
          if (list.empty() || list.back() != wi) list.push_back(wi);
          grown.push_back(p);
        }
      }
    }
    // Only pairs with the new token can have grown; the others only shrank and their heap
    // entries are corrected lazily when popped.
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (const Pair p : grown) {
      const auto pc = pair_count.find(p);
      if (pc != pair_count.end()) heap.push({pc->second, p});
    }
    progress_step(progress);
  }
  return merges;
}

}  // namespace fe::bpe
