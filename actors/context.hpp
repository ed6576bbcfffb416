#pragma once
/// What every actor of a node shares: the store, the committer, the clocks,
/// id counters and policy. Owned by the node (actors/node.hpp); outlives every
/// actor that points at it.

#include "actors/schedule.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gotel {

struct node_context {
  storage::store* db = nullptr;
  storage::group_committer* committer = nullptr;
  /// Wall clock for display, storage and dedup keys. Deadlines use the actor
  /// clock (steady, virtual in tests).
  std::function<unix_ms()> wall_now;
  schedule_policy policy;
  std::size_t history_limit = 50;   ///< checkins kept per reservation
  std::string srv;                  ///< this node's address, for {srv}
  std::vector<std::string> channels;  ///< alerter names each alert goes to
  caf::actor dispatcher;            ///< receives (dispatch_atom, intents) once durable
  std::vector<caf::actor> timers;   ///< timer shards (actors/timer_shard.hpp)
  std::atomic<std::uint64_t> next_job_id{1};
  std::atomic<std::uint64_t> next_intent_id{1};
  std::atomic<std::uint64_t> alert_log_seq{0};
};

}  // namespace gotel
