#pragma once
/// Pure schedule arithmetic: when a reservation is due, whether it is late.
/// Inputs in, values out; no clock, no config.

#include "storage/model.hpp"
#include "storage/restart_index.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace gotel {

/// Policy knobs that shape deadlines (from alerts.* in the config).
struct schedule_policy {
  std::int64_t bake_ms = 0;    ///< extra wait before a never-checked-in job can be late
  std::int64_t grace_ms = 0;   ///< slack after every deadline
  std::int64_t repeat_ms = 6 * 3600 * 1000;  ///< re-alert interval while late
};

/// The wall time by which the next checkin is expected: the last checkin (or the
/// creation plus the bake, if none) plus one period plus the grace. For a cron
/// schedule: the next run after that base (actors/cron.hpp) plus the grace.
/// "The grace" is the reservation's grace_ms plus the policy's.
unix_ms deadline_ms(const reservation_record& rec, const schedule_policy& policy);

/// When the next checkin is expected, without any grace: the deadline's
/// base plus one period, or the next cron run. Shown in listings.
unix_ms next_expected_ms(const reservation_record& rec, const schedule_policy& policy);

/// A cron schedule's typical gap in whole minutes (>= 1): between its first two
/// runs after `from`; nullopt when `schedule` or `tz` is invalid. Gives cron
/// reservations a frequency for display and for escalation's "after N periods".
std::optional<std::int64_t> typical_gap_minutes(const std::string& schedule,
                                                const std::string& tz, unix_ms from);

/// The wall time after which `run` is running too long (started + max_duration);
/// nullopt when the reservation has no max_duration.
std::optional<unix_ms> run_deadline_ms(const reservation_record& rec, const run_entry& run);

/// The wall time by which a dormant reservation needs its actor again
/// (actors/coordinator.hpp: virtual reservation actors): its deadline, the end
/// of a running-too-long limit, or the end of a snooze it is late under; `now`
/// when it needs the actor at once (late, or a failure not alerted yet: the
/// actor works out escalation, repeats and failure alerts). Never later than
/// the wake-up the actor itself would arm, so a dormant reservation misses
/// nothing; earlier only costs an activation that re-arms.
unix_ms wake_hint_ms(const reservation_record& rec, const schedule_policy& policy, unix_ms now);

/// The same from a record's restart index entry (storage/restart_index.hpp):
/// equal to wake_hint_ms(rec, ...) for the record the entry was made of, under
/// any policy. How a restart arms every dormant reservation without decoding
/// its record. A cron entry's next run is computed here (parse and zone
/// lookup included), so each cron reservation costs more than a periodic one.
unix_ms wake_hint_ms(const restart_index& ix, const schedule_policy& policy, unix_ms now);

/// Dedup key of a failure reported by a fail signal or exit status at `failed_since`.
std::string fail_dedup_key(std::uint64_t job_id, unix_ms failed_since);

/// Dedup key of a "running too long" alert about `run`.
std::string run_dedup_key(std::uint64_t job_id, const run_entry& run);

/// GoTel's rule: late when strictly more than the period has passed.
bool is_late(const reservation_record& rec, unix_ms now, const schedule_policy& policy);

/// Late, or a reported failure (fail signal, exit status 1-255) that no success
/// has resolved yet: what listings show as failing_sla / FAILING.
inline bool is_failing(const reservation_record& rec, unix_ms now, const schedule_policy& policy) {
  return rec.late_since_ms != 0 || rec.failed_since_ms != 0 || is_late(rec, now, policy);
}

/// True while alerts are suppressed by a snooze.
inline bool is_snoozed(const reservation_record& rec, unix_ms now) {
  return rec.snooze_until_ms > now;
}

/// The key shared by every alert about one missed deadline, on every node:
/// "<job_id>-<deadline unix ms>". PagerDuty and webhook receivers collapse on it.
std::string dedup_key(std::uint64_t job_id, unix_ms missed_deadline);

/// "5minutes": frequency and unit as GoTel's {frequency} placeholder shows them.
std::string frequency_text(const reservation_record& rec);

}  // namespace gotel
