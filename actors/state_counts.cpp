#include "actors/state_counts.hpp"

namespace gotel {

std::string_view to_string(job_state s) {
  switch (s) {
    case job_state::ok: return "ok";
    case job_state::late: return "late";
    case job_state::paused: return "paused";
  }
  return "ok";
}

job_state state_of(const reservation_record& rec, unix_ms now, const schedule_policy& policy) {
  if (is_snoozed(rec, now))
    return job_state::paused;
  if (is_failing(rec, now, policy))  // late, or a reported failure not yet resolved
    return job_state::late;
  return job_state::ok;
}

count_entry count_entry_of(const reservation_record& rec) {
  count_entry e;
  e.failed = rec.failed_since_ms != 0;
  e.flagged = rec.late_since_ms != 0 || e.failed;
  e.running = !rec.runs.empty();
  e.snooze_until_ms = rec.snooze_until_ms;
  return e;
}

count_entry count_entry_of(const restart_index& ix) {
  count_entry e;
  e.failed = ix.failed;
  e.flagged = ix.late || ix.failed;
  e.running = ix.running;
  e.snooze_until_ms = ix.snooze_until_ms;
  return e;
}

void state_counters::release_ended(unix_ms now) {
  if (now <= released_upto_)
    return;
  released_upto_ = now;
  auto end = snoozes_.upper_bound(now);
  for (auto i = snoozes_.begin(); i != end; ++i) {
    snoozed_ -= i->second.first;
    snoozed_flagged_ -= i->second.second;
  }
  snoozes_.erase(snoozes_.begin(), end);
}

void state_counters::add(const count_entry& e, int sign) {
  auto step = [sign](std::uint64_t& v, bool yes) {
    if (yes)
      v += sign > 0 ? 1 : static_cast<std::uint64_t>(-1);  // wraps back on removal
  };
  step(total_, true);
  step(flagged_, e.flagged);
  step(failed_, e.failed);
  step(running_, e.running);
  if (e.snooze_until_ms > released_upto_) {
    auto& slot = snoozes_[e.snooze_until_ms];
    step(slot.first, true);
    step(slot.second, e.flagged);
    step(snoozed_, true);
    step(snoozed_flagged_, e.flagged);
    if (slot.first == 0)
      snoozes_.erase(e.snooze_until_ms);
  }
}

void state_counters::adjust(const std::optional<count_entry>& before,
                            const std::optional<count_entry>& after, unix_ms now) {
  if (before == after)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  // Release first: a snooze that ended is no longer in snoozes_, whether it
  // is removed below (before) or added (after).
  release_ended(now);
  if (before)
    add(*before, -1);
  if (after)
    add(*after, +1);
}

state_totals state_counters::read(unix_ms now) {
  std::lock_guard<std::mutex> guard{mtx_};
  release_ended(now);
  state_totals t;
  t.total = total_;
  t.paused = snoozed_;
  t.late = flagged_ - snoozed_flagged_;
  t.ok = total_ - t.paused - t.late;
  t.failed = failed_;
  t.running = running_;
  return t;
}


}  // namespace gotel
