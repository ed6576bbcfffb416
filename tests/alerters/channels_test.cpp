// Tests alerters/channels.cpp: PagerDuty Events API v2, Slack and the signed
// webhook against a real HTTP receiver on 127.0.0.1.

#include "alerters/channel.hpp"
#include "tests/alerters/http_receiver.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using test::http_receiver;

alert_intent sample_intent(alert_kind kind = alert_kind::late) {
  alert_intent in;
  in.id = 17;
  in.dedup_key = "42:1136239445000";
  in.kind = kind;
  in.channel = "pagerduty";
  in.job_id = 42;
  in.app = "billing";
  in.component = "nightly";
  in.owner = "ops@example.com";
  in.notify = "a@example.com";
  in.message = "App: [billing] Component: [nightly] failed checkin";
  in.deadline_ms = 1136239445000;
  in.created_ms = 1136239446999;
  return in;
}

pagerduty_options pd_options(const std::string& url) {
  pagerduty_options o;
  o.routing_key = "R0UTINGKEY0123456789012345678901";
  o.url = url;
  o.severity = "critical";
  o.source = "10.0.0.7";
  o.timeout = 2000ms;
  return o;
}

TEST(pagerduty_channel, trigger_payload_is_exact) {
  http_receiver rx{202};
  auto ch = make_pagerduty_channel(pd_options(rx.url("/v2/enqueue")));
  EXPECT_EQ(ch->name(), "pagerduty");
  auto res = ch->deliver(sample_intent());
  ASSERT_TRUE(res.delivered) << res.error;
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v2/enqueue");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].body,
            R"({"routing_key":"R0UTINGKEY0123456789012345678901","dedup_key":"42:1136239445000",)"
            R"("event_action":"trigger","payload":{"summary":"App: [billing] Component: [nightly] )"
            R"(failed checkin","source":"10.0.0.7","severity":"critical",)"
            R"("timestamp":"2006-01-02T22:04:06.999Z","component":"nightly","group":"billing",)"
            R"("class":"late","custom_details":{"event":"late","job_id":42,"app":"billing",)"
            R"("component":"nightly","owner":"ops@example.com","notify":"a@example.com",)"
            R"("deadline":"Mon, 02 Jan 2006 22:04:05 UTC","message":"App: [billing] )"
            R"(Component: [nightly] failed checkin"}},"client":"GoTel"})");
}

TEST(pagerduty_channel, resolve_payload_is_exact_and_shares_the_dedup_key) {
  http_receiver rx{202};
  auto ch = make_pagerduty_channel(pd_options(rx.url()));
  ASSERT_TRUE(ch->deliver(sample_intent(alert_kind::recovered)).delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, R"({"routing_key":"R0UTINGKEY0123456789012345678901",)"
                          R"("dedup_key":"42:1136239445000","event_action":"resolve"})");
}

TEST(pagerduty_channel, summary_is_capped_at_1024_bytes_on_a_character_boundary) {
  auto in = sample_intent();
  in.message = std::string(1020, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9";  // 1026 bytes
  auto j = nlohmann::json::parse(pagerduty_payload(in, pd_options("http://x")));
  auto summary = j["payload"]["summary"].get<std::string>();
  EXPECT_LE(summary.size(), pagerduty_summary_limit);
  EXPECT_EQ(summary, std::string(1020, 'x') + "...");
  // Full text stays in custom_details.
  EXPECT_EQ(j["payload"]["custom_details"]["message"], in.message);
}

TEST(pagerduty_channel, answers_map_to_retry_or_not) {
  for (auto [status, delivered, retryable] :
       {std::tuple{202, true, false}, {400, false, false}, {429, false, true},
        {500, false, true}, {503, false, true}}) {
    http_receiver rx{status};
    auto res = make_pagerduty_channel(pd_options(rx.url()))->deliver(sample_intent());
    EXPECT_EQ(res.delivered, delivered) << status;
    EXPECT_EQ(res.retryable, retryable) << status;
    EXPECT_EQ(res.error.find("R0UTINGKEY"), std::string::npos) << "routing key leaked";
  }
}

TEST(slack_channel, payload_is_a_compact_text) {
  http_receiver rx{200};
  auto ch = make_slack_channel(rx.url("/services/T000/B000/XXXX"), 2000ms);
  EXPECT_EQ(ch->name(), "slack");
  auto in = sample_intent();
  in.app = "a<b>&c";
  ASSERT_TRUE(ch->deliver(in).delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].body,
            R"({"text":":red_circle: *a&lt;b&gt;&amp;c/nightly missed its checkin* )"
            R"((deadline Mon, 02 Jan 2006 22:04:05 UTC)\nApp: [billing] Component: [nightly] )"
            R"(failed checkin"})");
  EXPECT_EQ(nlohmann::json::parse(slack_payload(sample_intent(alert_kind::recovered)))["text"],
            ":large_green_circle: *billing/nightly recovered*\n"
            "App: [billing] Component: [nightly] failed checkin");
}

TEST(slack_channel, errors_never_contain_the_url) {
  http_receiver rx{404};
  auto res = make_slack_channel(rx.url("/services/SECRET"), 2000ms)->deliver(sample_intent());
  EXPECT_FALSE(res.delivered);
  EXPECT_FALSE(res.retryable);
  EXPECT_EQ(res.error, "slack: HTTP 404");
}

TEST(webhook_signature, signature_is_hmac_sha256_of_the_exact_body) {
  http_receiver rx{200};
  auto ch = make_webhook_channel(rx.url(), 2000ms, "topsecret");
  ASSERT_TRUE(ch->deliver(sample_intent()).delivered);
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  // Recomputed here over the bytes the receiver got.
  EXPECT_EQ(reqs[0].headers["x-gotel-signature"],
            "sha256=" + hmac_sha256_hex("topsecret", reqs[0].body));
  EXPECT_EQ(reqs[0].body, webhook_payload(sample_intent()));
  // A known vector (RFC 4231 test case 2), so the helper itself is right.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(webhook_signature, no_secret_no_signature) {
  http_receiver rx{200};
  ASSERT_TRUE(make_webhook_channel(rx.url(), 2000ms)->deliver(sample_intent()).delivered);
  EXPECT_EQ(rx.requests()[0].headers.count("x-gotel-signature"), 0u);
}

TEST(alerter_names, known_names) {
  EXPECT_TRUE(is_alerter_name("email"));
  EXPECT_TRUE(is_alerter_name("pagerduty"));
  EXPECT_FALSE(is_alerter_name("Email"));
  EXPECT_FALSE(is_alerter_name("sms"));
}

}  // namespace
}  // namespace gotel
