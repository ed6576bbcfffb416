// Tests the "alerters" and "escalation" fields of POST /reservation
// (net/requests.cpp) and how GET /reservation lists them (net/api.cpp).

#include "net/api.hpp"
#include "net/requests.hpp"

#include <gtest/gtest.h>
#include <algorithm>
#include <nlohmann/json.hpp>

namespace gotel {
namespace {

const std::string base = R"("app":"a","component":"c","frequency":1,"time_units":"hours")";

parse_result<reserve_request> parse(const std::string& extra) {
  return parse_reserve("{" + base + (extra.empty() ? "" : "," + extra) + "}", field_limits{});
}

TEST(reserve_alerters, absent_means_defaults) {
  auto r = std::get<reserve_request>(parse(""));
  EXPECT_TRUE(r.alerters.empty());
  EXPECT_TRUE(r.escalation.empty());
}

TEST(reserve_alerters, names_are_checked_normalised_and_deduplicated) {
  auto r = std::get<reserve_request>(parse(R"("ALERTERS":["Email"," slack","email"])"));
  EXPECT_EQ(r.alerters, (std::vector<std::string>{"email", "slack"}));
  r = std::get<reserve_request>(parse(R"("alerters":"email,pagerduty")"));
  EXPECT_EQ(r.alerters, (std::vector<std::string>{"email", "pagerduty"}));
  auto bad = std::get<rejection>(parse(R"("alerters":["email","sms"])"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.message,
            "unknown alerter \"sms\" in alerters; valid alerters: email, log, pagerduty, slack, "
            "webhook");
  EXPECT_EQ(std::get<rejection>(parse(R"("alerters":[1])")).status, 400);
  EXPECT_EQ(std::get<rejection>(parse(R"("alerters":{"x":1})")).status, 400);
}

TEST(reserve_alerters, escalation_steps_are_parsed_and_sorted) {
  auto r = std::get<reserve_request>(parse(
    R"("escalation":[{"after":3,"alerters":["pagerduty"]},{"AFTER":0,"alerters":["email"]}])"));
  ASSERT_EQ(r.escalation.size(), 2u);
  EXPECT_EQ(r.escalation[0], (escalation_step{0, {"email"}}));
  EXPECT_EQ(r.escalation[1], (escalation_step{3, {"pagerduty"}}));
}

TEST(reserve_alerters, bad_escalation_is_refused) {
  for (auto extra : {R"("escalation":{})", R"("escalation":[1])",
                     R"("escalation":[{"alerters":["email"]}])",
                     R"("escalation":[{"after":-1,"alerters":["email"]}])",
                     R"("escalation":[{"after":1}])",
                     R"("escalation":[{"after":1,"alerters":[]}])",
                     R"("escalation":[{"after":1,"alerters":["fax"]}])",
                     R"("escalation":[{"after":1,"alerters":["email"]},{"after":1,"alerters":["slack"]}])",
                     R"("escalation":[{"after":1000000,"alerters":["email"]}])"}) {
    auto res = parse(extra);
    ASSERT_TRUE(std::holds_alternative<rejection>(res)) << extra;
    EXPECT_EQ(std::get<rejection>(res).status, 400) << extra;
  }
}

TEST(listing_json, alerters_and_escalation_come_after_gotels_keys) {
  reservation_record rec;
  rec.job_id = 1;
  rec.app = "a";
  rec.component = "c";
  rec.frequency = 1;
  rec.alerters = {"email"};
  rec.escalation = {{0, {"email"}}, {3, {"pagerduty"}}};
  auto j = nlohmann::ordered_json::parse(listing_json({rec}, 0, schedule_policy{}));
  auto& item = j["result"][0];
  std::vector<std::string> keys;
  for (auto& [k, v] : item.items())
    keys.push_back(k);
  // Later features append their own keys after these (tags, runs, ...).
  auto at = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) - keys.begin(); };
  ASSERT_LT(at("escalation"), static_cast<std::ptrdiff_t>(keys.size()));
  EXPECT_EQ(at("alerters") + 1, at("escalation"));
  EXPECT_GT(at("alerters"), at("number_of_checkins"));
  EXPECT_EQ(keys[0], "job_id");
  EXPECT_EQ(item["alerters"], nlohmann::json::parse(R"(["email"])"));
  EXPECT_EQ(item["escalation"],
            nlohmann::json::parse(
              R"([{"after":0,"alerters":["email"]},{"after":3,"alerters":["pagerduty"]}])"));
}

}  // namespace
}  // namespace gotel
