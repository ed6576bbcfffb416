#include "net/manage.hpp"

#include "actors/schedule.hpp"
#include "alerters/render.hpp"
#include "net/embedded.hpp"
#include "net/listing.hpp"
#include "net/metrics.hpp"
#include "net/paging.hpp"
#include "storage/utf8.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace gotel {

namespace {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;
using services_ptr = std::shared_ptr<const api_services>;

constexpr std::string_view prefix = "/api/v1/reservations";

/// Default and largest page of ping or alert history.
constexpr std::size_t default_history = 50;
constexpr std::size_t max_history = 1000;
/// Alert log entries scanned when filtering by reservation (newest first).
constexpr std::size_t alert_scan = 10000;

http_response json_answer(http::status status, const ordered_json& body) {
  return json_response(status, json_text(body), 11, true);
}

http_response error(http::status status, const std::string& message) {
  ordered_json j;
  j["success"] = false;
  j["message"] = message;
  return json_answer(status, j);
}

/// "ok", "late" or "paused" (a snoozed job is paused even while late).
std::string status_of(const reservation_record& rec, unix_ms now, const schedule_policy& p) {
  return std::string{to_string(state_of(rec, now, p))};
}

/// GET /reservation's element plus the management API's `status`.
ordered_json reservation_view(const reservation_record& rec, unix_ms now,
                              const schedule_policy& p) {
  auto j = listing_element(rec, now, p);
  j["status"] = status_of(rec, now, p);
  return j;
}

/// `{"success": true, ["created": ...,] "reservation": {...}}` for `rec` as it
/// is now: the answer of every call that returns one reservation.
http_response reservation_answer(const services_ptr& s, const reservation_record& rec,
                                 http::status status, std::optional<bool> created = {}) {
  ordered_json out;
  out["success"] = true;
  if (created)
    out["created"] = *created;
  out["reservation"] = reservation_view(rec, s->n->context().wall_now(), s->n->context().policy);
  return json_answer(status, out);
}

ordered_json checkin_view(const checkin_entry& e) {
  ordered_json j;
  j["at"] = e.at_ms / 1000;
  j["at_ms"] = e.at_ms;
  j["at_str"] = rfc1123(e.at_ms);
  j["notes"] = e.notes;
  j["source"] = e.source;
  // What the entry was: success, start, fail, log or ign (a ping ignored while
  // paused with manual_resume); "exit <n>" is a fail with its exit status.
  std::int32_t status = e.exit_status;
  std::string kind = e.kind.empty() ? "success" : e.kind;
  if (e.kind.rfind("exit ", 0) == 0) {
    kind = "fail";
    if (status < 0)
      std::from_chars(e.kind.data() + 5, e.kind.data() + e.kind.size(), status);
  }
  j["kind"] = kind;
  j["exit_status"] = status >= 0 ? ordered_json(status) : ordered_json(nullptr);
  j["method"] = e.method;
  j["user_agent"] = e.user_agent;
  j["run_id"] = e.run_id.empty() ? ordered_json(nullptr) : ordered_json(e.run_id);
  j["duration"] = e.duration_ms >= 0 ? ordered_json(static_cast<double>(e.duration_ms) / 1000.0)
                                     : ordered_json(nullptr);
  return j;
}

ordered_json alert_view(const alert_log_entry& e) {
  ordered_json j;
  j["at"] = e.at_ms / 1000;
  j["at_str"] = rfc1123(e.at_ms);
  j["job_id"] = e.job_id;
  j["app"] = e.app;
  j["component"] = e.component;
  j["kind"] = std::string{to_string(e.kind)};
  j["channel"] = e.channel;
  j["outcome"] = e.outcome;
  j["dedup_key"] = e.dedup_key;
  return j;
}

/// ?limit=N within [1, max_history]; nullopt + message when malformed.
std::optional<std::size_t> limit_param(std::string_view target, std::string& why) {
  auto text = query_param(target, "limit");
  if (!text)
    return default_history;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || end != text->data() + text->size() || n < 1) {
    why = "limit must be a whole number >= 1";
    return std::nullopt;
  }
  return std::min(n, max_history);
}

/// Same identity rule as reservation keys: case-insensitive, trailing spaces ignored.
bool same_name(std::string_view a, std::string_view b) {
  return normalize_name(a) == normalize_name(b);
}

/// Sends `msg` through a bridge; on success answers `ok(record)`, else the error.
template <class Ok>
void ask_then(const services_ptr& s, caf::message msg, responder respond, Ok ok) {
  s->ask(std::move(msg), [respond, ok](caf::expected<reservation_record> res) mutable {
    if (!res) {
      respond(error(http_status_of(code_of(res.error())), message_of(res.error())));
      return;
    }
    respond(ok(*res));
  });
}

