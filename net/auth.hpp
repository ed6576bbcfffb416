#pragma once
/// API keys (docs/security.md). Keys are configured as the SHA-256 of the key
/// in hex, so the config file holds no usable secret; a client sends the key
/// itself as `X-Api-Key: <key>` or `Authorization: Bearer <key>`.
/// Read-write keys may do anything; read-only keys may only GET (and HEAD).
/// With no key configured the API is open (main.cpp refuses that on a
/// non-loopback address unless server.open_api is set).

#include "net/http_server.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

/// The configured key hashes. Immutable after construction; thread-safe to read.
struct auth_policy {
  std::vector<std::string> read_write;  ///< sha256 hex digests, lower case
  std::vector<std::string> read_only;

  /// True when any key is configured, i.e. requests must present one.
  bool enabled() const { return !read_write.empty() || !read_only.empty(); }
};

/// Parses the comma-separated digest lists of server.api_keys and
/// server.read_only_api_keys; nullopt and `error` set when an entry is not 64 hex
/// digits (a likely raw key pasted by mistake: it is not echoed).
std::optional<auth_policy> make_auth_policy(std::string_view read_write_csv,
                                            std::string_view read_only_csv, std::string& error);

/// SHA-256 of `text` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view text);

/// The key a request presents (X-Api-Key wins over Authorization: Bearer), or
/// nullopt when it presents none.
std::optional<std::string_view> presented_key(const http_request& req);

enum class access { none, read_only, read_write };

/// What `key` may do under `policy`. Compares digests in constant time.
access access_of(const auth_policy& policy, std::string_view key);

/// Why a request is refused: 401 (no or unknown key) or 403 (read-only key on a
/// write); nullopt when it may proceed. `GET /` (the health check) is always allowed.
struct auth_denial {
  http::status status;
  std::string message;
};
std::optional<auth_denial> authorize(const auth_policy& policy, const http_request& req);

/// Wraps `inner` so that every request passes `authorize` first; refused ones
/// get a JSON error and never reach `inner`.
http_handler with_auth(auth_policy policy, http_handler inner);

/// True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view host);

}  // namespace gotel
