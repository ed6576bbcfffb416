#include "actors/self_row.hpp"

#include "actors/errors.hpp"
#include "actors/actor_time.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace gotel {

namespace {

using time_point = caf::actor_clock::time_point;
using self_tick_atom = caf::atom_constant<caf::atom("srtick")>;

enum class role { none, coordinator, worker };

const char* role_row(role r) {
  return r == role::coordinator ? "coordinator" : "worker";
}

struct self_row_state {
  node_context* ctx = nullptr;
  coordinator_actor coord;
  self_row_options opts;
  role last = role::none;
  time_point next_due{};
  /// The last failure logged at warn level per row, so that a refusal that
  /// repeats every period (e.g. a data directory gone read-only) is logged
  /// once, and again when it changes.
  std::map<std::string, std::string> logged;
  static inline const char* name = "gotel.self_row";
};

using self_row_pointer = caf::stateful_actor<self_row_state>*;

/// What this node is now: a single node always coordinates; a cluster node
/// coordinates (and holds the alert lease), follows a known coordinator, or
/// neither: electing, or a coordinator just resumed from a pause whose lease
/// ran out (it has most likely been replaced; no stale gotel/coordinator
/// checkin from it).
role current_role(const node_context& ctx, time_point now) {
  if (!ctx.cluster || ctx.may_alert(to_ns(now)))
    return role::coordinator;
  if (ctx.coordinator.load(std::memory_order_acquire))
    return role::none;
  return ctx.view().coordinator_id.empty() ? role::none : role::worker;
}

std::int64_t row_seconds(std::chrono::seconds period) {
  return self_row_periods * period.count();
}

/// Frequency and unit of a row: the largest unit that divides it, so the
/// default reads as the original's "5 minutes".
std::pair<std::int64_t, time_unit> row_frequency(std::chrono::seconds period) {
  auto s = row_seconds(period);
  if (s % 3600 == 0)
    return {s / 3600, time_unit::hours};
  if (s % 60 == 0)
    return {s / 60, time_unit::minutes};
  return {s, time_unit::seconds};
}

std::int64_t unit_seconds(time_unit u) {
  switch (u) {
    case time_unit::seconds:
      return 1;
    case time_unit::minutes:
      return 60;
    case time_unit::hours:
      return 3600;
    case time_unit::days:
      return 86400;
  }
  return 60;
}

std::string default_alert(const std::string& component) {
  if (component == "coordinator")
    return "No GoTel node has checked in as coordinator since {last} ({since}): reservation "
           "alerts may not be going out";
  if (component == "worker")
    return "No GoTel worker has checked in since {last} ({since})";
  return "GoTel node {component} stopped checking in its own row (last seen {since}): it is "
         "down or its actors are stalled";
}

/// Sends `msg` where a client's write would go: the local coordinator actor
/// when this node coordinates, else the coordinator through the cluster.
template <class OnOk, class OnError>
void send_write(self_row_pointer self, role r, caf::message msg, OnOk ok, OnError err) {
  auto& st = self->state;
  if (r == role::coordinator || !st.ctx->cluster)
    self->request(caf::actor_cast<caf::actor>(st.coord), st.opts.request_timeout, std::move(msg))
      .then(std::move(ok), std::move(err));
  else
    self->request(st.ctx->cluster, st.opts.request_timeout, forward_atom::value, std::move(msg))
      .then(std::move(ok), std::move(err));
}

void failed(self_row_pointer self, const std::string& component, const char* what,
            const caf::error& err) {
  auto text = message_of(err);
  auto& last = self->state.logged[component];
  if (text == last) {
    spdlog::debug("self row gotel/{}: {}: {}", component, what, text);
    return;
  }
  last = text;
  // During a failover a worker has no coordinator to forward to: expected.
  if (code_of(err) == errc::no_coordinator)
    spdlog::info("self row gotel/{}: {}: {}", component, what, text);
  else
    spdlog::warn("self row gotel/{}: {}: {}", component, what, text);
}

void checkin_row(self_row_pointer self, role r, const std::string& component, bool retry);

/// Creates the row (or puts its frequency back, keeping `from`'s notify and
/// template), then checks it in if `then_checkin`.
void reserve_row(self_row_pointer self, role r, const std::string& component,
                 const reservation_record* from, bool then_checkin) {
  auto req = from ? self_row_request(component, self->state.opts.period, from->notify,
                                     from->alert_msg)
                  : self_row_request(component, self->state.opts.period);
  if (from) {
    req.alerters = from->alerters;
    req.escalation = from->escalation;
    req.grace_ms = from->grace_ms;
  }
  send_write(
    self, r, caf::make_message(reserve_atom::value, std::move(req)),
    [=](reservation_record&) {
      if (!from)
        spdlog::info("self row gotel/{} created", component);
      if (then_checkin)
        checkin_row(self, r, component, false);
    },
    [=](caf::error& err) { failed(self, component, "cannot create it", err); });
}

void checkin_row(self_row_pointer self, role r, const std::string& component, bool retry) {
  auto& st = self->state;
  checkin_request req;
  req.app = self_row_app;
  req.component = component;
  req.notes = "checked in by " + st.opts.node_id + " (" + role_row(r) + ")";
  req.source = st.opts.node_id;
  send_write(
    self, r, caf::make_message(checkin_atom::value, std::move(req)),
    [=](reservation_record& rec) {
      self->state.logged.erase(component);
      // A frequency someone changed (or an older period) is put back.
      auto [freq, unit] = row_frequency(self->state.opts.period);
      if (rec.schedule.empty() && rec.frequency * unit_seconds(rec.unit) != freq * unit_seconds(unit))
        reserve_row(self, r, component, &rec, false);
    },
    [=](caf::error& err) {
      // None yet (first start), or checked out by a user: it re-appears.
      if (retry && code_of(err) == errc::not_found)
        return reserve_row(self, r, component, nullptr, true);
      failed(self, component, "checkin failed", err);
    });
}

void tick(self_row_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto r = current_role(*st.ctx, now);
  if (r != role::none && (r != st.last || now >= st.next_due)) {
    st.last = r;
    st.next_due = now + st.opts.period;
    checkin_row(self, r, st.opts.node_id, true);
    checkin_row(self, r, role_row(r), true);
  }
  self->delayed_send(self, std::min<caf::timespan>(st.opts.poll, st.opts.period),
                     self_tick_atom::value);
}

caf::behavior self_row_actor(self_row_pointer self, node_context* ctx, coordinator_actor coord,
                             self_row_options opts) {
  auto& st = self->state;
  st.ctx = ctx;
  st.coord = std::move(coord);
  st.opts = std::move(opts);
  self->send(self, self_tick_atom::value);
  return {
    [=](self_tick_atom) { tick(self); },
  };
}

}  // namespace

reserve_request self_row_request(const std::string& component, std::chrono::seconds period,
                                 std::string notify, std::string alert_msg) {
  reserve_request req;
  req.app = self_row_app;
  req.component = component;
  req.owner = "gotel";
  req.notify = std::move(notify);
  req.alert_msg = alert_msg.empty() ? default_alert(component) : std::move(alert_msg);
  auto [freq, unit] = row_frequency(period);
  req.frequency = freq;
  req.unit = unit;
  return req;
}

std::vector<std::string> self_row_keys(const std::vector<std::string>& node_ids) {
  std::vector<std::string> keys{reservation_key(self_row_app, "coordinator"),
                                reservation_key(self_row_app, "worker")};
  for (auto& id : node_ids)
    keys.push_back(reservation_key(self_row_app, id));
  return keys;
}

caf::actor spawn_self_row(caf::actor_system& sys, node_context* ctx, coordinator_actor coord,
                          self_row_options opts) {
  return sys.spawn(self_row_actor, ctx, std::move(coord), std::move(opts));
}

}  // namespace gotel
