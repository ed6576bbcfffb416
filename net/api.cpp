#include "net/api.hpp"

#include "actors/errors.hpp"
#include "alerters/render.hpp"
#include "net/bridge.hpp"
#include "net/listing.hpp"
#include "net/manage.hpp"
#include "net/pages.hpp"
#include "net/pings.hpp"
#include "net/ui.hpp"
#include "net/requests.hpp"
#include "storage/utf8.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace gotel {

namespace {

using ordered_json = nlohmann::ordered_json;

std::string message_body(const std::string& message, bool success) {
  ordered_json j;
  j["message"] = message;
  j["success"] = success;
  return json_text(j);
}

/// What `produce` returns, or a 500 JSON error (logged) when it throws.
template <class F>
http_response answer_or_500(F& produce) {
  try {
    return produce();
  } catch (const std::exception& e) {
    spdlog::error("api: building an answer failed: {}", utf8::printable(e.what()));
  } catch (...) {
    spdlog::error("api: building an answer failed");
  }
  return json_response(http::status::internal_server_error,
                       message_body("internal error; see the server log", false), 11, true);
}

http::status status_for(errc code) {
  switch (code) {
    case errc::not_found: return http::status::not_found;
    case errc::conflict: return http::status::conflict;
    case errc::invalid_argument: return http::status::bad_request;
    // As Healthchecks answers a check over the account's limit.
    case errc::limit_reached: return http::status::forbidden;
    case errc::none: return http::status::ok;
    case errc::internal: return http::status::internal_server_error;
    case errc::storage_failure:
    case errc::no_coordinator:
    case errc::unavailable: break;
  }
  return http::status::service_unavailable;
}

}  // namespace

namespace {

/// Schedules, runs and ping URLs (docs/pings.md): appended after the keys above.
void append_signal_keys(ordered_json& j, const reservation_record& rec, unix_ms now,
                        const schedule_policy& policy) {
  j["uuid"] = rec.uuid;
  j["schedule"] = rec.schedule;
  j["tz"] = rec.schedule.empty() ? "" : (rec.tz.empty() ? "UTC" : rec.tz);
  j["grace"] = rec.grace_ms / 1000;
  j["max_duration"] = rec.max_duration_ms / 1000;
  j["next_expected"] = next_expected_ms(rec, policy) / 1000;
  j["running"] = rec.runs.size();
  ordered_json runs = ordered_json::array();
  for (auto& run : rec.runs) {
    ordered_json x;
    x["run_id"] = run.id;
    x["started"] = run.started_ms / 1000;
    x["seconds"] = static_cast<double>(std::max<unix_ms>(0, now - run.started_ms)) / 1000.0;
    x["too_long"] = run.alerted;
    runs.push_back(std::move(x));
  }
  j["runs"] = std::move(runs);
  j["last_duration"] = static_cast<double>(rec.last_duration_ms) / 1000.0;
  j["avg_duration"] =
    rec.runs_finished == 0
      ? 0.0
      : static_cast<double>(rec.total_duration_ms) / static_cast<double>(rec.runs_finished)
          / 1000.0;
  j["runs_finished"] = rec.runs_finished;
  j["failed"] = rec.failed_since_ms != 0;
  j["last_exit_status"] = rec.last_exit_status;
  j["manual_resume"] = rec.manual_resume;
}

}  // namespace

http::status http_status_of(errc code) {
  return status_for(code);
}

ordered_json listing_element(const reservation_record& rec, unix_ms now,
                             const schedule_policy& policy) {
    ordered_json j;
    j["job_id"] = rec.job_id;
    j["owner"] = rec.owner;
    j["notify"] = rec.notify;
    j["alert_msg"] = rec.alert_msg;
    j["app"] = rec.app;
    j["component"] = rec.component;
    j["frequency"] = rec.frequency;
    j["time_units"] = to_string(rec.unit);
    j["last_checkin"] = rec.last_checkin_ms / 1000;
    j["last_checkin_str"] = rec.last_checkin_ms != 0 ? rfc1123(rec.last_checkin_ms) : "";
    j["time_since_last_checkin"] =
      rec.last_checkin_ms != 0 ? humanize_between(now, rec.last_checkin_ms) : "never";
    j["failing_sla"] = is_failing(rec, now, policy);
    j["number_of_checkins"] = rec.checkins;
    // Beyond the original's keys, appended so old parsers keep working.
    j["snoozed_until"] = is_snoozed(rec, now) ? rec.snooze_until_ms / 1000 : 0;
    j["created"] = rec.created_ms / 1000;
    j["alerts"] = rec.alerts;
    // The reservation's alerter choice as posted: [] = every configured one.
    j["alerters"] = rec.alerters;
    ordered_json steps = ordered_json::array();
    for (auto& step : rec.escalation) {
      ordered_json x;
      x["after"] = step.after;
      x["alerters"] = step.alerters;
      steps.push_back(std::move(x));
    }
    j["escalation"] = std::move(steps);
    j["tags"] = rec.tags;
    append_signal_keys(j, rec, now, policy);
    return j;
}

