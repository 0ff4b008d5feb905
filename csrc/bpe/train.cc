#include "bpe/train.h"

#include <algorithm>
#include <queue>
#include <utility>
#include <vector>

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

// Pair -> (count, its word list), open addressing with linear probing. Key, count and list share
// one slot, so the merge loop's update of a pair is one probe into one cache line.
//
// No deletion while merging: a count that drops to 0 stays (the heap skips it). Such a pair is
// dead for good (a merge only creates pairs with its new token, so an old pair never comes
// back), and growing the table leaves dead pairs behind instead of copying them.
class PairTable {
 public:
  static constexpr Pair kEmpty = ~Pair{0};  // ids < 2^31, so no real pair is ~0
  static constexpr uint32_t kNoList = ~uint32_t{0};
  struct Slot {
    Pair key;
    int64_t count;
    uint32_t list;
  };
  explicit PairTable(size_t n) { rehash(table_capacity(n)); }
  // The pair's slot, or null for a pair never seen or dropped as dead (count 0).
  const Slot* find(Pair p) const {
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == p) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  // Finds or inserts {p, 0, kNoList}. The reference lives until the next insertion.
  Slot& operator[](Pair p) {
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == p) return slots_[i];
      if (slots_[i].key == kEmpty) {
        if (2 * (size_ + 1) > slots_.size()) {
          size_t live = 0;
          for (const Slot& s : slots_) live += s.key != kEmpty && s.count != 0;
          rehash(table_capacity(live + live / 2));  // load <= 1/3 after: room for as many again
          return (*this)[p];
        }
        ++size_;
        slots_[i] = {p, 0, kNoList};
        return slots_[i];
      }
    }
  }

 private:
  void rehash(size_t capacity) {
    big_vector<Slot> slots(capacity, Slot{kEmpty, 0, kNoList});
    const size_t mask = capacity - 1;
    size_ = 0;
    for (const Slot& s : slots_) {
      if (s.key == kEmpty || s.count == 0) continue;
      size_t i = mix64(s.key) & mask;
      while (slots[i].key != kEmpty) i = (i + 1) & mask;
      slots[i] = s;
      ++size_;
    }
    slots_.swap(slots);
    mask_ = mask;
  }
  big_vector<Slot> slots_;
  size_t size_ = 0, mask_ = 0;
};

// For each pair, the words it occurs in: ascending word indices, each once, possibly stale (a
// word that lost the pair to an earlier merge). All lists live back to back in one pool.
//
// A list is complete when written: byte pairs, the only pairs before the first merge, get theirs
// in one pass over the words, and a pair made by a merge contains that merge's new token, so all
// the words it will ever occur in are known when that merge ends (no later merge can make the
// new token adjacent to anything it was not adjacent to). So no list ever grows after the fact.
class WordLists {
 public:
  // A new list of the given words (ascending, distinct); returns its id.
  uint32_t add(const uint32_t* words, size_t n) {
    FE_CHECK(refs_.size() < PairTable::kNoList, RuntimeError, "train_bpe: too many pairs");
    refs_.push_back({pool_.size(), static_cast<uint32_t>(n)});
    pool_.insert(pool_.end(), words, words + n);
    return static_cast<uint32_t>(refs_.size() - 1);
  }
  const uint32_t* begin(uint32_t list) const { return pool_.data() + refs_[list].offset; }
  size_t size(uint32_t list) const { return refs_[list].length; }
  void reserve(size_t entries) { pool_.reserve(entries); }

