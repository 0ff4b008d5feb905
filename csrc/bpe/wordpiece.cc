#include "bpe/wordpiece.h"

#include "common/error.h"

namespace fe::bpe {

WordPiece::WordPiece(std::vector<std::string> vocab, uint32_t unk_id, std::string prefix, int64_t max_chars)
    : vocab_(std::move(vocab)), unk_(unk_id), max_chars_(max_chars) {
  FE_CHECK(!vocab_.empty() && vocab_.size() < (size_t{1} << 31), ValueError, "WordPiece: vocabulary size ",
           vocab_.size(), " is out of range");
  FE_CHECK(unk_ < vocab_.size(), ValueError, "WordPiece: unknown-token id ", unk_, " is outside the vocabulary");
  FE_CHECK(max_chars_ > 0, ValueError, "WordPiece: max_chars must be > 0, got ", max_chars_);
  stripped_.resize(vocab_.size());
  size_t n_cont = 0;
  for (size_t i = 0; i < vocab_.size(); ++i) {
    const std::string& v = vocab_[i];
    if (!prefix.empty() && v.size() > prefix.size() && v.compare(0, prefix.size(), prefix) == 0) {
      stripped_[i] = v.substr(prefix.size());
      ++n_cont;
    }
  }
  start_.reset(&vocab_, vocab_.size());
  cont_.reset(&stripped_, n_cont);
  for (uint32_t i = 0; i < vocab_.size(); ++i) {
    if (!vocab_[i].empty()) start_.insert(i);  // first id wins on duplicates, as in vocab.txt readers
    if (!stripped_[i].empty()) cont_.insert(i);
  }
}

void WordPiece::encode_word(const uint8_t* s, size_t n, std::vector<uint32_t>& out,
                            std::vector<size_t>* ends) const {
  if (n == 0) return;
  int64_t chars = 0;
  for (size_t i = 0; i < n; ++i) chars += (s[i] & 0xC0) != 0x80;
  if (chars > max_chars_) {
    out.push_back(unk_);
    if (ends) ends->push_back(n);
    return;
  }
  const size_t mark = out.size(), ends_mark = ends ? ends->size() : 0;
  size_t start = 0;
  while (start < n) {
    uint32_t found = BytesToId::kEmpty;
    size_t end = n;
    for (; end > start; --end) {
      if (end < n && (s[end] & 0xC0) == 0x80) continue;  // only at character boundaries
      found = start == 0 ? start_.find(s, end) : cont_.find(s + start, end - start);
      if (found != BytesToId::kEmpty) break;
    }
    if (found == BytesToId::kEmpty) {  // no entry matches: the whole word is unknown
      out.resize(mark);
      out.push_back(unk_);
      if (ends) {
        ends->resize(ends_mark);
        ends->push_back(n);
      }
      return;
    }
    out.push_back(found);
    if (ends) ends->push_back(end);
    start = end;
  }
}

}  // namespace fe::bpe
