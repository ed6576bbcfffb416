#pragma once
/// A timer shard: one actor owning a min-heap of deadlines for many reservation
/// actors. It keeps exactly one CAF delayed message pending (for its earliest
/// entry), so millions of reservations cost one heap entry each (16 bytes)
/// instead of one CAF clock entry per re-arm, and idle CPU stays at zero.
///
/// Messages (dynamically typed):
///   (arm_atom, int64 due_ns, actor_addr target)   send target (wake_atom, due_ns)
///                                                 once the actor clock reaches due_ns
///   (count_atom)               -> uint64 entries pending
/// Time is the actor clock (`self->clock()`), so tests drive it virtually.
/// Entries hold weak references: a reservation that quits is not kept alive.

#include <caf/all.hpp>

#include <cstdint>
#include <queue>
#include <vector>

namespace gotel {

struct timer_entry {
  std::int64_t due_ns;
  caf::actor_addr target;
  bool operator>(const timer_entry& other) const { return due_ns > other.due_ns; }
};

struct timer_shard_state {
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> heap;
  /// Due time of the one pending tick; 0 = none pending.
  std::int64_t tick_ns = 0;
  static inline const char* name = "gotel.timer_shard";
};

/// Nanoseconds since the actor clock's epoch: how deadlines travel in messages.
inline std::int64_t to_ns(caf::actor_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline caf::actor_clock::time_point from_ns(std::int64_t ns) {
  return caf::actor_clock::time_point{
    std::chrono::duration_cast<caf::actor_clock::duration_type>(std::chrono::nanoseconds{ns})};
}

caf::behavior timer_shard(caf::stateful_actor<timer_shard_state>* self);

}  // namespace gotel
