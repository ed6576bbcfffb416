#include "actors/reservation.hpp"

#include "actors/errors.hpp"
#include "actors/timer_shard.hpp"
#include "alerters/render.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

namespace gotel {

namespace {

using time_point = reservation_state::time_point;
using std::chrono::milliseconds;

/// Escalation steps later than this after the missed deadline never fire (the
/// API refuses them; this guards stored values against overflow).
constexpr std::int64_t max_escalation_ms = 20LL * 366 * 24 * 3600 * 1000;

/// The steady deadline: base + period + grace, plus the bake before a first checkin.
time_point deadline(const reservation_state& st) {
  auto extra = st.rec.last_checkin_ms == 0 ? st.ctx->policy.bake_ms : 0;
  return st.base + milliseconds{st.rec.period_ms() + st.ctx->policy.grace_ms + extra};
}

void arm(reservation_pointer self, time_point at) {
  auto& st = self->state;
  if (st.armed && *st.armed <= at)
    return;  // an earlier wake-up is pending; it re-arms for `at` when it comes
  st.armed = at;
  auto& timers = st.ctx->timers;
  caf::anon_send(timers[st.rec.job_id % timers.size()], arm_atom::value, to_ns(at),
                 caf::actor_cast<caf::actor_addr>(self));
}

/// The escalation policy in force: the stored one, or GoTel's behaviour (the
/// reservation's alerters, every configured channel when it names none, at
/// the first miss).
std::vector<escalation_step> effective_steps(const reservation_record& rec) {
  if (!rec.escalation.empty())
    return rec.escalation;
  return {escalation_step{0, rec.alerters}};
}

/// The configured channels among `names` (all of them for an empty list). A
/// list naming no configured channel falls back to all of them: a monitor
/// prefers noise to silence.
std::vector<std::string> channels_for(const reservation_state& st,
                                      const std::vector<std::string>& names) {
  const auto& configured = st.ctx->channels;
  if (names.empty())
    return configured;
  std::vector<std::string> out;
  for (auto& n : names)
    if (std::find(configured.begin(), configured.end(), n) != configured.end()
        && std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  return out.empty() ? configured : out;
}

/// Channels alerted so far in this lateness: those of the fired steps.
std::vector<std::string> fired_channels(const reservation_state& st) {
  auto steps = effective_steps(st.rec);
  std::vector<std::string> out;
  for (std::size_t k = 0; k < steps.size() && k < st.rec.escalation_level; ++k)
    for (auto& c : channels_for(st, steps[k].alerters))
      if (std::find(out.begin(), out.end(), c) == out.end())
        out.push_back(c);
  return out;
}

/// Steady time after which escalation step `step` fires: the missed deadline
/// plus `after` periods; nullopt when that lies beyond any representable time.
std::optional<time_point> step_time(const reservation_state& st, const escalation_step& step) {
  auto period = st.rec.period_ms();
  if (step.after < 0 || (period > 0 && step.after > max_escalation_ms / period))
    return std::nullopt;
  return deadline(st) + milliseconds{step.after * period};
}

std::vector<alert_intent> make_intents(const reservation_state& st,
                                       const std::vector<std::string>& channels,
                                       alert_kind kind, const std::string& message,
                                       unix_ms missed, unix_ms wall) {
  std::vector<alert_intent> out;
  out.reserve(channels.size());
  for (auto& channel : channels) {
    alert_intent x;
    x.id = st.ctx->next_intent_id.fetch_add(1);
    x.dedup_key = dedup_key(st.rec.job_id, missed);
    x.kind = kind;
    x.channel = channel;
    x.job_id = st.rec.job_id;
    x.app = st.rec.app;
    x.component = st.rec.component;
    x.owner = st.rec.owner;
    x.notify = st.rec.notify;
    x.message = message;
    x.deadline_ms = missed;
    x.created_ms = wall;
    x.next_attempt_ms = wall;
    out.push_back(std::move(x));
  }
  return out;
}

/// Hands `batch` to the committer; the reply (if any) and the intents (if any)
/// go out once it is durable, in the order the changes were made.
/// How a persisted change reaches the other nodes of a cluster.
enum class replication { yes, no };

void persist(reservation_pointer self, storage::write_batch batch,
             std::optional<caf::typed_response_promise<reservation_record>> reply,
             std::vector<alert_intent> intents = {}, bool quit_after = false,
             std::optional<std::pair<std::uint64_t, checkin_entry>> added = std::nullopt,
             replication mode = replication::yes) {
  auto& st = self->state;
  for (auto& intent : intents)
    batch.put(intent);
  auto token = st.next_token++;
  std::optional<repl_change> change;
  if (st.ctx->cluster && mode == replication::yes) {
    change = repl_change{st.key, st.rec, quit_after, 0, {}};
    if (added) {
      change->checkin_seq = added->first;
      change->checkin = added->second;
    }
  }
  st.pending.push_back(reservation_state::pending_write{
    token, std::move(reply), st.rec, std::move(intents), quit_after, std::move(change)});
  auto hdl = caf::actor_cast<caf::actor>(self);
  st.ctx->committer->submit(std::move(batch), [hdl, token](const storage::status& s) {
    caf::anon_send(hdl, persisted_atom::value, token, s.ok());
  });
}

/// Puts the record after a local change; every local change bumps the revision
/// so that replicas can tell newer from older.
void record_batch(reservation_pointer self, storage::write_batch& batch) {
  self->state.rec.revision += 1;
  batch.put(self->state.key, self->state.rec);
}

/// Translates the stored wall times of `rec` into steady time, once: after a
/// restore, and when a replicated record is adopted.
void adopt_times(reservation_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto wall = st.ctx->wall_now();
  auto base_wall = st.rec.last_checkin_ms != 0 ? st.rec.last_checkin_ms : st.rec.created_ms;
  st.base = now - milliseconds{wall - base_wall};
  st.snooze_end = now + milliseconds{st.rec.snooze_until_ms - wall};
  st.repeat_at = now + milliseconds{st.rec.last_alert_ms + st.ctx->policy.repeat_ms - wall};
}

/// The next steady time something is due while late: the next escalation
/// step or the next repeat (only once something has been sent).
time_point next_late_wake(const reservation_state& st) {
  auto steps = effective_steps(st.rec);
  std::optional<time_point> next;
  if (st.rec.escalation_level < steps.size())
    if (auto t = step_time(st, steps[st.rec.escalation_level]))
      next = *t + milliseconds{1};  // a step fires strictly after its time
  if (st.rec.escalation_level > 0 && (!next || st.repeat_at < *next))
    next = st.repeat_at;
  // Nothing left to fire (all steps beyond representable time): look again
  // after a repeat interval; a checkin re-arms anyway.
  return next ? *next : deadline(st) + milliseconds{max_escalation_ms};
}

/// While late and not snoozed: fires every escalation step that is due (a
/// "late" notice to the channels it adds), or else a repeat to every channel
/// alerted so far once the repeat interval has passed. `became_late`: the
/// record changed (late_since_ms) and must be persisted even if nothing fires.
void fire_due(reservation_pointer self, time_point now, bool became_late) {
  auto& st = self->state;
  auto steps = effective_steps(st.rec);
  auto already = fired_channels(st);
  std::vector<std::string> added;
  while (st.rec.escalation_level < steps.size()) {
    auto t = step_time(st, steps[st.rec.escalation_level]);
    if (!t || now <= *t)
      break;
    for (auto& c : channels_for(st, steps[st.rec.escalation_level].alerters))
      if (std::find(already.begin(), already.end(), c) == already.end()
          && std::find(added.begin(), added.end(), c) == added.end())
        added.push_back(c);
    st.rec.escalation_level += 1;
  }
  alert_kind kind = alert_kind::late;
  std::vector<std::string> targets;
  if (!added.empty()) {
    targets = std::move(added);
  } else if (st.rec.escalation_level > 0 && !became_late && now >= st.repeat_at) {
    kind = alert_kind::repeat;
    targets = std::move(already);
  }
  if (targets.empty() && !became_late)
    return;
  std::vector<alert_intent> intents;
  if (!targets.empty()) {
    auto wall = st.ctx->wall_now();
    st.rec.last_alert_ms = wall;
    st.rec.alerts += 1;
    st.repeat_at = now + milliseconds{st.ctx->policy.repeat_ms};
    auto text = render_alert(st.rec.alert_msg, fields_for(st.rec, wall, st.ctx->srv));
    intents = make_intents(st, targets, kind, text, st.rec.late_since_ms, wall);
  }
  storage::write_batch batch;
  record_batch(self, batch);
  persist(self, std::move(batch), std::nullopt, std::move(intents));
}

/// Decides what is due now and when to look again. Idempotent: a stale or early
/// wake-up only re-arms. Escalation is derived from stored state alone
/// (late_since_ms, escalation_level, last_alert_ms), so it survives restarts.
void evaluate(reservation_pointer self) {
  auto& st = self->state;
  if (st.closing)
    return;
  auto now = self->clock().now();
  // Only the coordinator, holding a fresh lease, raises alerts; the others
  // keep no timers and are re-evaluated when they take over.
  if (!st.ctx->may_alert(to_ns(now)))
    return;
  bool snoozed = st.rec.snooze_until_ms != 0 && now < st.snooze_end;
  bool became_late = false;
  if (st.rec.late_since_ms == 0) {
    auto due = deadline(st);
    if (now <= due) {
      arm(self, due + milliseconds{1});  // late means strictly past the deadline
      return;
    }
    if (snoozed) {
      arm(self, st.snooze_end);
      return;
    }
    st.rec.late_since_ms = deadline_ms(st.rec, st.ctx->policy);
    st.rec.escalation_level = 0;
    became_late = true;
  }
  auto next = next_late_wake(st);
  if (snoozed) {
    if (next <= now)
      next = st.snooze_end;
  } else if (became_late || next <= now) {
    fire_due(self, now, became_late);
    next = next_late_wake(st);
  }
  arm(self, next);
}

}  // namespace

reservation_actor::behavior_type reservation(reservation_pointer self, node_context* ctx,
                                             std::string key, reservation_record rec,
                                             bool is_new) {
  auto& st = self->state;
  st.ctx = ctx;
  st.key = std::move(key);
  st.rec = std::move(rec);
  auto now = self->clock().now();
  if (is_new) {
    st.base = now;
  } else {
    adopt_times(self);  // restored: stored wall times become steady times once, here
    // Written before escalation levels existed: a late record that already
    // alerted in this lateness has fired its (only) first step.
    if (st.rec.late_since_ms != 0 && st.rec.escalation_level == 0
        && st.rec.last_alert_ms >= st.rec.late_since_ms)
      st.rec.escalation_level = 1;
    evaluate(self);
  }
  return {
    [=](reserve_atom, reserve_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::conflict, "reservation is being checked out; retry");
      auto& rec = st.rec;
      rec.notify = std::move(req.notify);
      rec.alert_msg = std::move(req.alert_msg);
      rec.frequency = req.frequency;
      rec.unit = req.unit;
      rec.alerters = std::move(req.alerters);
      rec.escalation = std::move(req.escalation);
      if (req.tags_given)
        rec.tags = std::move(req.tags);
      storage::write_batch batch;
      record_batch(self, batch);
      batch.put_meta("next_job_id", std::to_string(st.ctx->next_job_id.load()));
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp);
      evaluate(self);
      return rp;
    },
    [=](checkin_atom, checkin_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      auto& rec = st.rec;
      auto wall = st.ctx->wall_now();
      std::vector<alert_intent> intents;
      if (rec.late_since_ms != 0) {
        // The recovery reaches exactly the channels that heard of the miss.
        auto text = render_recovery(rec, wall, st.ctx->srv);
        intents = make_intents(st, fired_channels(st), alert_kind::recovered, text,
                               rec.late_since_ms, wall);
        rec.late_since_ms = 0;
        rec.escalation_level = 0;
      }
      rec.last_checkin_ms = wall;
      rec.checkins += 1;
      st.ctx->checkins_total.fetch_add(1, std::memory_order_relaxed);
      st.base = self->clock().now();
      storage::write_batch batch;
      record_batch(self, batch);
      checkin_entry entry{wall, std::move(req.notes), std::move(req.source)};
      batch.put_checkin(st.key, rec.checkins, entry);
      if (rec.checkins > st.ctx->history_limit)
        batch.erase_checkin(st.key, rec.checkins - st.ctx->history_limit);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp, std::move(intents), false,
              std::make_pair(rec.checkins, std::move(entry)));
      evaluate(self);
      return rp;
    },
    [=](snooze_atom, snooze_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      st.rec.snooze_until_ms = st.ctx->wall_now() + req.duration_ms;
      st.snooze_end = self->clock().now() + milliseconds{req.duration_ms};
      storage::write_batch batch;
      record_batch(self, batch);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp);
      evaluate(self);
      return rp;
    },
    [=](unsnooze_atom) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      st.rec.snooze_until_ms = 0;
      st.snooze_end = self->clock().now();
      storage::write_batch batch;
      record_batch(self, batch);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp);
      evaluate(self);  // a job that went late while snoozed alerts now
      return rp;
    },
    [=](checkout_atom) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      st.closing = true;
      storage::write_batch batch;
      batch.erase_reservation(st.key);
      batch.erase_history(st.key);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp, {}, true);
      return rp;
    },
    [=](get_atom) -> caf::result<reservation_record> { return self->state.rec; },
    [=](wake_atom, std::int64_t due_ns) {
      auto& st = self->state;
      if (st.armed && to_ns(*st.armed) == due_ns)
        st.armed.reset();
      evaluate(self);
    },
    [=](persisted_atom, std::uint64_t token, bool ok) {
      auto& st = self->state;
      if (st.pending.empty() || st.pending.front().token != token)
        return;  // cannot happen: the committer completes in submission order
      auto done = std::move(st.pending.front());
      st.pending.pop_front();
      if (done.reply) {
        if (ok)
          done.reply->deliver(std::move(done.snapshot));
        else
          done.reply->deliver(
            make_error(errc::storage_failure, "the change could not be written to disk"));
      }
      // Even when the outbox write failed, try to deliver: a monitor prefers
      // a duplicate to silence.
      if (!done.intents.empty() && st.ctx->dispatcher)
        caf::anon_send(st.ctx->dispatcher, dispatch_atom::value, std::move(done.intents));
      if (ok && done.change && st.ctx->cluster) {
        // Acknowledged once a peer has it too (docs/cluster.md); the cluster
        // actor always answers, degraded to local-only when no peer can.
        auto quit_after = done.quit_after;
        auto finish = [=](std::optional<caf::typed_response_promise<reservation_record>> rp,
                          reservation_record snapshot) mutable {
          if (rp)
            rp->deliver(std::move(snapshot));
          if (quit_after)
            self->quit();
        };
        self->request(st.ctx->cluster, std::chrono::seconds{30}, replicate_atom::value,
                      std::move(*done.change))
          .then([=](bool) mutable { finish(done.reply, done.snapshot); },
                [=](caf::error&) mutable { finish(done.reply, done.snapshot); });
        return;
      }
      if (done.reply) {
        if (ok)
          done.reply->deliver(std::move(done.snapshot));
        else
          done.reply->deliver(
            make_error(errc::storage_failure, "the change could not be written to disk"));
      }
      if (done.quit_after)
        self->quit();
    },
    [=](apply_atom, repl_change& ch) -> caf::result<reservation_record> {
      auto& st = self->state;
      if (st.closing)
        return st.rec;
      auto rp = self->make_response_promise<reservation_record>();
      storage::write_batch batch;
      if (ch.deleted) {
        st.closing = true;
        batch.erase_reservation(st.key);
        batch.erase_history(st.key);
        persist(self, std::move(batch), rp, {}, true, std::nullopt, replication::no);
        return rp;
      }
      if (ch.rec.revision <= st.rec.revision)
        return st.rec;  // already as new, or newer
      st.rec = std::move(ch.rec);
      adopt_times(self);
      batch.put(st.key, st.rec);
      if (ch.checkin_seq != 0) {
        batch.put_checkin(st.key, ch.checkin_seq, ch.checkin);
        if (ch.checkin_seq > st.ctx->history_limit)
          batch.erase_checkin(st.key, ch.checkin_seq - st.ctx->history_limit);
      }
      persist(self, std::move(batch), rp, {}, false, std::nullopt, replication::no);
      evaluate(self);
      return rp;
    },
  };
}

}  // namespace gotel
