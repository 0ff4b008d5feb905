#include "bpe/train.h"

#include <algorithm>
#include <queue>
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

// Pair -> (count, index of its word list), open addressing with linear probing. A count that
// drops to 0 stays as a zero entry (the heap skips it), so there is no deletion. Key, count and
// list index share one slot, so the merge loop's update of a pair is one probe into one cache line.
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
  const Slot* find(Pair p) const {
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == p) return &slots_[i];
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  Slot& operator[](Pair p) {  // inserts {p, 0, kNoList}; the reference lives until the next insert
    for (size_t i = mix64(p) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == p) return slots_[i];
      if (slots_[i].key == kEmpty) {
        if (2 * (size_ + 1) > slots_.size()) {
          rehash(slots_.size() * 2);
          return (*this)[p];
        }
        ++size_;
        slots_[i] = {p, 0, kNoList};
        return slots_[i];
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.key != kEmpty && s.count != 0) f(s.key, s.count);
  }

 private:
  void rehash(size_t capacity) {
    std::vector<Slot> slots(capacity, Slot{kEmpty, 0, kNoList});
    const size_t mask = capacity - 1;
    for (const Slot& s : slots_) {
      if (s.key == kEmpty) continue;
      size_t i = mix64(s.key) & mask;
      while (slots[i].key != kEmpty) i = (i + 1) & mask;
      slots[i] = s;
    }
    slots_.swap(slots);
    mask_ = mask;
  }
  std::vector<Slot> slots_;
  size_t size_ = 0, mask_ = 0;
};

// One entry per distinct word: where its ids start, its current length and its count, together,
// so a visit to a word costs one cache miss for the entry and one for its ids.
struct Word {
  uint64_t start;
  int64_t count;
  uint32_t length;
};

// All words' token ids live back to back in one array (a word only ever shrinks, in place), so
// the merge loop, which visits affected words in index order, walks memory forwards.
struct Corpus {
  std::vector<uint32_t> ids;
  std::vector<Word> words;
  uint32_t* word(const Word& w) { return ids.data() + w.start; }
  size_t size() const { return words.size(); }
};

// For each pair, the words it occurs in (ascending word index; entries may be stale: a word that
// lost the pair to an earlier merge). Pairs of two bytes, the only pairs before the first merge,
// have fixed lists built in one pass (CSR: offsets into one array, list id = 256 * left + right);
// a pair made by a merge always contains the new token, so it never is a byte pair, and its list
// grows in a vector of its own as merges create it (list id = 65536 + index).
struct WordLists {
  static constexpr uint32_t kBytePairs = 65536;
  std::vector<uint32_t> offset;  // byte pair l: words [offset[l], offset[l + 1])
  std::vector<uint32_t> byte_words;
  std::vector<std::vector<uint32_t>> grown;
  uint32_t add_grown() {
    grown.emplace_back();
    return kBytePairs + static_cast<uint32_t>(grown.size() - 1);
  }
  // The words of list `l`, sorted and without repeats; the list is released.
  void take(uint32_t l, std::vector<uint32_t>& out) {
    out.clear();
    if (l < kBytePairs) {
      out.assign(byte_words.begin() + offset[l], byte_words.begin() + offset[l + 1]);
      return;
    }
    std::vector<uint32_t>& g = grown[l - kBytePairs];
    out.swap(g);
    std::vector<uint32_t>().swap(g);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
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
    corpus.words.push_back({corpus.ids.size(), counts[i], static_cast<uint32_t>(words[i].size())});
    corpus.ids.insert(corpus.ids.end(), reinterpret_cast<const uint8_t*>(words[i].data()),
                      reinterpret_cast<const uint8_t*>(words[i].data()) + words[i].size());
  }
  FE_CHECK(corpus.size() < (size_t{1} << 32), ValueError, "train_bpe: more than 2^32 distinct words");