/// Runs `produce` on the blocking pool and answers what it returns.
template <class F>
void blocking(const services_ptr& s, responder respond, F produce) {
  s->run_blocking([respond = std::move(respond), produce]() mutable {
    http_response res;
    try {
      res = produce();
    } catch (const std::exception& e) {
      spdlog::error("api: building an answer failed: {}", utf8::printable(e.what()));
      res = error(http::status::internal_server_error, "internal error; see the server log");
    }
    respond(std::move(res));
  });
}

/// The request body as a JSON object (empty body = {}); nullopt + message otherwise.
std::optional<json> body_object(std::string_view body, std::string& why) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return json::object();
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) {
    why = "request body is not valid JSON";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    why = std::string{"request body must be a JSON object, got "} + doc.type_name();
    return std::nullopt;
  }
  return doc;
}

/// Puts the path's app and component into `body` (refusing a body naming
/// another reservation) and returns it serialized for the request parsers.
std::optional<std::string> with_key(json body, const std::string& app,
                                    const std::string& component, std::string& why) {
  for (auto& [k, v] : body.items()) {
    std::string lower;
    for (unsigned char c : k)
      lower.push_back(static_cast<char>(std::tolower(c)));
    if ((lower == "app" || lower == "component") && !v.is_null()) {
      const auto& want = lower == "app" ? app : component;
      if (!v.is_string() || !same_name(v.get<std::string>(), want)) {
        why = lower + " in the body does not match the path";
        return std::nullopt;
      }
    }
  }
  json out = json::object();
  for (auto& [k, v] : body.items()) {
    std::string lower;
    for (unsigned char c : k)
      lower.push_back(static_cast<char>(std::tolower(c)));
    if (lower != "app" && lower != "component")
      out[k] = v;
  }
  out["app"] = app;
  out["component"] = component;
  return json_text(out);
}

/// Answers a parse rejection from net/requests.hpp.
template <class T>
bool rejected(const parse_result<T>& parsed, responder& respond) {
  if (auto* r = std::get_if<rejection>(&parsed)) {
    respond(error(static_cast<http::status>(r->status), r->message));
    return true;
  }
  return false;
}

std::string method_name(http::verb m) {
  return std::string{http::to_string(m)};
}

http_response not_allowed(http::verb m, std::string_view path) {
  return error(http::status::method_not_allowed,
               "method " + method_name(m) + " is not allowed on " + std::string{path});
}

// -- handlers -----------------------------------------------------------------

/// How many keys one question to the coordinator asks for (scan_late).
constexpr std::uint32_t late_keys_per_ask = 1024;
/// How long a listing waits for the coordinator's answer before it scans.
constexpr std::chrono::milliseconds late_keys_wait{2000};

/// The late reservations after `after`, in key order, as a reservation_scan:
/// their keys from the coordinator's per-state entries (flagged_atom), their
/// records from the store. Counted late means marked late or failed: between
/// a deadline and its mark (milliseconds) a job is not here yet, as in the
/// counters (actors/state_counts.hpp). When the coordinator does not answer
/// in time, `scan_all` (every reservation) serves instead.
storage::status scan_late(node& n, const std::string& after,
                          const std::function<bool(const std::string&, reservation_record&&)>& visit,
                          const reservation_scan& scan_all) {
  std::string from = after;
  // On the api's pool, never an I/O or scheduler thread: a blocking wait is fine.
  caf::scoped_actor self{n.system()};
  for (;;) {
    std::optional<std::vector<std::string>> keys;
    self->request(n.coordinator(), late_keys_wait, flagged_atom::value, from, late_keys_per_ask)
      .receive([&](std::vector<std::string>& got) { keys = std::move(got); },
               [&](caf::error&) {});
    if (!keys)
      return scan_all(from, visit);
    for (auto& key : *keys) {
      storage::status st;
      auto rec = n.store().get_reservation(key, st);
      if (!rec) {
        if (st.ok() || st.code == storage::errc::not_found)
          continue;  // checked out since
        return st;
      }
      if (!visit(key, std::move(*rec)))
        return {};
    }
    if (keys->size() < late_keys_per_ask)
      return {};
    from = keys->back();
  }
}

