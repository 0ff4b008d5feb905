// BERT's whole text-to-ids pipeline in one pass over each text's UTF-8: HF tokenizers'
// BertNormalizer, then BertPreTokenizer, then WordPiece (wordpiece.h), with the character offsets
// and word indices HF's Encoding reports. Devlin et al. 2019; the behaviour copied, down to the
// offsets, is HF tokenizers' (normalizers/bert.rs, pre_tokenizers/bert.rs, NormalizedString).
//
// Normalizer, in HF's order, each step optional:
//   clean_text     remove U+0000, U+FFFD and controls (Cc, Cf, Co, Cs but tab, newline, return);
//                  map white space (White_Space) to ' '. Unassigned code points stay.
//   chinese_chars  put ' ' before and after each CJK ideograph.
//   strip_accents  NFD, then drop category Mn.
//   lowercase      each character as Rust's char::to_lowercase (Python's str.lower of one
//                  character): no final-sigma rule, 'İ' -> "i̇" (when accents are kept).
// Pre-tokenizer: split on white space; every punctuation character (ASCII 33-47, 58-64, 91-96,
// 123-126, Unicode P*) is a word of its own. Each word becomes WordPiece tokens.
//
// Offsets are code point indices into the text, [start, end). Every character the normalizer
// makes inherits its source character's span: 'İx' -> "ix" is (0, 2); a removed character (a
// control, a stripped accent) is covered by no token: "cafe\u0301" -> "cafe" is (0, 4). HF's NFD
// assigns spans by position, so where canonical reordering moves a kept mark (a non-Mn with a
// non-zero combining class, e.g. U+1D16D) it gets the span of the character whose place it took;
// this is reproduced.
//
// Character classes come from Python's unicodedata (gen_bert_tables.py). HF's own tables
// (Rust's unicode_categories) are of an older Unicode, so code points whose Mn, P* or Cf status
// is newer than those tables are treated differently; the test lists them.
//
// Input is UTF-8 as Python writes a str: with errors="surrogatepass", a lone surrogate
// (ED A0..BF xx) is one code point, of category Cs, so clean_text removes it. Any other ill-formed
// byte counts as one character, U+FFFD (it never comes from a str).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "bpe/wordpiece.h"

namespace fe::bpe {

struct BertOptions {
  bool clean_text = true;
  bool chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// The tokens of texts, rows concatenated: text i's ids are ids[starts[i] .. starts[i + 1]).
// offsets (2 per id: start, end) and words (pre-tokenizer word index within its text) are
// filled only when asked for.
struct BertBatch {
  std::vector<uint32_t> ids;
  std::vector<int64_t> starts;  // n + 1
  std::vector<int64_t> offsets;
  std::vector<int32_t> words;
};

// Tokenizes n_texts texts on all threads (parallel_for over byte-balanced parts); out is
// replaced. The result does not depend on the thread count.
void bert_encode_batch(const WordPiece& wp, const BertOptions& opt, const std::string_view* texts,
                       int64_t n_texts, bool offsets, bool words, BertBatch& out);

}  // namespace fe::bpe
