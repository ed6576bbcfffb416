#include "actors/reservation.hpp"

#include "actors/cron.hpp"
#include "actors/lateness.hpp"
#include "actors/errors.hpp"
#include "actors/actor_time.hpp"
#include "alerters/render.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

namespace gotel {

std::vector<alert_intent> alert_intents(node_context& ctx, const reservation_record& rec,
                                        const std::vector<std::string>& channels,
                                        alert_kind kind, const std::string& message,
                                        unix_ms missed, unix_ms wall) {
  std::vector<alert_intent> out;
  out.reserve(channels.size());
  for (auto& channel : channels) {
    alert_intent x;
    x.id = ctx.next_intent_id.fetch_add(1);
    x.dedup_key = dedup_key(rec.job_id, missed);
    x.kind = kind;
    x.channel = channel;
    x.job_id = rec.job_id;
    x.app = rec.app;
    x.component = rec.component;
    x.owner = rec.owner;
    x.notify = rec.notify;
    x.message = message;
    x.deadline_ms = missed;
    x.created_ms = wall;
    x.next_attempt_ms = wall;
    out.push_back(std::move(x));
  }
  return out;
}

namespace {

using time_point = reservation_state::time_point;
using std::chrono::milliseconds;

/// The steady deadline: base + period + grace, plus the bake before a first
/// checkin; for a cron schedule, the next run + grace converted to steady time.
time_point deadline(const reservation_state& st) {
  if (st.cron_due)
    return *st.cron_due;
  auto extra = st.rec.last_checkin_ms == 0 ? st.ctx->policy.bake_ms : 0;
  return st.base
         + milliseconds{st.rec.period_ms() + st.ctx->policy.grace_ms + st.rec.grace_ms + extra};
}

/// Asks for a wake-up at `at`: the earliest asked for during one evaluation
/// goes to the coordinator when it ends (flush_arm).
void arm(reservation_pointer self, time_point at) {
  auto& st = self->state;
  if (!st.want || at < *st.want)
    st.want = at;
}

/// Hands the evaluation's wake-up to the coordinator, which keeps one per
/// reservation (replacing the previous one) also while this actor is passivated.
void flush_arm(reservation_pointer self) {
  auto& st = self->state;
  if (st.want == st.armed)
    return;
  st.armed = st.want;
  // As itself (not anonymous): the coordinator takes wake-ups only from the
  // reservation's current actor.
  caf::send_as(caf::actor_cast<caf::actor>(self), st.owner, arm_atom::value, st.key,
               st.armed ? to_ns(*st.armed) : std::int64_t{0});
}

std::vector<alert_intent> make_intents(const reservation_state& st,
                                       const std::vector<std::string>& channels,
                                       alert_kind kind, const std::string& message,
                                       unix_ms missed, unix_ms wall) {
  return alert_intents(*st.ctx, st.rec, channels, kind, message, missed, wall);
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
  // Counted as it is written: the one place every change passes. The
  // coordinator holds the count (state_counts.hpp), also while passivated.
  std::optional<count_entry> counted;
  if (!quit_after)
    counted = count_entry_of(st.rec);
  if (counted != st.told) {
    st.told = counted;
    auto c = counted.value_or(count_entry{});
    caf::send_as(caf::actor_cast<caf::actor>(self), st.owner, count_atom::value, st.key,
                 counted.has_value(), c.flagged, c.failed, c.running, c.snooze_until_ms);
  }
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

/// Cron schedules only: the next wall deadline (pure, schedule.hpp) becomes a
/// steady one, once per checkin, change or restore. Between those, wall-clock
/// jumps move nothing.
void rebase_cron(reservation_pointer self) {
  auto& st = self->state;
  if (st.rec.schedule.empty()) {
    st.cron_due.reset();
    return;
  }
  auto wall = st.ctx->wall_now();
  st.cron_due = self->clock().now() + milliseconds{deadline_ms(st.rec, st.ctx->policy) - wall};
}

/// Translates the stored wall times of `rec` into steady time, once: after a
/// restore, and when a replicated record is adopted.
/// `skew_ms`: wall minus steady milliseconds as they were when the times were
/// taken (a passivated actor's, so a wall-clock step while it was dormant moves
/// nothing); unknown_skew: the wall clock now (a restore, a replicated record).
void adopt_times(reservation_pointer self, std::int64_t skew_ms = unknown_skew) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto wall = skew_ms == unknown_skew ? st.ctx->wall_now() : to_ns(now) / 1'000'000 + skew_ms;
  auto base_wall = st.rec.last_checkin_ms != 0 ? st.rec.last_checkin_ms : st.rec.created_ms;
  st.base = now - milliseconds{wall - base_wall};
  st.snooze_end = now + milliseconds{st.rec.snooze_until_ms - wall};
  st.repeat_at = now + milliseconds{st.rec.last_alert_ms + st.ctx->policy.repeat_ms - wall};
  st.run_starts.clear();
  for (auto& run : st.rec.runs)
    st.run_starts.push_back(now - milliseconds{wall - run.started_ms});
  rebase_cron(self);
}

/// The next steady time something is due while late: the next escalation
/// step or the next repeat (only once something has been sent); the rule is
/// next_late_offset_ms (actors/lateness.hpp), shared with the batch path. The
/// repeat's offset is rounded up, so the wake-up is never before repeat_at.
time_point next_late_wake(const reservation_state& st) {
  auto due = deadline(st);
  auto repeat_in = std::chrono::ceil<milliseconds>(st.repeat_at - due).count();
  return due + milliseconds{next_late_offset_ms(st.rec, repeat_in)};
}

/// While late and not snoozed: fires every escalation step that is due (a
/// "late" notice to the channels it adds), or else a repeat to every channel
/// alerted so far once the repeat interval has passed. `became_late`: the
/// record changed (late_since_ms) and must be persisted even if nothing fires.
void fire_due(reservation_pointer self, time_point now, bool became_late) {
  auto& st = self->state;
  // Whole ms after the deadline, rounded up: "strictly after a step's time"
  // stays exact (step offsets are whole ms).
  auto since = std::chrono::ceil<milliseconds>(now - deadline(st)).count();
  auto due = due_alerts(st.rec, st.ctx->channels, since, now >= st.repeat_at, became_late);
  st.rec.escalation_level = due.level;
  auto kind = due.kind;
  auto& targets = due.targets;
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

// -- runs and signals (docs/pings.md) -------------------------------------------

/// Channels that hear of failures and overlong runs: those of the first
/// escalation step (the reservation's alerters, or every configured channel).
std::vector<std::string> signal_channels(const reservation_state& st) {
  return channels_for(st.ctx->channels, effective_steps(st.rec).front().alerters);
}

/// Intents for a failure or an overlong run: like make_intents, with their own
/// dedup key so a receiver keeps them apart from "did not start on time".
std::vector<alert_intent> signal_intents(const reservation_state& st, alert_kind kind,
                                         const std::string& text, const std::string& key,
                                         unix_ms at, unix_ms wall) {
  auto out = make_intents(st, signal_channels(st), kind, text, at, wall);
  for (auto& x : out)
    x.dedup_key = key;
  return out;
}

std::string seconds_text(std::int64_t ms) {
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
}

std::string job_text(const reservation_state& st) {
  return "App: [" + st.rec.app + "] Component: [" + st.rec.component + "]";
}

std::string owner_text(const reservation_state& st) {
  return " on IP [" + st.ctx->srv + "]. Contact owner [" + st.rec.owner + "]";
}

/// Most bytes of a ping body quoted in a failure alert.
constexpr std::size_t max_quoted_log = 1000;

/// The failure alert; `log` is the failing ping's body, if known.
std::vector<alert_intent> failure_intents(reservation_state& st, const std::string& log,
                                          unix_ms wall) {
  auto& rec = st.rec;
  std::string what = rec.last_exit_status > 0
                       ? "failed with exit status " + std::to_string(rec.last_exit_status)
                       : "reported a failure";
  auto text = job_text(st) + " " + what + owner_text(st);
  if (!log.empty())
    text += "\nLog: " + log.substr(0, max_quoted_log);
  rec.fail_alerted_ms = wall;
  rec.alerts += 1;
  return signal_intents(st, alert_kind::late, text, fail_dedup_key(rec.job_id, rec.failed_since_ms),
                        rec.failed_since_ms, wall);
}

/// Writes history entry `seq` in `batch` and trims the entry that falls out of
/// the history limit with it.
void put_history(reservation_state& st, storage::write_batch& batch, std::uint64_t seq,
                 const checkin_entry& entry) {
  batch.put_checkin(st.key, seq, entry);
  if (seq > st.ctx->history_limit)
    batch.erase_checkin(st.key, seq - st.ctx->history_limit);
}

/// Adds `entry` to the history in `batch` under the next seq (rec.pings), and
/// trims the oldest entry beyond the history limit. Call before record_batch.
std::uint64_t add_history(reservation_state& st, storage::write_batch& batch,
                          const checkin_entry& entry) {
  auto seq = st.rec.history_seq() + 1;
  st.rec.pings = seq;
  put_history(st, batch, seq, entry);
  return seq;
}

/// The open run `run_id` names (the anonymous one for ""), newest first.
std::optional<std::size_t> find_run(const reservation_state& st, const std::string& run_id) {
  for (std::size_t i = st.rec.runs.size(); i-- > 0;)
    if (st.rec.runs[i].id == run_id)
      return i;
  return std::nullopt;
}

void drop_run(reservation_state& st, std::size_t i) {
  st.rec.runs.erase(st.rec.runs.begin() + static_cast<std::ptrdiff_t>(i));
  st.run_starts.erase(st.run_starts.begin() + static_cast<std::ptrdiff_t>(i));
}

/// Finishes the open run `run_id`, if any: records its duration (steady time)
/// and, when it had been alerted as running too long, resolves that alert.
/// Without such a run, a failure, or a success without a run id, ends the
/// newest open run without a duration, as Healthchecks clears last_start on
/// a rid mismatch (a success with another run id leaves it open). Returns
/// the finished run's duration, -1 when none was measured.
std::int64_t finish_run(reservation_pointer self, const std::string& run_id, bool failure,
                        unix_ms wall, std::vector<alert_intent>& intents) {
  auto& st = self->state;
  auto& rec = st.rec;
  auto i = find_run(st, run_id);
  std::int64_t ms = -1;
  if (!i) {
    if (rec.runs.empty() || !(failure || run_id.empty()))
      return -1;
    i = rec.runs.size() - 1;
  } else {
    auto took = std::chrono::duration_cast<milliseconds>(self->clock().now() - st.run_starts[*i]);
    ms = std::max<std::int64_t>(0, took.count());
    rec.last_duration_ms = ms;
    rec.total_duration_ms += ms;
    rec.runs_finished += 1;
  }
  auto run = rec.runs[*i];
  if (run.alerted) {
    auto text = job_text(st) + " run " + (run.id.empty() ? "" : "[" + run.id + "] ")
                + (ms >= 0 ? "finished after " + seconds_text(ms)
                           : std::string{"ended by a signal without its run id"})
                + owner_text(st);
    auto more = signal_intents(st, alert_kind::recovered, text, run_dedup_key(rec.job_id, run),
                               run.started_ms, wall);
    intents.insert(intents.end(), more.begin(), more.end());
  }
  drop_run(st, *i);
  return ms;
}

/// A success (checkin): finishes the run, notes a client's exit status 0 and
/// resolves a reported failure. Returns the finished run's duration (-1: none).
std::int64_t succeed(reservation_pointer self, const checkin_request& req, unix_ms wall,
                     std::vector<alert_intent>& intents) {
  auto& st = self->state;
  auto& rec = st.rec;
  auto took = finish_run(self, req.run_id, false, wall, intents);
  // A success replaces an older failure's status: 0 when the client sent it,
  // unknown (-1) when it did not.
  rec.last_exit_status = req.exit_status >= 0 ? req.exit_status : -1;
  if (rec.failed_since_ms != 0) {
    if (rec.fail_alerted_ms != 0) {
      auto text = job_text(st) + " succeeded again after the failure reported "
                  + rfc1123(rec.failed_since_ms) + owner_text(st);
      auto more = signal_intents(st, alert_kind::recovered, text,
                                 fail_dedup_key(rec.job_id, rec.failed_since_ms),
                                 rec.failed_since_ms, wall);
      intents.insert(intents.end(), more.begin(), more.end());
    }
    rec.failed_since_ms = 0;
    rec.fail_alerted_ms = 0;
  }
  return took;
}

/// A ping URL's signal to a paused (or snoozed) reservation: resumes it, as
/// Healthchecks resumes a paused check; false when the reservation has
/// manual_resume, then the ping is only recorded (kind "ign"). GoTel's JSON
/// API (no method) keeps its snooze.
bool resume_for_ping(reservation_pointer self, const std::string& method) {
  auto& st = self->state;
  auto now = self->clock().now();
  bool paused = st.rec.snooze_until_ms != 0 && now < st.snooze_end;
  if (method.empty() || !paused)
    return true;
  if (st.rec.manual_resume)
    return false;
  st.rec.snooze_until_ms = 0;
  st.snooze_end = now;
  return true;
}

/// The history entry of a ping or signal, before its kind is known.
checkin_entry entry_for(unix_ms wall, std::string notes, std::string source, std::string method,
                        std::string user_agent, std::string run_id, std::int32_t exit_status) {
  checkin_entry e{wall, std::move(notes), std::move(source), {}};
  e.method = std::move(method);
  e.user_agent = std::move(user_agent);
  if (e.user_agent.size() > max_user_agent_bytes)
    e.user_agent.resize(max_user_agent_bytes);
  e.run_id = std::move(run_id);
  e.exit_status = exit_status;
  return e;
}

/// What signals still owe: a failure not alerted yet (it arrived while this
/// node could not alert, or while snoozed) and open runs past max_duration.
/// Arms the next wake-up for runs not yet due.
void evaluate_signals(reservation_pointer self, time_point now, bool snoozed) {
  auto& st = self->state;
  auto& rec = st.rec;
  std::vector<alert_intent> intents;
  auto wall = st.ctx->wall_now();
  if (rec.failed_since_ms != 0 && rec.fail_alerted_ms == 0) {
    if (snoozed)
      arm(self, st.snooze_end);
    else
      intents = failure_intents(st, {}, wall);
  }
  if (rec.max_duration_ms > 0) {
    for (std::size_t i = 0; i < rec.runs.size(); ++i) {
      auto& run = rec.runs[i];
      if (run.alerted)
        continue;
      auto due = st.run_starts[i] + milliseconds{rec.max_duration_ms};
      if (now <= due) {
        arm(self, due + milliseconds{1});  // too long means strictly longer
        continue;
      }
      if (snoozed) {
        arm(self, st.snooze_end);
        continue;
      }
      auto ran = std::chrono::duration_cast<milliseconds>(now - st.run_starts[i]).count();
      auto text = job_text(st) + " running too long: run "
                  + (run.id.empty() ? "" : "[" + run.id + "] ") + "started "
                  + rfc1123(run.started_ms) + " has run " + seconds_text(ran)
                  + " (max_duration " + seconds_text(rec.max_duration_ms) + ")" + owner_text(st);
      run.alerted = true;
      rec.alerts += 1;
      auto more = signal_intents(st, alert_kind::late, text, run_dedup_key(rec.job_id, run),
                                 run.started_ms, wall);
      intents.insert(intents.end(), more.begin(), more.end());
    }
  }
  if (intents.empty())
    return;
  storage::write_batch batch;
  record_batch(self, batch);
  persist(self, std::move(batch), std::nullopt, std::move(intents));
}

/// Decides what is due now and when to look again. Idempotent: a stale or early
/// wake-up only re-arms. Escalation is derived from stored state alone
/// (late_since_ms, escalation_level, last_alert_ms), so it survives restarts.
void evaluate_now(reservation_pointer self) {
  auto& st = self->state;
  if (st.closing)
    return;
  auto now = self->clock().now();
  // Only the coordinator, holding a fresh lease, raises alerts; the others
  // keep only the wake-up a dormant record would get (parked by the
  // coordinator when it passes) and are re-evaluated when they take over.
  if (!st.ctx->may_alert(to_ns(now))) {
    auto wall = st.ctx->wall_now();
    arm(self, now + milliseconds{wake_hint_ms(st.rec, st.ctx->policy, wall) - wall});
    return;
  }
  bool snoozed = st.rec.snooze_until_ms != 0 && now < st.snooze_end;
  evaluate_signals(self, now, snoozed);
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

/// Decides what is due now and when to look again (evaluate_now), and tells
/// the coordinator the time.
void evaluate(reservation_pointer self) {
  self->state.want.reset();
  evaluate_now(self);
  flush_arm(self);
}

/// Notes a message from the coordinator (every handler but the committer's
/// and its own): counted for the passivation handshake.
void touched(reservation_pointer self) {
  auto& st = self->state;
  st.handled += 1;
  st.last_active = self->clock().now();
}

/// Schedules the next idle check, `after` from now.
void schedule_idle(reservation_pointer self, caf::actor_clock::duration_type after) {
  self->delayed_send(self, after, idle_atom::value);
}

}  // namespace

reservation_actor::behavior_type reservation(reservation_pointer self, node_context* ctx,
                                             caf::actor owner, std::string key,
                                             reservation_record rec, bool is_new,
                                             std::int64_t skew_ms) {
  auto& st = self->state;
  st.ctx = ctx;
  st.owner = std::move(owner);
  st.last_active = self->clock().now();
  if (!is_new)
    st.told = count_entry_of(rec);  // the coordinator counted it so when it spawned us
  if (ctx->passivate_after.count() > 0)
    schedule_idle(self, ctx->passivate_after);
  st.key = std::move(key);
  st.rec = std::move(rec);
  auto now = self->clock().now();
  if (is_new) {
    st.base = now;
  } else {
    adopt_times(self, skew_ms);  // stored wall times become steady times once, here
    // Written before escalation levels existed: a late record that already
    // alerted in this lateness has fired its (only) first step.
    if (st.rec.late_since_ms != 0 && st.rec.escalation_level == 0
        && st.rec.last_alert_ms >= st.rec.late_since_ms)
      st.rec.escalation_level = 1;
    evaluate(self);
  }
  return {
    [=](reserve_atom, reserve_request& req) -> caf::result<reservation_record> {
      touched(self);
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
      if (req.manual_resume_given)
        rec.manual_resume = req.manual_resume;
      rec.schedule = std::move(req.schedule);
      rec.tz = std::move(req.tz);
      rec.grace_ms = req.grace_ms;
      rec.max_duration_ms = req.max_duration_ms;
      if (!rec.schedule.empty() && rec.frequency < 1) {
        // A cron reservation's frequency is its typical gap (display, escalation).
        rec.frequency = typical_gap_minutes(rec.schedule, rec.tz, st.ctx->wall_now())
                          .value_or(24 * 60);
        rec.unit = time_unit::minutes;
      }
      rebase_cron(self);
      storage::write_batch batch;
      record_batch(self, batch);
      batch.put_meta("next_job_id", std::to_string(st.ctx->next_job_id.load()));
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp);
      evaluate(self);
      return rp;
    },
    [=](checkin_atom, checkin_request& req) -> caf::result<reservation_record> {
      touched(self);
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      auto& rec = st.rec;
      auto wall = st.ctx->wall_now();
      std::vector<alert_intent> intents;
      auto entry = entry_for(wall, std::move(req.notes), std::move(req.source),
                             std::move(req.method), std::move(req.user_agent), req.run_id,
                             req.exit_status);
      if (!resume_for_ping(self, entry.method)) {
        // Paused with manual_resume: the ping is only a line in the history.
        entry.kind = "ign";
        storage::write_batch batch;
        auto seq = add_history(st, batch, entry);
        record_batch(self, batch);
        auto rp = self->make_response_promise<reservation_record>();
        persist(self, std::move(batch), rp, {}, false, std::make_pair(seq, std::move(entry)));
        return rp;
      }
      if (rec.late_since_ms != 0) {
        // The recovery reaches exactly the channels that heard of the miss.
        auto text = render_recovery(rec, wall, st.ctx->srv);
        intents = make_intents(st, fired_channels(st.rec, st.ctx->channels),
                               alert_kind::recovered, text,
                               rec.late_since_ms, wall);
        rec.late_since_ms = 0;
        rec.escalation_level = 0;
      }
      entry.duration_ms = succeed(self, req, wall, intents);  // runs, exit status, failures
      auto seq = rec.history_seq() + 1;
      rec.pings = seq;
      rec.last_checkin_ms = wall;
      rec.checkins += 1;
      st.ctx->checkins_total.fetch_add(1, std::memory_order_relaxed);
      st.base = self->clock().now();
      rebase_cron(self);
      storage::write_batch batch;
      record_batch(self, batch);
      put_history(st, batch, seq, entry);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp, std::move(intents), false,
              std::make_pair(seq, std::move(entry)));
      evaluate(self);
      return rp;
    },
    [=](snooze_atom, snooze_request& req) -> caf::result<reservation_record> {
      touched(self);
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
      touched(self);
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
      touched(self);
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
    [=](signal_atom, signal_request& req) -> caf::result<reservation_record> {
      touched(self);
      // Success arrives as a checkin (the coordinator converts it); here:
      // start, fail (explicit or exit status 1-255) and log.
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::not_found, "reservation is being checked out");
      if (req.kind == signal_kind::success)
        return make_error(errc::invalid_argument, "a success signal is a checkin");
      auto& rec = st.rec;
      auto wall = st.ctx->wall_now();
      auto now = self->clock().now();
      std::vector<alert_intent> intents;
      auto entry = entry_for(wall, std::move(req.notes), std::move(req.source),
                             std::move(req.method), std::move(req.user_agent), req.run_id,
                             req.exit_status);
      entry.kind = "log";
      // A start leaves a paused reservation paused (as Healthchecks); with
      // manual_resume, no signal changes anything while paused.
      bool paused = rec.snooze_until_ms != 0 && now < st.snooze_end;
      if (!entry.method.empty() && paused && rec.manual_resume) {
        entry.kind = "ign";
      } else if (req.kind == signal_kind::fail) {
        resume_for_ping(self, entry.method);
      }
      if (entry.kind == "ign") {
        // only the history line below
      } else if (req.kind == signal_kind::start) {
        entry.kind = "start";
        // One anonymous run at a time (a new start restarts its timer, as
        // Healthchecks does); a run id restarts only its own run.
        if (auto i = find_run(st, req.run_id))
          drop_run(st, *i);
        if (rec.runs.size() >= max_open_runs)
          drop_run(st, 0);
        rec.runs.push_back(run_entry{req.run_id, wall, false});
        st.run_starts.push_back(now);
      } else if (req.kind == signal_kind::fail) {
        entry.kind = req.exit_status > 0 ? "exit " + std::to_string(req.exit_status) : "fail";
        entry.duration_ms = finish_run(self, req.run_id, true, wall, intents);
        rec.last_exit_status = req.exit_status;
        if (rec.failed_since_ms == 0) {
          rec.failed_since_ms = wall;
          rec.fail_alerted_ms = 0;
        }
        bool snoozed = rec.snooze_until_ms != 0 && now < st.snooze_end;
        // A failure already alerted is not alerted again until a success
        // resolves it; one that cannot be alerted now is left to evaluate().
        if (rec.fail_alerted_ms == 0 && !snoozed && st.ctx->may_alert(to_ns(now))) {
          auto more = failure_intents(st, entry.notes, wall);
          intents.insert(intents.end(), more.begin(), more.end());
        }
      }
      storage::write_batch batch;
      auto seq = add_history(st, batch, entry);
      record_batch(self, batch);
      auto rp = self->make_response_promise<reservation_record>();
      persist(self, std::move(batch), rp, std::move(intents), false,
              std::make_pair(seq, std::move(entry)));
      evaluate(self);
      return rp;
    },
    [=](get_atom) -> caf::result<reservation_record> {
      touched(self);
      return self->state.rec;
    },
    [=](wake_atom, std::int64_t due_ns) {
      touched(self);
      // A timed wake-up (not reevaluate's 0) was taken out of the
      // coordinator's heap: nothing is armed there any more.
      if (due_ns != 0)
        self->state.armed.reset();
      evaluate(self);
    },
    [=](idle_atom) {
      auto& st = self->state;
      auto after = st.ctx->passivate_after;
      if (after.count() <= 0 || st.passivating)
        return;
      auto idle_for = self->clock().now() - st.last_active;
      if (idle_for < after) {
        schedule_idle(self, after - idle_for);
        return;
      }
      if (!st.pending.empty() || st.outstanding != 0 || st.closing) {
        schedule_idle(self, after);
        return;
      }
      // The coordinator agrees only if every message it sent was handled;
      // it keeps the wake-up and activates a new actor when one is needed.
      st.passivating = true;
      auto retry = [=] {
        self->state.passivating = false;
        schedule_idle(self, self->state.ctx->passivate_after);
      };
      // The wall-minus-steady offset of its base, so that its next activation
      // maps the stored wall times to the same steady times (clock steps).
      auto base_wall = st.rec.last_checkin_ms != 0 ? st.rec.last_checkin_ms : st.rec.created_ms;
      auto skew = base_wall - to_ns(st.base) / 1'000'000;
      self
        ->request(st.owner, caf::infinite, passivate_atom::value, st.key, st.handled,
                  st.armed ? to_ns(*st.armed) : std::int64_t{0}, skew)
        .then(
          [=](bool ok) {
            if (ok)
              self->quit();
            else
              retry();
          },
          [=](caf::error&) { retry(); });
    },
    [=](persisted_atom, std::uint64_t token, bool ok) {
      auto& st = self->state;
      if (st.pending.empty() || st.pending.front().token != token)
        return;  // cannot happen: the committer completes in submission order
      auto done = std::move(st.pending.front());
      st.pending.erase(st.pending.begin());
      // Even when the outbox write failed, try to deliver: a monitor prefers
      // a duplicate to silence.
      if (!done.intents.empty() && st.ctx->dispatcher)
        caf::anon_send(st.ctx->dispatcher, dispatch_atom::value, std::move(done.intents));
      if (ok && done.change && st.ctx->cluster) {
        // Acknowledged only once every live peer has it too (docs/cluster.md);
        // the cluster actor always answers, local-only when no peer is live.
        auto quit_after = done.quit_after;
        auto finish = [=](bool confirmed) mutable {
          if (done.reply) {
            if (confirmed)
              done.reply->deliver(done.snapshot);
            else
              done.reply->deliver(make_error(
                errc::unavailable, "the change is durable on this node but a live peer did "
                                   "not confirm it in time; retry"));
          }
          if (quit_after)
            self->quit();
        };
        st.outstanding += 1;
        self->request(st.ctx->cluster, caf::infinite, replicate_atom::value,
                      std::move(*done.change))
          .then(
            [=](bool confirmed) mutable {
              self->state.outstanding -= 1;
              finish(confirmed);
            },
            [=](caf::error&) mutable {
              self->state.outstanding -= 1;
              finish(false);
            });
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
    [=](reconcile_atom, reconcile_change& ch) -> caf::result<reservation_record> {
      touched(self);
      auto& st = self->state;
      if (st.closing)
        return make_error(errc::conflict, "reservation is being checked out; retry");
      // Older, or what we have already: nothing to do. (Early answers come
      // before make_response_promise; see apply_atom.)
      if (ch.removed || ch.rec.revision < st.rec.revision || ch.rec == st.rec)
        return st.rec;
      auto rp = self->make_response_promise<reservation_record>();
      storage::write_batch batch;
      std::optional<std::pair<std::uint64_t, checkin_entry>> newest;
      if (ch.rec.revision > st.rec.revision) {
        st.rec = std::move(ch.rec);
        adopt_times(self);
        batch.put(st.key, st.rec);
        for (std::size_t i = 0; i < ch.seqs.size() && i < ch.entries.size(); ++i) {
          put_history(st, batch, ch.seqs[i], ch.entries[i]);
          newest = std::make_pair(ch.seqs[i], ch.entries[i]);
        }
      } else {
        // The same revision with different content: both sides changed it
        // while split. Ours wins, under a revision every node adopts.
        record_batch(self, batch);
      }
      persist(self, std::move(batch), rp, {}, false, std::move(newest));
      evaluate(self);
      return rp;
    },
    [=](apply_atom, repl_change& ch) -> caf::result<reservation_record> {
      touched(self);
      auto& st = self->state;
      if (st.closing)
        return st.rec;
      // Every early answer comes before make_response_promise: in CAF 0.17 the
      // promise takes the request over, so a value returned after it is never
      // sent, and a promise dropped undelivered sends nothing either (a
      // duplicate replication then went unanswered for ever).
      if (!ch.deleted && ch.rec.revision <= st.rec.revision)
        return st.rec;  // already as new, or newer
      auto rp = self->make_response_promise<reservation_record>();
      storage::write_batch batch;
      if (ch.deleted) {
        st.closing = true;
        batch.erase_reservation(st.key);
        batch.erase_history(st.key);
        persist(self, std::move(batch), rp, {}, true, std::nullopt, replication::no);
        return rp;
      }
      st.rec = std::move(ch.rec);
      adopt_times(self);
      batch.put(st.key, st.rec);
      if (ch.checkin_seq != 0)
        put_history(st, batch, ch.checkin_seq, ch.checkin);
      persist(self, std::move(batch), rp, {}, false, std::nullopt, replication::no);
      evaluate(self);
      return rp;
    },
  };
}

}  // namespace gotel
