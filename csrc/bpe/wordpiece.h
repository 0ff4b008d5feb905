// WordPiece sub-words (BERT; Schuster & Nakajima 2012, Wu et al. 2016): each word becomes the
// longest vocabulary entry that starts it, then the longest "##"-continuation that starts the
// rest, and so on; a word with a part no entry matches, or longer than `max_chars` characters,
// becomes the single unknown token. This is BERT's and HF tokenizers' greedy longest-match-first.
//
// Words arrive already normalized and split: by bert_text.h, or by fastembed/tokenizers/wordpiece.py
// (with Python's Unicode tables) for encode_words.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpe/hash.h"

namespace fe::bpe {

class WordPiece {
 public:
  // vocab[id] = entry (UTF-8); entries starting with `prefix` are continuations.
  WordPiece(std::vector<std::string> vocab, uint32_t unk_id, std::string prefix, int64_t max_chars);
  WordPiece(const WordPiece&) = delete;
  WordPiece& operator=(const WordPiece&) = delete;

  // Appends the ids of one word (UTF-8) to out; with `ends`, appends where each piece ends in the
  // word (bytes), the unknown token covering the whole word.
  void encode_word(const uint8_t* s, size_t n, std::vector<uint32_t>& out,
                   std::vector<size_t>* ends = nullptr) const;
  size_t vocab_size() const { return vocab_.size(); }
  const std::string& token(uint32_t id) const { return vocab_[id]; }

 private:
  std::vector<std::string> vocab_;
  std::vector<std::string> stripped_;  // entries without the continuation prefix (others empty)
  BytesToId start_, cont_;             // word-initial entries; continuation entries by their rest
  uint32_t unk_;
  int64_t max_chars_;
};

}  // namespace fe::bpe