/// A page of reservations (net/paging.hpp): `result` as before, then `total`
/// (every match), `next_cursor` (null on the last page) and `limit`. A client
/// that sends no cursor gets the first page.
void list_reservations(const services_ptr& s, std::string target, responder respond) {
  std::string why;
  auto query = parse_listing_query(target, why);
  if (!query)
    return respond(error(http::status::bad_request, why));
  blocking(s, std::move(respond), [s, q = std::move(*query)] {
    auto& ctx = s->n->context();
    auto now = ctx.wall_now();
    auto snap = s->n->store().snapshot();
    storage::status st;
    reservation_scan scan_all = [&snap](const std::string& after, const auto& visit) {
      return snap->for_each_after(after, visit);
    };
    reservation_scan scan = scan_all;
    // ?status=late in key order: only the reservations the coordinator counts
    // as late are read, not every one (1M reservations: a scan took 19 s).
    if (q.status == job_state::late && !needs_full_pass(q))
      scan = [&s, &scan_all](const std::string& after, const auto& visit) {
        return scan_late(*s->n, after, visit, scan_all);
      };
    auto page = select_page(q, now, ctx.policy, scan, st);
    if (!st.ok())
      return error(http::status::service_unavailable, "storage failure: " + st.message);
    ordered_json result = ordered_json::array();
    for (auto& rec : page.rows)
      result.push_back(reservation_view(rec, now, ctx.policy));
    std::uint64_t total = 0;
    if (page.total) {
      total = *page.total;
    } else {
      // No filter but status: the counters know (actors/state_counts.hpp).
      auto counts = ctx.reservation_counts->read(now);
      total = q.status ? counts.of(*q.status) : counts.total;
    }
    ordered_json out;
    out["success"] = true;
    out["result"] = std::move(result);
    out["total"] = total;
    out["next_cursor"] =
      page.next_cursor.empty() ? ordered_json(nullptr) : ordered_json(page.next_cursor);
    out["limit"] = q.limit;
    return json_answer(http::status::ok, out);
  });
}

/// Reads one reservation from the store; the response when absent or failing.
std::optional<reservation_record> load(const services_ptr& s, const std::string& app,
                                       const std::string& component, http_response& failed) {
  storage::status st;
  auto rec = s->n->store().get_reservation(reservation_key(app, component), st);
  if (rec)
    return rec;
  if (st.ok() || st.code == storage::errc::not_found)
    failed = error(http::status::not_found, "no reservation " + app + "/" + component);
  else
    failed = error(http::status::service_unavailable, "storage failure: " + st.message);
  return std::nullopt;
}

void get_reservation(const services_ptr& s, std::string app, std::string component,
                     responder respond) {
  blocking(s, std::move(respond), [s, app, component] {
    http_response failed;
    auto rec = load(s, app, component, failed);
    if (!rec)
      return failed;
    return reservation_answer(s, *rec, http::status::ok);
  });
}

void put_reservation(const services_ptr& s, const http_request& req, std::string app,
                     std::string component, responder respond) {
  std::string why;
  auto body = body_object(req.body(), why);
  if (!body)
    return respond(error(http::status::bad_request, why));
  auto text = with_key(std::move(*body), app, component, why);
  if (!text)
    return respond(error(http::status::bad_request, why));
  auto parsed = parse_reserve(*text, s->limits);
  if (rejected(parsed, respond))
    return;
  auto request = std::get<reserve_request>(std::move(parsed));
  // Whether it existed decides 201 or 200; a race with another creator only
  // changes which of the two answers says "created".
  s->run_blocking([s, request = std::move(request), respond = std::move(respond)]() mutable {
    storage::status st;
    bool existed =
      s->n->store().get_reservation(reservation_key(request.app, request.component), st)
        .has_value();
    auto msg = caf::make_message(reserve_atom::value, std::move(request));
    ask_then(s, std::move(msg), std::move(respond), [s, existed](const reservation_record& rec) {
      return reservation_answer(s, rec, existed ? http::status::ok : http::status::created,
                                !existed);
    });
  });
}

/// A change answered with the reservation as it is afterwards.
void change(const services_ptr& s, caf::message msg, responder respond) {
  ask_then(s, std::move(msg), std::move(respond), [s](const reservation_record& rec) {
    return reservation_answer(s, rec, http::status::ok);
  });
}

void pause_reservation(const services_ptr& s, const http_request& req, std::string app,
                       std::string component, responder respond) {
  std::string why;
  auto body = body_object(req.body(), why);
  if (!body)
    return respond(error(http::status::bad_request, why));
  snooze_request snooze{app, component, max_period_ms};
  // With a duration it is a snooze; without, a pause until resumed (a snooze
  // of the longest accepted length: ten years).
  bool has_duration = false;
  for (auto& [k, v] : body->items()) {
    std::string lower;
    for (unsigned char c : k)
      lower.push_back(static_cast<char>(std::tolower(c)));
    if (lower == "duration" && !v.is_null())
      has_duration = true;
  }
  if (has_duration) {
    auto text = with_key(std::move(*body), app, component, why);
    if (!text)
      return respond(error(http::status::bad_request, why));
    auto parsed = parse_snooze(*text, s->limits);
    if (rejected(parsed, respond))
      return;
    snooze = std::get<snooze_request>(std::move(parsed));
  }
  change(s, caf::make_message(snooze_atom::value, std::move(snooze)), std::move(respond));
}

