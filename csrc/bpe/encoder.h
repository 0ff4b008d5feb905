// BPE encoding and decoding with a fixed vocabulary and merge table.
//
// A piece (one pre-token, as bytes) starts as its byte tokens. Then, repeatedly, among adjacent
// pairs that have a merge rule, the one with the lowest rank is merged (the leftmost on equal
// ranks), until no rule applies. This is GPT-2's `bpe()` and tiktoken's byte-pair merge, and
// gives exactly the tokens training produced for the words it saw.
//
// - Merge rules: (left id, right id) -> (rank, new id). Several rules may make the same token
//   (a tiktoken vocabulary imported with every split of every token, all at the token's rank).
// - Pieces whose bytes are a token that encodes to itself skip the loop (checked at build time
//   for every token, so the shortcut never changes a result).
// - Long pieces (no spaces for megabytes) use a heap over a linked list: O(n log n), not O(n^2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpe/hash.h"
#include "bpe/pretokenize.h"

namespace fe::bpe {

struct MergeRule {
  uint32_t left, right, rank, id;
};

class Encoder {
 public:
  // vocab[id] = the token's bytes; an empty entry marks an unused id (tiktoken vocabularies leave
  // gaps before some special tokens), which decode rejects.
  // Throws fe::ValueError on an inconsistent table (an id out of range, a rule whose id's bytes
  // are not left + right, a byte without a token).
  Encoder(std::vector<std::string> vocab, const std::vector<MergeRule>& rules, Pattern pattern);
  // The lookup tables point into vocab_: an Encoder stays where it was built.
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends the tokens of s[0, n) (no special-token handling).
  void encode_ordinary(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const;
  // Same result as encode_ordinary, on all threads for long texts: the text is cut where an ASCII
  // letter or digit meets ASCII white space. In both patterns such a cut is always a piece
  // boundary (no piece holds a letter or digit followed by white space; cl100k's punctuation
  // pieces may absorb a following newline, hence not any non-space), and the pieces on either side
  // do not depend on the other side, so the tokens are identical.
  void encode_ordinary_parallel(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const;
  // encode_ordinary, and for each token appended also (when the vector is given) the index of its
  // piece (pre-token) in s, and its [start, end) in code points of s. A token that holds part of a
  // multi-byte character covers that whole character, as HF tokenizers reports byte-level offsets;
  // every byte that is not a UTF-8 continuation byte starts a character.
  void encode_ordinary_aligned(const uint8_t* s, size_t n, std::vector<uint32_t>& out, std::vector<int32_t>* words,
                               std::vector<int64_t>* offsets) const;
  // Appends the tokens of one piece.
  void encode_piece(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const;
  // Decoding, in two steps into a caller's buffer (a Python bytes object, so no second copy):
  // decoded_size checks every id and returns the byte count; decode_into writes them, checking
  // again (the ids may have changed in between) and never writing past `capacity`. An id out
  // of range or unused is an fe::ValueError naming it and its position.
  size_t decoded_size(const uint32_t* ids, size_t n) const;
  void decode_into(const uint32_t* ids, size_t n, char* out, size_t capacity) const;

  size_t vocab_size() const { return vocab_.size(); }
  const std::string& token_bytes(uint32_t id) const { return vocab_[id]; }
  Pattern pattern() const { return pattern_; }
  // id of the token whose bytes are s[0, n), or ~0u.
  uint32_t token_id(const uint8_t* s, size_t n) const { return any_.find(s, n); }

 private:
  // Merges parts[0, m) in place (m <= 128); returns the new length.
  size_t merge_small(uint32_t* parts, size_t m) const;
  void merge_large(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const;
  // The same merges in O(n + R) for R distinct ranks (plus sorting within a rank, linear on runs
  // of one byte): a bucket per rank instead of a heap. Pairs that rank at or below the rank being merged when
  // they appear (never, with monotone rules such as trained BPE's) go through a small heap.
  void merge_buckets(const uint8_t* s, size_t n, std::vector<uint32_t>& out) const;
  // (rank, id) of the rule for (a, b), or nullptr.
  const uint64_t* rule(uint32_t a, uint32_t b) const { return rules_.find((uint64_t{a} << 32) | b); }

  std::vector<std::string> vocab_;
  // Decoding table: token id -> (offset, length) of its bytes in blob_ (length 0: unused id).
  // Every token's bytes in one string, padded with 16 zero bytes, so decoding reads a small
  // table (8 bytes per id) and copies short tokens with one fixed 16-byte move.
  struct Span {
    uint32_t offset, length;
  };
  std::vector<Span> spans_;
  std::string blob_;
  uint32_t byte_token_[256];
  // (left << 32 | right) -> (rank << 32 | id), the rank renumbered 0..R-1 in the same order, so
  // nothing sized by rank depends on how large the ranks are.
  U64Map rules_;
  BytesToId whole_;   // token bytes -> id, only for tokens that encode to themselves
  BytesToId any_;     // token bytes -> id, every token (for token_id lookups)
  Pattern pattern_;
  uint32_t max_rank_ = 0;  // R - 1 (renumbered)
};

}  // namespace fe::bpe
