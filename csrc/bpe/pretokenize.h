// Pre-tokenization: split text into the pieces BPE works on, with the exact semantics of the
// GPT-2 split pattern (tiktoken's r50k/p50k/gpt2 pattern_str):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// implemented as a hand-written scanner (no regex engine): at each position the alternatives are
// tried in the pattern's order, which reduces to (1) an ASCII contraction after an apostrophe,
// (2) an optional U+0020 followed by a run of letters, numbers or "other" characters, (3) a run of
// white space, minus its last character when a non-space follows and the run is longer than one.
// Text is UTF-8 bytes; ill-formed bytes are single "other" characters (see unicode.h).
// tests/tokenizers/test_pretokenize.py checks the scanner against the `regex` module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bpe/unicode.h"
#include "common/error.h"

namespace fe::bpe {

enum class Pattern : uint8_t { kGpt2 = 0 };

Pattern pattern_from_name(const std::string& name);  // "gpt2"; fe::ValueError otherwise

namespace detail {

// End (byte offset) of the run of code points of class `cls` starting at i. ASCII bytes take a
// table lookup; only other bytes go through the UTF-8 decoder.
inline size_t run_end(const uint8_t* s, size_t n, size_t i, CharClass cls) {
  while (i < n) {
    if (s[i] < 0x80) {
      if (kAsciiClass[s[i]] != cls) break;
      ++i;
      continue;
    }
    uint32_t cp;
    const int len = utf8_decode(s + i, n - i, &cp);
    if (class_of(cp) != cls) break;
    i += len;
  }
  return i;
}

// Length of an ASCII contraction ('s 't 'm 'd 'll 've 're) at s[i] == '\'', else 0.
inline size_t contraction(const uint8_t* s, size_t n, size_t i) {
  if (i + 1 >= n) return 0;
  const uint8_t c = s[i + 1];
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
  if (i + 2 >= n) return 0;
  const uint8_t c2 = s[i + 2];
  if ((c == 'l' && c2 == 'l') || (c == 'v' && c2 == 'e') || (c == 'r' && c2 == 'e')) return 3;
  return 0;
}

}  // namespace detail

// Calls emit(begin, end) for each piece of s[0, n), in order; the pieces tile the text.
template <class Emit>
void pretokenize_gpt2(const uint8_t* s, size_t n, Emit&& emit) {
  size_t i = 0;
  while (i < n) {
    if (s[i] == '\'') {
      if (const size_t len = detail::contraction(s, n, i)) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    // " ?X+" for X in letters, numbers, other: the optional space is U+0020 only.
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n) j = i + 1;
    uint32_t cp;
    int len = utf8_decode(s + j, n - j, &cp);
    CharClass cls = class_of(cp);
    if (j != i && cls == CharClass::kSpace) {  // a space before more white space: rule (3)
      j = i;
      len = 1;
      cls = CharClass::kSpace;
    }
    if (cls != CharClass::kSpace) {
      const size_t end = detail::run_end(s, n, j + len, cls);
      emit(i, end);
      i = end;
      continue;
    }
    // White space: \s+(?!\S) takes the run, or the run minus its last character when a
    // non-space follows; a single white space character before a non-space is \s+ alone.
    size_t last = i, k = i;
    while (k < n) {
      const int l = utf8_decode(s + k, n - k, &cp);
      if (class_of(cp) != CharClass::kSpace) break;
      last = k;
      k += l;
    }
    const size_t end = (k == n || last == i) ? k : last;
    emit(i, end);
    i = end;
  }
}

}  // namespace fe::bpe
