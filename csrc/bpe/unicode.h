// UTF-8 decoding and the character classes of the pre-tokenizer patterns.
//
// Classes follow the `regex` module (which tiktoken and HF tokenizers use): \p{L} -> kLetter,
// \p{N} -> kNumber, \s -> kSpace, everything else kOther. The tables are generated from `regex`
// by gen_unicode_tables.py. Bytes that are not well-formed UTF-8 (Unicode Table 3-7) decode one
// byte at a time as kOther, exactly as Python's "surrogateescape" decoding turns each into a lone
// surrogate (class Cs, matched by none of \p{L}, \p{N}, \s).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fe::bpe {

enum class CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

struct UnicodeRange {
  uint32_t first, last;
  CharClass cls;
};

// Class of a non-ASCII code point (binary search over the generated ranges).
CharClass char_class_slow(uint32_t cp);

// ASCII classes, indexed by byte.
extern const CharClass kAsciiClass[128];

inline CharClass char_class(uint32_t cp) { return cp < 128 ? kAsciiClass[cp] : char_class_slow(cp); }

// Marks a byte that is not part of well-formed UTF-8.
constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFFu;

// Decodes the code point at s[0 .. n), n >= 1. Returns its length in bytes (1..4) and stores it
// in *cp; an ill-formed or truncated sequence gives length 1 and kInvalidCodePoint.
inline int utf8_decode(const uint8_t* s, size_t n, uint32_t* cp) {
  const uint8_t b0 = s[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  auto cont = [&](size_t i, uint8_t lo, uint8_t hi) { return i < n && s[i] >= lo && s[i] <= hi; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (cont(1, 0x80, 0xBF)) {
      *cp = (uint32_t(b0 & 0x1F) << 6) | (s[1] & 0x3F);
      return 2;
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    if (cont(1, lo, hi) && cont(2, 0x80, 0xBF)) {
      *cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
      return 3;
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF)) {
      *cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(s[1] & 0x3F) << 12) | (uint32_t(s[2] & 0x3F) << 6) |
            (s[3] & 0x3F);
      return 4;
    }
  }
  *cp = kInvalidCodePoint;
  return 1;
}

inline CharClass class_of(uint32_t cp) { return cp == kInvalidCodePoint ? CharClass::kOther : char_class(cp); }

}  // namespace fe::bpe
