#include "net/metrics.hpp"

#include "actors/cluster_guard.hpp"
#include "actors/messages.hpp"
#include "alerters/dispatcher.hpp"
#include "net/manage.hpp"
#include "net/setting_lists.hpp"
#include "storage/utf8.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace gotel {

namespace {

/// How long a scrape waits for the dispatcher's counters before answering
/// without them (Prometheus' default scrape timeout is 10 s).
constexpr std::chrono::milliseconds dispatcher_wait{2000};

void family(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view value) {
  out += name;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

/// A metric with one unlabelled sample: its HELP and TYPE lines, then the sample.
void single(std::string& out, std::string_view name, std::string_view type,
            std::string_view help, std::string_view value) {
  family(out, name, type, help);
  sample(out, name, "", value);
}

std::string number(std::uint64_t v) {
  return std::to_string(v);
}

/// Seconds with millisecond precision, as Prometheus timestamps-as-values are.
std::string seconds(unix_ms ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : utf8::sanitize(value)) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string metrics_text(const std::vector<reservation_record>& recs, unix_ms now,
                         const schedule_policy& policy, const server_metrics& server) {
  std::vector<std::string> labels;
  labels.reserve(recs.size());
  for (auto& rec : recs)
    labels.push_back("{app=\"" + escape_label_value(rec.app) + "\",component=\""
                     + escape_label_value(rec.component) + "\"}");
  std::string out;
  out.reserve(4096 + recs.size() * 7 * 80);

  // Per reservation: one family at a time (the format wants a family's samples
  // together); left out when no reservation is selected.
  auto per_reservation = [&](std::string_view name, std::string_view type,
                             std::string_view help, auto value_of) {
    if (recs.empty())
      return;
    family(out, name, type, help);
    for (std::size_t i = 0; i < recs.size(); ++i)
      sample(out, name, labels[i], value_of(recs[i]));
  };
  auto late = [&](const reservation_record& r) {
    return is_failing(r, now, policy);  // late, or a failure not yet resolved
  };
  per_reservation("gotel_reservation_up", "gauge",
                  "1 while the reservation checks in on time, 0 while it is late (paused or not).",
                  [&](auto& r) { return std::string{late(r) ? "0" : "1"}; });
  per_reservation("gotel_reservation_late", "gauge",
                  "1 while the reservation has missed its deadline.",
                  [&](auto& r) { return std::string{late(r) ? "1" : "0"}; });
  per_reservation("gotel_reservation_paused", "gauge",
                  "1 while alerts are snoozed or paused.",
                  [&](auto& r) { return std::string{is_snoozed(r, now) ? "1" : "0"}; });
  per_reservation("gotel_reservation_last_checkin_timestamp_seconds", "gauge",
                  "Unix time of the last checkin; 0 when it never checked in.",
                  [&](auto& r) { return seconds(r.last_checkin_ms); });
  per_reservation("gotel_reservation_period_seconds", "gauge",
                  "Expected interval between checkins (frequency x time_units).",
                  [&](auto& r) { return seconds(r.period_ms()); });
  per_reservation("gotel_reservation_checkins_total", "counter",
                  "Checkins this reservation has received since it was created.",
                  [&](auto& r) { return number(r.checkins); });
  per_reservation("gotel_reservation_alerts_total", "counter",
                  "Alerts raised for this reservation (late notices and repeats).",
                  [&](auto& r) { return number(r.alerts); });

  const auto& c = server.counts;
  single(out, "gotel_reservations", "gauge", "Reservations held by this node.",
         number(c.total));
  family(out, "gotel_reservations_by_state", "gauge",
         "Reservations per state: ok, late (missed deadline or unresolved failure), paused"
         " (snoozed, late or not).");
  sample(out, "gotel_reservations_by_state", "{state=\"ok\"}", number(c.ok));
  sample(out, "gotel_reservations_by_state", "{state=\"late\"}", number(c.late));
  sample(out, "gotel_reservations_by_state", "{state=\"paused\"}", number(c.paused));
  single(out, "gotel_reservations_failed", "gauge",
         "Reservations with a reported failure not yet resolved by a success.",
         number(c.failed));
  single(out, "gotel_reservations_running", "gauge", "Reservations with a run started and not finished.",
         number(c.running));
  single(out, "gotel_metrics_per_reservation", "gauge",
         "Reservations given per-reservation series in this scrape (metrics.per_reservation_tags).",
         number(recs.size()));
  single(out, "gotel_metrics_per_reservation_capped", "gauge",
         "1 when more reservations matched metrics.per_reservation_tags than"
         " metrics.per_reservation_max allows (the rest have no series).",
         server.per_reservation_matched > server.per_reservation_max ? "1" : "0");
  single(out, "gotel_checkins_total", "counter",
         "Checkins accepted by this process since it started.",
         number(server.checkins_total));
  if (server.have_dispatcher) {
    single(out, "gotel_alerts_sent_total", "counter",
           "Alerts delivered to a channel since start.",
           number(server.alerts_delivered));
    single(out, "gotel_alert_failures_total", "counter",
           "Failed alert delivery attempts since start (each retry counts).",
           number(server.alert_failures));
    single(out, "gotel_alerts_expired_total", "counter",
           "Alerts given up on after the retry window since start.",
           number(server.alerts_expired));
    single(out, "gotel_alerts_grouped_total", "counter",
           "Alerts folded into an alert-storm notice since start.",
           number(server.alerts_grouped));
    single(out, "gotel_mail_deferred_total", "counter",
           "E-mail messages held back by the mail budget (per recipient or in total) and "
           "added to that recipient's digest since start.",
           number(server.mail_deferred));
    single(out, "gotel_mail_digests_total", "counter",
           "Digest e-mails (alerts held back by the mail budget) delivered since start.",
           number(server.mail_digests));
    single(out, "gotel_mail_recipients_capped_total", "counter",
           "E-mail recipients cut from alerts because notify held more than "
           "alerts.max_recipients addresses (records stored before the limit) since start.",
           number(server.recipients_capped));
    single(out, "gotel_outbox_depth", "gauge", "Alert intents waiting for delivery.",
           number(server.outbox_depth));
  }
  single(out, "gotel_coordinator", "gauge",
         "1 when this node is the cluster's coordinator (the one sending alerts).",
         server.coordinator ? "1" : "0");
  single(out, "gotel_cluster_epoch", "gauge", "The coordinator election epoch this node knows.",
         number(server.epoch));
  single(out, "gotel_cluster_nodes", "gauge", "Cluster nodes configured, this one included.",
         number(server.nodes));
  single(out, "gotel_cluster_nodes_alive", "gauge",
         "Cluster nodes this node hears from, itself included.",
         number(server.nodes_alive));
  if (server.nodes > 1) {
    family(out, "gotel_cluster_connections_refused_total", "counter",
           "Connections to the cluster port closed before authentication: from an address "
           "that is not a configured node's, or announcing a message above the bound.");
    sample(out, "gotel_cluster_connections_refused_total", "{reason=\"address\"}",
           number(server.cluster_refused_address));
    sample(out, "gotel_cluster_connections_refused_total", "{reason=\"oversized\"}",
           number(server.cluster_refused_oversized));
  }
  single(out, "gotel_healthy", "gauge",
         "1 when every request bridge is alive (GET / answers 200), else 0.",
         server.healthy ? "1" : "0");
  single(out, "gotel_bridge_restarts_total", "counter",
         "Request bridge actors that died and were respawned since start.",
         number(server.bridge_restarts));
  family(out, "gotel_node_info", "gauge", "Always 1; the labels name this node.");
  sample(out, "gotel_node_info", "{node_id=\"" + escape_label_value(server.node_id) + "\"}", "1");
  return out;
}

bool selected_for_metrics(const reservation_record& rec, const std::vector<std::string>& tags) {
  for (auto& t : rec.tags)
    if (std::find(tags.begin(), tags.end(), t) != tags.end())
      return true;
  return false;
}

void serve_metrics(const std::shared_ptr<const api_services>& s, responder respond) {
  s->run_blocking([s, respond = std::move(respond)]() mutable {
    auto& n = *s->n;
    auto& ctx = n.context();
    const auto& cfg = n.settings().metrics;
    std::vector<std::string> tags;
    for_each_listed(cfg.per_reservation_tags, [&tags](std::string_view t) {
      tags.push_back(normalize_name(t));
      return true;
    });
    auto cap = static_cast<std::uint64_t>(std::max<std::int64_t>(0, cfg.per_reservation_max));
    std::vector<reservation_record> recs;
    std::uint64_t matched = 0;
    if (!tags.empty() && cap > 0) {
      // Only with tags configured: one pass, stopped once past the cap.
      auto st = n.store().for_each_reservation([&](const std::string&, reservation_record&& rec) {
        if (!selected_for_metrics(rec, tags))
          return true;
        if (++matched > cap)
          return false;
        recs.push_back(std::move(rec));
        return true;
      });
      if (!st.ok()) {
        respond(json_response(http::status::service_unavailable,
                              "{\"success\":false,\"message\":\"storage failure\"}", 11, true));
        return;
      }
    }
    server_metrics m;
    m.counts = ctx.reservation_counts->read(ctx.wall_now());
    m.per_reservation_matched = matched;
    m.per_reservation_max = cap;
    m.node_id = n.settings().server.node_id;
    m.coordinator = ctx.coordinator.load(std::memory_order_acquire);
    m.checkins_total = ctx.checkins_total.load(std::memory_order_relaxed);
    if (s->health) {
      auto [healthy, restarts] = s->health();
      m.healthy = healthy;
      m.bridge_restarts = restarts;
    }
    auto view = s->cluster_view();
    m.epoch = view.epoch;
    m.nodes = view.nodes.size();
    m.nodes_alive = 0;
    for (auto& p : view.nodes)
      m.nodes_alive += p.alive ? 1 : 0;
    auto refused = cluster_guard::stats();
    m.cluster_refused_address = refused.refused_address;
    m.cluster_refused_oversized = refused.refused_oversized;
    if (n.dispatcher()) {
      // A blocking wait, but on the api's pool: never an I/O or scheduler thread.
      caf::scoped_actor self{n.system()};
      self->request(n.dispatcher(), dispatcher_wait, stats_atom::value)
        .receive(
          [&](dispatcher_stats& d) {
            m.have_dispatcher = true;
            m.alerts_delivered = d.delivered;
            m.alert_failures = d.failed_attempts;
            m.alerts_expired = d.expired;
            m.alerts_grouped = d.grouped;
            m.mail_deferred = d.mail_deferred;
            m.mail_digests = d.mail_digests;
            m.recipients_capped = d.recipients_capped;
            m.outbox_depth = d.pending;
          },
          [&](caf::error&) {});
    }
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, metrics_content_type);
    res.body() = metrics_text(recs, ctx.wall_now(), ctx.policy, m);
    res.prepare_payload();
    respond(std::move(res));
  });
}

}  // namespace gotel
