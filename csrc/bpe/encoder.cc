#include "bpe/encoder.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <queue>

#include "common/error.h"
#include "common/page_alloc.h"
#include "common/parallel.h"

namespace fe::bpe {
namespace {
constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();
constexpr size_t kSmallPiece = 128;  // bytes; longer pieces take the heap path
}  // namespace

Encoder::Encoder(std::vector<std::string> vocab, const std::vector<MergeRule>& rules, Pattern pattern)
    : vocab_(std::move(vocab)), pattern_(pattern) {
  const size_t V = vocab_.size();
  FE_CHECK(V >= 256 && V < (size_t{1} << 31), ValueError, "BPE vocabulary must have between 256 and 2^31 tokens, got ",
           V);
  any_.reset(&vocab_, V);
  for (uint32_t id = 0; id < V; ++id) any_.insert(id);
  spans_.resize(V);
  for (uint32_t id = 0; id < V; ++id) {
    FE_CHECK(blob_.size() + vocab_[id].size() < (size_t{1} << 32), ValueError,
             "BPE vocabulary holds more than 4 GiB of token bytes");
    spans_[id] = {static_cast<uint32_t>(blob_.size()), static_cast<uint32_t>(vocab_[id].size())};
    blob_ += vocab_[id];
  }
  blob_.append(16, '\0');
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    byte_token_[b] = any_.find(&byte, 1);
    FE_CHECK(byte_token_[b] != BytesToId::kEmpty, ValueError, "BPE vocabulary has no token for byte 0x", std::hex, b,
             "; a byte-level vocabulary needs all 256");
  }
  // Only the order of ranks matters, so rules_ holds each rank's position among the distinct
  // ranks: the bucket path's table then grows with the rule table, never with a rank's value
  // (a file may rank its rules 0, 10^9, 4 * 10^9).
  std::vector<uint32_t> ranks;
  ranks.reserve(rules.size());
  for (const MergeRule& r : rules) ranks.push_back(r.rank);
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  auto dense = [&](uint32_t rank) {
    return static_cast<uint32_t>(std::lower_bound(ranks.begin(), ranks.end(), rank) - ranks.begin());
  };
  rules_.reset(rules.size());
  for (const MergeRule& r : rules) {
    FE_CHECK(r.left < V && r.right < V && r.id < V, ValueError, "merge rule (", r.left, ", ", r.right, ") -> ", r.id,
             " refers to a token outside the vocabulary of ", V);
    FE_CHECK(vocab_[r.id].size() == vocab_[r.left].size() + vocab_[r.right].size() &&
                 vocab_[r.id].compare(0, vocab_[r.left].size(), vocab_[r.left]) == 0 &&
                 vocab_[r.id].compare(vocab_[r.left].size(), std::string::npos, vocab_[r.right]) == 0,
             ValueError, "merge rule (", r.left, ", ", r.right, ") -> ", r.id,
             ": the token's bytes are not the concatenation of the pair's");
    FE_CHECK(r.rank != kNoRank, ValueError, "merge rank ", r.rank, " is reserved");
    FE_CHECK(rules_.insert((uint64_t{r.left} << 32) | r.right, (uint64_t{dense(r.rank)} << 32) | r.id), ValueError,
             "duplicate merge rule for the pair (", r.left, ", ", r.right, ")");
  }
  max_rank_ = ranks.empty() ? 0 : static_cast<uint32_t>(ranks.size() - 1);
  // The whole-piece shortcut, only for tokens that BPE-encode to themselves.
  whole_.reset(&vocab_, V);
  std::vector<uint32_t> out;
  for (uint32_t id = 0; id < V; ++id) {
    const auto* s = reinterpret_cast<const uint8_t*>(vocab_[id].data());
    const size_t n = vocab_[id].size();
    if (n == 0 || any_.find(s, n) != id) continue;  // skip duplicates of an earlier token
    out.clear();
    if (n == 1) {
      out.push_back(byte_token_[s[0]]);
    } else if (n <= kSmallPiece) {
      for (size_t i = 0; i < n; ++i) out.push_back(byte_token_[s[i]]);
      out.resize(merge_small(out.data(), n));
    } else {
      merge_large(s, n, out);
    }
    if (out.size() == 1 && out[0] == id) whole_.insert(id);
  }
}

