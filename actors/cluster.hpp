#pragma once
/// The cluster actor: one per node, published on the node's cluster port with
/// CAF remoting. It authenticates peers (challenge-response over the shared
/// secret), heartbeats them, detects failures, elects the coordinator (the
/// first live node in config order, sticky while alive, with an epoch persisted
/// in RocksDB), replicates every change to the peers before it is acknowledged,
/// forwards writes from a worker to the coordinator, brings a (re)joining node
/// up to date, pushes back what it wrote while not every node confirmed it
/// (reconciliation), and alerts when a peer goes silent and when it returns.
/// The protocol, its states and the failure matrix: docs/cluster.md.
///
/// Messages (dynamically typed; remote ones only from authenticated peers):
///   local:  (replicate_atom, repl_change) -> bool        true once every live peer confirmed
///           (forward_atom, message)       -> reservation_record | error(no_coordinator)
///   remote: (hello_atom, id) -> nonce;  (auth_atom, id, hmac) -> bool
///           (heartbeat_atom, id, epoch, claims_coordinator)
///           (replicate_atom, id, epoch, repl_change) -> bool
///           (forward_atom, id, message) -> reservation_record
///           (sync_atom, after_key) -> sync_page
///           (reconcile_atom, id, reconcile_change) -> bool   coordinator only

#include "actors/cluster_tls.hpp"
#include "actors/context.hpp"
#include "actors/coordinator.hpp"
#include "cluster-config/config.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace gotel {

struct cluster_options {
  std::string self_id;
  std::vector<node_address> nodes;  ///< every node, this one included, in config order
  std::string secret;
  /// How peers are reached and this node is published; every node must use
  /// the same (a mismatch is logged by each side's connection attempts).
  cluster_transport transport = cluster_transport::plain;
  std::string transport_description;  ///< for the startup log
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds failure_timeout{3000};
  std::chrono::milliseconds request_timeout{5000};
};

/// Spawns the cluster actor and publishes it on this node's cluster address.
/// On success ctx->cluster is set and the node starts as a worker (no alerts)
/// until it is elected; on failure returns nullptr and sets `error`.
caf::actor start_cluster(caf::actor_system& sys, node_context* ctx, coordinator_actor coord,
                         cluster_options opts, std::string& error);

/// HMAC-SHA256 of `data` under `key`, lower-case hex (exposed for tests).
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace gotel
