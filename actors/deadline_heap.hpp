#pragma once
/// An indexed min-heap of deadlines with one entry per owner: setting an
/// owner's deadline again moves its entry instead of adding one, so re-armed
/// deadlines never pile up as stale entries under checkin load (issue 15).
///
/// `T` is the owner; it carries its own position (`heap_pos`, npos when not in
/// the heap) and the heap holds pointers to it, so owners must not move while
/// they are in the heap (node-based maps keep their values in place).
/// Pure: no clock, no CAF; O(log n) set and erase, O(1) top.

#include <cstdint>
#include <vector>

namespace gotel {

template <class T>
class deadline_heap {
 public:
  static constexpr std::uint32_t npos = UINT32_MAX;

  bool empty() const { return nodes_.empty(); }
  std::size_t size() const { return nodes_.size(); }

  /// The owner with the earliest deadline; the heap must not be empty.
  T* top() const { return nodes_.front().owner; }
  std::int64_t top_due() const { return nodes_.front().due; }

  /// Sets `x`'s deadline to `due`, inserting it or moving its entry.
  void set(T* x, std::int64_t due) {
    if (x->heap_pos == npos) {
      x->heap_pos = static_cast<std::uint32_t>(nodes_.size());
      nodes_.push_back(node{due, x});
      up(x->heap_pos);
      return;
    }
    auto i = x->heap_pos;
    auto old = nodes_[i].due;
    nodes_[i].due = due;
    if (due < old)
      up(i);
    else
      down(i);
  }

  /// Removes `x`'s entry, if it has one.
  void erase(T* x) {
    auto i = x->heap_pos;
    if (i == npos)
      return;
    x->heap_pos = npos;
    auto last = static_cast<std::uint32_t>(nodes_.size() - 1);
    if (i != last) {
      auto moved = nodes_[last].owner;
      place(i, nodes_[last]);
      nodes_.pop_back();
      up(i);
      down(moved->heap_pos);
    } else {
      nodes_.pop_back();
    }
  }

  /// Removes and returns the earliest owner; the heap must not be empty.
  T* pop() {
    auto x = top();
    erase(x);
    return x;
  }

  void reserve(std::size_t n) { nodes_.reserve(n); }

 private:
  struct node {
    std::int64_t due;
    T* owner;
  };

  void place(std::uint32_t i, node n) {
    nodes_[i] = n;
    n.owner->heap_pos = i;
  }

  void up(std::uint32_t i) {
    auto n = nodes_[i];
    while (i > 0) {
      auto parent = (i - 1) / 2;
      if (nodes_[parent].due <= n.due)
        break;
      place(i, nodes_[parent]);
      i = parent;
    }
    place(i, n);
  }

  void down(std::uint32_t i) {
    auto size = static_cast<std::uint32_t>(nodes_.size());
    auto n = nodes_[i];
    for (;;) {
      auto child = 2 * i + 1;
      if (child >= size)
        break;
      if (child + 1 < size && nodes_[child + 1].due < nodes_[child].due)
        child += 1;
      if (nodes_[child].due >= n.due)
        break;
      place(i, nodes_[child]);
      i = child;
    }
    place(i, n);
  }

  std::vector<node> nodes_;
};

}  // namespace gotel
