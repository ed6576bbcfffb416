// Tests net/pings.* (ping URL parsing) and the schedule/run fields of
// net/requests.* (POST /reservation, /start, /fail, /checkin).

#include "net/pings.hpp"
#include "net/requests.hpp"
#include "tests/net/rejected.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

field_limits ping_lim{64, 256};
constexpr const char* uuid = "0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3";

using test::rejected;

signal_request ping(std::string_view path, std::string_view query = {}) {
  auto r = parse_ping(path, query);
  if (auto* rej = std::get_if<rejection>(&r))
    ADD_FAILURE() << path << ": " << rej->message;
  return std::get_if<signal_request>(&r) ? std::get<signal_request>(r) : signal_request{};
}

TEST(ping_urls, uuid_forms) {
  auto p = ping(std::string{"/ping/"} + uuid);
  EXPECT_EQ(p.uuid, uuid);
  EXPECT_EQ(p.kind, signal_kind::success);
  EXPECT_EQ(p.exit_status, -1);
  EXPECT_EQ(ping(std::string{"/ping/"} + uuid + "/").uuid, uuid) << "a trailing slash is fine";
  EXPECT_EQ(ping(std::string{"/ping/"} + uuid + "/start").kind, signal_kind::start);
  EXPECT_EQ(ping(std::string{"/ping/"} + uuid + "/fail").kind, signal_kind::fail);
  EXPECT_EQ(ping(std::string{"/ping/"} + uuid + "/log").kind, signal_kind::log);
  p = ping(std::string{"/ping/"} + uuid + "/0");
  EXPECT_EQ(p.kind, signal_kind::success);
  EXPECT_EQ(p.exit_status, 0);
  p = ping(std::string{"/ping/"} + uuid + "/255");
  EXPECT_EQ(p.kind, signal_kind::fail);
  EXPECT_EQ(p.exit_status, 255);
  EXPECT_EQ(ping("/ping/0B1C2D3E-4F50-4A6B-8C7D-8E9FA0B1C2D3").uuid, uuid) << "lower-cased";
  EXPECT_EQ(rejected(parse_ping(std::string{"/ping/"} + uuid + "/256", "")),
            "invalid url format: exit status must be 0-255");
  EXPECT_EQ(rejected(parse_ping(std::string{"/ping/"} + uuid + "/99999999999", "")),
            "invalid url format: exit status must be 0-255");
  p = ping(std::string{"/ping/"} + uuid, "create=1");
  EXPECT_FALSE(p.create) << "create applies to the slug form only";
}

TEST(ping_urls, slug_forms_name_app_and_component) {
  auto p = ping("/ping/my-key/nightly-backup");
  EXPECT_TRUE(p.uuid.empty());
  EXPECT_EQ(p.app, "my-key");
  EXPECT_EQ(p.component, "nightly-backup");
  EXPECT_EQ(p.kind, signal_kind::success);
  EXPECT_FALSE(p.create);
  EXPECT_EQ(ping("/ping/k/s/start").kind, signal_kind::start);
  EXPECT_EQ(ping("/ping/k/s/fail").kind, signal_kind::fail);
  EXPECT_EQ(ping("/ping/k/s/7").exit_status, 7);
  p = ping("/ping/My%20App/db%2Fdump");
  EXPECT_EQ(p.app, "My App");
  EXPECT_EQ(p.component, "db/dump");
  p = ping("/ping/k/s", "create=1&rid=run-42");
  EXPECT_TRUE(p.create);
  EXPECT_EQ(p.run_id, "run-42");
  EXPECT_TRUE(ping("/ping/k/s", "create=true").create);
  EXPECT_FALSE(ping("/ping/k/s", "create=0").create);
  // A uuid-shaped first segment followed by a slug is the slug form.
  p = ping(std::string{"/ping/"} + uuid + "/job");
  EXPECT_EQ(p.app, uuid);
  EXPECT_EQ(p.component, "job");
}

TEST(ping_urls, malformed_urls_say_what_is_wrong) {
  EXPECT_EQ(rejected(parse_ping("/ping/", "")), "invalid url format");
  // One segment that is not a uuid names nothing: 404 as Healthchecks.
  EXPECT_EQ(rejected(parse_ping("/ping/just-a-key", ""), 404), "not found");
  EXPECT_EQ(rejected(parse_ping("/ping/not-uuid/", ""), 404), "not found");
  EXPECT_EQ(rejected(parse_ping("/ping/07c2f54898504b27af5d6c9dc157ec02/", ""), 404),
            "not found");
  // Healthchecks refuses an upper-case slug; the app (ping key) may be any case.
  EXPECT_EQ(rejected(parse_ping("/ping/k/fooFOO", "")), "invalid url format");
  EXPECT_EQ(rejected(parse_ping("/ping/k/Foo/start", "")), "invalid url format");
  EXPECT_EQ(ping("/ping/Key/foo").app, "Key");
  EXPECT_EQ(rejected(parse_ping("/ping/a//b", "")), "invalid url format");
  EXPECT_EQ(rejected(parse_ping("/ping/a/b/c/d", "")), "invalid url format");
  EXPECT_EQ(rejected(parse_ping("/ping/a/b/stop", "")),
            "invalid url format: unknown signal \"stop\" (use start, fail, log or an exit status)");
  EXPECT_EQ(rejected(parse_ping("/ping/a%2/b", "")), "invalid url format: broken percent-encoding");
  EXPECT_EQ(rejected(parse_ping("/ping/a%0Ab/c", "")),
            "invalid url format: control characters in a name");
  EXPECT_EQ(rejected(parse_ping("/ping/k/s", "rid=a%20b")),
            "invalid rid: at most 64 letters, digits, '.', '_' or '-'");
}

