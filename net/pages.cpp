#include "net/pages.hpp"

#include "alerters/render.hpp"
#include "storage/utf8.hpp"

#include <algorithm>
#include <map>

namespace gotel {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : utf8::sanitize(text)) {  // the page says charset=utf-8
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

constexpr std::string_view page_head = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>GoTel</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#eee}.OK{background:#d6f5d6}.FAILING{background:#f8c8c8}.SNOOZED{background:#fff3bf}
</style></head><body>
<p><a href="/status">status</a> | <a href="/badguests">bad guests</a> | <a href="/nodes">nodes</a></p>
)";

constexpr std::string_view page_tail = "</body></html>\n";

std::string cell(std::string_view text) {
  return "<td>" + html_escape(text) + "</td>";
}

}  // namespace

std::string status_rows(const std::vector<reservation_record>& recs, unix_ms now,
                        const schedule_policy& policy) {
  std::string out;
  for (auto& rec : recs) {
    bool late = is_failing(rec, now, policy);
    auto status = is_snoozed(rec, now) ? "SNOOZED" : late ? "FAILING" : "OK";
    out += "<tr class=\"" + std::string{status} + "\">";
    out += cell(std::to_string(rec.job_id)) + cell(rec.app) + cell(rec.component)
           + cell(rec.owner) + cell(std::to_string(rec.frequency)) + cell(to_string(rec.unit))
           + cell(rec.last_checkin_ms ? rfc1123(rec.last_checkin_ms) : "never")
           + cell(rec.last_checkin_ms ? humanize_between(now, rec.last_checkin_ms) : "never")
           + cell(std::to_string(rec.checkins)) + cell(status);
    out += "</tr>\n";
  }
  return out;
}

std::string status_page_head() {
  std::string out{page_head};
  out += "<h1>GoTel status</h1>\n<table>\n<tr><th>JobID</th><th>App</th><th>Component</th>"
         "<th>Owner</th><th>Frequency</th><th>Time Units</th><th>Last Checkin</th>"
         "<th>Time Since Last Checkin</th><th>Num Checkins</th><th>Status</th></tr>\n";
  return out;
}

std::string status_page_tail() {
  return "</table>\n" + std::string{page_tail};
}

std::string status_page(const std::vector<reservation_record>& recs, unix_ms now,
                        const schedule_policy& policy) {
  return status_page_head() + status_rows(recs, now, policy) + status_page_tail();
}

std::string badguests_page(const std::vector<reservation_record>& recs,
                           const std::vector<alert_log_entry>& log) {
  std::vector<const reservation_record*> bad;
  for (auto& rec : recs)
    if (rec.alerts > 0)
      bad.push_back(&rec);
  std::sort(bad.begin(), bad.end(), [](auto* a, auto* b) { return a->alerts > b->alerts; });
  // The log is newest first: the first entry seen per job is its last alert.
  std::map<std::uint64_t, const alert_log_entry*> last;
  for (auto& e : log)
    last.emplace(e.job_id, &e);
  std::string out{page_head};
  out += "<h1>Bad guests</h1>\n<table>\n<tr><th>App</th><th>Component</th><th>Alerts</th>"
         "<th>Last Alert</th><th>Channel</th><th>Outcome</th></tr>\n";
  for (auto* rec : bad) {
    out += "<tr>" + cell(rec->app) + cell(rec->component) + cell(std::to_string(rec->alerts));
    auto i = last.find(rec->job_id);
    if (i != last.end())
      out += cell(rfc1123(i->second->at_ms)) + cell(i->second->channel)
             + cell(i->second->outcome);
    else
      out += cell(rec->last_alert_ms ? rfc1123(rec->last_alert_ms) : "") + cell("") + cell("");
    out += "</tr>\n";
  }
  out += "</table>\n";
  out += page_tail;
  return out;
}

std::string nodes_page(const node_context::cluster_view& view, const std::string& self_id) {
  std::string out{page_head};
  out += "<h1>Nodes</h1>\n<p>Epoch " + std::to_string(view.epoch) + ", coordinator "
         + html_escape(view.coordinator_id.empty() ? "none (electing)" : view.coordinator_id)
         + "</p>\n<table>\n<tr><th>Node</th><th>Address</th><th>Role</th><th>State</th>"
           "<th>Last Heard</th></tr>\n";
  for (auto& n : view.nodes) {
    auto name = n.id == self_id ? n.id + " (this node)" : n.id;
    out += "<tr class=\"" + std::string{n.alive ? "OK" : "FAILING"} + "\">" + cell(name)
           + cell(n.http) + cell(n.coordinator ? "coordinator" : "worker")
           + cell(n.alive ? "alive" : "silent")
           + cell(n.last_heard_ms ? rfc1123(n.last_heard_ms) : "never") + "</tr>\n";
  }
  out += "</table>\n";
  out += page_tail;
  return out;
}

}  // namespace gotel
