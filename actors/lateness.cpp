#include "actors/lateness.hpp"

#include <algorithm>

namespace gotel {

std::vector<escalation_step> effective_steps(const reservation_record& rec) {
  if (!rec.escalation.empty())
    return rec.escalation;
  return {escalation_step{0, rec.alerters}};
}

std::vector<std::string> channels_for(const std::vector<std::string>& configured,
                                      const std::vector<std::string>& names) {
  if (names.empty())
    return configured;
  std::vector<std::string> out;
  for (auto& n : names)
    if (std::find(configured.begin(), configured.end(), n) != configured.end()
        && std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  return out.empty() ? configured : out;
}

std::vector<std::string> fired_channels(const reservation_record& rec,
                                        const std::vector<std::string>& configured) {
  auto steps = effective_steps(rec);
  std::vector<std::string> out;
  for (std::size_t k = 0; k < steps.size() && k < rec.escalation_level; ++k)
    for (auto& c : channels_for(configured, steps[k].alerters))
      if (std::find(out.begin(), out.end(), c) == out.end())
        out.push_back(c);
  return out;
}

std::optional<std::int64_t> step_offset_ms(const reservation_record& rec,
                                           const escalation_step& step) {
  auto period = rec.period_ms();
  if (step.after < 0 || (period > 0 && step.after > max_escalation_ms / period))
    return std::nullopt;
  return step.after * period;
}

late_alert due_alerts(const reservation_record& rec, const std::vector<std::string>& configured,
                      std::int64_t since_ms, bool repeat_due, bool became_late) {
  auto steps = effective_steps(rec);
  auto already = fired_channels(rec, configured);
  late_alert out;
  out.level = rec.escalation_level;
  std::vector<std::string> added;
  while (out.level < steps.size()) {
    auto offset = step_offset_ms(rec, steps[out.level]);
    if (!offset || since_ms <= *offset)
      break;  // a step fires strictly after its time
    for (auto& c : channels_for(configured, steps[out.level].alerters))
      if (std::find(already.begin(), already.end(), c) == already.end()
          && std::find(added.begin(), added.end(), c) == added.end())
        added.push_back(c);
    out.level += 1;
  }
  if (!added.empty()) {
    out.targets = std::move(added);
  } else if (out.level > 0 && !became_late && repeat_due) {
    out.kind = alert_kind::repeat;
    out.targets = std::move(already);
  }
  return out;
}

std::int64_t next_late_offset_ms(const reservation_record& rec, std::int64_t repeat_in_ms) {
  auto steps = effective_steps(rec);
  std::optional<std::int64_t> next;
  if (rec.escalation_level < steps.size())
    if (auto offset = step_offset_ms(rec, steps[rec.escalation_level]))
      next = *offset + 1;
  if (rec.escalation_level > 0 && (!next || repeat_in_ms < *next))
    next = repeat_in_ms;
  // Nothing left to fire (all steps beyond representable time): look again
  // after the longest escalation; a checkin re-arms anyway.
  return next ? *next : max_escalation_ms;
}

dormant_verdict judge_dormant(reservation_record& rec, unix_ms now, const schedule_policy& policy,
                              const std::vector<std::string>& configured, unix_ms alert_stamp) {
  dormant_verdict v;
  // Failure signals, runs with a time limit and snoozes: the actor decides.
  bool open_run = false;
  if (rec.max_duration_ms > 0)
    for (auto& run : rec.runs)
      open_run = open_run || !run.alerted;
  if ((rec.failed_since_ms != 0 && rec.fail_alerted_ms == 0) || open_run
      || (rec.snooze_until_ms != 0 && now < rec.snooze_until_ms)) {
    v.activate = true;
    return v;
  }
  auto due = deadline_ms(rec, policy);
  bool became_late = false;
  if (rec.late_since_ms == 0) {
    if (now <= due) {
      v.wake_ms = due + 1;  // late means strictly past the deadline
      return v;
    }
    rec.late_since_ms = due;
    rec.escalation_level = 0;
    became_late = true;
    v.changed = true;
  }
  auto repeat_at = rec.last_alert_ms + policy.repeat_ms;
  auto next = due + next_late_offset_ms(rec, repeat_at - due);
  if (became_late || next <= now) {
    v.alert = due_alerts(rec, configured, now - due, now >= repeat_at, became_late);
    if (v.alert.level != rec.escalation_level) {
      rec.escalation_level = v.alert.level;
      v.changed = true;
    }
    if (!v.alert.targets.empty()) {
      rec.last_alert_ms = alert_stamp;
      rec.alerts += 1;
      v.changed = true;
      repeat_at = now + policy.repeat_ms;
    }
    next = due + next_late_offset_ms(rec, repeat_at - due);
  }
  v.wake_ms = next;
  return v;
}

}  // namespace gotel
