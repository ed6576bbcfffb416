#include "actors/coordinator.hpp"

#include "actors/actor_time.hpp"
#include "actors/errors.hpp"
#include "actors/lateness.hpp"
#include "actors/ping_id.hpp"
#include "alerters/render.hpp"
#include "storage/utf8.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace gotel {

namespace {

caf::error no_reservation(const std::string& app, const std::string& component) {
  return make_error(errc::not_found, "no reservation " + app + "/" + component);
}

/// The normalized app of a reservation key (the part before the NUL).
std::string app_of_key(const std::string& key) {
  return key.substr(0, key.find('\0'));
}

using entry = coordinator_state::entry;
using time_point = caf::actor_clock::time_point;

/// Registers a dormant entry for `key`, indexes its ping uuid and counts it
/// for its app (an existing entry for `key` is reused as it is). A caller
/// passing `count_app` false counts the app itself (`added` tells it whether).
entry& add_entry(coordinator_pointer self, const std::string& key,
                 std::optional<uuid_bits> bits, bool count_app = true,
                 bool* added_out = nullptr) {
  auto& st = self->state;
  auto [i, added] = st.registry.try_emplace(key);
  if (added) {
    if (count_app)
      st.per_app[app_of_key(key)] += 1;
    i->second.key = &i->first;
  }
  if (added_out)
    *added_out = added;
  auto& e = i->second;
  if (bits && bits != e.uuid) {
    if (e.uuid)
      if (auto u = st.uuids.find(*e.uuid); u != st.uuids.end() && u->second == &e)
        st.uuids.erase(u);
    e.uuid = bits;
    st.uuids.assign(*bits, &e);
  }
  return e;
}

entry& add_entry(coordinator_pointer self, const std::string& key, const std::string& uuid) {
  return add_entry(self, key, pack_uuid(uuid));
}

/// Keeps one pending tick, due no later than the earliest deadline.
void schedule_tick(coordinator_pointer self) {
  auto& st = self->state;
  if (st.deadlines.empty())
    return;
  auto due = st.deadlines.top_due();
  if (st.tick_ns != 0 && st.tick_ns <= due)
    return;  // an earlier-or-equal tick is already pending
  st.tick_ns = due;
  auto now = self->clock().now();
  auto at = from_ns(due);
  if (at <= now)
    self->send(self, tick_atom::value, due);  // due already: no clock round trip
  else
    self->delayed_send(self, at - now, tick_atom::value, due);
}

/// Sets (or clears, for 0) when `e` next needs evaluation.
void set_due(coordinator_pointer self, entry& e, std::int64_t due_ns) {
  auto& st = self->state;
  e.parked = false;
  e.due_ns = due_ns;
  if (due_ns == 0) {
    st.deadlines.erase(&e);
    return;
  }
  st.deadlines.set(&e, due_ns);
  schedule_tick(self);
}

/// The steady (actor-clock) time of wall time `wall`.
std::int64_t steady_ns_of(coordinator_pointer self, unix_ms wall) {
  auto now = self->clock().now();
  return to_ns(now + std::chrono::milliseconds{wall - self->state.ctx->wall_now()});
}

/// Moves `e`'s share of the per-state counters to `after`.
void count(coordinator_pointer self, entry& e, std::optional<count_entry> after) {
  if (e.counted == after)
    return;
  auto& ctx = *self->state.ctx;
  ctx.reservation_counts->adjust(e.counted, after, ctx.wall_now());
  e.counted = after;
}

/// Unregisters `i` (its uuid, its app's count, its deadline, its state count).
void erase_entry(coordinator_pointer self,
                 stable_map<coordinator_state::entry>::iterator i) {
  auto& st = self->state;
  st.deadlines.erase(&i->second);
  count(self, i->second, std::nullopt);
  if (i->second.actor) {
    st.active -= 1;
    st.ctx->active_reservations.fetch_sub(1, std::memory_order_relaxed);
  }
  if (auto& bits = i->second.uuid)
    if (auto u = st.uuids.find(*bits); u != st.uuids.end() && u->second == &i->second)
      st.uuids.erase(u);
  auto n = st.per_app.find(app_of_key(i->first));
  if (n != st.per_app.end() && --n->second == 0)
    st.per_app.erase(n);
  st.registry.erase(i);
}

/// Refuses a new reservation for `app` when it already holds the configured
/// maximum (server.max_reservations_per_app); none when it may be created.
/// Only creations by this node's clients are checked: replicated changes and
/// restores mirror what a coordinator already accepted.
caf::error over_limit(coordinator_pointer self, const std::string& app, const std::string& key) {
  auto& st = self->state;
  // The node's own rows (actors/self_row.hpp) are neither refused nor counted.
  auto& own = st.ctx->self_row_keys;
  if (std::find(own.begin(), own.end(), key) != own.end())
    return {};
  std::uint64_t held = 0;
  for (auto& k : own)
    held += st.registry.count(k);
  auto total = st.ctx->max_reservations;
  if (total != 0 && st.registry.size() - held >= total)
    return make_error(errc::limit_reached,
                      "this node already holds " + std::to_string(st.registry.size() - held)
                        + " reservations, the most server.max_reservations allows ("
                        + std::to_string(total) + "); check some out or raise the limit");
  auto limit = st.ctx->max_reservations_per_app;
  if (limit == 0)
    return {};
  auto i = st.per_app.find(normalize_name(app));
  if (i == st.per_app.end())
    return {};
  auto count = i->second - (app_of_key(own.empty() ? "" : own[0]) == i->first ? held : 0);
  if (count < limit)
    return {};
  return make_error(errc::limit_reached,
                    "app " + app + " already has " + std::to_string(count)
                      + " reservations, the most server.max_reservations_per_app allows ("
                      + std::to_string(limit) + "); check one out or raise the limit");
}

/// Refuses a new reservation whose app or component is not valid UTF-8 (every
/// HTTP path refuses one already; this covers the rest, e.g. a peer).
/// Also refuses names that would pass for another one (issue 14 section 6:
/// " one", "one\u200b", full-width "one" each counted as a new app).
caf::error bad_name(const std::string& app, const std::string& component) {
  if (!utf8::valid(app) || !utf8::valid(component))
    return make_error(errc::invalid_argument, "app and component must be valid UTF-8");
  for (auto [what, name] : {std::pair{"app", &app}, std::pair{"component", &component}})
    if (auto why = utf8::lookalike_problem(*name); !why.empty())
      return make_error(errc::invalid_argument,
                        std::string{what} + " \"" + utf8::truncate(*name, 64) + "\" " + why);
  return {};
}

/// Records stored before ping ids existed get the id derived from their key,
/// which every node and every restart computes alike.
void ensure_uuid(const std::string& key, reservation_record& rec) {
  if (rec.uuid.empty())
    rec.uuid = key_uuid(key);
}

/// Healthchecks' defaults for a reservation created by a ping (?create=1):
/// a period of one day and a grace of one hour.
reserve_request ping_created(const signal_request& req) {
  reserve_request r;
  r.app = req.app;
  r.component = req.component;
  r.frequency = 1;
  r.unit = time_unit::days;
  r.grace_ms = 3600 * 1000;
  return r;
}

/// Spawns the actor of `e` (activation) and arranges for the coordinator to
/// hear of an abnormal exit (a crash), so it can restart it from storage.
reservation_actor spawn_reservation(coordinator_pointer self, entry& e, reservation_record rec,
                                    bool is_new) {
  auto& st = self->state;
  auto coord = caf::actor_cast<caf::actor>(self);
  const auto& key = *e.key;
  // The actor starts from this count and reports changes (persist()).
  count(self, e, is_new ? std::nullopt : std::optional<count_entry>{count_entry_of(rec)});
  auto hdl = self->spawn(reservation, st.ctx, coord, key, std::move(rec), is_new, e.skew_ms);
  auto addr = hdl.address();  // weak: the functor must not keep its actor alive
  hdl->attach_functor([coord, key, addr](const caf::error& reason) {
    if (reason && reason != caf::exit_reason::normal)
      caf::anon_send(coord, restart_atom::value, key, addr);
  });
  if (!e.actor) {
    st.active += 1;
    st.ctx->active_reservations.fetch_add(1, std::memory_order_relaxed);
  }
  e.actor = hdl;
  e.delivered = 0;
  e.skew_ms = unknown_skew;  // used once; the actor's own times rule from here
  return hdl;
}

/// The record of `e` as a dormant reservation holds it: the batch path's
/// change not yet durable, or the stored one. nullopt with `status` when it
/// cannot be read.
std::optional<reservation_record> dormant_record(coordinator_pointer self, const entry& e,
                                                 storage::status& status) {
  auto& st = self->state;
  if (auto u = st.unwritten.find(*e.key); u != st.unwritten.end())
    return u->second;
  auto rec = st.ctx->db->get_reservation(*e.key, status);
  if (rec)
    ensure_uuid(*e.key, *rec);
  return rec;
}

/// The actor of `e`, activated from its stored record if dormant; counts the
/// message the caller is about to send it. An error when the record cannot be
/// read (then the entry is left as it was).
caf::expected<reservation_actor> actor_of(coordinator_pointer self, entry& e) {
  if (!e.actor) {
    storage::status status;
    auto rec = dormant_record(self, e, status);
    if (!rec)
      return make_error(status.ok() ? errc::not_found : errc::storage_failure,
                        status.ok() ? std::string{"reservation record missing"}
                                    : "cannot read the reservation: " + status.message);
    spawn_reservation(self, e, std::move(*rec), false);
  }
  e.delivered += 1;
  return e.actor;
}

/// The batch path (docs/scale.md): dormant reservations whose deadline came are
/// judged on their records (judge_dormant, the rule the actor applies too)
/// without activating their actors. Every changed record and every alert
/// intent of one tick go to disk in one write batch; once it is durable the
/// dispatcher gets one message with all the intents. Only the rarer rules
/// (failure signals, runs with a time limit, snoozes) activate the actor.
void judge_dormant_entries(coordinator_pointer self, const std::vector<entry*>& due,
                           std::int64_t now_ns) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  storage::write_batch batch;
  coordinator_state::judged_batch out;
  auto now_ms = now_ns / 1'000'000;
  for (auto* e : due) {
    storage::status status;
    auto rec = dormant_record(self, *e, status);
    // Deadlines are judged in the wall clock of the actor that wrote the
    // record's times (a clock step since moves nothing); alerts are stamped
    // with the wall clock of now, as the actor stamps them.
    auto real_wall = ctx.wall_now();
    auto wall = e->skew_ms != unknown_skew ? now_ms + e->skew_ms : real_wall;
    std::optional<dormant_verdict> judged;
    if (rec)
      judged = judge_dormant(*rec, wall, ctx.policy, ctx.channels, real_wall);
    if (!judged || judged->activate) {
      // The actor decides (or, the record unreadable, its activation tries
      // the read once more and leaves the entry as it was if that fails).
      if (auto hdl = actor_of(self, *e); hdl)
        e->delivered -= 1;  // activation evaluates; no message was sent
      continue;
    }
    auto& verdict = *judged;
    if (verdict.changed) {
      rec->revision += 1;
      batch.put(*e->key, *rec);
      if (!verdict.alert.targets.empty()) {
        auto text = render_alert(rec->alert_msg, fields_for(*rec, real_wall, ctx.srv));
        auto intents = alert_intents(ctx, *rec, verdict.alert.targets, verdict.alert.kind, text,
                                     rec->late_since_ms, real_wall);
        for (auto& intent : intents) {
          batch.put(intent);
          out.intents.push_back(std::move(intent));
        }
      }
      count(self, *e, count_entry_of(*rec));
      out.written.emplace_back(*e->key, rec->revision);
      if (ctx.cluster)
        out.changes.push_back(repl_change{*e->key, *rec, false, 0, {}});
      st.unwritten[*e->key] = std::move(*rec);
    }
    // Never in the past: the next look is a later tick, not this one again.
    auto wake = std::max(verdict.wake_ms, wall + 1);
    set_due(self, *e, now_ns + (wake - wall) * 1'000'000);
  }
  if (batch.empty())
    return;
  auto token = st.next_judged++;
  st.judged.emplace(token, std::move(out));
  auto hdl = caf::actor_cast<caf::actor>(self);
  ctx.committer->submit(std::move(batch), [hdl, token](const storage::status& s) {
    caf::anon_send(hdl, persisted_atom::value, token, s.ok());
  });
}

