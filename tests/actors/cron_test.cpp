// Tests actors/cron.*: parsing (steps, ranges, lists, names, macros, the
// messages of rejections), Vixie cron's day-of-month/day-of-week rule, and
// next_run across daylight-saving changes in Europe/Berlin and America/New_York.

#include "actors/cron.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace gotel {
namespace {

/// Unix ms of a UTC wall time.
unix_ms utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  using namespace std::chrono;
  auto date = sys_days{year{y} / month{mo} / std::chrono::day{d}};
  return duration_cast<milliseconds>((date + hours{h} + minutes{mi}).time_since_epoch()).count();
}

cron_schedule parse_ok(std::string_view expr) {
  auto r = parse_cron(expr);
  if (auto* e = std::get_if<cron_error>(&r))
    ADD_FAILURE() << expr << ": " << e->message;
  return std::get_if<cron_schedule>(&r) ? std::get<cron_schedule>(r) : cron_schedule{};
}

std::string parse_error(std::string_view expr) {
  auto r = parse_cron(expr);
  if (auto* e = std::get_if<cron_error>(&r))
    return e->message;
  ADD_FAILURE() << expr << " was accepted";
  return {};
}

template <std::size_t N>
std::vector<int> values(const std::bitset<N>& bits) {
  std::vector<int> out;
  for (std::size_t i = 0; i < N; ++i)
    if (bits.test(i))
      out.push_back(static_cast<int>(i));
  return out;
}