void checkin_reservation(const services_ptr& s, const http_request& req, std::string app,
                         std::string component, const std::string& remote,
                         responder respond) {
  std::string why;
  auto body = body_object(req.body(), why);
  if (!body)
    return respond(error(http::status::bad_request, why));
  auto text = with_key(std::move(*body), app, component, why);
  if (!text)
    return respond(error(http::status::bad_request, why));
  auto parsed = parse_checkin(*text, s->limits);
  if (rejected(parsed, respond))
    return;
  auto request = std::get<checkin_request>(std::move(parsed));
  request.source = remote;
  change(s, caf::make_message(checkin_atom::value, std::move(request)), std::move(respond));
}

void delete_reservation(const services_ptr& s, std::string app, std::string component,
                        responder respond) {
  ask_then(s, caf::make_message(checkout_atom::value, key_request{app, component}),
           std::move(respond), [](const reservation_record& rec) {
             ordered_json out;
             out["success"] = true;
             out["message"] = "Application Removed [" + rec.app + "/" + rec.component + "] ";
             return json_answer(http::status::ok, out);
           });
}

void ping_history(const services_ptr& s, std::string target, std::string app,
                  std::string component, responder respond) {
  std::string why;
  auto limit = limit_param(target, why);
  if (!limit)
    return respond(error(http::status::bad_request, why));
  blocking(s, std::move(respond), [s, app, component, n = *limit] {
    http_response failed;
    if (!load(s, app, component, failed))
      return failed;
    storage::status st;
    auto entries = s->n->store().checkins(reservation_key(app, component), n, st);
    if (!st.ok() && st.code != storage::errc::not_found)
      return error(http::status::service_unavailable, "storage failure: " + st.message);
    ordered_json result = ordered_json::array();
    for (auto& e : entries)
      result.push_back(checkin_view(e));
    ordered_json out;
    out["success"] = true;
    out["result"] = std::move(result);
    return json_answer(http::status::ok, out);
  });
}

/// The alert log, newest first, filtered by app and component when given.
void alert_history(const services_ptr& s, std::string target, std::optional<std::string> app,
                   std::optional<std::string> component, responder respond) {
  std::string why;
  auto limit = limit_param(target, why);
  if (!limit)
    return respond(error(http::status::bad_request, why));
  blocking(s, std::move(respond), [s, app, component, n = *limit] {
    storage::status st;
    auto log = s->n->store().alert_log(app || component ? alert_scan : n, st);
    if (!st.ok() && st.code != storage::errc::not_found)
      return error(http::status::service_unavailable, "storage failure: " + st.message);
    ordered_json result = ordered_json::array();
    for (auto& e : log) {
      if (result.size() >= n)
        break;
      if ((app && !same_name(e.app, *app)) || (component && !same_name(e.component, *component)))
        continue;
      result.push_back(alert_view(e));
    }
    ordered_json out;
    out["success"] = true;
    out["result"] = std::move(result);
    return json_answer(http::status::ok, out);
  });
}

/// This node at a glance: role, counts by status (gotelctl status). Answered
/// here, not on the blocking pool: it reads counters, never the store, so it
/// does not wait behind a long listing.
void node_status(const services_ptr& s, responder respond) {
  respond([&s] {
    auto& ctx = s->n->context();
    auto now = ctx.wall_now();
    // Kept as states change, never counted by a scan (actors/state_counts.hpp).
    auto counts = ctx.reservation_counts->read(now);
    auto view = s->cluster_view();
    ordered_json out;
    out["success"] = true;
    out["node_id"] = s->n->settings().server.node_id;
    out["coordinator"] = ctx.coordinator.load();
    out["coordinator_id"] = view.coordinator_id;
    out["epoch"] = view.epoch;
    out["reservations"] = counts.total;
    out["ok"] = counts.ok;
    out["late"] = counts.late;
    out["paused"] = counts.paused;
    out["failed"] = counts.failed;
    out["running"] = counts.running;
    out["checkins_total"] = ctx.checkins_total.load(std::memory_order_relaxed);
    ordered_json nodes = ordered_json::array();
    for (auto& p : view.nodes) {
      ordered_json x;
      x["id"] = p.id;
      x["http"] = p.http;
      x["alive"] = p.alive;
      x["coordinator"] = p.coordinator;
      nodes.push_back(std::move(x));
    }
    out["nodes"] = std::move(nodes);
    return json_answer(http::status::ok, out);
  }());
}

