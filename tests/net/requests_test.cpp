// Tests net/requests.*: what the API accepts and how it says what is wrong.

#include "net/requests.hpp"
#include "tests/net/rejected.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

field_limits lim{16, 64};

using test::rejected;

TEST(requests, reserve_accepts_gotel_bodies_with_any_key_case) {
  auto r = parse_reserve(R"({"APP":"a","Component":"c","frequency":5,"time_units":"Minutes",
                             "notify":"x@y","owner":"o","alert_msg":"m","extra":[1]})", lim);
  auto* req = std::get_if<reserve_request>(&r);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->app, "a");
  EXPECT_EQ(req->component, "c");
  EXPECT_EQ(req->frequency, 5);
  EXPECT_EQ(req->unit, time_unit::minutes);
  EXPECT_EQ(req->notify, "x@y");
  EXPECT_EQ(req->alert_msg, "m");
}

TEST(requests, bodies_that_are_not_objects_say_so) {
  EXPECT_EQ(rejected(parse_checkin("", lim)), "request body is empty; expected a JSON object");
  EXPECT_EQ(rejected(parse_checkin("{", lim)), "request body is not valid JSON");
  EXPECT_EQ(rejected(parse_checkin("null", lim)),
            "request body must be a JSON object, got null");
  EXPECT_EQ(rejected(parse_checkin("[1]", lim)),
            "request body must be a JSON object, got array");
}

TEST(requests, fields_are_checked_for_presence_type_and_size) {
  EXPECT_EQ(rejected(parse_checkin(R"({"component":"c"})", lim)),
            "app is required and must not be empty");
  EXPECT_EQ(rejected(parse_checkin(R"({"app":"  ","component":"c"})", lim)),
            "app is required and must not be empty");
  EXPECT_EQ(rejected(parse_checkin(R"({"app":5,"component":"c"})", lim)), "app must be a string");
  EXPECT_EQ(rejected(parse_checkin(R"({"app":"a\u0001","component":"c"})", lim)),
            "app must not contain control characters");
  EXPECT_EQ(rejected(parse_checkin(R"({"app":"aaaaaaaaaaaaaaaaaaaa","component":"c"})", lim), 413),
            "app is longer than 16 bytes");
  EXPECT_EQ(rejected(parse_reserve(R"({"app":"a","component":"c","frequency":"5",
                                       "time_units":"minutes"})", lim)),
            "frequency must be a whole number");
  EXPECT_EQ(rejected(parse_reserve(R"({"app":"a","component":"c","frequency":0,
                                       "time_units":"minutes"})", lim)),
            "frequency must be at least 1");
  EXPECT_EQ(rejected(parse_reserve(R"({"app":"a","component":"c","frequency":1,
                                       "time_units":"weeks"})", lim)),
            "time_units must be seconds, minutes, hours or days, got \"weeks\"");
  EXPECT_EQ(rejected(parse_reserve(R"({"app":"a","component":"c","frequency":99999999999,
                                       "time_units":"days"})", lim)),
            "frequency is too long (at most ten years)");
}

// Issue 14 section 5: one POST /reservation with 701 addresses in notify made
// 701 SMTP sessions per alert. notify now holds at most max_recipients
// distinct addresses (alerts.max_recipients); more is a 400 naming the limit.
TEST(requests, notify_with_more_addresses_than_max_recipients_is_refused) {
  field_limits wide{256, 65536};  // the size limit is not what refuses here
  auto reserve = [&](const std::string& notify) {
    return parse_reserve(R"({"app":"a","component":"c","frequency":1,"time_units":"seconds",)"
                           R"("notify":")" + notify + R"("})", wide);
  };
  auto addresses = [](int n) {
    std::string out;
    for (int i = 1; i <= n; ++i)
      out += (i > 1 ? "," : "") + std::string{"victim"} + std::to_string(i) + "@example.com";
    return out;
  };
  ASSERT_EQ(wide.max_recipients, 10u) << "the default of alerts.max_recipients";
  auto ten = reserve(addresses(10));
  ASSERT_TRUE(std::holds_alternative<reserve_request>(ten)) << rejected(ten);
  EXPECT_EQ(std::get<reserve_request>(ten).notify, addresses(10));
  EXPECT_EQ(rejected(reserve(addresses(11))),
            "notify lists 11 e-mail addresses; at most 10 are allowed (alerts.max_recipients)");
  EXPECT_EQ(rejected(reserve(addresses(701))),
            "notify lists 701 e-mail addresses; at most 10 are allowed (alerts.max_recipients)");
  // What is mailed counts: duplicates, blanks and spaces are not addresses.
  auto twice = reserve(addresses(10) + ", ," + addresses(10) + ",");
  EXPECT_TRUE(std::holds_alternative<reserve_request>(twice)) << rejected(twice);

  wide.max_recipients = 2;
  EXPECT_EQ(rejected(reserve("a@x.org, b@x.org ,c@x.org")),
            "notify lists 3 e-mail addresses; at most 2 are allowed (alerts.max_recipients)");
  EXPECT_TRUE(std::holds_alternative<reserve_request>(reserve("a@x.org,b@x.org")));
}

TEST(requests, snooze_duration_must_be_positive) {
  EXPECT_EQ(rejected(parse_snooze(R"({"app":"a","component":"c","duration":0,
                                      "time_units":"hours"})", lim)),
            "duration must be greater than 0");
  EXPECT_EQ(rejected(parse_snooze(R"({"app":"a","component":"c","duration":-3,
                                      "time_units":"hours"})", lim)),
            "duration must be greater than 0");
  auto ok = parse_snooze(R"({"app":"a","component":"c","duration":2,"time_units":"hours"})", lim);
  ASSERT_TRUE(std::holds_alternative<snooze_request>(ok));
  EXPECT_EQ(std::get<snooze_request>(ok).duration_ms, 2 * 3600'000);
}

// Regression (fuzz_json_mapping): a float too large for int64 was converted
// before its range was checked, which is undefined behaviour (UBSan aborts).
TEST(requests, huge_float_frequency_is_rejected_without_undefined_conversion) {
  EXPECT_EQ(rejected(parse_reserve(R"({"app":"a","component":"c","frequency":1.8446770443709552e19,
                                       "time_units":"seconds"})", lim)),
            "frequency must be a whole number");
  EXPECT_EQ(rejected(parse_snooze(R"({"app":"a","component":"c","duration":-1e300,
                                      "time_units":"seconds"})", lim)),
            "duration must be a whole number");
}

}  // namespace
}  // namespace gotel
