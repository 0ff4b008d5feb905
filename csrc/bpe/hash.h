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

// The first min(n, 8) bytes of s as a little-endian integer, zero padded, with fixed-size
// loads only (a variable-length memcpy would be a library call on the hottest path).
inline uint64_t load_prefix8(const uint8_t* s, size_t n) {
  if (n >= 8) {
    uint64_t w;
    std::memcpy(&w, s, 8);
    return w;
  }
  if (n >= 4) {  // two overlapping 4-byte loads
    uint32_t lo, hi;
    std::memcpy(&lo, s, 4);
    std::memcpy(&hi, s + n - 4, 4);
    return uint64_t{lo} | (uint64_t{hi} << (8 * (n - 4)));
  }
  if (n == 0) return 0;
  return uint64_t{s[0]} | (uint64_t{s[n / 2]} << (8 * (n / 2))) | (uint64_t{s[n - 1]} << (8 * (n - 1)));
}

inline uint64_t hash_bytes(const uint8_t* s, size_t n) {
  uint64_t h = mix64(load_prefix8(s, n) ^ (uint64_t{n} << 56));
  for (size_t i = 8; i < n; i += 8) h = mix64(h ^ load_prefix8(s + i, n - i));
  return h;
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
    slots_.assign(table_capacity(n), Slot{kEmpty, 0});
    mask_ = slots_.size() - 1;
  }
  // Inserts; returns false (value unchanged) if the key was already present.
  bool insert(uint64_t key, uint64_t value) {
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = Slot{key, value};
        return true;
      }
      if (slots_[i].key == key) return false;
    }
  }
  const uint64_t* find(uint64_t key) const {
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  struct Slot {
    uint64_t key, value;  // key and value side by side: one cache line per probe
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// byte string -> uint32 id, for strings owned by an external vector (the vocabulary). Each slot
// keeps the string's first 8 bytes and length, so strings of up to 8 bytes (most pieces) are
// matched without touching the vocabulary.
class BytesToId {
 public:
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  void reset(const std::vector<std::string>* strings, size_t n) {
    strings_ = strings;
    slots_.assign(table_capacity(n), Slot{0, 0, kEmpty});
    mask_ = slots_.size() - 1;
  }
  void insert(uint32_t id) {
    const std::string& str = (*strings_)[id];
    const auto* s = reinterpret_cast<const uint8_t*>(str.data());
    const Slot slot{load_prefix8(s, str.size()), static_cast<uint32_t>(str.size()), id};
    for (size_t i = hash_bytes(s, str.size()) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].id == kEmpty) {
        slots_[i] = slot;
        return;
      }
      if (matches(slots_[i], slot.prefix, s, str.size())) return;  // first id wins
    }
  }
  uint32_t find(const uint8_t* s, size_t n) const {
    if (slots_.empty()) return kEmpty;
    const uint64_t prefix = load_prefix8(s, n);
    for (size_t i = hash_bytes(s, n) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id == kEmpty) return kEmpty;
      if (matches(slot, prefix, s, n)) return slot.id;
    }
  }

 private:
  struct Slot {
    uint64_t prefix;
    uint32_t length, id;
  };
  bool matches(const Slot& slot, uint64_t prefix, const uint8_t* s, size_t n) const {
    if (slot.prefix != prefix || slot.length != n) return false;
    return n <= 8 || std::memcmp((*strings_)[slot.id].data() + 8, s + 8, n - 8) == 0;
  }

  const std::vector<std::string>* strings_ = nullptr;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace fe::bpe
