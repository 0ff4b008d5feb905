// Small open-addressing hash tables for the encoder's two lookups: a token pair -> (rank, id),
// and a byte string -> token id. Linear probing, power-of-two capacity, load factor <= 1/2, no
// deletion (the tables are built once and then only read, from any number of threads).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace fe::bpe {

inline uint64_t mix64(uint64_t x) {  // the SplitMix64 finalizer
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t hash_bytes(const uint8_t* s, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    h = mix64(h ^ w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s + i, n - i);
  return mix64(h ^ tail ^ (uint64_t{n - i} << 56));
}

inline size_t table_capacity(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n + 1) cap <<= 1;
  return cap;
}

// uint64 key -> uint64 value. The key ~0 is reserved.
class U64Map {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  explicit U64Map(size_t n = 0) { reset(n); }
  void reset(size_t n) {
    keys_.assign(table_capacity(n), kEmpty);
    values_.assign(keys_.size(), 0);
    mask_ = keys_.size() - 1;
  }
  // Inserts or overwrites; returns false if the key was already present (value unchanged).
  bool insert(uint64_t key, uint64_t value) {
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        return true;
      }
      if (keys_[i] == key) return false;
    }
  }
  const uint64_t* find(uint64_t key) const {
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  std::vector<uint64_t> keys_, values_;
  size_t mask_ = 0;
};

// byte string -> uint32 id; strings live in an external vector (the vocabulary).
class BytesToId {
 public:
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  void reset(const std::vector<std::string>* strings, size_t n) {
    strings_ = strings;
    slots_.assign(table_capacity(n), kEmpty);
    mask_ = slots_.size() - 1;
  }
  void insert(uint32_t id) {
    const std::string& s = (*strings_)[id];
    for (size_t i = hash_bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == kEmpty) {
        slots_[i] = id;
        return;
      }
      if ((*strings_)[slots_[i]] == s) return;  // first id wins
    }
  }
  uint32_t find(const uint8_t* s, size_t n) const {
    if (slots_.empty()) return kEmpty;
    for (size_t i = hash_bytes(s, n) & mask_;; i = (i + 1) & mask_) {
      const uint32_t id = slots_[i];
      if (id == kEmpty) return kEmpty;
      const std::string& t = (*strings_)[id];
      if (t.size() == n && std::memcmp(t.data(), s, n) == 0) return id;
    }
  }

 private:
  const std::vector<std::string>* strings_ = nullptr;
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
};

}  // namespace fe::bpe
