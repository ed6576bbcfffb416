#pragma once
/// The node's own reservation rows (docs/cluster.md, "The cluster's own
/// rows"): every node, single node included, keeps `gotel/<node id>` checked
/// in, and the row of its role as the original GoTel names it,
/// `gotel/coordinator` (checked in by whichever node coordinates) or
/// `gotel/worker` (by every worker). The checkins run on this actor's timer,
/// on the node's actor system: a node whose actors stall stops checking in, so
/// its rows go late in every listing (and alert) like any other job.
///
/// Rows are created when a checkin finds none (first start, or after a user
/// checked one out: it re-appears at the next checkin); a restart finds them
/// stored and only checks them in. Their frequency follows the setting
/// (server.self_checkin_seconds x self_row_periods) and is put back if changed.
/// Writes go where a client's would: to the local coordinator actor when this
/// node coordinates (or is alone), else through the cluster actor's forward.

#include "actors/context.hpp"
#include "actors/coordinator.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace gotel {

/// The app of the node's own rows.
inline constexpr const char* self_row_app = "gotel";
/// A row's frequency is this many checkin periods: a few lost checkins (a
/// failover, a busy node) do not make it late. 10 x the default 30 s is the
/// original GoTel's 5 minutes.
inline constexpr std::int64_t self_row_periods = 10;

struct self_row_options {
  std::string node_id;
  std::chrono::seconds period{30};  ///< server.self_checkin_seconds
  /// How often the role is looked at between checkins: a node that becomes
  /// the coordinator checks in gotel/coordinator within this, not a period.
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds request_timeout{5000};
};

/// The reserve request that creates (or restores the frequency of) the row
/// `component`, with `notify` and `alert_msg` as given.
reserve_request self_row_request(const std::string& component, std::chrono::seconds period,
                                 std::string notify = {}, std::string alert_msg = {});

/// Reservation keys of every row a node of this cluster keeps (the role rows
/// and one per node id): server.max_reservations and _per_app neither refuse
/// nor count them (node_context::self_row_keys).
std::vector<std::string> self_row_keys(const std::vector<std::string>& node_ids);

/// Spawns the actor; its first checkin runs at once (a cluster node's as soon
/// as it knows who coordinates).
caf::actor spawn_self_row(caf::actor_system& sys, node_context* ctx, coordinator_actor coord,
                          self_row_options opts);

}  // namespace gotel