/// When a stored record next needs its actor (actor clock): the pure
/// wake_hint_ms of its wall times.
std::int64_t due_of(coordinator_pointer self, const reservation_record& rec) {
  auto& ctx = *self->state.ctx;
  auto wall = ctx.wall_now();
  return steady_ns_of(self, wake_hint_ms(rec, ctx.policy, wall));
}

/// Removes `key` through its actor (checkout or replicated delete); the entry
/// stays, marked closing, until the removal is durable.
/// `rp`, if any, gets the answer.
void remove_entry(coordinator_pointer self, const std::string& key, caf::message msg,
                  std::optional<caf::typed_response_promise<reservation_record>> rp) {
  auto& e = self->state.registry.at(key);
  auto found = actor_of(self, e);
  if (!found) {
    if (rp)
      rp->deliver(std::move(found.error()));
    return;
  }
  e.closing = true;
  auto hdl = *found;
  self->request(caf::actor_cast<caf::actor>(hdl), caf::infinite, std::move(msg))
    .then(
      [=](reservation_record& rec) mutable {
        auto& st = self->state;
        auto i = st.registry.find(key);
        if (i != st.registry.end() && i->second.actor == hdl)
          erase_entry(self, i);
        if (rp)
          rp->deliver(std::move(rec));
      },
      [=](caf::error& err) mutable {
        auto i = self->state.registry.find(key);
        if (i != self->state.registry.end() && i->second.actor == hdl)
          i->second.closing = false;
        if (rp)
          rp->deliver(std::move(err));
      });
}