std::string listing_json(const std::vector<reservation_record>& recs, unix_ms now,
                         const schedule_policy& policy) {
  ordered_json result = ordered_json::array();
  for (auto& rec : recs)
    result.push_back(listing_element(rec, now, policy));
  ordered_json out;
  out["result"] = std::move(result);
  out["success"] = true;
  return json_text(out);
}

/// Rows of the web UI's first page, rendered into GET /status.
constexpr std::size_t ui_first_page = 50;

/// What every HTML page is sent with: never framed (clickjacking), never
/// sniffed, only the page's own script.
template <class Message>
void set_html_headers(Message& res) {
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set("Content-Security-Policy", html_content_security_policy());
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
}

struct api::impl : std::enable_shared_from_this<api::impl> {
  node& n;
  field_limits limits;
  /// The bridges; a dead one is replaced by the supervisor (guarded by bridges_mtx).
  std::vector<caf::actor> bridges;
  std::mutex bridges_mtx;
  std::atomic<std::size_t> next_bridge{0};
  /// Watches the bridges and respawns one that dies (net/bridge.hpp).
  caf::actor supervisor;
  bridge_health health;
  /// Store scans (listings, pages) run here, never on I/O or scheduler threads.
  /// Null once stopped; guarded by pool_mtx (jobs are posted from any thread).
  std::unique_ptr<boost::asio::thread_pool> pool = std::make_unique<boost::asio::thread_pool>(2);
  std::mutex pool_mtx;
  /// host:port the HTTP server is bound to. Set by main() after server.start(),
  /// so requests may already be served: guarded by bound_mtx.
  std::string bound_address;
  std::mutex bound_mtx;
  /// What net/manage.cpp's handlers use (set once, right after construction).
  std::shared_ptr<const api_services> services;

  explicit impl(node& nd) : n(nd) {
    auto& cfg = n.settings();
    limits.max_field_bytes = static_cast<std::size_t>(cfg.server.max_field_bytes);
    limits.max_notes_bytes = static_cast<std::size_t>(cfg.server.max_notes_bytes);
    limits.max_recipients = static_cast<std::size_t>(cfg.alerts.max_recipients);
    // No body larger than max_body_bytes is read, so none larger is kept.
    limits.ping_body_limit = static_cast<std::size_t>(
      std::min(cfg.server.ping_body_limit, cfg.server.max_body_bytes));
    auto timeout = std::chrono::milliseconds{cfg.server.request_timeout_ms};
    for (int i = 0; i < 4; ++i)
      bridges.push_back(spawn_bridge(n.system(), n.coordinator(), &n.context(), timeout));
    auto spawn = [&sys = n.system(), coord = n.coordinator(), ctx = &n.context(), timeout] {
      return spawn_bridge(sys, coord, ctx, timeout);
    };
    supervisor = spawn_bridge_supervisor(n.system(), bridges, bridges_mtx, spawn, health);
  }

  /// Runs `job` on the pool; after stop() drops it (and what it holds).
  void run_blocking(std::function<void()> job) {
    std::lock_guard<std::mutex> guard{pool_mtx};
    if (pool)
      boost::asio::post(*pool, [job = std::move(job)] {
        // An exception must not reach the pool thread (std::terminate).
        try {
          job();
        } catch (const std::exception& e) {
          spdlog::error("api: a blocking job failed: {}", utf8::printable(e.what()));
        } catch (...) {
          spdlog::error("api: a blocking job failed");
        }
      });
  }

