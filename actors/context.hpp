#pragma once
/// What every actor of a node shares: the store, the committer, the clocks,
/// id counters and policy. Owned by the node (actors/node.hpp); outlives every
/// actor that points at it.

#include "actors/schedule.hpp"
#include "actors/state_counts.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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
  /// Reservations one app may hold (server.max_reservations_per_app); 0 = no
  /// limit. Enforced by the coordinator actor when it creates one.
  std::uint64_t max_reservations_per_app = 0;
  /// Reservations in all (server.max_reservations); 0 = no limit. Checked
  /// with max_reservations_per_app.
  std::uint64_t max_reservations = 0;
  /// Keys of the node's own rows (gotel/coordinator, gotel/worker,
  /// gotel/<node id>; actors/self_row.hpp): the limits above neither refuse
  /// nor count them, so they never take a user's slot.
  std::vector<std::string> self_row_keys;
  caf::actor dispatcher;            ///< receives (dispatch_atom, intents) once durable
  /// A reservation actor idle this long asks to be passivated
  /// (reservations.passivate_after_seconds); zero = never.
  std::chrono::milliseconds passivate_after{0};
  /// Reservation actors alive now (activated, not yet passivated); relaxed,
  /// for monitoring only (gotel_reservation_actors_active).
  std::atomic<std::uint64_t> active_reservations{0};
  std::atomic<std::uint64_t> next_job_id{1};
  std::atomic<std::uint64_t> next_intent_id{1};
  std::atomic<std::uint64_t> alert_log_seq{0};
  /// Checkins accepted by this node's reservation actors since start (the
  /// gotel_checkins_total counter on /metrics); relaxed, for monitoring only.
  std::atomic<std::uint64_t> checkins_total{0};
  /// Reservations per state (actors/state_counts.hpp), moved by every change
  /// a reservation persists; what /api/v1/status and /metrics report.
  /// Each reservation's share is kept by the coordinator (its registry entry).
  std::shared_ptr<state_counters> reservation_counts = std::make_shared<state_counters>();

  // -- cluster (actors/cluster.hpp); a single node is always the coordinator --
  /// The cluster actor, or nullptr for a single node.
  caf::actor cluster;
  /// This node is the coordinator (the one that sends reservation alerts).
  std::atomic<bool> coordinator{true};
  /// Alerts may be raised while the actor clock is before this (nanoseconds, the
  /// clock's epoch): a lease the cluster actor renews on every on-time tick, so a
  /// coordinator that was paused (SIGSTOP) cannot alert from a stale view.
  std::atomic<std::int64_t> alert_lease_ns{INT64_MAX};

  /// Whether reservation alerts may be raised at actor-clock time `now_ns`.
  bool may_alert(std::int64_t now_ns) const {
    return coordinator.load(std::memory_order_acquire)
           && now_ns < alert_lease_ns.load(std::memory_order_acquire);
  }

  /// What the cluster looks like from here, for /nodes and /is-coordinator.
  struct peer_view {
    std::string id;
    std::string http;
    bool alive = false;
    bool coordinator = false;
    std::int64_t last_heard_ms = 0;  ///< wall time; 0 = never
  };
  struct cluster_view {
    std::uint64_t epoch = 0;
    std::string coordinator_id;
    std::vector<peer_view> nodes;  ///< every node, this one included
  };
  cluster_view view() const {
    std::lock_guard<std::mutex> guard{view_mtx};
    return view_;
  }
  void set_view(cluster_view v) {
    std::lock_guard<std::mutex> guard{view_mtx};
    view_ = std::move(v);
  }

 private:
  mutable std::mutex view_mtx;
  cluster_view view_;
};

}  // namespace gotel