  // Byte-pair counts and word lists, in two passes over the words (sizes, then entries).
  WordLists lists;
  std::vector<int64_t> byte_count(WordLists::kBytePairs, 0);
  lists.offset.assign(WordLists::kBytePairs + 1, 0);
  {
    std::vector<uint32_t> last(WordLists::kBytePairs, ~uint32_t{0});  // the last word counted per pair
    for (uint32_t wi = 0; wi < corpus.size(); ++wi) {
      const Word& w = corpus.words[wi];
      const uint32_t* ids = corpus.word(w);
      for (uint32_t j = 0; j + 1 < w.length; ++j) {
        const uint32_t l = ids[j] << 8 | ids[j + 1];
        byte_count[l] += w.count;
        if (last[l] != wi) {
          last[l] = wi;
          ++lists.offset[l + 1];
        }
      }
    }
    for (uint32_t l = 0; l < WordLists::kBytePairs; ++l) lists.offset[l + 1] += lists.offset[l];
    lists.byte_words.resize(lists.offset.back());
    std::vector<uint32_t> fill(lists.offset.begin(), lists.offset.end() - 1);
    std::fill(last.begin(), last.end(), ~uint32_t{0});
    for (uint32_t wi = 0; wi < corpus.size(); ++wi) {
      const Word& w = corpus.words[wi];
      const uint32_t* ids = corpus.word(w);
      for (uint32_t j = 0; j + 1 < w.length; ++j) {
        const uint32_t l = ids[j] << 8 | ids[j + 1];
        if (last[l] != wi) {
          last[l] = wi;
          lists.byte_words[fill[l]++] = wi;
        }
      }
    }
  }
  PairTable table(1 << 16);
  std::priority_queue<HeapEntry> heap;
  for (uint32_t l = 0; l < WordLists::kBytePairs; ++l) {
    if (byte_count[l] == 0) continue;
    const Pair p = make_pair(l >> 8, l & 0xFF);
    PairTable::Slot& s = table[p];
    s.count = byte_count[l];
    s.list = l;
    heap.push({s.count, p});
  }
  std::vector<int64_t>().swap(byte_count);

  std::vector<Merge> merges;
  merges.reserve(static_cast<size_t>(num_merges));
  std::vector<Pair> before, after, grown;
  std::vector<uint32_t> affected;
  while (static_cast<int64_t>(merges.size()) < num_merges && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const PairTable::Slot* slot = table.find(top.pair);
    const int64_t current = slot->count;
    if (current != top.count) {  // stale entry: re-queue with the true count
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < min_frequency) break;

    const uint32_t a = left_of(top.pair), b = right_of(top.pair);
    const uint32_t id = 256 + static_cast<uint32_t>(merges.size());
    merges.push_back({a, b, id, current});

    lists.take(slot->list, affected);
    grown.clear();
    const size_t na = affected.size();
    for (size_t k = 0; k < na; ++k) {
      // The visits jump around memory: fetch entries 8 words ahead and ids 4 words ahead (their
      // entries arrived 4 visits ago).
      if (k + 8 < na) __builtin_prefetch(&corpus.words[affected[k + 8]]);
      if (k + 4 < na) __builtin_prefetch(corpus.word(corpus.words[affected[k + 4]]));
      const uint32_t wi = affected[k];
      Word& w = corpus.words[wi];
      uint32_t* ids = corpus.word(w);
      const uint32_t n = w.length;
      before.clear();
      for (uint32_t j = 0; j + 1 < n; ++j) before.push_back(make_pair(ids[j], ids[j + 1]));
      const uint32_t m = merge_word(ids, n, a, b, id);
      if (m == n) continue;  // stale list entry
      w.length = m;
      after.clear();
      for (uint32_t j = 0; j + 1 < m; ++j) after.push_back(make_pair(ids[j], ids[j + 1]));
      // Touch only the pairs whose multiplicity changed: walk the two sorted lists together.
      std::sort(before.begin(), before.end());
      std::sort(after.begin(), after.end());
      size_t x = 0, y = 0;
      while (x < before.size() || y < after.size()) {
        if (y == after.size() || (x < before.size() && before[x] < after[y])) {
          table[before[x++]].count -= w.count;
        } else if (x == before.size() || after[y] < before[x]) {
          const Pair p = after[y++];
          PairTable::Slot& s = table[p];
          s.count += w.count;
          if (left_of(p) == id || right_of(p) == id) {
            if (s.list == PairTable::kNoList) s.list = lists.add_grown();
            std::vector<uint32_t>& list = lists.grown[s.list - WordLists::kBytePairs];
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
      const int64_t c = table.find(p)->count;
      if (c > 0) heap.push({c, p});
    }
    progress_step(progress);
  }
  return merges;
}

}  // namespace fe::bpe