/// The decoded segments of `rest` ("a/b/c"); nullopt when one is malformed or empty.
std::optional<std::vector<std::string>> segments(std::string_view rest) {
  std::vector<std::string> out;
  while (true) {
    auto slash = rest.find('/');
    auto part = percent_decode(rest.substr(0, slash), false);
    if (!part || part->empty())
      return std::nullopt;
    out.push_back(std::move(*part));
    if (slash == std::string_view::npos)
      return out;
    rest.remove_prefix(slash + 1);
  }
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      unsigned value = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc{} || end != text.data() + i + 3)
        return std::nullopt;
      out.push_back(static_cast<char>(value));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos)
    return std::nullopt;
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name)
      return eq == std::string_view::npos ? std::optional<std::string>{std::string{}}
                                          : percent_decode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos)
      break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool handle_management(const services_ptr& s, const http_request& req, std::string_view path,
                       const std::string& remote, responder& respond) {
  auto method = req.method();
  bool get = method == http::verb::get || method == http::verb::head;
  auto target = std::string{req.target().data(), req.target().size()};

  if (path == "/openapi.json") {
    if (!get)
      respond(not_allowed(method, path));
    else
      respond(json_response(http::status::ok, std::string{openapi_json}, 11, true));
    return true;
  }
  if (path == "/metrics") {
    if (!get)
      respond(not_allowed(method, path));
    else
      serve_metrics(s, std::move(respond));
    return true;
  }
  if (!path.starts_with("/api/"))
    return false;

  if (path == "/api/v1/status") {
    get ? node_status(s, std::move(respond)) : respond(not_allowed(method, path));
    return true;
  }
  if (path == "/api/v1/alerts") {
    if (!get)
      respond(not_allowed(method, path));
    else
      alert_history(s, target, query_param(target, "app"), query_param(target, "component"),
                    std::move(respond));
    return true;
  }
  if (path == prefix || path == std::string{prefix} + "/") {
    get ? list_reservations(s, target, std::move(respond)) : respond(not_allowed(method, path));
    return true;
  }
  if (!path.starts_with(std::string{prefix} + "/")) {
    respond(error(http::status::not_found, "no such endpoint: " + std::string{path}));
    return true;
  }
  auto parts = segments(path.substr(prefix.size() + 1));
  if (!parts || parts->size() < 2 || parts->size() > 3) {
    respond(error(http::status::not_found,
                  "expected " + std::string{prefix}
                    + "/{app}/{component}[/pause|resume|checkin|pings|alerts] with every "
                      "segment non-empty and %-encoded"));
    return true;
  }
  auto app = (*parts)[0];
  auto component = (*parts)[1];
  for (auto* name : {&app, &component})
    if (!utf8::valid(*name)) {
      respond(error(http::status::bad_request, "app and component must be valid UTF-8 "
                                               "(percent-encode its bytes)"));
      return true;
    }
  for (auto* name : {&app, &component})
    if (name->size() > s->limits.max_field_bytes) {
      respond(error(http::status::payload_too_large, "app or component is longer than "
                                                       + std::to_string(s->limits.max_field_bytes)
                                                       + " bytes"));
      return true;
    }
  if (parts->size() == 2) {
    if (get)
      get_reservation(s, app, component, std::move(respond));
    else if (method == http::verb::put)
      put_reservation(s, req, app, component, std::move(respond));
    else if (method == http::verb::delete_)
      delete_reservation(s, app, component, std::move(respond));
    else
      respond(not_allowed(method, path));
    return true;
  }
  auto& action = (*parts)[2];
  bool post = method == http::verb::post;
  if (action == "pause" && post)
    pause_reservation(s, req, app, component, std::move(respond));
  else if (action == "resume" && post)
    change(s, caf::make_message(unsnooze_atom::value, key_request{app, component}),
           std::move(respond));
  else if (action == "checkin" && post)
    checkin_reservation(s, req, app, component, remote, std::move(respond));
  else if (action == "pings" && get)
    ping_history(s, target, app, component, std::move(respond));
  else if (action == "alerts" && get)
    alert_history(s, target, app, component, std::move(respond));
  else if (action == "pause" || action == "resume" || action == "checkin" || action == "pings"
           || action == "alerts")
    respond(not_allowed(method, path));
  else
    respond(error(http::status::not_found, "no such endpoint: " + std::string{path}));
  return true;
}

}  // namespace gotel
