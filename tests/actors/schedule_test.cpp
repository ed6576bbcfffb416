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

// -- cron schedules, grace and runs (actors/cron.hpp, docs/pings.md) -----------

namespace gotel {
namespace {

TEST(schedule_cron, deadline_is_the_next_run_after_the_base_plus_both_graces) {
  reservation_record r;
  r.job_id = 9;
  r.frequency = 15;
  r.unit = time_unit::minutes;
  r.schedule = "*/15 * * * *";
  r.created_ms = 1'700'000'000'000;  // 22:13:20 UTC
  r.grace_ms = 60'000;
  schedule_policy p;
  p.grace_ms = 1'000;
  EXPECT_EQ(next_expected_ms(r, p), 1'700'000'100'000) << "22:15:00";
  EXPECT_EQ(deadline_ms(r, p), 1'700'000'161'000);
  EXPECT_FALSE(is_late(r, 1'700'000'161'000, p));
  EXPECT_TRUE(is_late(r, 1'700'000'161'001, p));
  r.last_checkin_ms = 1'700'000'100'000;  // exactly at 22:15 -> expects 22:30
  EXPECT_EQ(next_expected_ms(r, p), 1'700'001'000'000);
  r.tz = "Asia/Kolkata";  // UTC+05:30: quarter hours fall on the same instants
  EXPECT_EQ(next_expected_ms(r, p), 1'700'001'000'000);
  r.schedule = "0 * * * *";  // whole hours in Kolkata are :30 in UTC
  EXPECT_EQ(next_expected_ms(r, p), 1'700'001'000'000);
}

TEST(schedule_cron, a_stored_schedule_that_no_longer_parses_falls_back_to_the_period) {
  reservation_record r;
  r.frequency = 1;
  r.unit = time_unit::hours;
  r.schedule = "not cron";
  r.created_ms = 0;
  EXPECT_EQ(deadline_ms(r, schedule_policy{}), 3'600'000);
}

TEST(schedule_cron, typical_gap_and_run_deadlines) {
  EXPECT_EQ(typical_gap_minutes("*/15 * * * *", "", 0), 15);
  EXPECT_EQ(typical_gap_minutes("0 3 * * *", "Europe/Berlin", 0), 24 * 60);
  EXPECT_FALSE(typical_gap_minutes("bad", "", 0));
  reservation_record r;
  r.job_id = 4;
  run_entry run{"r1", 1000, false};
  EXPECT_FALSE(run_deadline_ms(r, run)) << "no max_duration, no limit";
  r.max_duration_ms = 500;
  EXPECT_EQ(run_deadline_ms(r, run), 1500);
  EXPECT_EQ(run_dedup_key(4, run), "4-run-1000-r1");
  EXPECT_EQ(run_dedup_key(4, run_entry{"", 1000, false}), "4-run-1000");
  EXPECT_EQ(fail_dedup_key(4, 77), "4-fail-77");
}

}  // namespace
}  // namespace gotel
