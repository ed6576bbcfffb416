#include "actors/schedule.hpp"

namespace gotel {

unix_ms deadline_ms(const reservation_record& rec, const schedule_policy& policy) {
  auto base = rec.last_checkin_ms != 0 ? rec.last_checkin_ms : rec.created_ms + policy.bake_ms;
  return base + rec.period_ms() + policy.grace_ms;
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
