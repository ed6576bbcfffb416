#pragma once
/// The cluster port's guard against strangers, in front of CAF (docs/security.md,
/// "Cluster port before authentication").
///
/// CAF 0.17 accepts every TCP connection on a published port and, for every
/// BASP header it reads, allocates the payload length the header announces (up
/// to 4 GiB) before it looks at the payload; it has no setting that bounds it.
/// So a stranger who sends one 32-byte header makes the node allocate and zero
/// up to 4 GiB, before any authentication. This guard:
///  - closes, at accept, every connection to the cluster port whose source
///    address is not one of the configured nodes' addresses;
///  - closes every connection whose BASP header announces a payload above
///    `max_unauthenticated_payload` unless it comes from a node that has
///    passed the cluster's handshake (or that this node authenticated to),
///    before CAF allocates anything for it;
///  - counts both (metrics: gotel_cluster_connections_refused_total).
/// It works by ELF interposition, like the OpenSSL shims in cluster_tls.cpp:
/// the executable defines libc's `accept` and CAF's
/// `caf::io::basp::instance::handle(execution_unit*, new_data_msg&, header&,
/// bool)`, which the BASP broker calls through the PLT, and each calls the
/// real one. Inactive (everything passes) until configure() is called.

#include <caf/node_id.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gotel::cluster_guard {

/// A payload above this from a node that has not authenticated closes its
/// connection. CAF's handshake and the cluster's hello/auth are a few hundred
/// bytes; catch-up pages and replicated changes only follow authentication.
inline constexpr std::uint32_t default_max_unauthenticated_payload = 1u << 20;

/// Activates the guard for the cluster port `port` (0: set later with
/// set_port) on `host`, accepting connections only from the addresses that
/// `peer_hosts` resolve to (numeric or DNS names, resolved now). Returns ""
/// or why a host could not be resolved.
std::string configure(const std::vector<std::string>& peer_hosts, std::uint16_t port,
                      std::uint32_t max_unauthenticated_payload
                      = default_max_unauthenticated_payload);

/// The port actually bound (when the configured one was 0).
void set_port(std::uint16_t port);

/// The nodes (CAF node ids) whose larger messages are accepted: those that
/// authenticated to this node, and those it authenticated to. Replaces the set.
void set_trusted(std::vector<caf::node_id> nodes);

struct counters {
  std::uint64_t refused_address = 0;    ///< closed at accept: not a configured node's address
  std::uint64_t refused_oversized = 0;  ///< closed: a payload above the bound before authentication
};
counters stats();

/// Whether a source address (numeric, as inet_ntop writes it) may connect to
/// the cluster port; true while the guard is inactive.
bool address_allowed(const std::string& numeric);

}  // namespace gotel::cluster_guard
