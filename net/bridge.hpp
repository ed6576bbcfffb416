#pragma once
/// The bridge between Beast's I/O threads and the actors. An I/O thread never
/// blocks on an actor (BUILD-NOTES.md: that costs 10x throughput): it tells a
/// bridge actor what to ask, and the bridge calls back when the answer (or an
/// error, or the timeout) arrives. The callback runs on a scheduler thread and
/// must only post work to the connection's executor.

#include "actors/coordinator.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <functional>

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

/// Sends `request` (e.g. make_message(checkin_atom::value, req)) through `bridge`.
/// Thread-safe; callable from any thread.
void ask(const caf::actor& bridge, caf::message request, reply_fn fn);

}  // namespace gotel
