#pragma once
/// Per-client limits for the HTTP server (docs/security.md): open connections
/// per client address and a request rate per client address (a token bucket).
/// Time is a parameter, so the arithmetic is tested without sleeping.
///
/// Thread-safety: every member function may be called from any thread.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace gotel {

struct client_limit_options {
  std::uint32_t max_connections = 0;  ///< per client address; 0 = unlimited
  double rate_per_second = 0;         ///< sustained requests/s per address; 0 = unlimited
  double burst = 0;                   ///< bucket size; < 1 means max(1, rate_per_second)
};

class client_limits {
 public:
  using clock = std::chrono::steady_clock;

  explicit client_limits(client_limit_options opts);

  /// Counts a new connection from `client`; false (and nothing counted) when
  /// the client already holds max_connections.
  bool open_connection(const std::string& client);
  /// Releases one connection counted by open_connection.
  void close_connection(const std::string& client);

  /// Takes one request token for `client` at `now`; false when its bucket is
  /// empty. `retry_after_s` is then how long until a token is back (>= 1).
  bool allow_request(const std::string& client, clock::time_point now,
                     std::uint32_t& retry_after_s);

  /// Open connections of `client` (tests, diagnostics).
  std::uint32_t connections(const std::string& client) const;

  const client_limit_options& options() const { return opts_; }

 private:
  struct entry {
    std::uint32_t connections = 0;
    double tokens = 0;
    clock::time_point refilled{};
    bool bucket_started = false;
  };
  /// Drops idle entries (no connection, full bucket) once the table is large,
  /// so a scan from many addresses cannot grow it without bound.
  void prune(clock::time_point now);

  client_limit_options opts_;
  double burst_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> clients_;
};

/// File descriptors kept free for everything but HTTP connections (RocksDB's
/// files, alert deliveries, the cluster, logs): an eighth of the limit, at
/// least 128.
std::uint64_t fd_reserve(std::uint64_t fd_limit);

/// How many HTTP connections may be open at once when the process may open
/// `fd_limit` files (RLIMIT_NOFILE): `configured` (server.max_connections),
/// but never into fd_reserve(fd_limit), and never more than half of a limit
/// too small to keep that reserve. Pure: docs/security.md.
std::uint32_t connection_cap(std::uint64_t fd_limit, std::uint64_t configured);

}  // namespace gotel
