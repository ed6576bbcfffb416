#pragma once
/// Pure schedule arithmetic: when a reservation is due, whether it is late.
/// Inputs in, values out; no clock, no config.

#include "storage/model.hpp"

#include <cstdint>
#include <string>

namespace gotel {

/// Policy knobs that shape deadlines (from alerts.* in the config).
struct schedule_policy {
  std::int64_t bake_ms = 0;    ///< extra wait before a never-checked-in job can be late
  std::int64_t grace_ms = 0;   ///< slack after every deadline
  std::int64_t repeat_ms = 6 * 3600 * 1000;  ///< re-alert interval while late
};

/// The wall time by which the next checkin is expected: the last checkin (or the
/// creation plus the bake, if none) plus one period plus the grace.
unix_ms deadline_ms(const reservation_record& rec, const schedule_policy& policy);

/// GoTel's rule: late when strictly more than the period has passed.
bool is_late(const reservation_record& rec, unix_ms now, const schedule_policy& policy);

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
