#pragma once
/// A GoTel node in one process: the store, the group committer, the actor
/// system with its timer shards, dispatcher and coordinator, restored from disk.
/// The daemon, the integration tests and the benchmarks build the same node.

#include "actors/context.hpp"
#include "actors/coordinator.hpp"
#include "alerters/channel.hpp"
#include "cluster-config/config.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gotel {

class node {
 public:
  /// Opens storage, starts the actors and restores every reservation, re-arming
  /// its deadline (those that passed while the node was down alert at once).
  /// nullptr and `error` set on failure. `wall_now` defaults to the system clock.
  /// `extra_channels` are alerters added to the configured ones (benchmarks use
  /// a recording channel to measure deadline lateness).
  static std::unique_ptr<node> start(
    const config& cfg, std::string& error, std::function<unix_ms()> wall_now = {},
    std::vector<std::shared_ptr<alert_channel>> extra_channels = {});
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  caf::actor_system& system() { return *system_; }
  const coordinator_actor& coordinator() const { return coordinator_; }
  const caf::actor& dispatcher() const { return ctx_.dispatcher; }
  node_context& context() { return ctx_; }
  storage::store& store() { return *db_; }
  const config& settings() const { return cfg_; }
  std::uint64_t restored() const { return restored_; }

  /// Stops the actors, then completes every queued write. Idempotent.
  void stop();

 private:
  node() = default;

  config cfg_;
  node_context ctx_;
  std::unique_ptr<storage::store> db_;
  std::unique_ptr<storage::group_committer> committer_;
  std::unique_ptr<caf::actor_system_config> system_cfg_;
  std::unique_ptr<caf::actor_system> system_;
  coordinator_actor coordinator_;
  caf::actor self_row_;  ///< checks in the node's own rows (actors/self_row.hpp)
  std::uint64_t restored_ = 0;
  bool stopped_ = false;
};

/// The wall clock in production.
unix_ms system_wall_now();

}  // namespace gotel
