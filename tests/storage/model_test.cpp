#include "storage/model.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

TEST(normalize_name, lower_cases_ascii_and_strips_trailing_spaces_only) {
  EXPECT_EQ(normalize_name("Backup Job  "), "backup job");
  EXPECT_EQ(normalize_name("  lead"), "  lead");
  EXPECT_EQ(normalize_name("tab\t"), "tab\t");
  EXPECT_EQ(normalize_name("   "), "");
  EXPECT_EQ(normalize_name(""), "");
  // Non-ASCII bytes are left alone (no locale-dependent folding).
  EXPECT_EQ(normalize_name("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");
}

TEST(reservation_key, same_identity_for_case_and_trailing_space_variants) {
  EXPECT_EQ(reservation_key("A1", "C1"), reservation_key("a1 ", "c1"));
  EXPECT_EQ(reservation_key("A1", "C1"), std::string("a1\0c1", 5));
  EXPECT_NE(reservation_key("a", "bc"), reservation_key("ab", "c"));
  EXPECT_EQ(reservation_key("", ""), std::string(1, '\0'));
}

TEST(parse_time_unit, accepts_plural_singular_any_case) {
  EXPECT_EQ(parse_time_unit("seconds"), time_unit::seconds);
  EXPECT_EQ(parse_time_unit("Second"), time_unit::seconds);
  EXPECT_EQ(parse_time_unit("minute"), time_unit::minutes);
  EXPECT_EQ(parse_time_unit("MINUTES"), time_unit::minutes);
  EXPECT_EQ(parse_time_unit("hour"), time_unit::hours);
  EXPECT_EQ(parse_time_unit("Hours"), time_unit::hours);
  EXPECT_EQ(parse_time_unit("day"), time_unit::days);
  EXPECT_EQ(parse_time_unit("days"), time_unit::days);
}

TEST(parse_time_unit, rejects_anything_else) {
  for (const char* bad : {"", "s", "min", "weeks", "minutess", " minutes", "minutes ", "dayss",
                          "ays"})
    EXPECT_EQ(parse_time_unit(bad), std::nullopt) << '"' << bad << '"';
}

TEST(time_unit, names_and_lengths) {
  EXPECT_EQ(to_string(time_unit::seconds), "seconds");
  EXPECT_EQ(to_string(time_unit::minutes), "minutes");
  EXPECT_EQ(to_string(time_unit::hours), "hours");
  EXPECT_EQ(to_string(time_unit::days), "days");
  EXPECT_EQ(unit_ms(time_unit::seconds), 1000);
  EXPECT_EQ(unit_ms(time_unit::minutes), 60'000);
  EXPECT_EQ(unit_ms(time_unit::hours), 3'600'000);
  EXPECT_EQ(unit_ms(time_unit::days), 86'400'000);
  for (auto u : {time_unit::seconds, time_unit::minutes, time_unit::hours, time_unit::days})
    EXPECT_EQ(parse_time_unit(to_string(u)), u);
}

TEST(reservation_record, period_is_frequency_times_unit) {
  reservation_record r;
  r.frequency = 5;
  r.unit = time_unit::minutes;
  EXPECT_EQ(r.period_ms(), 300'000);
}

TEST(alert_kind, names) {
  EXPECT_EQ(to_string(alert_kind::late), "late");
  EXPECT_EQ(to_string(alert_kind::repeat), "repeat");
  EXPECT_EQ(to_string(alert_kind::recovered), "recovered");
}

}  // namespace
}  // namespace gotel
