#pragma once
/// API keys (docs/security.md). Keys are configured as the SHA-256 of the key
/// in hex, so the config file holds no usable secret; a client sends the key
/// itself as `X-Api-Key: <key>` or `Authorization: Bearer <key>`.
/// Read-write keys may do anything; read-only keys may only GET (and HEAD) and
/// not ping. Ping keys (server.ping_keys) may only check in, for one app's
/// reservations (or every app's); they may also be sent as `?key=` or stand in
/// the URL as Healthchecks' `/ping/<ping-key>/<slug>`.
/// With no key configured the API is open (main.cpp refuses that on a
/// non-loopback address unless server.open_api is set).

#include "net/http_server.hpp"
#include "net/requests.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gotel {

/// A per-project ping key: it may only send check-in-type signals (checkin,
/// start, fail, pings) for reservations of `app`.
struct ping_key {
  std::string app;     ///< as configured; "*" = every app
  std::string digest;  ///< sha256 hex digest, lower case
};

/// The configured key hashes. Immutable after construction; thread-safe to read.
struct auth_policy {
  std::vector<std::string> read_write;  ///< sha256 hex digests, lower case
  std::vector<std::string> read_only;
  std::vector<ping_key> ping;
  /// /ping/<uuid> needs no key (server.open_uuid_pings): the uuid is the
  /// credential.
  bool open_uuid_pings = false;

  /// True when any key is configured, i.e. requests must present one. Ping keys
  /// alone count: everything but check-ins then needs a key nobody holds.
  bool enabled() const { return !read_write.empty() || !read_only.empty() || !ping.empty(); }
};

/// Parses the comma-separated digest lists of server.api_keys and
/// server.read_only_api_keys; nullopt and `error` set when an entry is not 64 hex
/// digits (a likely raw key pasted by mistake: it is not echoed).
std::optional<auth_policy> make_auth_policy(std::string_view read_write_csv,
                                            std::string_view read_only_csv, std::string& error);

/// Parses server.ping_keys: comma-separated `app:digest` entries (`*:digest`
/// for every app; the last ':' separates, so an app may contain ':' but not
/// ','). nullopt and `error` set for a malformed entry (not echoed).
std::optional<std::vector<ping_key>> parse_ping_keys(std::string_view csv, std::string& error);

/// SHA-256 of `text` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view text);

/// The key a request presents (X-Api-Key wins over Authorization: Bearer), or
/// nullopt when it presents none.
std::optional<std::string_view> presented_key(const http_request& req);

enum class access { none, read_only, read_write, ping };

/// What a key may do; `app` is the ping key's app ("*" = every app).
struct grant {
  access level = access::none;
  std::string app;
};

/// What `key` may do under `policy`. Compares digests in constant time, against
/// every configured digest.
grant grant_of(const auth_policy& policy, std::string_view key);
inline access access_of(const auth_policy& policy, std::string_view key) {
  return grant_of(policy, key).level;
}

/// Which reservation a request signals, as far as ping keys care. Pure; reads
/// the body of POST /checkin, /start and /fail with the API's own parsers, so
/// it names the app the handler will act on.
struct signal_target {
  bool is_signal = false;  ///< POST /checkin, /start, /fail, /ping/...,
                           ///< .../{app}/{component}/checkin
  bool by_uuid = false;    ///< /ping/<uuid>: the app is known only to the coordinator
  bool create = false;     ///< ?create=1
  std::string app;         ///< the reservation's app, unless by_uuid
};
std::variant<signal_target, rejection> classify_signal(const http_request& req);

/// The ping key standing in `path` as `/ping/<ping-key>/...`, or nullptr.
const ping_key* path_ping_key(const auth_policy& policy, std::string_view path);

/// The target the API serves for `target` once authorized:
/// `/ping/<ping-key>/<slug>...` becomes the slug form `/ping/<app>/<slug>...`,
/// and every `key` query parameter is removed, so no key travels past
/// authorization (handlers, error messages, logs).
std::string served_target(const auth_policy& policy, std::string_view target);

/// Why a request is refused: 401 (no or unknown key), 403 (read-only key on a
/// write or ping, ping key on anything but a check-in for its app), 400/413 (a
/// ping key's check-in whose body does not parse); nullopt when it may proceed.
/// `GET /` (the health check) is always allowed.
struct auth_denial {
  http::status status;
  std::string message;
};
std::optional<auth_denial> authorize(const auth_policy& policy, const http_request& req);

/// Wraps `inner` so that every request passes `authorize` first; refused ones
/// get a JSON error and never reach `inner`; allowed ones reach it with
/// `served_target`.
http_handler with_auth(auth_policy policy, http_handler inner);

/// True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view host);

}  // namespace gotel
