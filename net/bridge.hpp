#pragma once
/// The bridge between Beast's I/O threads and the actors. An I/O thread never
/// blocks on an actor (BUILD-NOTES.md: that costs 10x throughput): it tells a
/// bridge actor what to ask, and the bridge calls back when the answer (or an
/// error, or the timeout) arrives. The callback runs on a scheduler thread and
/// must only post work to the connection's executor.

#include "actors/coordinator.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace gotel {

/// Called exactly once with the reservation or the error.
using reply_fn = std::function<void(caf::expected<reservation_record>)>;

using ask_atom = caf::atom_constant<caf::atom("ask")>;

}  // namespace gotel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(gotel::reply_fn)

namespace gotel {

/// A bridge asking `coordinator`, failing requests after `timeout`. In a
/// cluster, a worker's bridge sends writes to the coordinator through the
/// cluster actor, and applies them locally only when no coordinator is
/// reachable (a monitor prefers accepting checkins to refusing them).
caf::actor spawn_bridge(caf::actor_system& sys, coordinator_actor coordinator,
                        const node_context* ctx, std::chrono::milliseconds timeout);

/// Whether every bridge is alive, for GET / and /metrics.
struct bridge_health {
  std::atomic<bool> supervised{true};      ///< false once the supervisor is gone
  std::atomic<bool> stopping{false};       ///< the api is shutting down
  std::atomic<std::uint64_t> restarts{0};  ///< bridges that died and were respawned
  std::atomic<std::uint64_t> lost{0};      ///< bridges that died and could not be

  bool healthy() const {
    return stopping.load() || (supervised.load() && lost.load() == 0);
  }
  /// Why not healthy() ("" when it is).
  std::string why() const;
};

/// Monitors every actor in `bridges` (guarded by `mtx`) and replaces one that
/// exits by a new one from `spawn`, counting it in `health`. The references
/// must outlive the supervisor (stop it, and wait for it, first).
caf::actor spawn_bridge_supervisor(caf::actor_system& sys, std::vector<caf::actor>& bridges,
                                   std::mutex& mtx, std::function<caf::actor()> spawn,
                                   bridge_health& health);

/// Calls `fn` with `value`; if `fn` throws, logs it and calls `fn` once more
/// with an errc::internal error (answered 500), so a bug never ends a bridge.
void deliver(const reply_fn& fn, caf::expected<reservation_record> value);

/// Sends `request` (e.g. make_message(checkin_atom::value, req)) through `bridge`.
/// Thread-safe; callable from any thread.
void ask(const caf::actor& bridge, caf::message request, reply_fn fn);

}  // namespace gotel
