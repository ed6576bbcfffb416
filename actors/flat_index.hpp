#pragma once
/// A flat hash index from a small key to a pointer: open addressing with
/// linear probing in one array of (key, pointer) slots, erase by backward
/// shift (no tombstones), so a lookup touches one or two cache lines and an
/// insert allocates nothing until the table doubles.
///
/// Written for the coordinator's ping-uuid index (issue 15: a restart with 1M
/// reservations spent 7.4% of its time walking the buckets of the
/// node-based std::unordered_map it replaces, plus a malloc per entry).
/// A null pointer marks a free slot, so values must not be null. Pure.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace gotel {

template <class Key, class T, class Hash>
class flat_index {
 public:
  struct slot {
    Key first{};
    T* second = nullptr;
  };
  using iterator = slot*;

  /// What find() returns for a missing key.
  iterator end() { return nullptr; }

  std::size_t size() const { return size_; }

  iterator find(const Key& k) {
    if (size_ == 0)
      return end();
    for (auto i = home(k);; i = next(i)) {
      auto& s = slots_[i];
      if (s.second == nullptr)
        return end();
      if (s.first == k)
        return &s;
    }
  }

  /// Maps `k` to `v` (non-null), replacing what `k` mapped to.
  void assign(const Key& k, T* v) {
    if (v == nullptr)
      throw std::invalid_argument("flat_index: null value");
    if ((size_ + 1) * 8 > slots_.size() * 7)
      rehash(slots_.empty() ? 16 : slots_.size() * 2);
    for (auto i = home(k);; i = next(i)) {
      auto& s = slots_[i];
      if (s.second == nullptr) {
        s.first = k;
        s.second = v;
        ++size_;
        return;
      }
      if (s.first == k) {
        s.second = v;
        return;
      }
    }
  }

  /// Removes the slot `it` (from find(), not end()). Slots after it in its
  /// probe run move back, so no lookup ever walks past a hole.
  void erase(iterator it) {
    auto hole = static_cast<std::size_t>(it - slots_.data());
    for (auto j = next(hole);; j = next(j)) {
      auto& s = slots_[j];
      if (s.second == nullptr)
        break;
      auto h = home(s.first);
      // s may fill the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        slots_[hole] = s;
        hole = j;
      }
    }
    slots_[hole] = slot{};
    --size_;
  }

  /// Room for `n` keys without a rehash.
  void reserve(std::size_t n) {
    std::size_t want = 16;
    while (want * 7 < n * 8)
      want *= 2;
    if (want > slots_.size())
      rehash(want);
  }

  /// Calls f(key, value) for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (auto& s : slots_)
      if (s.second != nullptr)
        f(s.first, s.second);
  }

  void clear() {
    slots_.clear();
    size_ = 0;
  }

 private:
  std::size_t home(const Key& k) const {
    // Fibonacci hashing: the top bits of the product, so a hash whose low
    // bits repeat still spreads over the table.
    auto h = static_cast<std::uint64_t>(Hash{}(k)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h >> shift_);
  }
  std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void rehash(std::size_t capacity) {  // a power of two
    std::vector<slot> old;
    old.swap(slots_);
    slots_.assign(capacity, slot{});
    shift_ = 64;
    for (auto c = capacity; c > 1; c >>= 1)
      --shift_;
    size_ = 0;
    for (auto& s : old)
      if (s.second != nullptr)
        assign(s.first, s.second);
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

}  // namespace gotel
