#pragma once
/// Requests made by web pages the operator did not write (docs/security.md,
/// "Cross-site requests and DNS rebinding"):
/// - a state-changing request (any method but GET, HEAD and OPTIONS) whose
///   `Origin` is not this server's own (the `Host` it was sent to) nor one of
///   server.allowed_origins, or that says `Sec-Fetch-Site: cross-site` /
///   `same-site` without an Origin, is refused: a page on another origin
///   could otherwise check reservations out or make GoTel send mail with
///   `no-cors` POSTs and `text/plain` forms;
/// - when listening on loopback, a `Host` that is not a name of this server
///   (localhost, a loopback address, the listen address, server.allowed_hosts)
///   is refused, whatever the method: a DNS name rebound to 127.0.0.1 would
///   otherwise make this server same-origin with the attacker's page.
/// Clients that send neither `Origin` nor `Sec-Fetch-Site` (curl, cron jobs,
/// gotelctl, other nodes) pass as before.

#include "net/http_server.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

/// Immutable once built; thread-safe to read.
struct origin_policy {
  /// Origins besides this server's own allowed to make state-changing
  /// requests: `scheme://host[:port]`, lower case, default ports omitted.
  std::vector<std::string> allowed_origins;
  bool any_origin = false;  ///< server.allowed_origins = "*": no Origin check
  /// Checked only when `check_host`: names (lower case, no port) besides
  /// localhost and the loopback addresses.
  std::vector<std::string> host_names;
  bool check_host = false;  ///< the server listens on a loopback address
};

/// Builds the policy from server.allowed_origins and server.allowed_hosts
/// (comma-separated) for a server listening on `listen_host`; `more_names`
/// are this server's other names (its advertised address). nullopt and `error`
/// set when an origin is not `http(s)://host[:port]` or `*`, or a host entry
/// is not a host name.
std::optional<origin_policy> make_origin_policy(std::string_view listen_host,
                                                std::string_view allowed_origins,
                                                std::string_view allowed_hosts,
                                                const std::vector<std::string>& more_names,
                                                std::string& error);

/// Why `req` is refused (a 403 message), or nullopt when it may proceed. Pure.
std::optional<std::string> cross_site_refusal(const origin_policy& policy,
                                              const http_request& req);

/// Wraps `inner` so that every request passes cross_site_refusal first;
/// refused ones get a 403 JSON error and never reach `inner`.
http_handler with_origin_checks(origin_policy policy, http_handler inner);

}  // namespace gotel
