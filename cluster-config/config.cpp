#include "cluster-config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "cluster-config/defaults.hpp"

namespace gotel {
namespace {

// ---------------------------------------------------------------------------
// The setting table. Every function below is driven by it; adding a setting is
// one `row` here (plus its field in config.hpp and its default in defaults.hpp).
// ---------------------------------------------------------------------------

/// Read and write access to one field of `config`.
template <class T>
struct slot {
  T& (*ref)(config&);
  const T& (*get)(const config&);
};

using any_slot = std::variant<slot<std::int64_t>, slot<double>, slot<bool>, slot<std::string>>;
using any_value = std::variant<std::int64_t, double, bool, std::string>;

struct setting {
  std::string_view name;  ///< "section.key"
  any_slot field;
  any_value default_value;  ///< always the same alternative as `field`
  std::string_view doc;
  bool secret;  ///< masked as "***" by to_toml
};

/// One table row; the field's type picks the setting's type, and a default of
/// another type does not compile (no silent int -> bool or int -> double).
template <auto Section, auto Field, class Default>
setting row(std::string_view name, Default def, std::string_view doc, bool secret = false) {
  using T = std::remove_cvref_t<decltype((std::declval<config&>().*Section).*Field)>;
  static_assert(std::is_same_v<T, std::string> ? std::is_convertible_v<Default, std::string_view>
                                               : std::is_same_v<T, Default>,
                "a setting's default must have the type of its field");
  slot<T> access{[](config& c) -> T& { return (c.*Section).*Field; },
                 [](const config& c) -> const T& { return (c.*Section).*Field; }};
  return setting{name, access, any_value{std::in_place_type<T>, def}, doc, secret};
}

// Optional features that are off until configured: their default is "nothing",
// so there is no choice to justify in defaults.hpp.
constexpr const char* unset = "";

using S = server_config;
using A = alerts_config;
using L = log_config;
using C = cluster_config;
using M = smtp_config;
using P = pagerduty_config;
using K = slack_config;
using R = reservations_config;
using X = metrics_config;
constexpr auto in_server = &config::server;
constexpr auto in_alerts = &config::alerts;
constexpr auto in_log = &config::log;
constexpr auto in_cluster = &config::cluster;
constexpr auto in_smtp = &config::smtp;
constexpr auto in_pagerduty = &config::pagerduty;
constexpr auto in_slack = &config::slack;
constexpr auto in_reservations = &config::reservations;
constexpr auto in_metrics = &config::metrics;

const std::vector<setting>& settings() {
  static const std::vector<setting> table = {
      row<in_server, &S::listen>("server.listen", defaults::listen,
                                 "host:port of the HTTP API; port 0 picks a free port"),
      row<in_server, &S::data_dir>("server.data_dir", defaults::data_dir, "RocksDB directory"),
      row<in_server, &S::advertise_address>(
          "server.advertise_address", unset,
          "address shown as {srv} in alerts; empty = the listen host"),
      row<in_server, &S::node_id>("server.node_id", defaults::node_id,
                                  "this node's name in logs, alerts and the cluster"),
      row<in_server, &S::io_threads>("server.io_threads", defaults::io_threads,
                                     "HTTP I/O threads; 0 = one per core"),
      row<in_server, &S::scheduler_threads>("server.scheduler_threads", defaults::scheduler_threads,
                                            "actor scheduler threads; 0 = one per core"),
      row<in_server, &S::max_body_bytes>("server.max_body_bytes", defaults::max_body_bytes,
                                         "largest accepted HTTP request body"),
      row<in_server, &S::max_field_bytes>("server.max_field_bytes", defaults::max_field_bytes,
                                          "largest app, component, owner or time_units value"),
      row<in_server, &S::max_notes_bytes>(
          "server.max_notes_bytes", defaults::max_notes_bytes,
          "largest notify/alert_msg list, template or checkin note"),
      row<in_server, &S::ping_body_limit>(
          "server.ping_body_limit", defaults::ping_body_limit,
          "bytes of a /ping body kept as its log; the rest is cut (Ping-Body-Limit)"),
      row<in_server, &S::request_timeout_ms>("server.request_timeout_ms",
                                             defaults::request_timeout_ms,
                                             "how long a request waits for an actor before 503"),
      row<in_server, &S::history_per_reservation>("server.history_per_reservation",
                                                  defaults::history_per_reservation,
                                                  "checkins kept per reservation"),
      row<in_server, &S::sync_writes>("server.sync_writes", defaults::sync_writes,
                                      "sync the write-ahead log before answering 2xx"),
      row<in_server, &S::port_file>("server.port_file", unset,
                                    "if set, the bound HTTP port is written to this file"),
      row<in_server, &S::api_keys>("server.api_keys", unset,
                                   "SHA-256 hex digests of read-write API keys, comma-separated;"
                                   " empty (and no read-only keys) = no keys needed"),
      row<in_server, &S::read_only_api_keys>("server.read_only_api_keys", unset,
                                             "SHA-256 hex digests of read-only API keys (GET only)"),
      row<in_server, &S::open_api>("server.open_api", defaults::open_api,
                                   "allow listening on a non-loopback address with no API keys"),
      row<in_server, &S::ping_keys>("server.ping_keys", unset,
                                    "per-app ping keys that may only check in: app:sha256hex"
                                    " entries (app * = every app), comma-separated"),
      row<in_server, &S::open_uuid_pings>("server.open_uuid_pings", defaults::open_uuid_pings,
                                          "/ping/<uuid> needs no key even when keys are"
                                          " configured (the uuid is the credential)"),
      row<in_server, &S::max_reservations_per_app>(
          "server.max_reservations_per_app", defaults::max_reservations_per_app,
          "reservations one app may hold; creating more gets 403; 0 = unlimited"),
      row<in_server, &S::max_reservations>(
          "server.max_reservations", defaults::max_reservations,
          "reservations in all, every app together; creating more gets 403; 0 = unlimited"),
      row<in_server, &S::self_checkin_seconds>(
          "server.self_checkin_seconds", defaults::self_checkin_seconds,
          "how often the node checks in its own rows gotel/<node id> and gotel/coordinator"
          " or gotel/worker; each row's frequency is 10 of these"),
      row<in_server, &S::max_header_bytes>("server.max_header_bytes", defaults::max_header_bytes,
                                           "largest accepted request line and headers (431)"),
      row<in_server, &S::idle_timeout_ms>("server.idle_timeout_ms", defaults::idle_timeout_ms,
                                          "an idle keep-alive connection is closed after this"),
      row<in_server, &S::read_timeout_ms>("server.read_timeout_ms", defaults::read_timeout_ms,
                                          "a request must arrive whole within this of its first"
                                          " byte (slowloris)"),
      row<in_server, &S::max_connections_per_client>(
          "server.max_connections_per_client", defaults::max_connections_per_client,
          "open connections per client address, more get 429; 0 = unlimited"),
      row<in_server, &S::max_connections>(
          "server.max_connections", defaults::max_connections,
          "open connections of every client together, more are closed at once; lowered to fit"
          " the file-descriptor limit"),
      row<in_server, &S::allowed_origins>(
          "server.allowed_origins", unset,
          "origins (http(s)://host[:port]) besides this server's own whose pages may make"
          " state-changing requests, comma-separated; * = any"),
      row<in_server, &S::allowed_hosts>(
          "server.allowed_hosts", unset,
          "Host names answered besides localhost and loopback addresses when listening on"
          " loopback (e.g. a local reverse proxy's name), comma-separated"),
      row<in_server, &S::trusted_proxies>(
          "server.trusted_proxies", defaults::trusted_proxies,
          "addresses or networks (a.b.c.d/n) of reverse proxies whose X-Forwarded-For names the"
          " client recorded with a ping, comma-separated; empty = believe no one"),
      row<in_server, &S::rate_limit_per_second>(
          "server.rate_limit_per_second", defaults::rate_limit_per_second,
          "requests per second per client address, more get 429; 0 = unlimited"),
      row<in_server, &S::rate_limit_burst>("server.rate_limit_burst", defaults::rate_limit_burst,
                                           "requests a client may send at once above the rate"),
      row<in_server, &S::tls_cert>("server.tls_cert", unset,
                                   "PEM certificate chain for HTTPS; with server.tls_key,"
                                   " empty = plain HTTP"),
      row<in_server, &S::tls_key>("server.tls_key", unset,
                                  "PEM private key (unencrypted) of server.tls_cert"),
      row<in_server, &S::tls_min_version>("server.tls_min_version", defaults::tls_min_version,
                                          "oldest TLS version accepted: 1.2 or 1.3"),

      row<in_alerts, &A::hours_between_alerts>("alerts.hours_between_alerts",
                                               defaults::hours_between_alerts,
                                               "re-alert interval while a job stays late"),
      row<in_alerts, &A::initial_bake_seconds>("alerts.initial_bake_seconds",
                                               defaults::initial_bake_seconds,
                                               "a new reservation cannot alert before this age"),
      row<in_alerts, &A::grace_seconds>("alerts.grace_seconds", defaults::grace_seconds,
                                        "extra slack after each deadline"),
      row<in_alerts, &A::log_alerter>("alerts.log_alerter", defaults::log_alerter,
                                      "write every alert to the log"),
      row<in_alerts, &A::webhook_url>("alerts.webhook_url", unset,
                                      "POST alerts to this http(s) URL; empty = no webhook"),
      row<in_alerts, &A::webhook_timeout_ms>("alerts.webhook_timeout_ms",
                                             defaults::webhook_timeout_ms,
                                             "a slower webhook receiver counts as failed"),
      row<in_alerts, &A::retry_initial_ms>("alerts.retry_initial_ms", defaults::retry_initial_ms,
                                           "first retry delay of a failed delivery"),
      row<in_alerts, &A::retry_max_ms>("alerts.retry_max_ms", defaults::retry_max_ms,
                                       "retry delay cap (delays double up to it)"),
      row<in_alerts, &A::expire_hours>("alerts.expire_hours", defaults::expire_hours,
                                       "an undeliverable alert is dropped after this long"),
      row<in_alerts, &A::webhook_secret>("alerts.webhook_secret", unset,
                                         "HMAC-SHA256 key signing webhook bodies; empty = unsigned",
                                         true),
      row<in_alerts, &A::storm_threshold>("alerts.storm_threshold", defaults::storm_threshold,
                                          "alerts per channel per window before they are grouped;"
                                          " 0 = never group"),
      row<in_alerts, &A::storm_window_ms>("alerts.storm_window_ms", defaults::storm_window_ms,
                                          "the window alert storms are counted in"),
      row<in_alerts, &A::channel_threads>("alerts.channel_threads", defaults::channel_threads,
                                          "concurrent deliveries per channel (each its own)"),
      row<in_alerts, &A::channel_queue>("alerts.channel_queue", defaults::channel_queue,
                                        "deliveries queued per channel; the rest wait in the outbox"),
      row<in_alerts, &A::max_recipients>("alerts.max_recipients", defaults::max_recipients,
                                         "most e-mail addresses in a reservation's notify; more"
                                         " is refused with 400"),
      row<in_alerts, &A::mail_per_recipient_per_minute>(
          "alerts.mail_per_recipient_per_minute", defaults::mail_per_recipient_per_minute,
          "e-mails to one address per minute; the rest go into one digest per address"),
      row<in_alerts, &A::mail_per_minute>("alerts.mail_per_minute", defaults::mail_per_minute,
                                          "e-mails in total per minute; the rest go into digests"),

      row<in_log, &L::level>("log.level", defaults::log_level, "trace, debug, info, warn or error"),

      row<in_cluster, &C::nodes>("cluster.nodes", unset,
                                 "every node as id@http_host:port@cluster_host:port, comma-separated;"
                                 " empty = single node"),
      row<in_cluster, &C::heartbeat_ms>("cluster.heartbeat_ms", defaults::heartbeat_ms,
                                        "interval of heartbeats between nodes"),
      row<in_cluster, &C::failure_timeout_ms>("cluster.failure_timeout_ms",
                                              defaults::failure_timeout_ms,
                                              "silence after which a peer is declared dead"),
      row<in_cluster, &C::secret>("cluster.secret", unset,
                                  "shared credential every node must hold to join", true),
      row<in_cluster, &C::tls>("cluster.tls", defaults::cluster_tls,
                               "off, mutual (TLS with verified certificates) or anonymous"
                               " (TLS, eavesdroppers only)"),
      row<in_cluster, &C::tls_cert>("cluster.tls_cert", unset,
                                    "PEM certificate of this node (cluster.tls = mutual)"),
      row<in_cluster, &C::tls_key>("cluster.tls_key", unset, "PEM private key of tls_cert"),
      row<in_cluster, &C::tls_key_passphrase>("cluster.tls_key_passphrase", unset,
                                              "passphrase of an encrypted tls_key", true),
      row<in_cluster, &C::tls_ca>("cluster.tls_ca", unset,
                                  "PEM CA bundle that every peer's certificate must chain to"),

      row<in_smtp, &M::host>("smtp.host", unset, "SMTP relay host; setting it enables e-mail"),
      row<in_smtp, &M::port>("smtp.port", defaults::smtp_port, "SMTP relay port"),
      row<in_smtp, &M::user>("smtp.user", unset, "SMTP AUTH user; empty = no AUTH"),
      row<in_smtp, &M::pass>("smtp.pass", unset, "SMTP AUTH password", true),
      row<in_smtp, &M::from>("smtp.from", defaults::smtp_from, "From address of alert mail"),
      row<in_smtp, &M::reply_to>("smtp.reply_to", unset, "Reply-To address; empty = smtp.from"),
      row<in_smtp, &M::tls>("smtp.tls", defaults::smtp_tls,
                            "none, starttls (required) or tls (smtps, TLS from the start)"),
      row<in_smtp, &M::timeout_ms>("smtp.timeout_ms", defaults::smtp_timeout_ms,
                                   "time allowed per message before it is retried"),

      row<in_pagerduty, &P::routing_key>("pagerduty.routing_key", unset,
                                         "Events API v2 routing key; setting it enables PagerDuty",
                                         true),
      row<in_pagerduty, &P::url>("pagerduty.url", defaults::pagerduty_url,
                                 "Events API v2 endpoint (proxies, tests)"),
      row<in_pagerduty, &P::severity>("pagerduty.severity", defaults::pagerduty_severity,
                                      "critical, error, warning or info"),
      row<in_pagerduty, &P::timeout_ms>("pagerduty.timeout_ms", defaults::pagerduty_timeout_ms,
                                        "a slower answer counts as failed and is retried"),

      row<in_slack, &K::webhook_url>("slack.webhook_url", unset,
                                     "Slack incoming-webhook URL; setting it enables Slack", true),
      row<in_slack, &K::timeout_ms>("slack.timeout_ms", defaults::slack_timeout_ms,
                                    "a slower answer counts as failed and is retried"),

      row<in_reservations, &R::passivate_after_seconds>(
          "reservations.passivate_after_seconds", defaults::passivate_after_seconds,
          "a reservation actor idle this long is passivated (record and deadline kept); 0 = never"),
      row<in_metrics, &X::per_reservation_tags>(
          "metrics.per_reservation_tags", unset,
          "tags whose reservations get per-reservation /metrics series, comma-separated;"
          " empty = none (aggregates and per-state counts only)"),
      row<in_metrics, &X::per_reservation_max>(
          "metrics.per_reservation_max", defaults::metrics_per_reservation_max,
          "most reservations given per-reservation /metrics series"),
  };
  return table;
}

/// Fixed, shorter environment names, kept for the settings people set most.
constexpr std::pair<std::string_view, std::string_view> env_aliases[] = {
    {"GOTEL_LISTEN", "server.listen"},
    {"GOTEL_DATA_DIR", "server.data_dir"},
    {"GOTEL_WEBHOOK_URL", "alerts.webhook_url"},
    // The original GoTel's names, kept so old deployments keep their alerters.
    {"GOTEL_SMTP_HOST", "smtp.host"},
    {"GOTEL_SMTP_PORT", "smtp.port"},
    {"GOTEL_SMTP_USER", "smtp.user"},
    {"GOTEL_SMTP_PASS", "smtp.pass"},
    {"GOTEL_SMTP_FROM", "smtp.from"},
    {"GOTEL_PD_SERVICE_KEY", "pagerduty.routing_key"},
    {"GOTEL_PAGERDUTY_URL", "pagerduty.url"},
    {"GOTEL_SLACK_WEBHOOK_URL", "slack.webhook_url"},
};
/// Read by the caller to find the file; not a setting.
constexpr std::string_view env_config_file = "GOTEL_CONFIG";
constexpr std::string_view env_prefix = "GOTEL_";

constexpr std::string_view log_levels[] = {"trace", "debug", "info", "warn", "error"};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

std::string quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string_view section_of(std::string_view name) { return name.substr(0, name.find('.')); }

/// Section names in table order.
std::vector<std::string_view> sections() {
  std::vector<std::string_view> out;
  for (const auto& s : settings())
    if (std::find(out.begin(), out.end(), section_of(s.name)) == out.end())
      out.push_back(section_of(s.name));
  return out;
}

const setting* find_setting(std::string_view name) {
  for (const auto& s : settings())
    if (s.name == name) return &s;
  return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// " (did you mean "x"?)" for a near miss, else "".
std::string suggestion(std::string_view wrong, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::size_t best_distance = std::max<std::size_t>(2, wrong.size() / 3) + 1;
  for (const auto& c : candidates) {
    // A bare key ("listen") is a near miss for its full name ("server.listen").
    std::size_t d = c.ends_with("." + std::string(wrong)) ? 0 : edit_distance(wrong, c);
    if (d < best_distance) best = &c, best_distance = d;
  }
  return best ? " (did you mean " + quote(*best) + "?)" : "";
}

std::string unknown_setting(std::string_view name) {
  return "unknown setting " + quote(name) + suggestion(name, setting_names());
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------
// Typed assignment, from text (environment, flags) and from TOML nodes
// ---------------------------------------------------------------------------

std::string parse_into(std::int64_t& out, std::string_view name, std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range)
    return std::string(name) + ": " + quote(text) + " is out of range for a 64-bit integer";
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::string(name) + ": expected an integer, got " + quote(text);
  out = v;
  return "";
}

std::string check_finite(double v, std::string_view name, std::string_view shown) {
  if (!std::isfinite(v))
    return std::string(name) + ": expected a finite number, got " + quote(shown);
  return "";
}

std::string parse_into(double& out, std::string_view name, std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range)
    return std::string(name) + ": " + quote(text) + " is out of range";
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::string(name) + ": expected a number, got " + quote(text);
  if (auto e = check_finite(v, name, text); !e.empty()) return e;
  out = v;
  return "";
}

std::string parse_into(bool& out, std::string_view name, std::string_view text) {
  const std::string t = lower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    out = true;
    return "";
  }
  if (t == "false" || t == "0" || t == "no" || t == "off") {
    out = false;
    return "";
  }
  return std::string(name) + ": expected true/false (or 1/0, yes/no, on/off), got " + quote(text);
}

std::string parse_into(std::string& out, std::string_view, std::string_view text) {
  out = std::string(text);
  return "";
}

std::string set_from_text(config& cfg, const setting& s, std::string_view text) {
  return std::visit([&](auto access) { return parse_into(access.ref(cfg), s.name, text); },
                    s.field);
}

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

std::string set_from_toml(config& cfg, const setting& s, const toml::node& node) {
  auto mismatch = [&](std::string_view expected) {
    return std::string(s.name) + ": expected " + std::string(expected) + ", got " +
           toml_type_name(node);
  };
  return std::visit(
      [&](auto access) -> std::string {
        using T = std::remove_cvref_t<decltype(access.ref(cfg))>;
        T& out = access.ref(cfg);
        if constexpr (std::is_same_v<T, std::int64_t>) {
          if (!node.is_integer()) return mismatch("an integer");
          out = node.as_integer()->get();
        } else if constexpr (std::is_same_v<T, double>) {
          // `hours = 6` is as natural as `hours = 6.0`.
          if (node.is_integer()) {
            out = static_cast<double>(node.as_integer()->get());
          } else if (node.is_floating_point()) {
            double v = node.as_floating_point()->get();
            if (auto e = check_finite(v, s.name, std::to_string(v)); !e.empty()) return e;
            out = v;
          } else {
            return mismatch("a number");
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.is_boolean()) return mismatch("a boolean");
          out = node.as_boolean()->get();
        } else {
          if (!node.is_string()) return mismatch("a string");
          out = node.as_string()->get();
        }
        return "";
      },
      s.field);
}

// ---------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------

std::string where(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

std::string load_file(config& cfg, const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    if (begin.line == 0) return path + ": " + std::string(e.description());  // e.g. unreadable
    return where(path, e.source()) + ": " + std::string(e.description());
  }
  const auto known_sections = sections();
  for (const auto& [section_key, section_node] : doc) {
    const std::string section(section_key.str());
    const bool is_section =
        std::find(known_sections.begin(), known_sections.end(), section) != known_sections.end();
    if (!section_node.is_table()) {
      if (is_section)
        return where(path, section_key.source()) + ": " + section + " must be a table";
      return where(path, section_key.source()) + ": " + unknown_setting(section);
    }
    if (!is_section) {
      std::vector<std::string> names;
      for (auto sv : known_sections) names.emplace_back(sv);
      return where(path, section_key.source()) + ": unknown section [" + section + "]" +
             suggestion(section, names);
    }
    for (const auto& [key, node] : *section_node.as_table()) {
      const std::string name = section + "." + std::string(key.str());
      const setting* s = find_setting(name);
      if (!s) return where(path, key.source()) + ": " + unknown_setting(name);
      if (auto e = set_from_toml(cfg, *s, node); !e.empty())
        return where(path, node.source()) + ": " + e;
    }
  }
  return "";
}

const setting* setting_for_env(std::string_view var) {
  for (const auto& [alias, name] : env_aliases)
    if (alias == var) return find_setting(name);
  for (const auto& s : settings())
    if (env_name(std::string(s.name)) == var) return &s;
  return nullptr;
}

std::string load_env(config& cfg, const std::map<std::string, std::string>& env) {
  std::map<std::string_view, std::string> set_by;  // setting name -> variable that set it
  for (const auto& [var, value] : env) {
    if (!var.starts_with(env_prefix) || var == env_config_file) continue;
    const setting* s = setting_for_env(var);
    if (!s) {
      std::vector<std::string> known{std::string(env_config_file)};
      for (const auto& [alias, name] : env_aliases) known.emplace_back(alias);
      for (const auto& n : setting_names()) known.push_back(env_name(n));
      return "environment variable " + var + ": no setting has this name" + suggestion(var, known);
    }
    // An alias and the generic name for one setting, with different values, is
    // a mistake somewhere; which one wins would be an accident of spelling.
    if (auto [it, fresh] = set_by.emplace(s->name, var); !fresh && env.at(it->second) != value)
      return "environment variables " + it->second + " and " + var + " both set " +
             std::string(s->name) + " to different values";
    if (auto e = set_from_text(cfg, *s, value); !e.empty())
      return "environment variable " + var + ": " + e;
  }
  return "";
}

// ---------------------------------------------------------------------------
// TOML output
// ---------------------------------------------------------------------------

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string toml_value(std::int64_t v) { return std::to_string(v); }
std::string toml_value(bool v) { return v ? "true" : "false"; }
std::string toml_value(const std::string& v) { return toml_string(v); }
std::string toml_value(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact round trip
  std::string out(buf, end);
  // "6" would read back as an integer; TOML floats need a fraction or exponent.
  if (out.find_first_of(".en") == std::string::npos) out += ".0";
  return out;
}

/// Query parameter names whose values are credentials (compared in lower case).
constexpr std::string_view credential_params[] = {
    "token", "access_token", "auth", "auth_token", "key", "api_key", "apikey", "secret",
    "password", "pass", "passwd", "pwd", "sig", "signature", "code", "routing_key"};

bool is_credential_param(std::string_view name) {
  const std::string n = lower(name);
  return std::find(std::begin(credential_params), std::end(credential_params), n) !=
         std::end(credential_params);
}

/// True for 64 hex digits (a key's SHA-256, as server.*api_keys hold).
bool is_digest(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

/// A key list (server.api_keys, read_only_api_keys, ping_keys) with every
/// entry that is not a digest (a raw key pasted by mistake) shown as "***".
std::string mask_key_list(std::string_view csv) {
  std::string out;
  while (true) {
    const auto comma = csv.find(',');
    std::string_view item = csv.substr(0, comma);
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    std::string_view core = b == std::string_view::npos ? std::string_view{} : item.substr(b, e - b + 1);
    const auto colon = core.rfind(':');
    std::string_view digest = colon == std::string_view::npos ? core : core.substr(colon + 1);
    if (core.empty() || is_digest(digest))
      out += item;
    else
      out += std::string(colon == std::string_view::npos ? "" : core.substr(0, colon + 1)) + "***";
    if (comma == std::string_view::npos) break;
    out += ',';
    csv = csv.substr(comma + 1);
  }
  return out;
}

}  // namespace

std::string mask_credentials(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto scheme = text.find("://", pos);
    if (scheme == std::string_view::npos) break;
    // The URL runs to the next blank or quote.
    auto end = text.find_first_of(" \t\r\n\"'", scheme);
    if (end == std::string_view::npos) end = text.size();
    const auto start = scheme + 3;
    out += text.substr(pos, start - pos);
    std::string_view rest = text.substr(start, end - start);
    // userinfo: user:password@ before the first '/', '?' or '#'.
    const auto host_end = rest.find_first_of("/?#");
    const auto at = rest.substr(0, host_end).rfind('@');
    if (at != std::string_view::npos) {
      std::string_view userinfo = rest.substr(0, at);
      const auto colon = userinfo.find(':');
      out += std::string(userinfo.substr(0, colon)) + (colon == std::string_view::npos ? "" : ":***") + "@";
      rest = rest.substr(at + 1);
    }
    // query: name=value pairs after '?', up to '#'.
    const auto q = rest.find('?');
    out += rest.substr(0, q == std::string_view::npos ? rest.size() : q + 1);
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      const auto hash = query.find('#');
      std::string_view fragment = hash == std::string_view::npos ? std::string_view{} : query.substr(hash);
      query = query.substr(0, hash == std::string_view::npos ? query.size() : hash);
      bool first = true;
      while (true) {
        const auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (!first) out += '&';
        first = false;
        if (eq != std::string_view::npos && is_credential_param(pair.substr(0, eq)))
          out += std::string(pair.substr(0, eq + 1)) + "***";
        else
          out += pair;
        if (amp == std::string_view::npos) break;
        query = query.substr(amp + 1);
      }
      out += fragment;
    }
    pos = end;
  }
  out += text.substr(std::min(pos, text.size()));
  return out;
}

