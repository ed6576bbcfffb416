#include "actors/schedule.hpp"

#include "actors/cron.hpp"

#include <algorithm>

namespace gotel {

unix_ms next_expected_ms(const reservation_record& rec, const schedule_policy& policy) {
  auto base = rec.last_checkin_ms != 0 ? rec.last_checkin_ms : rec.created_ms + policy.bake_ms;
  if (!rec.schedule.empty())
    if (auto next = next_run(rec.schedule, rec.tz, base))
      return *next;
  // A stored schedule that no longer parses (or a zone tzdata dropped) falls
  // back to the typical gap: a monitor prefers a rough deadline to none.
  return base + rec.period_ms();
}

unix_ms deadline_ms(const reservation_record& rec, const schedule_policy& policy) {
  return next_expected_ms(rec, policy) + rec.grace_ms + policy.grace_ms;
}

unix_ms wake_hint_ms(const reservation_record& rec, const schedule_policy& policy, unix_ms now) {
  if (rec.late_since_ms != 0 || (rec.failed_since_ms != 0 && rec.fail_alerted_ms == 0))
    return now;
  // Late means strictly past the deadline, too long strictly longer: +1 ms.
  auto next = deadline_ms(rec, policy) + 1;
  for (auto& run : rec.runs)
    if (auto due = run_deadline_ms(rec, run); due && !run.alerted)
      next = std::min(next, *due + 1);
  if (next <= now && rec.snooze_until_ms > now)
    return rec.snooze_until_ms;
  return std::max(next, now);
}

unix_ms wake_hint_ms(const restart_index& ix, const schedule_policy& policy, unix_ms now) {
  if (ix.late || (ix.failed && !ix.fail_alerted))
    return now;
  // deadline_ms and next_expected_ms, on the entry's fields.
  auto base = ix.checked_in ? ix.base_ms : ix.base_ms + policy.bake_ms;
  std::optional<unix_ms> expected;
  if (!ix.schedule.empty())
    expected = next_run(ix.schedule, ix.tz, base);
  auto next = expected.value_or(base + ix.period_ms) + ix.grace_ms + policy.grace_ms + 1;
  if (ix.has_run_due)
    next = std::min(next, ix.run_due_ms + 1);
  if (next <= now && ix.snooze_until_ms > now)
    return ix.snooze_until_ms;
  return std::max(next, now);
}

std::optional<std::int64_t> typical_gap_minutes(const std::string& schedule,
                                                const std::string& tz, unix_ms from) {
  auto first = next_run(schedule, tz, from);
  if (!first)
    return std::nullopt;
  auto second = next_run(schedule, tz, *first);
  if (!second)
    return std::nullopt;
  return std::max<std::int64_t>(1, (*second - *first) / 60'000);
}

std::optional<unix_ms> run_deadline_ms(const reservation_record& rec, const run_entry& run) {
  if (rec.max_duration_ms <= 0)
    return std::nullopt;
  return run.started_ms + rec.max_duration_ms;
}

std::string fail_dedup_key(std::uint64_t job_id, unix_ms failed_since) {
  return std::to_string(job_id) + "-fail-" + std::to_string(failed_since);
}

std::string run_dedup_key(std::uint64_t job_id, const run_entry& run) {
  auto key = std::to_string(job_id) + "-run-" + std::to_string(run.started_ms);
  if (!run.id.empty())
    key += "-" + run.id;
  return key;
}

bool is_late(const reservation_record& rec, unix_ms now, const schedule_policy& policy) {
  return now > deadline_ms(rec, policy);
}

std::string dedup_key(std::uint64_t job_id, unix_ms missed_deadline) {
  return std::to_string(job_id) + "-" + std::to_string(missed_deadline);
}

std::string frequency_text(const reservation_record& rec) {
  return std::to_string(rec.frequency) + std::string{to_string(rec.unit)};
}

}  // namespace gotel