/// The live entry for (app, component), or nullptr.
coordinator_state::entry* find(coordinator_pointer self, const std::string& app,
                               const std::string& component) {
  auto i = self->state.registry.find(reservation_key(app, component));
  return i == self->state.registry.end() ? nullptr : &i->second;
}

/// Spawns and registers the actor of a new reservation under `key` (the
/// caller has checked server.max_reservations_per_app); it persists the record
/// when its first message (reserve) arrives.
reservation_actor create_entry(coordinator_pointer self, const std::string& key,
                               const std::string& app, const std::string& component,
                               const std::string& owner) {
  auto& st = self->state;
  reservation_record rec;
  rec.job_id = st.ctx->next_job_id.fetch_add(1);
  rec.app = app;
  rec.component = component;
  rec.owner = owner;
  rec.created_ms = st.ctx->wall_now();
  rec.uuid = random_uuid();
  auto& e = add_entry(self, key, rec.uuid);
  spawn_reservation(self, e, std::move(rec), true);
  e.delivered += 1;  // the caller's message
  return e.actor;
}

/// The actor of `key`, spawned and registered from `rec` if this node has none
/// yet (a record another node wrote: replicated or reconciled; not counted
/// against server.max_reservations_per_app, which that node checked). Job ids
/// allocated here continue past rec's.
caf::expected<reservation_actor> adopt_entry(coordinator_pointer self, const std::string& key,
                              reservation_record& rec) {
  auto& st = self->state;
  auto next = rec.job_id + 1;
  if (next > st.ctx->next_job_id.load())
    st.ctx->next_job_id.store(next);
  if (auto i = st.registry.find(key); i != st.registry.end())
    return actor_of(self, i->second);
  ensure_uuid(key, rec);
  auto placeholder = rec;
  placeholder.revision = 0;  // so that the actor adopts and persists rec
  auto& e = add_entry(self, key, rec.uuid);
  spawn_reservation(self, e, std::move(placeholder), false);
  e.delivered += 1;  // the caller's message
  return e.actor;
}

}  // namespace