  /// See api::stop(). Must not run on a pool thread (it joins them); the api
  /// calls it from its owner's thread, so the jobs' references to this impl
  /// (shared_from_this) are never the last ones.
  void stop() {
    std::unique_ptr<boost::asio::thread_pool> p;
    {
      std::lock_guard<std::mutex> guard{pool_mtx};
      p = std::move(pool);
    }
    if (!p)
      return;
    health.stopping.store(true);
    // Queued jobs are dropped, not run: their answers would go to a server that
    // no longer writes. The running ones finish before this returns.
    p->stop();
    p.reset();  // joins, then destroys the dropped jobs and their responders
    // The bridges hold the callbacks of requests still asking an actor; each
    // keeps its connection alive, so they must be gone before the server is.
    caf::scoped_actor self{n.system()};
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    self->wait_for(supervisor);
    // wait_for returns on the down message, which CAF may send before the
    // supervisor's exit functor (it writes `health`) has run: wait for that
    // write too, bounded, before `health` can go with this object.
    for (int i = 0; i < 5000 && health.supervised.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    std::vector<caf::actor> bs;
    {
      std::lock_guard<std::mutex> guard{bridges_mtx};
      bs = bridges;
    }
    for (auto& b : bs)
      self->send_exit(b, caf::exit_reason::user_shutdown);
    for (auto& b : bs)
      self->wait_for(b);
  }

  caf::actor bridge() {
    auto i = next_bridge.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> guard{bridges_mtx};
    return bridges[i % bridges.size()];
  }

  static http_response json(http::status status, std::string body) {
    return json_response(status, std::move(body), 11, true);
  }

  static http_response error(http::status status, const std::string& message) {
    return json(status, message_body(message, false));
  }

  /// Parses with `parse`, asks the coordinator with `make`, answers with `ok`.
  template <class Parse, class Make, class Ok>
  void call(const http_request& req, responder respond, Parse parse, Make make, Ok ok) {
    auto parsed = parse(req.body(), limits);
    if (auto* r = std::get_if<rejection>(&parsed)) {
      respond(error(static_cast<http::status>(r->status), r->message));
      return;
    }
    auto& value = std::get<0>(parsed);
    auto msg = make(value);
    ask(bridge(), std::move(msg),
        [respond, ok, value](caf::expected<reservation_record> res) mutable {
          if (!res) {
            respond(error(status_for(code_of(res.error())), message_of(res.error())));
            return;
          }
          respond(json(http::status::ok, ok(value, *res)));
        });
  }

  /// Runs `produce` on the pool and answers with what it returns.
  template <class F>
  void offload(responder respond, F produce) {
    run_blocking([respond = std::move(respond), produce]() mutable {
      respond(answer_or_500(produce));
    });
  }

  /// The cluster as this node sees it; a single node is its own coordinator.
  node_context::cluster_view cluster_view() {
    if (n.context().cluster)
      return n.context().view();
    node_context::cluster_view v;
    node_context::peer_view self_view;
    self_view.id = n.settings().server.node_id;
    {
      std::lock_guard lock{bound_mtx};
      self_view.http = bound_address;
    }
    self_view.alive = true;
    self_view.coordinator = true;
    self_view.last_heard_ms = n.context().wall_now();
    v.coordinator_id = self_view.id;
    v.nodes.push_back(std::move(self_view));
    return v;
  }

  /// Answers with `header` and the body `pieces` make, streamed (chunked) on
  /// the pool. The first piece is made here, before anything is sent, so that
  /// a storage failure at the start is still a 503 answer; a body that is all
  /// in it goes out whole, with Content-Length.
  void stream(responder respond, http::response<http::empty_body> header, body_pieces pieces) {
    auto first = std::make_shared<std::string>();
    bool more = false;
    try {
      more = pieces(*first);
    } catch (const std::exception& e) {
      respond(error(http::status::service_unavailable, utf8::sanitize(e.what())));
      return;
    }
    if (!more) {
      // The whole body fits one piece: sent with Content-Length, as it always was.
      http_response res{header.result(), header.version()};
      for (auto& field : header)
        res.set(field.name_string(), field.value());
      res.keep_alive(true);
      res.body() = std::move(*first);
      res.prepare_payload();
      respond(std::move(res));
      return;
    }
    streamed_response r;
    r.header = std::move(header);
    r.header.keep_alive(true);
    r.next = [first, more, pieces = std::move(pieces)](std::string& out) mutable {
      if (first) {
        out = std::move(*first);
        first.reset();
        return more;
      }
      return pieces(out);
    };
    std::weak_ptr<impl> w = shared_from_this();
    r.run = [w](std::function<void()> job) {
      if (auto d = w.lock())
        d->run_blocking(std::move(job));
    };
    respond.stream(std::move(r));
  }

  /// The newest alert log entries (what was delivered, grouped or expired).
  std::vector<alert_log_entry> recent_alerts() {
    storage::status st;
    return n.store().alert_log(badguests_log_entries, st);
  }

  void handle(http_request&& req, const std::string& remote, responder respond) {
    auto target = std::string_view{req.target().data(), req.target().size()};
    auto path = target.substr(0, target.find('?'));
    auto method = req.method();
    bool get = method == http::verb::get || method == http::verb::head;
    bool post = method == http::verb::post;
    if (handle_management(services, req, path, remote, respond))
      return;  // /api/v1/..., /openapi.json, /metrics (net/manage.cpp)

    if (path.substr(0, 6) == "/ping/") {
      // Healthchecks-compatible pings (net/pings.hpp): text answers, not JSON.
      auto query = target.size() > path.size() ? target.substr(path.size() + 1) : "";
      auto self = shared_from_this();
      handle_ping(std::move(req), path, query, remote, limits.ping_body_limit,
                  [self](caf::message msg, reply_fn fn) {
                    ask(self->bridge(), std::move(msg), std::move(fn));
                  },
                  std::move(respond));
      return;
    }
    if ((path == "/start" || path == "/fail") && post) {
      auto kind = path == "/start" ? signal_kind::start : signal_kind::fail;
      call(
        req, respond,
        [&remote, kind](std::string_view body, const field_limits& lim) {
          auto parsed = parse_signal(body, kind, lim);
          if (auto* r = std::get_if<signal_request>(&parsed))
            r->source = remote;
          return parsed;
        },
        [](signal_request& r) { return caf::make_message(signal_atom::value, r); },
        [](const signal_request& r, const reservation_record&) {
          return message_body((r.kind == signal_kind::start ? "Run started: " : "Run failed: ")
                                + r.app,
                              true);
        });
      return;
    }

    if (path == "/" && get) {
      if (!health.healthy())
        respond(json(http::status::service_unavailable,
                     message_body("unhealthy: " + health.why(), false)));
      else
        respond(json(http::status::ok, message_body("A-OK!", true)));
    } else if (path == "/reservation" && post) {
      call(req, respond, parse_reserve,
           [](reserve_request& r) { return caf::make_message(reserve_atom::value, r); },
           [](const reserve_request&, const reservation_record&) { return "\"OK\""; });
    } else if (path == "/reservation" && get) {
      // Every reservation, newest checkin first, as the original lists them;
      // streamed from a snapshot, never held whole (net/listing.hpp).
      auto self = shared_from_this();
      run_blocking([self, respond = std::move(respond)]() mutable {
        auto& ctx = self->n.context();
        std::shared_ptr<storage::reservation_snapshot> snap = self->n.store().snapshot();
        http::response<http::empty_body> header{http::status::ok, 11};
        header.set(http::field::server, "gotel");
        header.set(http::field::content_type, "application/json");
        self->stream(std::move(respond), std::move(header),
                     reservation_listing_pieces(std::move(snap), ctx.wall_now(), ctx.policy));
      });
    } else if (path == "/checkin" && post) {
      call(
        req, respond,
        [&remote](std::string_view body, const field_limits& lim) {
          auto parsed = parse_checkin(body, lim);
          if (auto* r = std::get_if<checkin_request>(&parsed))
            r->source = remote;
          return parsed;
        },
        [](checkin_request& r) { return caf::make_message(checkin_atom::value, r); },
        [](const checkin_request& r, const reservation_record&) {
          return message_body("Application checked in: " + r.app, true);
        });
    } else if (path == "/snooze" && post) {
      call(req, respond, parse_snooze,
           [](snooze_request& r) { return caf::make_message(snooze_atom::value, r); },
           [](const snooze_request& r, const reservation_record&) {
             return message_body("Application alerting paused: " + r.app, true);
           });
    } else if (path == "/snooze" && method == http::verb::delete_) {
      call(req, respond, parse_key,
           [](key_request& r) { return caf::make_message(unsnooze_atom::value, r); },
           [](const key_request& r, const reservation_record&) {
             return message_body("Application alerting resumed: " + r.app, true);
           });
    } else if (path == "/checkout" && post) {
      call(req, respond, parse_key,
           [](key_request& r) { return caf::make_message(checkout_atom::value, r); },
           [](const key_request& r, const reservation_record&) {
             return message_body("Application Removed [" + r.app + "/" + r.component + "] ",
                                 true);
           });
    } else if (path == "/is-coordinator" && get) {
      respond(json(http::status::ok, n.context().coordinator.load() ? "true" : "false"));
    } else if ((path == "/status" || path == "/badguests" || path == "/nodes") && get) {
      auto self = shared_from_this();
      auto page = std::string{path};
      // /status is the web UI (net/ui.hpp); /status?plain=1 the original's bare table.
      bool plain = query_param(target, "plain").has_value();
      if (page == "/status" && plain) {
        // The original's table of every row: streamed from a snapshot.
        run_blocking([self, respond = std::move(respond)]() mutable {
          auto& ctx = self->n.context();
          http::response<http::empty_body> header{http::status::ok, 11};
          header.set(http::field::server, "gotel");
          set_html_headers(header);
          self->stream(std::move(respond), std::move(header),
                       status_table_pieces(self->n.store().snapshot(), ctx.wall_now(),
                                           ctx.policy));
        });
        return;
      }
      offload(std::move(respond), [self, page] {
        storage::status st;
        auto now = self->n.context().wall_now();
        std::vector<reservation_record> recs;
        if (page == "/status") {
          // The web UI with its first page rendered in (key order); the
          // script pages, sorts and filters through the management API.
          st = self->n.store().for_each_reservation([&](const std::string&, reservation_record&& rec) {
            recs.push_back(std::move(rec));
            return recs.size() < ui_first_page;
          });
        } else if (page == "/badguests") {
          // Only the reservations that alerted, not every one.
          st = self->n.store().for_each_reservation([&](const std::string&, reservation_record&& rec) {
            if (rec.alerts > 0)
              recs.push_back(std::move(rec));
            return true;
          });
        }
        if (!st.ok())
          return error(http::status::service_unavailable, "storage failure: " + st.message);
        std::string html;
        if (page == "/status")
          html = status_app_page(recs, now, self->n.context().policy);
        else if (page == "/badguests")
          html = badguests_page(recs, self->recent_alerts());
        else
          html = nodes_page(self->cluster_view(), self->n.settings().server.node_id);
        http_response res{http::status::ok, 11};
        set_html_headers(res);
        res.body() = std::move(html);
        res.prepare_payload();
        return res;
      });
    } else if (path == "/" || path == "/reservation" || path == "/checkin" || path == "/snooze"
               || path == "/start" || path == "/fail"
               || path == "/checkout" || path == "/is-coordinator" || path == "/status"
               || path == "/badguests" || path == "/nodes") {
      respond(error(http::status::method_not_allowed,
                    std::string{"method "} + std::string{http::to_string(method)}
                      + " is not allowed on " + std::string{path}));
    } else {
      respond(error(http::status::not_found, "no such endpoint: " + std::string{path}));
    }
  }
};

api::api(node& n) : impl_(std::make_shared<impl>(n)) {
  auto s = std::make_shared<api_services>();
  s->n = &n;
  s->limits = impl_->limits;
  std::weak_ptr<impl> w = impl_;
  s->ask = [w](caf::message msg, reply_fn fn) {
    if (auto d = w.lock())
      gotel::ask(d->bridge(), std::move(msg), std::move(fn));
    else
      fn(make_error(errc::unavailable, "shutting down"));
  };
  s->run_blocking = [w](std::function<void()> fn) {
    if (auto d = w.lock())
      d->run_blocking(std::move(fn));
  };
  s->health = [w]() -> std::pair<bool, std::uint64_t> {
    auto d = w.lock();
    if (!d)
      return {false, 0};
    return {d->health.healthy(), d->health.restarts.load()};
  };
  s->cluster_view = [w] {
    auto d = w.lock();
    return d ? d->cluster_view() : node_context::cluster_view{};
  };
  impl_->services = std::move(s);
}

api::~api() {
  stop();
}

void api::stop() {
  impl_->stop();
}

void api::set_bound_address(std::string address) {
  std::lock_guard lock{impl_->bound_mtx};
  impl_->bound_address = std::move(address);
}

http_handler api::handler() {
  auto d = impl_;
  return [d](http_request&& req, const std::string& remote, responder respond) {
    d->handle(std::move(req), remote, std::move(respond));
  };
}

}  // namespace gotel
