#pragma once
/// Actor-clock time points as they travel in messages and sit in deadline
/// heaps: nanoseconds since the actor clock's epoch (steady in production,
/// virtual in tests).

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>

namespace gotel {

inline std::int64_t to_ns(caf::actor_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline caf::actor_clock::time_point from_ns(std::int64_t ns) {
  return caf::actor_clock::time_point{
    std::chrono::duration_cast<caf::actor_clock::duration_type>(std::chrono::nanoseconds{ns})};
}

}  // namespace gotel
