#include "actors/reservation.hpp"

#include "actors/errors.hpp"
#include "actors/timer_shard.hpp"
#include "alerters/render.hpp"

#include <chrono>

namespace gotel {

namespace {

using time_point = reservation_state::time_point;
using std::chrono::milliseconds;

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

std::vector<alert_intent> make_intents(const reservation_state& st, alert_kind kind,
                                       const std::string& message, unix_ms missed,
                                       unix_ms wall) {
  std::vector<alert_intent> out;
  out.reserve(st.ctx->channels.size());
  for (auto& channel : st.ctx->channels) {
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
void persist(reservation_pointer self, storage::write_batch batch,
             std::optional<caf::typed_response_promise<reservation_record>> reply,
             std::vector<alert_intent> intents = {}, bool quit_after = false) {
  auto& st = self->state;
  for (auto& intent : intents)
    batch.put(intent);
  auto token = st.next_token++;
  st.pending.push_back(
    reservation_state::pending_write{token, std::move(reply), st.rec, std::move(intents),
                                     quit_after});
  auto hdl = caf::actor_cast<caf::actor>(self);
  st.ctx->committer->submit(std::move(batch), [hdl, token](const storage::status& s) {
    caf::anon_send(hdl, persisted_atom::value, token, s.ok());
  });
}

void record_batch(reservation_pointer self, storage::write_batch& batch) {
  batch.put(self->state.key, self->state.rec);
}

/// Alerts for a deadline missed (or a repeat while still late).
void raise_alert(reservation_pointer self, alert_kind kind) {
  auto& st = self->state;
  auto wall = st.ctx->wall_now();
  if (kind == alert_kind::late)
    st.rec.late_since_ms = deadline_ms(st.rec, st.ctx->policy);
  st.rec.last_alert_ms = wall;
  st.rec.alerts += 1;
  st.repeat_at = self->clock().now() + milliseconds{st.ctx->policy.repeat_ms};
  auto text = render_alert(st.rec.alert_msg, fields_for(st.rec, wall, st.ctx->srv));
  auto intents = make_intents(st, kind, text, st.rec.late_since_ms, wall);
  storage::write_batch batch;
  record_batch(self, batch);
  persist(self, std::move(batch), std::nullopt, std::move(intents));
}

/// Decides what is due now and when to look again. Idempotent: a stale or early
/// wake-up only re-arms.
void evaluate(reservation_pointer self) {
  auto& st = self->state;
  if (st.closing)
    return;
  auto now = self->clock().now();
  bool snoozed = st.rec.snooze_until_ms != 0 && now < st.snooze_end;
  time_point next;
  if (st.rec.late_since_ms == 0) {
    auto due = deadline(st);
    if (now <= due) {
      next = due + milliseconds{1};  // late means strictly past the deadline
    } else if (snoozed) {
      next = st.snooze_end;
    } else {
      raise_alert(self, alert_kind::late);
      next = st.repeat_at;
    }
  } else if (now < st.repeat_at) {
    next = st.repeat_at;
  } else if (snoozed) {
    next = st.snooze_end;
  } else {
    raise_alert(self, alert_kind::repeat);
    next = st.repeat_at;
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
    // Restored: translate stored wall times into steady time once, here.
    auto wall = ctx->wall_now();
    auto base_wall = st.rec.last_checkin_ms != 0 ? st.rec.last_checkin_ms : st.rec.created_ms;
    st.base = now - milliseconds{wall - base_wall};
    st.snooze_end = now + milliseconds{st.rec.snooze_until_ms - wall};
    st.repeat_at = now + milliseconds{st.rec.last_alert_ms + ctx->policy.repeat_ms - wall};
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
        auto text = render_recovery(rec, wall, st.ctx->srv);
        intents = make_intents(st, alert_kind::recovered, text, rec.late_since_ms, wall);
        rec.late_since_ms = 0;
      }
      rec.last_checkin_ms = wall;
      rec.checkins += 1;
      st.base = self->clock().now();
      storage::write_batch batch;
      record_batch(self, batch);
      batch.put_checkin(st.key, rec.checkins,
                        checkin_entry{wall, std::move(req.notes), std::move(req.source)});
      if (rec.checkins > st.ctx->history_limit)
        batch.erase_checkin(st.key, rec.checkins - st.ctx->history_limit);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp, std::move(intents));
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
      if (done.quit_after)
        self->quit();
    },
  };
}

}  // namespace gotel
