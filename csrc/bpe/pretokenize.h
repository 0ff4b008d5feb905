// Pre-tokenization: split text into the pieces BPE works on, with the exact semantics of two
// split patterns, each a hand-written scanner (no regex engine) that tries the alternatives in
// the pattern's order at each position:
//
// gpt2 (tiktoken's r50k/p50k/gpt2):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// cl100k (tiktoken's cl100k_base, GPT-3.5/4):
//   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|
//   \s*[\r\n]|\s+(?!\S)|\s
//
// Text is UTF-8 bytes; ill-formed bytes are single "other" characters (see unicode.h).
// tests/tokenizers/test_pretokenize.py checks both scanners against the `regex` module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bpe/unicode.h"
#include "common/error.h"

namespace fe::bpe {

enum class Pattern : uint8_t { kGpt2 = 0, kCl100k = 1 };

Pattern pattern_from_name(const std::string& name);  // "gpt2", "cl100k"; fe::ValueError otherwise

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

// Class of the code point at s[i] (i < n) and its length in bytes.
inline CharClass class_at(const uint8_t* s, size_t n, size_t i, int* len, uint32_t* cp_out = nullptr) {
  uint32_t cp;
  if (s[i] < 0x80) {
    cp = s[i];
    *len = 1;
  } else {
    *len = utf8_decode(s + i, n - i, &cp);
  }
  if (cp_out) *cp_out = cp;
  return class_of(cp);
}

// cl100k's case-insensitive contraction at s[i] == '\'': 's 'd 'm 't 'll 've 're in any case; the
// `regex` module's simple case folding also matches U+017F (long s) for s. Returns its length.
inline size_t contraction_ci(const uint8_t* s, size_t n, size_t i) {
  auto lower = [](uint8_t c) -> uint8_t { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c | 0x20) : c; };
  if (i + 1 >= n) return 0;
  const uint8_t c = lower(s[i + 1]);
  if (c == 's' || c == 'd' || c == 'm' || c == 't') return 2;
  if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3;  // U+017F folds to 's'
  if (i + 2 >= n) return 0;
  const uint8_t c2 = lower(s[i + 2]);
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

// The cl100k scanner; same contract as pretokenize_gpt2.
template <class Emit>
void pretokenize_cl100k(const uint8_t* s, size_t n, Emit&& emit) {
  using detail::class_at;
  auto is_crlf = [](uint32_t cp) { return cp == '\r' || cp == '\n'; };
  size_t i = 0;
  while (i < n) {
    if (s[i] == '\'') {  // '(?i:[sdmt]|ll|ve|re)
      if (const size_t len = detail::contraction_ci(s, n, i)) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    int len0;
    uint32_t cp0;
    const CharClass c0 = class_at(s, n, i, &len0, &cp0);
    // [^\r\n\p{L}\p{N}]?+\p{L}++ : one optional non-letter, non-number, non-CR/LF character, then letters.
    {
      size_t j = i;
      if (c0 != CharClass::kLetter && c0 != CharClass::kNumber && !is_crlf(cp0)) j = i + len0;
      int l;
      if (j < n && class_at(s, n, j, &l) == CharClass::kLetter) {
        const size_t end = detail::run_end(s, n, j + l, CharClass::kLetter);
        emit(i, end);
        i = end;
        continue;
      }
    }
    // \p{N}{1,3}+
    if (c0 == CharClass::kNumber) {
      size_t end = i + len0;
      for (int k = 1; k < 3 && end < n; ++k) {
        int l;
        if (class_at(s, n, end, &l) != CharClass::kNumber) break;
        end += l;
      }
      emit(i, end);
      i = end;
      continue;
    }
    //  ?[^\s\p{L}\p{N}]++[\r\n]*+
    {
      size_t j = i;
      if (s[i] == ' ' && i + 1 < n) j = i + 1;
      int l;
      if (j < n && class_at(s, n, j, &l) == CharClass::kOther) {
        size_t end = detail::run_end(s, n, j + l, CharClass::kOther);
        while (end < n && (s[end] == '\r' || s[end] == '\n')) ++end;
        emit(i, end);
        i = end;
        continue;
      }
    }
    // White space (c0 is kSpace here): \s++$ | \s*[\r\n] | \s+(?!\S) | \s
    size_t k = i, last = i, last_crlf = SIZE_MAX;
    while (k < n) {
      int l;
      uint32_t cp;
      if (class_at(s, n, k, &l, &cp) != CharClass::kSpace) break;
      if (is_crlf(cp)) last_crlf = k;
      last = k;
      k += l;
    }
    size_t end;
    if (k == n) end = n;                              // \s++$
    else if (last_crlf != SIZE_MAX) end = last_crlf + 1;  // \s*[\r\n]: up to the last CR/LF of the run
    else if (last > i) end = last;                    // \s+(?!\S): the run minus its last character
    else end = k;                                     // \s
    emit(i, end);
    i = end;
  }
}

// Dispatch on the pattern.
template <class Emit>
void pretokenize(Pattern pattern, const uint8_t* s, size_t n, Emit&& emit) {
  if (pattern == Pattern::kCl100k)
    pretokenize_cl100k(s, n, emit);
  else
    pretokenize_gpt2(s, n, emit);
}

}  // namespace fe::bpe
