// Tests actors/schedule.*: GoTel's lateness rule, bake and grace, dedup keys.

#include "actors/schedule.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

reservation_record job(std::int64_t freq, time_unit unit, unix_ms created, unix_ms last) {
  reservation_record r;
  r.job_id = 42;
  r.frequency = freq;
  r.unit = unit;
  r.created_ms = created;
  r.last_checkin_ms = last;
  return r;
}

TEST(schedule, late_is_strictly_more_than_one_period_after_the_last_checkin) {
  auto r = job(5, time_unit::minutes, 0, 1'000'000);
  schedule_policy p;
  EXPECT_EQ(deadline_ms(r, p), 1'000'000 + 300'000);
  EXPECT_FALSE(is_late(r, 1'300'000, p));
  EXPECT_TRUE(is_late(r, 1'300'001, p));
}

TEST(schedule, a_new_job_counts_from_creation_plus_bake) {
  auto r = job(1, time_unit::hours, 10'000, 0);
  schedule_policy p;
  p.bake_ms = 24 * 3600'000;
  EXPECT_EQ(deadline_ms(r, p), 10'000 + 24 * 3600'000 + 3600'000);
  r.last_checkin_ms = 20'000;
  EXPECT_EQ(deadline_ms(r, p), 20'000 + 3600'000) << "the bake applies only before a checkin";
}

TEST(schedule, grace_extends_every_deadline) {
  auto r = job(1, time_unit::days, 0, 5);
  schedule_policy p;
  p.grace_ms = 60'000;
  EXPECT_EQ(deadline_ms(r, p), 5 + 86'400'000 + 60'000);
}

TEST(schedule, dedup_key_and_frequency_text) {
  auto r = job(5, time_unit::minutes, 0, 0);
  EXPECT_EQ(dedup_key(r.job_id, 1700000000000), "42-1700000000000");
  EXPECT_EQ(frequency_text(r), "5minutes");
}

TEST(schedule, snooze_is_active_only_before_its_end) {
  auto r = job(5, time_unit::minutes, 0, 0);
  r.snooze_until_ms = 100;
  EXPECT_TRUE(is_snoozed(r, 99));
  EXPECT_FALSE(is_snoozed(r, 100));
}

}  // namespace
}  // namespace gotel
