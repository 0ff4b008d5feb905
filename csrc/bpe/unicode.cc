// Character-class lookup over the generated Unicode tables (see unicode.h).
#include "bpe/unicode.h"

#include <algorithm>
#include <iterator>

namespace fe::bpe {
namespace {
#include "bpe/unicode_tables.inc"
}  // namespace

const CharClass kAsciiClass[128] = {
#define O CharClass::kOther
#define L CharClass::kLetter
#define N CharClass::kNumber
#define S CharClass::kSpace
    // 0x00-0x1F: controls; \t \n \v \f \r are white space (0x1C-0x1F are not, in `regex`).
    O, O, O, O, O, O, O, O, O, S, S, S, S, S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
    // 0x20-0x3F: space, punctuation, digits
    S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, N, N, N, N, N, N, N, N, N, N, O, O, O, O, O, O,
    // 0x40-0x5F: @, A-Z, [\]^_
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
    // 0x60-0x7F: `, a-z, {|}~ DEL
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
#undef O
#undef L
#undef N
#undef S
};

CharClass char_class_slow(uint32_t cp) {
  const auto* end = std::end(kUnicodeRanges);
  const auto* it = std::upper_bound(std::begin(kUnicodeRanges), end, cp,
                                    [](uint32_t c, const UnicodeRange& r) { return c < r.first; });
  if (it == std::begin(kUnicodeRanges)) return CharClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CharClass::kOther;
}

}  // namespace fe::bpe