size_t Encoder::merge_small(uint32_t* parts, size_t m) const {
  // ranks[i]: rank of the rule for (parts[i], parts[i + 1]), kNoRank if none.
  uint32_t ranks[kSmallPiece];
  uint32_t ids[kSmallPiece];
  auto look = [&](size_t i) {
    const uint64_t* r = rule(parts[i], parts[i + 1]);
    ranks[i] = r ? static_cast<uint32_t>(*r >> 32) : kNoRank;
    ids[i] = r ? static_cast<uint32_t>(*r) : 0;
  };
  for (size_t i = 0; i + 1 < m; ++i) look(i);
  while (m > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < m; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == kNoRank) break;
    parts[best] = ids[best];
    for (size_t i = best + 1; i + 1 < m; ++i) parts[i] = parts[i + 1];
    for (size_t i = best + 1; i + 2 < m; ++i) {  // pairs exist only up to m - 2
      ranks[i] = ranks[i + 1];
      ids[i] = ids[i + 1];
    }
    --m;
    if (best + 1 < m) look(best);
    else ranks[best] = kNoRank, ids[best] = 0;
    if (best > 0) look(best - 1);
  }
  return m;
}

void Encoder::merge_large(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const {
  // Doubly linked list of parts, one node per starting byte; a node's index is its position,
  // so ordering equal ranks by index picks the leftmost pair.
  std::vector<uint32_t> id(n), next(n), prev(n);
  std::vector<uint8_t> alive(n, 1);
  for (size_t i = 0; i < n; ++i) {
    id[i] = byte_token_[s[i]];
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = static_cast<uint32_t>(i - 1);  // wraps for i == 0; never read there
  }
  struct Entry {
    uint32_t rank, left, right, left_id, right_id;
    bool operator>(const Entry& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](uint32_t l) {
    const uint32_t r = next[l];
    if (r >= n) return;
    if (const uint64_t* rr = rule(id[l], id[r])) heap.push({static_cast<uint32_t>(*rr >> 32), l, r, id[l], id[r]});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    if (!alive[e.left] || next[e.left] != e.right || id[e.left] != e.left_id || id[e.right] != e.right_id) continue;
    id[e.left] = static_cast<uint32_t>(*rule(e.left_id, e.right_id));
    alive[e.right] = 0;
    next[e.left] = next[e.right];
    if (next[e.right] < n) prev[next[e.right]] = e.left;
    if (e.left > 0) push(prev[e.left]);
    push(e.left);
  }
  for (uint32_t i = 0; i < n; i = next[i]) out.push_back(id[i]);
}

void Encoder::merge_buckets(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const {
  // One node per starting byte, its fields together: a merge at a random position (the usual
  // case in a long piece of mixed letters) then costs one cache miss, not one per array.
  struct Node {
    uint32_t id, next, prev;  // id kDead: merged into its left neighbour
  };
  constexpr uint32_t kDead = std::numeric_limits<uint32_t>::max();
  huge_vector<Node> node(n);
  for (size_t i = 0; i < n; ++i) node[i] = {byte_token_[s[i]], static_cast<uint32_t>(i + 1), static_cast<uint32_t>(i - 1)};
  // bucket[r]: left positions of pairs of rank r, in the order they were found (increasing
  // positions within one pass). A vector per rank, so a rank's positions are read in sequence.
  std::vector<huge_vector<uint32_t>> bucket(size_t{max_rank_} + 1);
  // A pair made while rank `current` is being merged normally ranks higher (always, when the
  // rules are monotone: trained BPE, GPT-2's merges file) and waits in its bucket. One that ranks
  // at or below `current` (possible with every split of a tiktoken file as a rule) goes to a
  // heap of (rank, position) entries that are merged first, in the order the heap path uses.
  uint32_t current = 0;
  bool started = false;
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> urgent;
  uint32_t lo = max_rank_ + 1;  // lowest rank with a pending entry
  auto push = [&](uint32_t l) {
    const uint32_t r = node[l].next;
    if (r >= n) return;
    if (const uint64_t* rr = rule(node[l].id, node[r].id)) {
      const uint32_t rank = static_cast<uint32_t>(*rr >> 32);
      if (started && rank <= current) {
        urgent.push(uint64_t{rank} << 32 | l);
        return;
      }
      bucket[rank].push_back(l);
      lo = std::min(lo, rank);
    }
  };
  auto apply = [&](uint32_t l, uint32_t rank) {  // merges the pair at l if it still has this rank
    Node& a = node[l];
    if (a.id == kDead || a.next >= n) return;
    Node& b = node[a.next];
    const uint64_t* rr = rule(a.id, b.id);
    if (!rr || static_cast<uint32_t>(*rr >> 32) != rank) return;  // stale: the pair changed
    a.id = static_cast<uint32_t>(*rr);
    b.id = kDead;
    a.next = b.next;
    if (b.next < n) node[b.next].prev = l;
    if (l > 0) push(a.prev);
    push(l);
  };
  auto merge_urgent_before = [&](uint64_t key) {  // heap entries ordered before (rank, position)
    while (!urgent.empty() && urgent.top() < key) {
      const uint64_t e = urgent.top();
      urgent.pop();
      apply(static_cast<uint32_t>(e), static_cast<uint32_t>(e >> 32));
    }
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  started = true;
  huge_vector<uint32_t> batch;
  for (uint32_t rank = lo; rank <= max_rank_; ++rank) {
    if (bucket[rank].empty()) continue;
    current = rank;
    batch.swap(bucket[rank]);
    huge_vector<uint32_t>().swap(bucket[rank]);  // frees the previous rank's positions
    if (!std::is_sorted(batch.begin(), batch.end())) std::sort(batch.begin(), batch.end());
    for (const uint32_t l : batch) {  // leftmost first, as the heap orders equal ranks
      merge_urgent_before(uint64_t{rank} << 32 | l);
      apply(l, rank);
    }
    merge_urgent_before(~uint64_t{0});
  }
  for (uint32_t i = 0; i < n; i = node[i].next) out.push_back(node[i].id);
}

void Encoder::encode_piece(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const {
  if (n == 1) {
    out.push_back(byte_token_[s[0]]);
    return;
  }
  const uint32_t whole = whole_.find(s, n);
  if (whole != BytesToId::kEmpty) {
    out.push_back(whole);
    return;
  }
  if (n > kSmallPiece) {
    FE_CHECK(n < (size_t{1} << 32), ValueError, "encode: a single piece of ", n,
             " bytes (no spaces for 4 GiB) is longer than the encoder supports");
    // Buckets cost O(distinct ranks) to set up; a heap costs O(n log n): buckets for long pieces.
    if (n >= std::max<size_t>(1024, max_rank_ / 16))
      merge_buckets(s, n, out);
    else
      merge_large(s, n, out);
    return;
  }
  const size_t start = out.size();
  for (size_t i = 0; i < n; ++i) out.push_back(byte_token_[s[i]]);
  out.resize(start + merge_small(out.data() + start, n));
}

void Encoder::encode_ordinary(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const {
  pretokenize(pattern_, s, n, [&](size_t b, size_t e) { encode_piece(s + b, e - b, out); });
}

void Encoder::encode_ordinary_aligned(const uint8_t* s, size_t n, std::vector<uint32_t>& out,
                                      std::vector<int32_t>* words, std::vector<int64_t>* offsets) const {
  int32_t piece = 0;
  size_t scanned = 0;   // bytes [0, scanned) have been counted ...
  int64_t chars = 0;    // ... and hold this many character starts
  auto char_of = [&](size_t byte) {  // index of the character that byte `byte` belongs to
    for (; scanned <= byte; ++scanned) chars += (s[scanned] & 0xC0) != 0x80;
    return chars - 1;
  };
  pretokenize(pattern_, s, n, [&](size_t b, size_t e) {
    const size_t first = out.size();
    encode_piece(s + b, e - b, out);
    if (words) words->resize(out.size(), piece);
    ++piece;
    if (!offsets) return;
    size_t pos = b;
    for (size_t t = first; t < out.size(); ++t) {
      const size_t len = spans_[out[t]].length;
      const int64_t start = char_of(pos);
      pos += len;
      offsets->push_back(start);
      offsets->push_back(char_of(pos - 1) + 1);
    }
  });
}

void Encoder::encode_ordinary_parallel(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const {
  constexpr size_t kMinChunk = size_t{1} << 20;  // below ~1 MB a chunk is not worth a thread
  const size_t threads = static_cast<size_t>(num_threads());
  const size_t chunks = std::min(threads, n / kMinChunk);
  if (chunks <= 1) {
    encode_ordinary(s, n, out);
    return;
  }
  auto safe_cut = [&](size_t p) {  // first p' >= p with s[p'-1] an ASCII letter or digit, s[p'] ASCII space
    for (; p < n; ++p) {
      const uint8_t a = s[p - 1], b = s[p];
      if (a < 0x80 && b < 0x80 && (kAsciiClass[a] == CharClass::kLetter || kAsciiClass[a] == CharClass::kNumber) &&
          kAsciiClass[b] == CharClass::kSpace)
        return p;
    }
    return n;
  };
  std::vector<size_t> cut{0};
  for (size_t c = 1; c < chunks; ++c) cut.push_back(std::max(cut.back(), safe_cut(std::max<size_t>(1, n * c / chunks))));
  cut.push_back(n);
  // The first chunk appends to `out` itself, so only the others are copied after the parallel
  // part (that copy runs on one thread, and its first touch of fresh pages is not cheap).
  std::vector<std::vector<uint32_t>> parts(chunks);
  parallel_for(0, static_cast<int64_t>(chunks), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      std::vector<uint32_t>& dst = c == 0 ? out : parts[c];
      if (c > 0) dst.reserve((cut[c + 1] - cut[c]) / 3 + 8);
      encode_ordinary(s + cut[c], cut[c + 1] - cut[c], dst);
    }
  });
  size_t total = out.size();
  for (const auto& part : parts) total += part.size();
  out.reserve(total);
  for (size_t c = 1; c < chunks; ++c) out.insert(out.end(), parts[c].begin(), parts[c].end());
}

namespace {
[[noreturn]] void bad_id(uint32_t id, size_t i, size_t vocab_size) {
  FE_FAIL(ValueError, "decode: token id ", id, " at position ", i, " is not in the vocabulary (size ", vocab_size,
          id < vocab_size ? ", an unused id)" : ")");
}
}  // namespace

size_t Encoder::decoded_size(const uint32_t* ids, size_t n) const {
  const size_t V = spans_.size();
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    if (id >= V || spans_[id].length == 0) bad_id(id, i, V);
    bytes += spans_[id].length;
  }
  return bytes;
}

void Encoder::decode_into(const uint32_t* ids, size_t n, char* out, size_t capacity) const {
  const size_t V = spans_.size();
  const char* blob = blob_.data();
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    if (id >= V || spans_[id].length == 0) bad_id(id, i, V);
    const Span t = spans_[id];
    FE_CHECK(pos + t.length <= capacity, RuntimeError, "decode: the ids changed while being decoded");
    if (t.length <= 16 && pos + 16 <= capacity)
      std::memcpy(out + pos, blob + t.offset, 16);  // the bytes past the token are overwritten next
    else
      std::memcpy(out + pos, blob + t.offset, t.length);
    pos += t.length;
  }
  FE_CHECK(pos == capacity, RuntimeError, "decode: the ids changed while being decoded");
}

}  // namespace fe::bpe
