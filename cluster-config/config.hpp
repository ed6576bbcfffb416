#pragma once
/// The configuration model. Every setting has one name (`section.key`), one
/// default with its reason (defaults.hpp), and four sources, later ones winning:
/// defaults < TOML file < GOTEL_* environment < command-line flags.
/// Unknown keys in any source are an error, never silence.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

struct server_config {
  std::string listen;             ///< host:port of the HTTP API; port 0 = ephemeral
  std::string data_dir;           ///< RocksDB directory
  std::string advertise_address;  ///< shown as {srv} in alerts; empty = listen host
  std::string node_id;            ///< this node's name in the cluster and in logs
  std::int64_t io_threads = 0;
  std::int64_t scheduler_threads = 0;
  std::int64_t max_body_bytes = 0;
  std::int64_t max_field_bytes = 0;
  std::int64_t max_notes_bytes = 0;
  std::int64_t ping_body_limit = 0;  ///< bytes of a ping body kept (docs/pings.md)
  std::int64_t request_timeout_ms = 0;
  std::int64_t history_per_reservation = 0;
  bool sync_writes = true;
  std::string port_file;          ///< if set, the bound HTTP port is written here
  // Hardening (docs/security.md).
  std::string api_keys;            ///< SHA-256 hex digests of read-write keys, comma-separated
  std::string read_only_api_keys;  ///< SHA-256 hex digests of read-only (GET) keys
  bool open_api = false;           ///< allow a non-loopback listener with no keys
  std::string ping_keys;           ///< `app:sha256hex` ping keys (check-ins only),
                                   ///< comma-separated
  bool open_uuid_pings = false;    ///< /ping/<uuid> needs no key even when keys are configured
  std::int64_t max_reservations_per_app = 0;  ///< 0 = unlimited
  std::int64_t max_reservations = 0;          ///< all apps together; 0 = unlimited
  std::int64_t self_checkin_seconds = 0;  ///< period of the node's own rows (actors/self_row.hpp)
  std::int64_t max_header_bytes = 0;
  std::int64_t idle_timeout_ms = 0;
  std::int64_t read_timeout_ms = 0;
  std::int64_t max_connections_per_client = 0;
  std::int64_t max_connections = 0;  ///< every client together
  std::string allowed_origins;  ///< origins whose pages may make state-changing requests
  std::string allowed_hosts;    ///< Host names besides localhost/loopback (loopback listen)
  std::string trusted_proxies;  ///< peers whose X-Forwarded-For names the client
  double rate_limit_per_second = 0;
  std::int64_t rate_limit_burst = 0;
  // TLS for the HTTP API: both paths or neither (empty = plain HTTP).
  std::string tls_cert;         ///< PEM certificate chain, server certificate first
  std::string tls_key;          ///< PEM private key of that certificate (unencrypted)
  std::string tls_min_version;  ///< "1.2" or "1.3"
};

struct alerts_config {
  double hours_between_alerts = 0;
  std::int64_t initial_bake_seconds = 0;
  std::int64_t grace_seconds = 0;
  bool log_alerter = true;
  std::string webhook_url;
  std::int64_t webhook_timeout_ms = 0;
  std::int64_t retry_initial_ms = 0;
  std::int64_t retry_max_ms = 0;
  double expire_hours = 0;
  std::string webhook_secret;           ///< HMAC-SHA256 key for X-Gotel-Signature; secret
  std::int64_t storm_threshold = 0;     ///< alerts per channel per window before grouping; 0 = off
  std::int64_t storm_window_ms = 0;     ///< the storm counting window
  std::int64_t channel_threads = 0;     ///< concurrent deliveries per channel
  std::int64_t channel_queue = 0;       ///< deliveries queued per channel
  std::int64_t max_recipients = 0;      ///< e-mail recipients per reservation (>= 1)
  std::int64_t mail_per_recipient_per_minute = 0;  ///< mail budget per address (>= 1)
  std::int64_t mail_per_minute = 0;     ///< mail budget in total (>= 1)
};

/// E-mail through an SMTP relay; an empty host = no e-mail channel.
struct smtp_config {
  std::string host;
  std::int64_t port = 0;
  std::string user;        ///< empty = no AUTH (relays without AUTH work)
  std::string pass;        ///< secret
  std::string from;
  std::string reply_to;    ///< empty = `from`
  std::string tls;         ///< "none", "starttls" or "tls"
  std::int64_t timeout_ms = 0;
};

