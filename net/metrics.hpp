#pragma once
/// GET /metrics: Prometheus text exposition format, version 0.0.4.
/// metrics_text() is pure (records, time and counters in, text out); the
/// handler gathers its inputs on the api's blocking pool.

#include "actors/schedule.hpp"
#include "actors/state_counts.hpp"
#include "net/http_server.hpp"
#include "storage/model.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

struct api_services;

/// The node's own numbers, gathered at scrape time.
struct server_metrics {
  std::string node_id;
  bool coordinator = false;
  std::uint64_t epoch = 0;
  std::uint64_t checkins_total = 0;  ///< checkins this process accepted since start
  bool have_dispatcher = false;      ///< false: the dispatcher did not answer in time
  std::uint64_t alerts_delivered = 0;
  std::uint64_t alert_failures = 0;  ///< failed delivery attempts (each retry counts)
  std::uint64_t alerts_expired = 0;
  std::uint64_t alerts_grouped = 0;
  std::uint64_t mail_deferred = 0;       ///< recipient messages deferred to a digest
  std::uint64_t mail_digests = 0;        ///< digests delivered
  std::uint64_t recipients_capped = 0;   ///< recipients cut by alerts.max_recipients
  std::uint64_t outbox_depth = 0;
  std::uint64_t nodes_alive = 1;     ///< cluster nodes this node hears, itself included
  std::uint64_t nodes = 1;
  /// Connections to the cluster port closed by its guard (actors/cluster_guard.hpp).
  std::uint64_t cluster_refused_address = 0;
  std::uint64_t cluster_refused_oversized = 0;
  bool healthy = true;               ///< every bridge actor is alive (as GET / says)
  std::uint64_t bridge_restarts = 0; ///< bridge actors that died and were respawned
  /// Reservations per state, from the node's counters (actors/state_counts.hpp).
  state_totals counts;
  /// Reservations that matched metrics.per_reservation_tags, counted up to
  /// one past metrics.per_reservation_max (so "capped" shows).
  std::uint64_t per_reservation_matched = 0;
  std::uint64_t per_reservation_max = 0;
};

/// The content type Prometheus expects for format 0.0.4.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and line feed; bytes that
/// are not UTF-8 become U+FFFD.
std::string escape_label_value(std::string_view value);

/// The whole exposition: per-reservation gauges labelled {app, component} for
/// `recs` (the reservations selected by tag, none by default), then the
/// aggregates: counts per state and the server's own metrics.
std::string metrics_text(const std::vector<reservation_record>& recs, unix_ms now,
                         const schedule_policy& policy, const server_metrics& server);

/// Whether `rec` carries one of `tags` (metrics.per_reservation_tags, normalized).
bool selected_for_metrics(const reservation_record& rec, const std::vector<std::string>& tags);

/// Answers GET /metrics (net/manage.cpp routes it here).
void serve_metrics(const std::shared_ptr<const api_services>& services, responder respond);

}  // namespace gotel