 private:
  struct Ref {
    uint64_t offset;
    uint32_t length;
  };
  big_vector<uint32_t> pool_;
  big_vector<Ref> refs_;
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

void TrainingWords::reserve(size_t n, size_t bytes) {
  words_.reserve(n);
  ids_.reserve(bytes);
}

void TrainingWords::add(std::string_view word, int64_t count) {
  FE_CHECK(count >= 0, ValueError, "train_bpe: counts must be >= 0, got ", count);
  // Every pair count is at most sum(count * (length - 1)); keep that sum inside int64.
  const int64_t len = static_cast<int64_t>(word.size());
  int64_t pairs = 0;
  FE_CHECK(!__builtin_mul_overflow(count, len > 0 ? len - 1 : 0, &pairs) &&
               !__builtin_add_overflow(pair_bound_, pairs, &pair_bound_),
           ValueError, "train_bpe: word counts are too large (pair counts would overflow int64)");
  if (count == 0 || word.size() < 2) return;  // no pairs to count
  FE_CHECK(word.size() < (size_t{1} << 32), ValueError, "train_bpe: a word of ", word.size(), " bytes");
  FE_CHECK(words_.size() < (size_t{1} << 32) - 1, ValueError, "train_bpe: more than 2^32 - 1 distinct words");
  words_.push_back({ids_.size(), count, static_cast<uint32_t>(word.size())});
  const auto* bytes = reinterpret_cast<const uint8_t*>(word.data());
  ids_.insert(ids_.end(), bytes, bytes + word.size());
}

std::vector<Merge> train_bpe(const std::vector<std::string_view>& words, const std::vector<int64_t>& counts,
                             int64_t num_merges, int64_t min_frequency, Progress* progress) {
  FE_CHECK(words.size() == counts.size(), ValueError, "train_bpe: ", words.size(), " words but ", counts.size(),
           " counts");
  TrainingWords tw;
  size_t bytes = 0;
  for (const std::string_view w : words) bytes += w.size();
  tw.reserve(words.size(), bytes);
  for (size_t i = 0; i < words.size(); ++i) tw.add(words[i], counts[i]);
  return train_bpe(std::move(tw), num_merges, min_frequency, progress);
}

std::vector<Merge> train_bpe(TrainingWords corpus, int64_t num_merges, int64_t min_frequency, Progress* progress) {
  FE_CHECK(num_merges >= 0, ValueError, "train_bpe: num_merges must be >= 0, got ", num_merges);
  FE_CHECK(num_merges <= (int64_t{1} << 31), ValueError, "train_bpe: num_merges too large: ", num_merges);
  min_frequency = std::max<int64_t>(min_frequency, 1);
  if (progress) progress->total.store(num_merges);
  big_vector<uint32_t>& ids = corpus.ids_;
  auto& words = corpus.words_;
  const uint32_t nwords = static_cast<uint32_t>(words.size());

  // Byte pairs (l = 256 * left + right): counts and word lists, in two passes over the words
  // (list sizes, then entries).
  constexpr uint32_t kBytePairs = 65536;
  WordLists lists;
  PairTable table(1 << 16);
  std::priority_queue<HeapEntry, big_vector<HeapEntry>> heap;
  {
    big_vector<int64_t> count(kBytePairs, 0);
    big_vector<uint32_t> offset(kBytePairs + 1, 0), last(kBytePairs, ~uint32_t{0});
    for (uint32_t wi = 0; wi < nwords; ++wi) {
      const uint32_t* w = ids.data() + words[wi].start;
      for (uint32_t j = 0; j + 1 < words[wi].length; ++j) {
        const uint32_t l = w[j] << 8 | w[j + 1];
        count[l] += words[wi].count;
        if (last[l] != wi) {
          last[l] = wi;
          ++offset[l + 1];
        }
      }
    }
    for (uint32_t l = 0; l < kBytePairs; ++l) offset[l + 1] += offset[l];
    big_vector<uint32_t> entries(offset.back());
    std::fill(last.begin(), last.end(), ~uint32_t{0});
    for (uint32_t wi = 0; wi < nwords; ++wi) {
      const uint32_t* w = ids.data() + words[wi].start;
      for (uint32_t j = 0; j + 1 < words[wi].length; ++j) {
        const uint32_t l = w[j] << 8 | w[j + 1];
        if (last[l] != wi) {
          last[l] = wi;
          entries[offset[l]++] = wi;  // offset[l] ends at the start of list l + 1
        }
      }
    }
    lists.reserve(entries.size() + entries.size() / 2);  // merges add lists about half as long
    for (uint32_t l = 0, begin = 0; l < kBytePairs; begin = offset[l++]) {
      if (count[l] == 0) continue;
      const Pair p = make_pair(l >> 8, l & 0xFF);
      PairTable::Slot& s = table[p];
      s.count = count[l];
      s.list = lists.add(entries.data() + begin, offset[l] - begin);
      heap.push({s.count, p});
    }
  }

  std::vector<Merge> merges;
  merges.reserve(static_cast<size_t>(num_merges));
  std::vector<Pair> before, after;
  big_vector<std::pair<Pair, uint32_t>> made;  // (new pair, word) of this merge
  big_vector<uint32_t> affected, list;
  while (static_cast<int64_t>(merges.size()) < num_merges && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const PairTable::Slot* slot = table.find(top.pair);
    const int64_t current = slot ? slot->count : 0;
    if (current != top.count) {  // stale entry: re-queue with the true count
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < min_frequency) break;

    const uint32_t a = left_of(top.pair), b = right_of(top.pair);
    const uint32_t id = 256 + static_cast<uint32_t>(merges.size());
    merges.push_back({a, b, id, current});

    affected.assign(lists.begin(slot->list), lists.begin(slot->list) + lists.size(slot->list));
    made.clear();
    const size_t na = affected.size();
    for (size_t k = 0; k < na; ++k) {
      // The visits jump around memory: fetch entries 8 words ahead and ids 4 words ahead (their
      // entries arrived 4 visits ago).
      if (k + 8 < na) __builtin_prefetch(&words[affected[k + 8]]);
      if (k + 4 < na) __builtin_prefetch(ids.data() + words[affected[k + 4]].start);
      const uint32_t wi = affected[k];
      auto& w = words[wi];
      uint32_t* wids = ids.data() + w.start;
      const uint32_t n = w.length;
      before.clear();
      for (uint32_t j = 0; j + 1 < n; ++j) before.push_back(make_pair(wids[j], wids[j + 1]));
      const uint32_t m = merge_word(wids, n, a, b, id);
      if (m == n) continue;  // stale list entry
      w.length = m;
      after.clear();
      for (uint32_t j = 0; j + 1 < m; ++j) after.push_back(make_pair(wids[j], wids[j + 1]));
      // Touch only the pairs whose multiplicity changed: walk the two sorted lists together.
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      size_t x = 0, y = 0;
      while (x < before.size() || y < after.size()) {
        if (y == after.size() || (x < before.size() && before[x] < after[y])) {
          table[before[x++]].count -= w.count;
        } else if (x == before.size() || after[y] < before[x]) {
          const Pair p = after[y++];
          table[p].count += w.count;
          if (left_of(p) == id || right_of(p) == id) made.push_back({p, wi});
        } else {  // the same pair in both: unchanged
          ++x;
          ++y;
        }
      }
    }
    // The new token's pairs: their word lists are complete now, and only they can have grown
    // (the others only shrank; their heap entries are corrected lazily when popped).
    std::sort(made.begin(), made.end());  // by pair, then word
    for (size_t i = 0; i < made.size();) {
      const Pair p = made[i].first;
      list.clear();
      for (; i < made.size() && made[i].first == p; ++i)
        if (list.empty() || list.back() != made[i].second) list.push_back(made[i].second);
      PairTable::Slot& s = table[p];
      s.list = lists.add(list.data(), list.size());
      if (s.count > 0) heap.push({s.count, p});
    }
    progress_step(progress);
  }
  return merges;
}

}  // namespace fe::bpe