coordinator_actor::behavior_type coordinator(coordinator_pointer self, node_context* ctx) {
  self->state.ctx = ctx;
  return {
    [=](reserve_atom, reserve_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      auto key = reservation_key(req.app, req.component);
      auto i = st.registry.find(key);
      if (i != st.registry.end()) {
        if (i->second.closing)
          return make_error(errc::conflict, "reservation " + req.app + "/" + req.component
                                              + " is being checked out; retry");
        auto hdl = actor_of(self, i->second);
        if (!hdl)
          return std::move(hdl.error());
        return self->delegate(*hdl, reserve_atom::value, std::move(req));
      }
      if (auto err = bad_name(req.app, req.component))
        return err;
      if (auto err = over_limit(self, req.app, key))
        return err;
      auto hdl = create_entry(self, key, req.app, req.component, req.owner);
      return self->delegate(hdl, reserve_atom::value, std::move(req));
    },
    [=](checkin_atom, checkin_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      auto hdl = actor_of(self, *e);
      if (!hdl)
        return std::move(hdl.error());
      return self->delegate(*hdl, checkin_atom::value, std::move(req));
    },
    [=](snooze_atom, snooze_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      auto hdl = actor_of(self, *e);
      if (!hdl)
        return std::move(hdl.error());
      return self->delegate(*hdl, snooze_atom::value, std::move(req));
    },
    [=](unsnooze_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      auto hdl = actor_of(self, *e);
      if (!hdl)
        return std::move(hdl.error());
      return self->delegate(*hdl, unsnooze_atom::value);
    },
    [=](signal_atom, signal_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      std::string key;
      if (!req.uuid.empty()) {
        auto bits = pack_uuid(req.uuid);
        auto u = bits ? st.uuids.find(*bits) : st.uuids.end();
        if (u == st.uuids.end())
          return make_error(errc::not_found,
                            "no reservation with ping uuid " + utf8::truncate(req.uuid, 64));
        key = *u->second->key;
      } else {
        key = reservation_key(req.app, req.component);
      }
      auto i = st.registry.find(key);
      if (i != st.registry.end() && i->second.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      if (i == st.registry.end()) {
        if (!req.create || !req.uuid.empty())
          return no_reservation(req.app, req.component);
        if (auto err = bad_name(req.app, req.component))
          return err;
        if (auto err = over_limit(self, req.app, key))
          return err;
        auto hdl = create_entry(self, key, req.app, req.component, {});
        // Reaches the actor before the signal below (same sender, FIFO); it
        // persists the new reservation in its own batch.
        caf::anon_send(hdl, reserve_atom::value, ping_created(req));
        i = st.registry.find(key);
      }
      auto found = actor_of(self, i->second);
      if (!found)
        return std::move(found.error());
      auto hdl = *found;
      if (req.kind == signal_kind::success)
        return self->delegate(hdl, checkin_atom::value,
                              checkin_request{std::move(req.app), std::move(req.component),
                                              std::move(req.notes), std::move(req.source),
                                              std::move(req.run_id), req.exit_status,
                                              std::move(req.method), std::move(req.user_agent)});
      return self->delegate(hdl, signal_atom::value, std::move(req));
    },
    [=](get_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      // A read of a dormant reservation is served from its stored record,
      // without activating it.
      if (!e->actor) {
        storage::status status;
        auto rec = dormant_record(self, *e, status);
        if (!rec)
          return make_error(status.ok() ? errc::not_found : errc::storage_failure,
                            "cannot read the reservation: " + status.message);
        return std::move(*rec);
      }
      e->delivered += 1;
      return self->delegate(e->actor, get_atom::value);
    },
    [=](checkout_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      // The entry stays (closing) until the removal is durable, so a new
      // reservation for the same key cannot race the old one's delete.
      auto rp = self->make_response_promise<reservation_record>();
      remove_entry(self, reservation_key(req.app, req.component),
                   caf::make_message(checkout_atom::value), rp);
      return rp;
    },
    [=](apply_atom, repl_change& ch) -> caf::result<reservation_record> {
      auto& st = self->state;
      auto i = st.registry.find(ch.key);
      if (i != st.registry.end() && i->second.closing)
        return make_error(errc::conflict, "reservation is being removed; retry");
      if (ch.deleted) {
        if (i == st.registry.end())
          return ch.rec;  // never had it: nothing to remove
        auto rp = self->make_response_promise<reservation_record>();
        auto key = ch.key;  // not ch.key itself: ch is moved in the same call
        remove_entry(self, key, caf::make_message(apply_atom::value, std::move(ch)), rp);
        return rp;
      }
      auto hdl = adopt_entry(self, ch.key, ch.rec);
      if (!hdl)
        return std::move(hdl.error());
      return self->delegate(*hdl, apply_atom::value, std::move(ch));
    },
    [=](prune_atom, std::vector<std::string>& keep) -> std::uint64_t {
      std::sort(keep.begin(), keep.end());
      std::vector<std::string> gone;
      for (auto& [key, entry] : self->state.registry)
        if (!entry.closing && !std::binary_search(keep.begin(), keep.end(), key))
          gone.push_back(key);
      for (auto& key : gone) {
        repl_change ch;
        ch.key = key;
        ch.deleted = true;
        remove_entry(self, key, caf::make_message(apply_atom::value, std::move(ch)),
                     std::nullopt);
      }
      return gone.size();
    },
    [=](reconcile_atom, reconcile_change& ch) -> caf::result<reservation_record> {
      auto& st = self->state;
      auto i = st.registry.find(ch.key);
      if (i != st.registry.end() && i->second.closing)
        return make_error(errc::conflict, "reservation is being removed; retry");
      if (ch.removed) {
        if (i == st.registry.end())
          return ch.rec;  // removed here too: nothing to do
        // A change made here since the removal wins over it (a monitor keeps
        // a job someone still touches), as does a reservation created anew.
        auto rp = self->make_response_promise<reservation_record>();
        auto key = ch.key;
        auto found = actor_of(self, i->second);
        if (!found)
          return std::move(found.error());
        auto hdl = *found;
        self->request(hdl, caf::infinite, get_atom::value)
          .then(
            [=](reservation_record& rec) mutable {
              auto j = self->state.registry.find(key);
              if (j == self->state.registry.end() || j->second.closing
                  || j->second.actor != hdl || rec.uuid != ch.rec.uuid
                  || rec.revision > ch.rec.revision)
                rp.deliver(std::move(rec));
              else
                remove_entry(self, key, caf::make_message(checkout_atom::value), rp);
            },
            [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      }
      // Created on the other side of a split, or changed there.
      auto hdl = adopt_entry(self, ch.key, ch.rec);
      if (!hdl)
        return std::move(hdl.error());
      return self->delegate(*hdl, reconcile_atom::value, std::move(ch));
    },
    [=](reevaluate_atom) {
      // Active actors look again now; dormant ones whose deadline passed while
      // this node could not alert are due now (the others keep their time).
      auto now_ns = to_ns(self->clock().now());
      for (auto& kv : self->state.registry) {
        auto& e = kv.second;
        if (e.closing)
          continue;
        if (e.actor) {
          e.delivered += 1;
          caf::anon_send(e.actor, wake_atom::value, std::int64_t{0});
        } else if (e.parked) {
          set_due(self, e, now_ns);
        }
      }
    },
    [=](tick_atom, std::int64_t tick_ns) {
      auto& st = self->state;
      if (tick_ns != st.tick_ns)
        return;  // superseded by an earlier tick that already ran
      st.tick_ns = 0;
      auto now_ns = to_ns(self->clock().now());
      bool may_alert = st.ctx->may_alert(now_ns);
      // Bounded work per message, so requests interleave with a wave of due
      // deadlines; the rest follows in the next tick, sent at once.
      constexpr int max_per_tick = 4096;
      int n = 0;
      std::vector<entry*> dormant;
      while (!st.deadlines.empty() && st.deadlines.top_due() <= now_ns && n < max_per_tick) {
        auto& e = *st.deadlines.pop();
        ++n;
        auto due = e.due_ns;
        e.due_ns = 0;
        if (e.closing)
          continue;
        if (e.actor) {
          e.delivered += 1;
          caf::anon_send(e.actor, wake_atom::value, due);
        } else if (!may_alert) {
          e.parked = true;  // evaluated again when this node may alert
        } else {
          dormant.push_back(&e);
        }
      }
      if (!dormant.empty())
        judge_dormant_entries(self, dormant, now_ns);
      if (n == max_per_tick && !st.deadlines.empty() && st.deadlines.top_due() <= now_ns) {
        st.tick_ns = st.deadlines.top_due();
        self->send(self, tick_atom::value, st.tick_ns);
        return;
      }
      schedule_tick(self);
    },
    [=](persisted_atom, std::uint64_t token, bool ok) {
      auto& st = self->state;
      auto i = st.judged.find(token);
      if (i == st.judged.end())
        return;
      auto done = std::move(i->second);
      st.judged.erase(i);
      for (auto& [key, revision] : done.written)
        if (auto u = st.unwritten.find(key);
            u != st.unwritten.end() && u->second.revision == revision)
          st.unwritten.erase(u);
      if (!ok)
        spdlog::error("coordinator: writing {} judged reservation(s) failed; their alerts go out "
                      "anyway and may repeat after a restart",
                      done.written.size());
      // Even when the write failed, deliver: a monitor prefers a duplicate to silence.
      if (!done.intents.empty() && st.ctx->dispatcher)
        caf::anon_send(st.ctx->dispatcher, dispatch_atom::value, std::move(done.intents));
      if (ok && st.ctx->cluster)
        for (auto& change : done.changes)
          self->request(st.ctx->cluster, caf::infinite, replicate_atom::value, std::move(change))
            .then([](bool) {}, [](caf::error&) {});
    },
    [=](arm_atom, std::string& key, std::int64_t due_ns) {
      auto& st = self->state;
      auto i = st.registry.find(key);
      if (i == st.registry.end() || !i->second.actor
          || i->second.actor.address() != self->current_sender())
        return;  // from an actor that is no longer this reservation's
      set_due(self, i->second, due_ns);
    },
    [=](flagged_atom, const std::string& after,
        std::uint32_t limit) -> std::vector<std::string> {
      auto& st = self->state;
      auto now = st.ctx->wall_now();
      std::vector<const std::string*> keys;
      for (auto& [key, e] : st.registry)
        if (e.counted && e.counted->flagged && e.counted->snooze_until_ms <= now && !e.closing
            && key > after)
          keys.push_back(&key);
      auto n = std::min<std::size_t>(limit, keys.size());
      auto less = [](const std::string* a, const std::string* b) { return *a < *b; };
      std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end(),
                        less);
      std::vector<std::string> out;
      out.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        out.push_back(*keys[i]);
      return out;
    },
    [=](arm_atom) -> std::uint64_t { return self->state.deadlines.size(); },
    [=](count_atom, std::string& key, bool present, bool flagged, bool failed, bool running,
        std::int64_t snooze_until_ms) {
      auto& st = self->state;
      auto i = st.registry.find(key);
      if (i == st.registry.end() || !i->second.actor
          || i->second.actor.address() != self->current_sender())
        return;  // from an actor that is no longer this reservation's
      std::optional<count_entry> after;
      if (present)
        after = count_entry{flagged, failed, running, snooze_until_ms};
      count(self, i->second, after);
    },
    [=](passivate_atom, std::string& key, std::uint32_t handled, std::int64_t due_ns,
        std::int64_t skew_ms) -> bool {
      auto& st = self->state;
      auto i = st.registry.find(key);
      if (i == st.registry.end())
        return true;  // removed: nothing left to keep
      auto& e = i->second;
      if (!e.actor || e.actor.address() != self->current_sender())
        return true;  // not this reservation's actor (any more)
      if (e.closing || e.delivered != handled)
        return false;  // messages in flight to it: it stays
      e.actor = nullptr;
      e.skew_ms = skew_ms;
      st.active -= 1;
      st.ctx->active_reservations.fetch_sub(1, std::memory_order_relaxed);
      set_due(self, e, due_ns);
      return true;
    },
    [=](count_atom) -> std::uint64_t { return self->state.registry.size(); },
    [=](restore_atom) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      auto& ctx = *st.ctx;
      std::uint64_t restored = 0;
      std::uint64_t max_id = 0;
      // A blocking scan of the restart index (storage/restart_index.hpp), once,
      // before the node serves HTTP: ~80 bytes per reservation, no record
      // decoded. Nothing is spawned: each reservation is a dormant entry with
      // the time its actor is next needed (wake_hint_ms, as from the record).
      // One clock reading serves the whole scan.
      auto wall = ctx.wall_now();
      auto steady_now = self->clock().now();
      auto steady_of = [&](unix_ms at) {
        return to_ns(steady_now + std::chrono::milliseconds{at - wall});
      };
      storage::status failed;
      // Sized once: growing three tables of a million entries step by step
      // costs more than counting the index keys first.
      std::uint64_t apps = 0;
      auto expected = ctx.db->count_index(failed, &apps);
      st.registry.reserve(st.registry.size() + expected);
      st.uuids.reserve(st.uuids.size() + expected);
      st.per_app.reserve(st.per_app.size() + apps);
      // Keys come in order, so an app's reservations come together: its count
      // is added once per app, not looked up once per reservation.
      std::string app;
      std::uint64_t app_added = 0;
      auto flush_app = [&] {
        if (app_added != 0)
          st.per_app[app] += app_added;
        app_added = 0;
      };
      std::string key;
      auto status = ctx.db->for_each_index(
        [&](std::string_view key_view, const restart_index* ix) {
          key.assign(key_view);
          if (!ix) {
            // An entry that does not decode: the record says the same, slower.
            storage::status rs;
            auto rec = ctx.db->get_reservation(key, rs);
            if (!rec) {
              if (rs.code != storage::errc::not_found)
                failed = rs;  // reported below, as an undecodable record always was
              return true;  // not_found: an entry without a record holds nothing
            }
            max_id = std::max(max_id, rec->job_id);
            ensure_uuid(key, *rec);
            auto& e = add_entry(self, key, rec->uuid);
            if (!e.actor) {
              set_due(self, e, due_of(self, *rec));
              count(self, e, count_entry_of(*rec));
            }
            ++restored;
            return true;
          }
          max_id = std::max(max_id, ix->job_id);
          std::optional<uuid_bits> bits;
          if (ix->has_uuid)
            bits = uuid_bits{ix->uuid_hi, ix->uuid_lo};
          else if (ix->uuid_from_key)
            bits = pack_uuid(key_uuid(key));
          bool added = false;
          auto& e = add_entry(self, key, bits, false, &added);
          if (added) {
            auto key_app = key_view.substr(0, key_view.find('\0'));
            if (key_app != app) {
              flush_app();
              app.assign(key_app);
            }
            app_added += 1;
          }
          if (!e.actor) {
            set_due(self, e, steady_of(wake_hint_ms(*ix, ctx.policy, wall)));
            count(self, e, count_entry_of(*ix));
          }
          ++restored;
          return true;
        });
      flush_app();
      if (status.ok() && !failed.ok())
        status = failed;
      if (!status.ok())
        return make_error(errc::storage_failure, "restore failed: " + status.message);
      storage::status meta_status;
      std::uint64_t stored_next = 0;
      if (auto meta = st.ctx->db->get_meta("next_job_id", meta_status))
        stored_next = std::strtoull(meta->c_str(), nullptr, 10);
      auto next = std::max({st.ctx->next_job_id.load(), max_id + 1, stored_next});
      st.ctx->next_job_id.store(next);
      return restored;
    },
    [=](restart_atom, std::string& key, caf::actor_addr& dead) {
      auto& st = self->state;
      auto i = st.registry.find(key);
      if (i == st.registry.end() || i->second.closing || i->second.actor.address() != dead)
        return;
      storage::status status;
      auto rec = st.ctx->db->get_reservation(key, status);
      if (!rec) {
        erase_entry(self, i);  // never persisted: nothing to restore
        return;
      }
      st.restarts += 1;
      ensure_uuid(key, *rec);
      spawn_reservation(self, i->second, std::move(*rec), false);
    },
  };
}

}  // namespace gotel