// ---------------------------------------------------------------------------
// Public interface
// ---------------------------------------------------------------------------

config default_config() {
  config cfg;
  for (const auto& s : settings()) {
    std::visit(
        [&](auto access) {
          using T = std::remove_cvref_t<decltype(access.ref(cfg))>;
          access.ref(cfg) = std::get<T>(s.default_value);
        },
        s.field);
  }
  return cfg;
}

std::string apply_setting(config& cfg, const std::string& name, const std::string& value) {
  const setting* s = find_setting(name);
  if (!s) return unknown_setting(name);
  return set_from_text(cfg, *s, value);
}

std::vector<std::string> setting_names() {
  std::vector<std::string> out;
  for (const auto& s : settings()) out.emplace_back(s.name);
  return out;
}

std::string env_name(const std::string& name) {
  std::string out(env_prefix);
  for (char c : name)
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string to_toml(const config& cfg) {
  std::string out =
      "# GoTel effective configuration: every setting, defaults included.\n"
      "# Secrets that are set are shown as \"***\".\n";
  std::string_view current;
  for (const auto& s : settings()) {
    const std::string_view section = section_of(s.name);
    if (section != current) {
      out += "\n[" + std::string(section) + "]\n";
      current = section;
    }
    const std::string key(s.name.substr(section.size() + 1));
    // An unset secret prints as "" (nothing to hide, and the output stays loadable).
    const std::string value = std::visit(
        [&](auto access) {
          if constexpr (std::is_same_v<decltype(access), slot<std::string>>) {
            if (s.secret && !access.get(cfg).empty()) return toml_string("***");
            // Keys are configured as digests; a raw key pasted by mistake is
            // not printed, nor a password or token standing in a URL.
            if (s.name == "server.api_keys" || s.name == "server.read_only_api_keys" ||
                s.name == "server.ping_keys")
              return toml_string(mask_key_list(access.get(cfg)));
            return toml_string(mask_credentials(access.get(cfg)));
          }
          return toml_value(access.get(cfg));
        },
        s.field);
    out += "# " + std::string(s.doc) + "\n" + key + " = " + value + "\n";
  }
  return out;
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  std::string host;
  std::string_view port;
  if (text.starts_with('[')) {
    // "[::1]:8080": brackets are how an IPv6 address carries a port.
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
    // "::1:80" is ambiguous; IPv6 needs brackets.
    if (host.find(':') != std::string::npos) return std::nullopt;
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned number = 0;
  std::from_chars(port.data(), port.data() + port.size(), number);
  if (number > 65535) return std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(number)};
}

std::string validate(const config& cfg) {
  std::vector<std::string> errors;
  auto require = [&](bool ok, std::string message) {
    if (!ok) errors.push_back(std::move(message));
  };
  auto n = [](auto v) {
    if constexpr (std::is_same_v<decltype(v), double>)
      return toml_value(v);
    else
      return std::to_string(v);
  };
  const auto& s = cfg.server;
  const auto& a = cfg.alerts;

  require(split_host_port(s.listen).has_value(),
          "server.listen must be host:port or [ipv6]:port, got " + quote(s.listen));
  require(!s.node_id.empty(), "server.node_id must not be empty");
  {
    // gotel/<node id> must not be one of the role rows (docs/cluster.md).
    std::string id;
    for (char c : s.node_id)
      id.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    while (!id.empty() && id.back() == ' ')
      id.pop_back();
    require(id != "coordinator" && id != "worker",
            "server.node_id must not be \"coordinator\" or \"worker\": gotel/coordinator and "
            "gotel/worker are the role rows, gotel/<node id> the node's own; got "
                + quote(s.node_id));
  }
  require(s.io_threads >= 0, "server.io_threads must be >= 0, got " + n(s.io_threads));
  require(s.scheduler_threads >= 0,
          "server.scheduler_threads must be >= 0, got " + n(s.scheduler_threads));
  require(s.max_body_bytes > 0, "server.max_body_bytes must be > 0, got " + n(s.max_body_bytes));
  require(s.max_field_bytes > 0, "server.max_field_bytes must be > 0, got " + n(s.max_field_bytes));
  require(s.max_notes_bytes > 0, "server.max_notes_bytes must be > 0, got " + n(s.max_notes_bytes));
  require(s.ping_body_limit > 0, "server.ping_body_limit must be > 0, got " + n(s.ping_body_limit));
  require(s.max_field_bytes <= s.max_body_bytes, "server.max_field_bytes (" + n(s.max_field_bytes) +
                                                     ") must not exceed server.max_body_bytes (" +
                                                     n(s.max_body_bytes) + ")");
  require(s.request_timeout_ms > 0,
          "server.request_timeout_ms must be > 0, got " + n(s.request_timeout_ms));
  require(s.history_per_reservation >= 1,
          "server.history_per_reservation must be >= 1, got " + n(s.history_per_reservation));
  require(s.max_header_bytes > 0 && s.max_header_bytes <= UINT32_MAX,
          "server.max_header_bytes must be > 0, got " + n(s.max_header_bytes));
  require(s.idle_timeout_ms > 0 && s.idle_timeout_ms <= UINT32_MAX,
          "server.idle_timeout_ms must be > 0, got " + n(s.idle_timeout_ms));
  require(s.read_timeout_ms > 0 && s.read_timeout_ms <= UINT32_MAX,
          "server.read_timeout_ms must be > 0, got " + n(s.read_timeout_ms));
  require(s.max_connections_per_client >= 0 && s.max_connections_per_client <= UINT32_MAX,
          "server.max_connections_per_client must be >= 0, got "
              + n(s.max_connections_per_client));
  require(s.max_connections >= 1 && s.max_connections <= UINT32_MAX,
          "server.max_connections must be >= 1, got " + n(s.max_connections));
  require(s.max_reservations >= 0,
          "server.max_reservations must be >= 0, got " + n(s.max_reservations));
  require(s.max_reservations_per_app >= 0,
          "server.max_reservations_per_app must be >= 0, got " + n(s.max_reservations_per_app));
  require(s.self_checkin_seconds >= 1 && s.self_checkin_seconds <= 86400,
          "server.self_checkin_seconds must be between 1 and 86400, got "
              + n(s.self_checkin_seconds));
  require(s.rate_limit_per_second >= 0,
          "server.rate_limit_per_second must be >= 0, got " + n(s.rate_limit_per_second));
  require(s.rate_limit_burst >= 1,
          "server.rate_limit_burst must be >= 1, got " + n(s.rate_limit_burst));
  // Whether the files are readable and match is checked when the daemon starts.
  require(s.tls_cert.empty() == s.tls_key.empty(),
          "server.tls_cert and server.tls_key must be set together (both = HTTPS, neither ="
          " plain HTTP)");
  require(s.tls_min_version == "1.2" || s.tls_min_version == "1.3",
          "server.tls_min_version must be 1.2 or 1.3, got " + quote(s.tls_min_version));

  require(a.hours_between_alerts > 0,
          "alerts.hours_between_alerts must be > 0, got " + n(a.hours_between_alerts));
  require(a.initial_bake_seconds >= 0,
          "alerts.initial_bake_seconds must be >= 0, got " + n(a.initial_bake_seconds));
  require(a.grace_seconds >= 0, "alerts.grace_seconds must be >= 0, got " + n(a.grace_seconds));
  require(a.webhook_url.empty() || a.webhook_url.starts_with("http://") ||
              a.webhook_url.starts_with("https://"),
          "alerts.webhook_url must be empty or start with http:// or https://, got " +
              quote(a.webhook_url));
  require(a.webhook_timeout_ms > 0,
          "alerts.webhook_timeout_ms must be > 0, got " + n(a.webhook_timeout_ms));
  require(a.retry_initial_ms > 0,
          "alerts.retry_initial_ms must be > 0, got " + n(a.retry_initial_ms));
  require(a.retry_initial_ms <= a.retry_max_ms,
          "alerts.retry_initial_ms (" + n(a.retry_initial_ms) +
              ") must not exceed alerts.retry_max_ms (" + n(a.retry_max_ms) + ")");
  require(a.expire_hours > 0, "alerts.expire_hours must be > 0, got " + n(a.expire_hours));

  require(std::find(std::begin(log_levels), std::end(log_levels), cfg.log.level) !=
              std::end(log_levels),
          "log.level must be one of trace, debug, info, warn, error, got " + quote(cfg.log.level));

  require(a.storm_threshold >= 0,
          "alerts.storm_threshold must be >= 0, got " + n(a.storm_threshold));
  require(a.storm_window_ms > 0,
          "alerts.storm_window_ms must be > 0, got " + n(a.storm_window_ms));
  require(a.channel_threads >= 1 && a.channel_threads <= 64,
          "alerts.channel_threads must be 1-64, got " + n(a.channel_threads));
  require(a.channel_queue >= 0,
          "alerts.channel_queue must be >= 0, got " + n(a.channel_queue));
  require(cfg.reservations.passivate_after_seconds >= 0,
          "reservations.passivate_after_seconds must be >= 0, got "
              + n(cfg.reservations.passivate_after_seconds));
  require(a.max_recipients >= 1,
          "alerts.max_recipients must be >= 1, got " + n(a.max_recipients));
  require(a.mail_per_recipient_per_minute >= 1,
          "alerts.mail_per_recipient_per_minute must be >= 1, got "
              + n(a.mail_per_recipient_per_minute));
  require(a.mail_per_minute >= 1, "alerts.mail_per_minute must be >= 1, got " + n(a.mail_per_minute));
  const auto& m = cfg.smtp;
  require(m.port >= 1 && m.port <= 65535, "smtp.port must be 1-65535, got " + n(m.port));
  require(m.tls == "none" || m.tls == "starttls" || m.tls == "tls",
          "smtp.tls must be none, starttls or tls, got " + quote(m.tls));
  require(m.timeout_ms > 0, "smtp.timeout_ms must be > 0, got " + n(m.timeout_ms));
  require(m.host.empty() || !m.from.empty(), "smtp.from is required when smtp.host is set");
  auto no_line_breaks = [](const std::string& v) {
    return v.find_first_of("\r\n") == std::string::npos;
  };
  require(no_line_breaks(m.from) && no_line_breaks(m.reply_to) && no_line_breaks(m.host),
          "smtp.host, smtp.from and smtp.reply_to must not contain line breaks");
  const auto& p = cfg.pagerduty;
  require(p.url.starts_with("http://") || p.url.starts_with("https://"),
          "pagerduty.url must start with http:// or https://, got " + quote(p.url));
  require(p.severity == "critical" || p.severity == "error" || p.severity == "warning" ||
              p.severity == "info",
          "pagerduty.severity must be critical, error, warning or info, got " + quote(p.severity));
  require(p.timeout_ms > 0, "pagerduty.timeout_ms must be > 0, got " + n(p.timeout_ms));
  // The URL is a credential: name the rule, never echo the value.
  require(cfg.slack.webhook_url.empty() || cfg.slack.webhook_url.starts_with("http://") ||
              cfg.slack.webhook_url.starts_with("https://"),
          "slack.webhook_url must be empty or start with http:// or https://");
  require(cfg.slack.timeout_ms > 0, "slack.timeout_ms must be > 0, got " + n(cfg.slack.timeout_ms));
  require(cfg.metrics.per_reservation_max >= 0,
          "metrics.per_reservation_max must be >= 0, got " + n(cfg.metrics.per_reservation_max));

  const auto& c = cfg.cluster;
  require(c.heartbeat_ms > 0, "cluster.heartbeat_ms must be > 0, got " + n(c.heartbeat_ms));
  require(c.failure_timeout_ms > 2 * c.heartbeat_ms,
          "cluster.failure_timeout_ms (" + n(c.failure_timeout_ms) +
              ") must exceed two heartbeats (" + n(2 * c.heartbeat_ms) + ")");
  std::string nodes_error;
  auto nodes = parse_nodes(c.nodes, nodes_error);
  require(nodes_error.empty(), nodes_error);
  if (!nodes.empty()) {
    require(!c.secret.empty(), "cluster.secret is required when cluster.nodes is set");
    require(std::any_of(nodes.begin(), nodes.end(),
                        [&](const node_address& a) { return a.id == s.node_id; }),
            "server.node_id " + quote(s.node_id) + " is not one of cluster.nodes");
  }
  require(c.tls == "off" || c.tls == "mutual" || c.tls == "anonymous",
          "cluster.tls must be off, mutual or anonymous, got " + quote(c.tls));
  if (c.tls == "mutual") {
    std::string missing;
    for (auto [name, value] : {std::pair{"cluster.tls_cert", &c.tls_cert},
                               std::pair{"cluster.tls_key", &c.tls_key},
                               std::pair{"cluster.tls_ca", &c.tls_ca}})
      if (value->empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
    require(missing.empty(), "cluster.tls = \"mutual\" needs cluster.tls_cert, cluster.tls_key "
                             "and cluster.tls_ca; missing: " + missing);
  } else {
    // Files that would be silently ignored are a mistake (or a forgotten mode).
    require(c.tls_cert.empty() && c.tls_key.empty() && c.tls_ca.empty() &&
                c.tls_key_passphrase.empty(),
            "cluster.tls_cert, tls_key, tls_key_passphrase and tls_ca are only used with "
            "cluster.tls = \"mutual\" (cluster.tls is " + quote(c.tls) + ")");
  }

  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + e;
  return out;
}

std::vector<node_address> parse_nodes(const std::string& text, std::string& error) {
  std::vector<node_address> out;
  error.clear();
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    auto entry = text.substr(pos, end - pos);
    pos = end + 1;
    auto b = entry.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    entry = entry.substr(b, entry.find_last_not_of(' ') - b + 1);
    auto at1 = entry.find('@');
    auto at2 = at1 == std::string::npos ? at1 : entry.find('@', at1 + 1);
    auto bad = [&] {
      error = "cluster.nodes: expected id@http_host:port@cluster_host:port, got " + quote(entry);
      return std::vector<node_address>{};
    };
    if (at2 == std::string::npos) return bad();
    node_address a;
    a.id = entry.substr(0, at1);
    a.http = entry.substr(at1 + 1, at2 - at1 - 1);
    auto cl = split_host_port(entry.substr(at2 + 1));
    if (a.id.empty() || !split_host_port(a.http) || !cl || cl->second == 0) return bad();
    a.cluster_host = cl->first;
    a.cluster_port = cl->second;
    for (auto& other : out)
      if (other.id == a.id) {
        error = "cluster.nodes: node id " + quote(a.id) + " appears twice";
        return {};
      }
    out.push_back(std::move(a));
  }
  return out;
}

config_result load_config(const config_sources& sources) {
  // Errors may quote a value: a URL's password or token is masked, and the
  // value of a secret setting is never quoted.
  auto failed = [](const std::string& e) { return config_result{std::nullopt, mask_credentials(e)}; };
  config cfg = default_config();
  if (sources.file) {
    if (auto e = load_file(cfg, *sources.file); !e.empty()) return failed(e);
  }
  if (auto e = load_env(cfg, sources.env); !e.empty()) return failed(e);
  for (const auto& [name, value] : sources.overrides) {
    if (auto e = apply_setting(cfg, name, value); !e.empty()) {
      const setting* s = find_setting(name);
      bool secret = s && s->secret;
      return failed("command line (--set " + name + "=" + (secret ? "***" : value) + "): " +
                    (secret ? std::string(name) + ": invalid value" : e));
    }
  }
  if (auto e = validate(cfg); !e.empty()) return failed("invalid configuration: " + e);
  return {std::move(cfg), ""};
}

}  // namespace gotel
