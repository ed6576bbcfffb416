// Tests alerters/render.*: GoTel's relative times, RFC 1123 and alert templates.

#include "alerters/render.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace gotel {
namespace {

constexpr std::int64_t s = 1000;
constexpr std::int64_t min = 60 * s;
constexpr std::int64_t h = 60 * min;
constexpr std::int64_t d = 24 * h;
constexpr std::int64_t week = 7 * d;
constexpr std::int64_t month = 30 * d;
constexpr std::int64_t year = 12 * month;

TEST(humanize_since, every_boundary) {
  struct row {
    std::int64_t delta;
    const char* text;
  };
  const row rows[] = {
    {0, "now"},
    {999, "now"},
    {s, "1 second ago"},
    {2 * s - 1, "1 second ago"},
    {2 * s, "2 seconds ago"},
    {min - 1, "59 seconds ago"},
    {min, "1 minute ago"},
    {2 * min - 1, "1 minute ago"},
    {2 * min, "2 minutes ago"},
    {h - 1, "59 minutes ago"},
    {h, "1 hour ago"},
    {2 * h - 1, "1 hour ago"},
    {2 * h, "2 hours ago"},
    {d - 1, "23 hours ago"},
    {d, "1 day ago"},
    {2 * d - 1, "1 day ago"},
    {2 * d, "2 days ago"},
    {week - 1, "6 days ago"},
    {week, "1 week ago"},
    {2 * week - 1, "1 week ago"},
    {2 * week, "2 weeks ago"},
    {month - 1, "4 weeks ago"},
    {month, "1 month ago"},
    {2 * month - 1, "1 month ago"},
    {2 * month, "2 months ago"},
    {year - 1, "11 months ago"},
    {year, "1 year ago"},
    {18 * month - 1, "1 year ago"},
    {18 * month, "2 years ago"},
    {2 * year - 1, "2 years ago"},
    {2 * year, "2 years ago"},
    {3 * year, "3 years ago"},
    {37 * year - 1, "36 years ago"},
    {37 * year, "a long while ago"},
    {INT64_MAX, "a long while ago"},
  };
  for (const auto& r : rows)
    EXPECT_EQ(humanize_since(r.delta), r.text) << "delta_ms=" << r.delta;
}

TEST(humanize_since, future_reads_as_now) {
  EXPECT_EQ(humanize_since(-5000), "now");
}

TEST(rfc1123, known_instants) {
  EXPECT_EQ(rfc1123(0), "Thu, 01 Jan 1970 00:00:00 UTC");
  // Go's reference time, 2006-01-02 15:04:05 -0700.
  EXPECT_EQ(rfc1123(1136239445000), "Mon, 02 Jan 2006 22:04:05 UTC");
  EXPECT_EQ(rfc1123(1136239445999), "Mon, 02 Jan 2006 22:04:05 UTC");  // truncates
  EXPECT_EQ(rfc1123(951782400000), "Tue, 29 Feb 2000 00:00:00 UTC");
  EXPECT_EQ(rfc1123(4102444799000), "Thu, 31 Dec 2099 23:59:59 UTC");
  EXPECT_EQ(rfc1123(1700000000000), "Tue, 14 Nov 2023 22:13:20 UTC");
  EXPECT_EQ(rfc1123(-1), "Wed, 31 Dec 1969 23:59:59 UTC");
}

alert_fields sample_fields() {
  alert_fields f;
  f.job_id = 42;
  f.app = "billing";
  f.component = "nightly";
  f.owner = "ops@example.com";
  f.notify = "a@example.com,b@example.com";
  f.frequency = "5minutes";
  f.last_ms = 1136239445000;
  f.now_ms = f.last_ms + 7 * min;
  f.checkins = 12;
  f.srv = "10.0.0.7";
  return f;
}

TEST(render_alert, each_placeholder) {
  auto f = sample_fields();
  EXPECT_EQ(render_alert("{jobid}", f), "42");
  EXPECT_EQ(render_alert("{app}", f), "billing");
  EXPECT_EQ(render_alert("{component}", f), "nightly");
  EXPECT_EQ(render_alert("{owner}", f), "ops@example.com");
  EXPECT_EQ(render_alert("{notify}", f), "a@example.com,b@example.com");
  EXPECT_EQ(render_alert("{frequency}", f), "5minutes");
  EXPECT_EQ(render_alert("{last}", f), "Mon, 02 Jan 2006 22:04:05 UTC");
  EXPECT_EQ(render_alert("{since}", f), "7 minutes ago");
  EXPECT_EQ(render_alert("{checkins}", f), "12");
  EXPECT_EQ(render_alert("{srv}", f), "10.0.0.7");
  EXPECT_EQ(render_alert("job {jobid} ({app}/{component}) last seen {since}; {app}!", f),
            "job 42 (billing/nightly) last seen 7 minutes ago; billing!");
}

TEST(render_alert, never_checked_in) {
  auto f = sample_fields();
  f.last_ms = 0;
  EXPECT_EQ(render_alert("{last} / {since}", f), "never / never");
}

TEST(render_alert, unknown_and_malformed_placeholders_stay) {
  auto f = sample_fields();
  EXPECT_EQ(render_alert("{x} {APP} { app} {app", f), "{x} {APP} { app} {app");
  EXPECT_EQ(render_alert("{{app}}", f), "{billing}");
  EXPECT_EQ(render_alert("{a{app}", f), "{abilling");
  EXPECT_EQ(render_alert("}{}{", f), "}{}{");
}

TEST(render_alert, replaced_text_is_not_rescanned) {
  auto f = sample_fields();
  f.app = "{owner}";
  f.component = "{comp";
  f.owner = "onent}";
  EXPECT_EQ(render_alert("{app} {component}{owner}", f), "{owner} {component}");
}

TEST(render_alert, default_template_when_empty) {
  auto f = sample_fields();
  EXPECT_EQ(render_alert("", f),
            "App: [billing] Component: [nightly] failed checkin on IP [10.0.0.7]. "
            "Contact owner [ops@example.com]");
}

reservation_record sample_record() {
  reservation_record rec;
  rec.job_id = 7;
  rec.app = "A1";
  rec.component = "C1";
  rec.owner = "me@example.com";
  rec.notify = "you@example.com";
  rec.frequency = 5;
  rec.unit = time_unit::minutes;
  rec.last_checkin_ms = 1700000000000;
  rec.checkins = 3;
  rec.late_since_ms = 1136239445000;
  return rec;
}

TEST(fields_for, maps_the_record) {
  auto rec = sample_record();
  auto f = fields_for(rec, rec.last_checkin_ms + 2 * h, "192.0.2.1");
  EXPECT_EQ(f.job_id, 7u);
  EXPECT_EQ(f.app, "A1");
  EXPECT_EQ(f.component, "C1");
  EXPECT_EQ(f.owner, "me@example.com");
  EXPECT_EQ(f.notify, "you@example.com");
  EXPECT_EQ(f.frequency, "5minutes");
  EXPECT_EQ(f.last_ms, rec.last_checkin_ms);
  EXPECT_EQ(f.checkins, 3u);
  EXPECT_EQ(f.srv, "192.0.2.1");
  EXPECT_EQ(render_alert("{since} every {frequency}", f), "2 hours ago every 5minutes");
  rec.frequency = 1;
  rec.unit = time_unit::days;
  EXPECT_EQ(fields_for(rec, 0, "").frequency, "1days");
}

TEST(render_recovery, text) {
  auto rec = sample_record();
  EXPECT_EQ(render_recovery(rec, rec.last_checkin_ms, "192.0.2.1"),
            "App: [A1] Component: [C1] checked in again on IP [192.0.2.1] after being late "
            "since Mon, 02 Jan 2006 22:04:05 UTC. Contact owner [me@example.com]");
}

TEST(render_recovery, user_text_is_not_expanded) {
  auto rec = sample_record();
  rec.app = "{srv}";
  EXPECT_EQ(render_recovery(rec, 0, "ip").find("App: [{srv}]"), 0u);
}

// Regression (fuzz_template): {since} computed now - last with signed overflow
// when a stored time was extreme; it now saturates.
TEST(render_alert, since_with_extreme_times_does_not_overflow) {
  alert_fields f;
  f.last_ms = std::numeric_limits<std::int64_t>::min();
  f.now_ms = 1'700'000'000'000;
  EXPECT_EQ(render_alert("{since}", f), "a long while ago");
  f.last_ms = std::numeric_limits<std::int64_t>::max();
  f.now_ms = -1'700'000'000'000;
  EXPECT_EQ(render_alert("{since}", f), "now");
}

}  // namespace
}  // namespace gotel

namespace gotel {
namespace {

// Regression: listings and /status computed now - last_checkin without the clamp
// that {since} has (the fuzzer found the overflow there); both now share it.
TEST(humanize_between, extreme_stored_times_do_not_overflow) {
  EXPECT_EQ(humanize_between(1'700'000'000'000, std::numeric_limits<std::int64_t>::min()),
            "a long while ago");
  EXPECT_EQ(humanize_between(1'700'000'000'000, 1'700'000'000'000 - 5 * 60'000),
            "5 minutes ago");
}

}  // namespace
}  // namespace gotel
