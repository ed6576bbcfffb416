#pragma once
/// A string-keyed hash map whose values never move: nodes live in fixed
/// chunks of 4,096 (a freed node is reused, never returned), and a flat
/// open-addressing index of 8-byte slots (32 bits of the key's hash, 32 bits
/// of node number) finds them, with linear probing and erase by backward shift.
///
/// It replaces std::unordered_map for the coordinator's registry and per-app
/// counts (issue 15): at 1M reservations a restart spent 24% of its time
/// walking those maps' bucket chains (a cache miss per node, one malloc per
/// insert and one free at shutdown). Here a lookup reads one index slot and,
/// when its hash bits match, one node. Node addresses stay valid until the
/// node is erased, as the deadline heap and the uuid index need. Pure.

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gotel {

template <class V>
class stable_map {
 public:
  struct node {
    std::string first;
    V second{};
  };

  class iterator {
   public:
    iterator() = default;
    node& operator*() const { return m_->node_at(i_); }
    node* operator->() const { return &m_->node_at(i_); }
    iterator& operator++() {
      i_ = m_->next_live(i_ + 1);
      return *this;
    }
    bool operator==(const iterator& other) const { return i_ == other.i_; }

   private:
    friend class stable_map;
    iterator(stable_map* m, std::uint32_t i) : m_(m), i_(i) {}
    stable_map* m_ = nullptr;
    std::uint32_t i_ = npos;
  };

  stable_map() = default;
  stable_map(const stable_map&) = delete;
  stable_map& operator=(const stable_map&) = delete;

  iterator begin() { return {this, next_live(0)}; }
  iterator end() { return {this, npos}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  iterator find(std::string_view k) {
    if (size_ == 0)
      return end();
    auto f = fragment(k);
    for (auto i = home(f);; i = next(i)) {
      auto s = slots_[i];
      if (s == 0)
        return end();
      if (static_cast<std::uint32_t>(s >> 32) == f && node_at(index_of(s)).first == k)
        return {this, index_of(s)};
    }
  }

  std::size_t count(std::string_view k) { return find(k) == end() ? 0 : 1; }

  V& at(std::string_view k) {
    auto i = find(k);
    if (i == end())
      throw std::out_of_range("stable_map::at: no such key");
    return i->second;
  }

  /// The node for `k` and true when it was added (with a value-initialized V).
  std::pair<iterator, bool> try_emplace(std::string_view k) {
    if (auto i = find(k); i != end())
      return {i, false};
    if ((size_ + 1) * 8 > slots_.size() * 7)
      rehash(slots_.empty() ? 16 : slots_.size() * 2);
    auto idx = allocate();
    auto& n = node_at(idx);
    n.first.assign(k);
    auto f = fragment(k);
    auto i = home(f);
    while (slots_[i] != 0)
      i = next(i);
    slots_[i] = (std::uint64_t{f} << 32) | (std::uint64_t{idx} + 1);
    ++size_;
    return {{this, idx}, true};
  }

  V& operator[](std::string_view k) { return try_emplace(k).first->second; }

  /// Removes the node `it` points at (not end()); other nodes stay put.
  void erase(iterator it) {
    auto idx = it.i_;
    auto f = fragment(node_at(idx).first);
    auto hole = home(f);
    while (slots_[hole] == 0 || index_of(slots_[hole]) != idx)
      hole = next(hole);
    for (auto j = next(hole); slots_[j] != 0; j = next(j)) {
      auto h = home(static_cast<std::uint32_t>(slots_[j] >> 32));
      // The slot at j may fill the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = 0;
    release(idx);
    --size_;
  }

  /// Room for `n` keys without growing the index.
  void reserve(std::size_t n) {
    std::size_t want = 16;
    while (want * 7 < n * 8)
      want *= 2;
    if (want > slots_.size())
      rehash(want);
    chunks_.reserve((n + chunk_size - 1) / chunk_size);
  }

 private:
  static constexpr std::uint32_t npos = UINT32_MAX;
  static constexpr std::uint32_t chunk_bits = 12;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;

  static std::uint32_t fragment(std::string_view k) {
    auto h = static_cast<std::uint64_t>(std::hash<std::string_view>{}(k)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::uint32_t>(h >> 32);
  }
  static std::uint32_t index_of(std::uint64_t slot) {
    return static_cast<std::uint32_t>(slot & 0xFFFFFFFFu) - 1;
  }
  std::size_t home(std::uint32_t f) const { return f >> (32 - bits_); }
  std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

  node& node_at(std::uint32_t i) { return chunks_[i >> chunk_bits][i & (chunk_size - 1)]; }

  std::uint32_t next_live(std::uint32_t i) const {
    for (; i < used_; ++i)
      if (live_[i])
        return i;
    return npos;
  }

  std::uint32_t allocate() {
    std::uint32_t idx;
    if (!free_.empty()) {
      idx = free_.back();
      free_.pop_back();
    } else {
      if (used_ == npos - 1)
        throw std::length_error("stable_map: too many entries");
      if ((used_ >> chunk_bits) == chunks_.size())
        chunks_.push_back(std::make_unique<node[]>(chunk_size));
      idx = used_++;
      live_.push_back(false);
    }
    live_[idx] = true;
    return idx;
  }

  void release(std::uint32_t idx) {
    auto& n = node_at(idx);
    n.first = std::string{};
    n.second = V{};
    live_[idx] = false;
    free_.push_back(idx);
  }

  void rehash(std::size_t capacity) {  // a power of two, at most 2^32
    std::vector<std::uint64_t> old;
    old.swap(slots_);
    slots_.assign(capacity, 0);
    bits_ = 0;
    for (auto c = capacity; c > 1; c >>= 1)
      ++bits_;
    for (auto s : old) {
      if (s == 0)
        continue;
      auto i = home(static_cast<std::uint32_t>(s >> 32));
      while (slots_[i] != 0)
        i = next(i);
      slots_[i] = s;
    }
  }

  std::vector<std::unique_ptr<node[]>> chunks_;
  std::vector<bool> live_;
  std::vector<std::uint32_t> free_;
  std::uint32_t used_ = 0;
  std::vector<std::uint64_t> slots_;
  unsigned bits_ = 0;
  std::size_t size_ = 0;
};

}  // namespace gotel