/// PagerDuty Events API v2; an empty routing key = no PagerDuty channel.
struct pagerduty_config {
  std::string routing_key;  ///< secret
  std::string url;
  std::string severity;     ///< critical, error, warning or info
  std::int64_t timeout_ms = 0;
};

/// Slack incoming webhook; an empty URL = no Slack channel.
struct slack_config {
  std::string webhook_url;  ///< secret (the URL is the credential)
  std::int64_t timeout_ms = 0;
};

/// A cluster of nodes; empty `nodes` = a single node with no cluster at all.
struct cluster_config {
  /// Every node, comma-separated, each "id@http_host:port@cluster_host:port".
  /// The same list on every node; server.node_id names this one.
  std::string nodes;
  std::int64_t heartbeat_ms = 0;        ///< how often peers heartbeat each other
  std::int64_t failure_timeout_ms = 0;  ///< silence after which a peer is dead
  std::string secret;                   ///< shared credential; required with nodes
  /// Transport encryption of cluster traffic: "off", "mutual" (TLS, every
  /// node presents a certificate its peers verify against tls_ca) or
  /// "anonymous" (TLS with anonymous ECDH: no certificates, no protection
  /// against an active man in the middle). docs/security.md.
  std::string tls;
  std::string tls_cert;            ///< PEM certificate (chain) of this node; mutual only
  std::string tls_key;             ///< PEM private key of tls_cert; mutual only
  std::string tls_key_passphrase;  ///< secret; empty = tls_key is not encrypted
  std::string tls_ca;              ///< PEM CA bundle that peers' certificates must chain to
};

/// One entry of cluster.nodes.
struct node_address {
  std::string id;
  std::string http;          ///< host:port of its HTTP API
  std::string cluster_host;  ///< where its cluster port listens
  std::uint16_t cluster_port = 0;
};

/// Parses cluster.nodes; "" in `error` when valid (an empty list is valid).
std::vector<node_address> parse_nodes(const std::string& text, std::string& error);

/// How reservations are held in memory (docs/scale.md).
struct reservations_config {
  /// An active reservation actor idle this long is passivated (its record and
  /// deadline stay; it is activated again when needed); 0 = never.
  std::int64_t passivate_after_seconds = 0;
};

/// What GET /metrics exposes beyond the aggregates (docs/api.md, issue 15 §7).
struct metrics_config {
  /// Tags (comma-separated) whose reservations get per-reservation series;
  /// empty = none, only aggregates and per-state counts.
  std::string per_reservation_tags;
  /// Most reservations given per-reservation series in one scrape.
  std::int64_t per_reservation_max = 0;
};

struct log_config {
  std::string level;  ///< trace, debug, info, warn, error
};

struct config {
  server_config server;
  alerts_config alerts;
  log_config log;
  cluster_config cluster;
  smtp_config smtp;
  pagerduty_config pagerduty;
  slack_config slack;
  reservations_config reservations;
  metrics_config metrics;
};

/// The embedded defaults (defaults.hpp), with nothing read from anywhere.
config default_config();

/// Where settings come from; `env` is the process environment as name -> value.
struct config_sources {
  std::optional<std::string> file;                 ///< TOML path (flag or GOTEL_CONFIG)
  std::map<std::string, std::string> env;          ///< only GOTEL_* entries matter
  std::vector<std::pair<std::string, std::string>> overrides;  ///< section.key=value, from flags
};

/// The result of loading: a config, or a message naming the offending source and key.
struct config_result {
  std::optional<config> value;
  std::string error;
};

/// Builds the effective config. Pure apart from reading `sources.file`.
config_result load_config(const config_sources& sources);

/// Applies one `section.key = value` to `cfg`; returns an error message or "".
std::string apply_setting(config& cfg, const std::string& name, const std::string& value);

/// The effective configuration as TOML, every key present, secrets masked.
std::string to_toml(const config& cfg);

/// `text` with what may be a credential masked as "***": the password of a
/// URL's userinfo (`https://user:***@host`) and the values of query
/// parameters that carry one (token, key, secret, password, signature, ...).
/// Used for --print-config and configuration errors, which may quote a URL.
std::string mask_credentials(std::string_view text);

/// The names of every setting (`section.key`), for docs and tests.
std::vector<std::string> setting_names();

/// The environment variable that sets `name` (server.listen -> GOTEL_SERVER_LISTEN).
std::string env_name(const std::string& name);

/// Checks cross-field rules (ranges, listen syntax); "" when valid.
std::string validate(const config& cfg);

/// Splits "host:port"; nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text);

}  // namespace gotel