TEST(cron_parse, steps_ranges_and_lists) {
  auto s = parse_ok("*/15 2-5 * * 1-5");
  EXPECT_EQ(values(s.minutes), (std::vector<int>{0, 15, 30, 45}));
  EXPECT_EQ(values(s.hours), (std::vector<int>{2, 3, 4, 5}));
  EXPECT_EQ(values(s.days).size(), 31u);
  EXPECT_EQ(values(s.weekdays), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(s.dom_star);
  EXPECT_FALSE(s.dow_star);

  s = parse_ok("1,2,10-20/5 0 1,15 * *");
  EXPECT_EQ(values(s.minutes), (std::vector<int>{1, 2, 10, 15, 20}));
  EXPECT_EQ(values(s.days), (std::vector<int>{1, 15}));
  EXPECT_FALSE(s.dom_star);

  s = parse_ok("5/20 */6 * * *");
  EXPECT_EQ(values(s.minutes), (std::vector<int>{5, 25, 45})) << "N/step means N-max/step";
  EXPECT_EQ(values(s.hours), (std::vector<int>{0, 6, 12, 18}));

  s = parse_ok("  0   9  *  *  * ");
  EXPECT_EQ(values(s.hours), (std::vector<int>{9})) << "extra blanks are fine";
}

TEST(cron_parse, month_and_weekday_names_ignore_case_and_seven_is_sunday) {
  auto s = parse_ok("0 9 * JAN-mar,Dec MON,wed,Fri");
  EXPECT_EQ(values(s.months), (std::vector<int>{1, 2, 3, 12}));
  EXPECT_EQ(values(s.weekdays), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(values(parse_ok("0 0 * * 7").weekdays), (std::vector<int>{0}));
  EXPECT_EQ(values(parse_ok("0 0 * * 5-7").weekdays), (std::vector<int>{0, 5, 6}));
  EXPECT_EQ(values(parse_ok("0 0 * * sun").weekdays), (std::vector<int>{0}));
}

TEST(cron_parse, macros) {
  EXPECT_EQ(parse_ok("@daily"), parse_ok("0 0 * * *"));
  EXPECT_EQ(parse_ok("@midnight"), parse_ok("0 0 * * *"));
  EXPECT_EQ(parse_ok("@hourly"), parse_ok("0 * * * *"));
  EXPECT_EQ(parse_ok("@weekly"), parse_ok("0 0 * * 0"));
  EXPECT_EQ(parse_ok("@monthly"), parse_ok("0 0 1 * *"));
  EXPECT_EQ(parse_ok("@YEARLY"), parse_ok("0 0 1 1 *"));
  EXPECT_EQ(parse_ok("@annually"), parse_ok("0 0 1 1 *"));
}

TEST(cron_parse, rejections_say_what_is_wrong) {
  EXPECT_EQ(parse_error(""),
            "schedule is empty; expected 5 fields: minute hour day-of-month month day-of-week");
  EXPECT_EQ(parse_error("* * * *"),
            "schedule must have 5 fields (minute hour day-of-month month day-of-week), got 4");
  EXPECT_EQ(parse_error("* * * * * *"),
            "schedule must have 5 fields (minute hour day-of-month month day-of-week), got 6");
  EXPECT_EQ(parse_error("61 * * * *"), "minute: 61 is out of range 0-59");
  EXPECT_EQ(parse_error("* 24 * * *"), "hour: 24 is out of range 0-23");
  EXPECT_EQ(parse_error("* * 0 * *"), "day-of-month: 0 is out of range 1-31");
  EXPECT_EQ(parse_error("* * * 13 *"), "month: 13 is out of range 1-12");
  EXPECT_EQ(parse_error("* * * * 8"), "day-of-week: 8 is out of range 0-7");
  EXPECT_EQ(parse_error("* * * FOO *"), "month: unknown name \"FOO\" (use JAN-DEC or 1-12)");
  EXPECT_EQ(parse_error("* * * * MONDAY"),
            "day-of-week: unknown name \"MONDAY\" (use SUN-SAT or 0-7)");
  EXPECT_EQ(parse_error("5-2 * * * *"), "minute: range \"5-2\" is backwards");
  EXPECT_EQ(parse_error("*/0 * * * *"), "minute: step must be at least 1");
  EXPECT_EQ(parse_error("*/x * * * *"), "minute: step \"x\" is not a number");
  EXPECT_EQ(parse_error("*/61 * * * *"), "minute: step 61 is larger than the range 0-59");
  EXPECT_EQ(parse_error("1,,2 * * * *"), "minute: empty list item in \"1,,2\"");
  EXPECT_EQ(parse_error("a * * * *"), "minute: \"a\" is not a number");
  EXPECT_EQ(parse_error("1- * * * *"), "minute: missing value");
  EXPECT_EQ(parse_error("@often"),
            "unknown schedule macro \"@often\" (use @yearly, @monthly, @weekly, @daily or @hourly)");
  EXPECT_EQ(parse_error("0 0 30 2 *"),
            "schedule never fires: no month it allows has the day-of-month it asks for");
  EXPECT_EQ(parse_error("0 0 31 4,6,9,11 *"),
            "schedule never fires: no month it allows has the day-of-month it asks for");
  // With a restricted weekday too, Vixie's OR makes it fire on those weekdays.
  parse_ok("0 0 30 2 MON");
  // A long hostile value is quoted shortened.
  auto msg = parse_error(std::string(200, 'x') + " * * * *");
  EXPECT_LT(msg.size(), 80u) << msg;
}

TEST(cron_zone, unknown_zones_are_refused) {
  EXPECT_FALSE(time_zone_error(""));
  EXPECT_FALSE(time_zone_error("UTC"));
  EXPECT_FALSE(time_zone_error("Europe/Berlin"));
  EXPECT_FALSE(time_zone_error("America/New_York"));
  auto why = time_zone_error("Mars/Olympus_Mons");
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "unknown time zone \"Mars/Olympus_Mons\" (use an IANA name such as "
                  "Europe/Berlin or UTC)");
  EXPECT_FALSE(next_run("* * * * *", "Mars/Olympus_Mons", 0));
}

TEST(cron_next, utc_basics_strictly_after) {
  auto t = utc(2024, 1, 1);
  EXPECT_EQ(next_run("*/15 * * * *", "", t), utc(2024, 1, 1, 0, 15)) << "strictly after";
  EXPECT_EQ(next_run("*/15 * * * *", "UTC", t + 1), utc(2024, 1, 1, 0, 15));
  EXPECT_EQ(next_run("*/15 * * * *", "UTC", t - 1), t);
  EXPECT_EQ(next_run("0 9 * * MON-FRI", "UTC", utc(2024, 1, 5, 10)), utc(2024, 1, 8, 9))
    << "Friday after 9 -> Monday";
  EXPECT_EQ(next_run("*/15 2-5 * * 1-5", "UTC", utc(2024, 1, 1, 5, 46)), utc(2024, 1, 2, 2, 0));
  EXPECT_EQ(next_run("0 0 1 * *", "UTC", utc(2024, 1, 31, 23, 59)), utc(2024, 2, 1));
  EXPECT_EQ(next_run("59 23 31 12 *", "UTC", utc(2024, 1, 1)), utc(2024, 12, 31, 23, 59));
  EXPECT_EQ(next_run("0 0 29 2 *", "UTC", utc(2025, 1, 1)), utc(2028, 2, 29)) << "leap day";
}

// Found by tests/fuzz/fuzz_cron.cpp (its input: "1 0 */21 5 5" in Pacific/Chatham):
// next_run gave up after ten years, so an accepted schedule whose day rule (a
// `*`-led field means AND) is met only years apart had no next run, against
// cron.hpp's contract.
TEST(cron_next, rare_day_rule_decades_away_still_has_a_next_run) {
  // 1 or 22 May AND a Friday: 21 May 2026, then 1 May 2037 (00:01 at +12:45).
  EXPECT_EQ(next_run("1 0 */21 5 5", "Pacific/Chatham", utc(2026, 5, 21, 11, 16)),
            utc(2037, 4, 30, 11, 16));
  // 29 February AND a Sunday: 2032, then 2060 (28 years).
  EXPECT_EQ(next_run("0 0 29 2 */7", "UTC", utc(2024, 1, 1)), utc(2032, 2, 29));
  EXPECT_EQ(next_run("0 0 29 2 */7", "UTC", utc(2032, 2, 29)), utc(2060, 2, 29));
  // ... and across 2300, which is no leap year: 2280, then 2320 (40 years).
  EXPECT_EQ(next_run("0 0 29 2 */7", "UTC", utc(2280, 3, 1)), utc(2320, 2, 29));
  // 1 February (`*/31` = day 1, `*`-led) AND a Monday: 2027, then 2038 (11 years).
  EXPECT_EQ(next_run("0 0 */31 2 1", "Europe/Berlin", utc(2027, 2, 1)), utc(2038, 1, 31, 23));
}

TEST(cron_next, day_of_month_or_day_of_week_like_vixie_cron) {
  // 2024-09-01 is a Sunday; the 13th of September 2024 is a Friday.
  // Both restricted: the 13th OR any Friday.
  EXPECT_EQ(next_run("0 0 13 * 5", "UTC", utc(2024, 9, 1)), utc(2024, 9, 6));
  EXPECT_EQ(next_run("0 0 13 * 5", "UTC", utc(2024, 9, 6)), utc(2024, 9, 13));
  EXPECT_EQ(next_run("0 0 14 * 5", "UTC", utc(2024, 9, 13)), utc(2024, 9, 14));
  // Day-of-week '*': only the 13th.
  EXPECT_EQ(next_run("0 0 13 * *", "UTC", utc(2024, 9, 1)), utc(2024, 9, 13));
  // Day-of-month '*': only Fridays.
  EXPECT_EQ(next_run("0 0 * * 5", "UTC", utc(2024, 9, 7)), utc(2024, 9, 13));
  // A field starting with '*' counts as '*' (Vixie's DOM_STAR): days 1,11,21,31
  // AND Friday -> the 11th of October 2024.
  EXPECT_EQ(next_run("0 0 */10 * 5", "UTC", utc(2024, 9, 1)), utc(2024, 10, 11));
}

TEST(cron_next, berlin_spring_forward_runs_a_skipped_time_at_the_transition) {
  // 2024-03-31 02:00 CET -> 03:00 CEST (01:00 UTC): 02:30 does not exist.
  EXPECT_EQ(next_run("30 2 * * *", "Europe/Berlin", utc(2024, 3, 30, 12)), utc(2024, 3, 31, 1));
  EXPECT_EQ(next_run("30 2 * * *", "Europe/Berlin", utc(2024, 3, 31, 1)), utc(2024, 4, 1, 0, 30))
    << "once that day, then 02:30 CEST";
  // Minutely jobs: the skipped hour collapses into one run at 03:00 CEST.
  EXPECT_EQ(next_run("*/15 * * * *", "Europe/Berlin", utc(2024, 3, 31, 0, 50)),
            utc(2024, 3, 31, 1));
  EXPECT_EQ(next_run("*/15 * * * *", "Europe/Berlin", utc(2024, 3, 31, 1)),
            utc(2024, 3, 31, 1, 15));
  // Times outside the gap keep their wall time: 09:00 CET, then 09:00 CEST.
  EXPECT_EQ(next_run("0 9 * * *", "Europe/Berlin", utc(2024, 3, 30, 9)), utc(2024, 3, 31, 7));
  EXPECT_EQ(next_run("0 9 * * *", "Europe/Berlin", utc(2024, 3, 29, 9)), utc(2024, 3, 30, 8));
}

TEST(cron_next, berlin_fall_back_runs_an_ambiguous_time_once) {
  // 2024-10-27 03:00 CEST -> 02:00 CET (01:00 UTC): 02:30 happens at 00:30 and 01:30 UTC.
  EXPECT_EQ(next_run("30 2 * * *", "Europe/Berlin", utc(2024, 10, 26, 12)),
            utc(2024, 10, 27, 0, 30)) << "the first occurrence";
  EXPECT_EQ(next_run("30 2 * * *", "Europe/Berlin", utc(2024, 10, 27, 0, 30)),
            utc(2024, 10, 28, 1, 30)) << "not again in the repeated hour";
  // Every 15 minutes: the repeated hour is not run twice.
  EXPECT_EQ(next_run("*/15 * * * *", "Europe/Berlin", utc(2024, 10, 27, 0, 50)),
            utc(2024, 10, 27, 2)) << "02:45 CEST -> 03:00 CET";
  EXPECT_EQ(next_run("*/15 * * * *", "Europe/Berlin", utc(2024, 10, 27, 1, 20)),
            utc(2024, 10, 27, 2)) << "inside the second 02:xx -> 03:00 CET";
}

TEST(cron_next, new_york_across_both_changes) {
  // 2024-03-10 02:00 EST -> 03:00 EDT (07:00 UTC).
  EXPECT_EQ(next_run("30 2 * * *", "America/New_York", utc(2024, 3, 9, 12)), utc(2024, 3, 10, 7));
  EXPECT_EQ(next_run("30 2 * * *", "America/New_York", utc(2024, 3, 10, 7)),
            utc(2024, 3, 11, 6, 30));
  // 2024-11-03 02:00 EDT -> 01:00 EST (06:00 UTC): 01:30 at 05:30 and 06:30 UTC.
  EXPECT_EQ(next_run("30 1 * * *", "America/New_York", utc(2024, 11, 2, 12)),
            utc(2024, 11, 3, 5, 30));
  EXPECT_EQ(next_run("30 1 * * *", "America/New_York", utc(2024, 11, 3, 5, 30)),
            utc(2024, 11, 4, 6, 30));
  // Weekday mornings keep 09:00 local on both sides of the change.
  EXPECT_EQ(next_run("0 9 * * MON-FRI", "America/New_York", utc(2024, 11, 1, 14)),
            utc(2024, 11, 4, 14)) << "Fri 09:00 EDT -> Mon 09:00 EST";
}

}  // namespace
}  // namespace gotel
