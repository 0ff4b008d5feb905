// Whitespace-tokenized corpora for word2vec: count the words of a file, and turn a file into
// token ids (the fast path: no Python objects per word).
//
// A file is UTF-8 text (check_utf8 refuses anything else) with one sentence per line; words are separated by ASCII
// whitespace (space, tab, \r, \v, \f). Lines may be arbitrarily long: nothing is truncated (a
// window never crosses a line end). Both passes split the file into line-aligned shards, one per
// thread, and give the same result for any thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"

namespace fe::w2v {

struct WordCountTable {
  std::vector<std::string> words;  // by count descending, ties by bytes ascending
  std::vector<int64_t> counts;
  int64_t total_words = 0;  // all word occurrences
  int64_t lines = 0;
};

// Reads the whole file (fe::RuntimeError if it cannot).
std::string read_file(const std::string& path);

// Throws fe::ValueError naming `path` and the byte offset and line of the first byte of `data`
// (that file's contents) that is not well-formed UTF-8. Parallel; memory-bound on ASCII text.
void check_utf8(const std::string& data, const std::string& path);

// Counts every word of `data`. progress: done/total in bytes.
WordCountTable count_words(const std::string& data, Progress* progress = nullptr);

// The ids of the words of `data` in `vocab` (words not in it are dropped), one sentence per line:
// sentence s is ids[offsets[s], offsets[s + 1]). Empty sentences are dropped.
void encode_words(const std::string& data, const std::vector<std::string>& vocab, std::vector<int32_t>& ids,
                  std::vector<int64_t>& offsets, Progress* progress = nullptr);

}  // namespace fe::w2v