TEST(signal_requests, start_and_fail_bodies) {
  auto r = parse_signal(R"({"app":"a","component":"c","run_id":"r.1"})", signal_kind::start, ping_lim);
  auto* req = std::get_if<signal_request>(&r);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->kind, signal_kind::start);
  EXPECT_EQ(req->run_id, "r.1");
  r = parse_signal(R"({"app":"a","component":"c","rid":"x","exit_status":3,"notes":"n"})",
                   signal_kind::fail, ping_lim);
  req = std::get_if<signal_request>(&r);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->run_id, "x") << "Healthchecks' rid is accepted too";
  EXPECT_EQ(req->exit_status, 3);
  EXPECT_EQ(req->notes, "n");
  EXPECT_EQ(rejected(parse_signal(R"({"app":"a","component":"c","exit_status":0})",
                                  signal_kind::fail, ping_lim)),
            "exit_status must be 1-255 for a failure (0 is a success: use /checkin)");
  EXPECT_EQ(rejected(parse_signal(R"({"app":"a","component":"c","run_id":"a b"})",
                                  signal_kind::start, ping_lim)),
            "run_id may only hold letters, digits and . _ -");
  EXPECT_EQ(rejected(parse_signal(R"({"app":"a"})", signal_kind::start, ping_lim)),
            "component is required and must not be empty");
  auto c = parse_checkin(R"({"app":"a","component":"c","run_id":"r1"})", ping_lim);
  ASSERT_TRUE(std::get_if<checkin_request>(&c));
  EXPECT_EQ(std::get<checkin_request>(c).run_id, "r1");
}

TEST(reserve_requests, cron_schedule_replaces_frequency) {
  auto r = parse_reserve(R"({"app":"a","component":"c","schedule":"*/15 2-5 * * MON-FRI",
                             "tz":"Europe/Berlin","grace":300,"max_duration":7200})", ping_lim);
  auto* req = std::get_if<reserve_request>(&r);
  ASSERT_TRUE(req) << rejected(r);
  EXPECT_EQ(req->schedule, "*/15 2-5 * * MON-FRI");
  EXPECT_EQ(req->tz, "Europe/Berlin");
  EXPECT_EQ(req->grace_ms, 300'000);
  EXPECT_EQ(req->max_duration_ms, 7'200'000);
  EXPECT_EQ(req->frequency, 0) << "the actor derives the typical gap";
  // Frequency-based reservations may carry grace and max_duration too.
  r = parse_reserve(R"({"app":"a","component":"c","frequency":1,"time_units":"hours",
                        "max_duration":60})", ping_lim);
  ASSERT_TRUE(std::get_if<reserve_request>(&r));
  EXPECT_EQ(std::get<reserve_request>(r).max_duration_ms, 60'000);
  EXPECT_TRUE(std::get<reserve_request>(r).schedule.empty());
}

TEST(reserve_requests, bad_schedules_zones_and_durations_are_400_with_reasons) {
  auto body = [](const std::string& extra) {
    return R"({"app":"a","component":"c",)" + extra + "}";
  };
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"61 * * * *")"), ping_lim)),
            "invalid schedule: minute: 61 is out of range 0-59");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"* * *")"), ping_lim)),
            "invalid schedule: schedule must have 5 fields (minute hour day-of-month month "
            "day-of-week), got 3");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"0 0 * * *","tz":"Nowhere/City")"), ping_lim)),
            "invalid tz: unknown time zone \"Nowhere/City\" (use an IANA name such as "
            "Europe/Berlin or UTC)");
  EXPECT_EQ(rejected(parse_reserve(
              body(R"("frequency":1,"time_units":"hours","tz":"Europe/Berlin")"), ping_lim)),
            "tz is only used with a cron schedule");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"@daily","grace":-1)"), ping_lim)),
            "grace must be >= 0 (seconds)");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"@daily","max_duration":"1h")"), ping_lim)),
            "max_duration must be a whole number");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":5)"), ping_lim)), "schedule must be a string");
  EXPECT_EQ(rejected(parse_reserve(body(R"("schedule":"  ")"), ping_lim)), "frequency is required")
    << "a blank schedule is no schedule";
}

}  // namespace
}  // namespace gotel
