// Tests alerters/channels.*: the webhook channel against a real HTTP receiver
// on 127.0.0.1, and the log channel.

#include "alerters/channel.hpp"
#include "tests/alerters/http_receiver.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using test::http_receiver;

alert_intent webhook_intent() {
  alert_intent in;
  in.id = 17;
  in.dedup_key = "42:1136239445000";
  in.kind = alert_kind::late;
  in.channel = "webhook";
  in.job_id = 42;
  in.app = "billing \"eu\"";
  in.component = "nightly";
  in.owner = "ops@example.com";
  in.notify = "a@example.com,b@example.com";
  in.message = "App: [billing] failed\nline two";
  in.deadline_ms = 1136239445123;
  in.created_ms = 1136239446999;
  return in;
}

TEST(webhook_payload, fields_and_order) {
  auto in = webhook_intent();
  auto j = nlohmann::ordered_json::parse(webhook_payload(in));
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items())
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"event", "dedup_key", "job_id", "app", "component",
                                             "owner", "notify", "message", "deadline",
                                             "deadline_str", "created", "intent_id", "source"}));
  EXPECT_EQ(j["event"], "late");
  EXPECT_EQ(j["dedup_key"], "42:1136239445000");
  EXPECT_EQ(j["job_id"], 42);
  EXPECT_EQ(j["app"], "billing \"eu\"");
  EXPECT_EQ(j["component"], "nightly");
  EXPECT_EQ(j["owner"], "ops@example.com");
  EXPECT_EQ(j["notify"], "a@example.com,b@example.com");
  EXPECT_EQ(j["message"], "App: [billing] failed\nline two");
  EXPECT_EQ(j["deadline"], 1136239445);
  EXPECT_EQ(j["deadline_str"], "Mon, 02 Jan 2006 22:04:05 UTC");
  EXPECT_EQ(j["created"], 1136239446);
  EXPECT_EQ(j["intent_id"], 17);
  EXPECT_EQ(j["source"], "gotel");
  in.kind = alert_kind::repeat;
  EXPECT_EQ(nlohmann::json::parse(webhook_payload(in))["event"], "repeat");
  in.kind = alert_kind::recovered;
  EXPECT_EQ(nlohmann::json::parse(webhook_payload(in))["event"], "recovered");
}

TEST(webhook_payload, invalid_utf8_does_not_throw) {
  auto in = webhook_intent();
  in.app = "bad\xff";
  EXPECT_NO_THROW(nlohmann::json::parse(webhook_payload(in)));
}

TEST(webhook_channel, posts_json_and_2xx_is_delivered) {
  http_receiver rx{204};
  auto ch = make_webhook_channel(rx.url("/hook?token=abc"), 2000ms);
  EXPECT_EQ(ch->name(), "webhook");
  auto in = webhook_intent();
  auto res = ch->deliver(in);
  EXPECT_TRUE(res.delivered) << res.error;
  EXPECT_TRUE(res.error.empty());
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hook?token=abc");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].body, webhook_payload(in));  // the exact bytes
  auto j = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(j["dedup_key"], "42:1136239445000");
  EXPECT_EQ(j["intent_id"], 17);
}

TEST(webhook_channel, server_error_is_retryable_without_leaking_the_url) {
  http_receiver rx{500};
  auto url = "http://user:s3cret@127.0.0.1:" + std::to_string(rx.port()) + "/x?token=t0ken";
  auto res = make_webhook_channel(url, 2000ms)->deliver(webhook_intent());
  EXPECT_FALSE(res.delivered);
  EXPECT_TRUE(res.retryable);
  EXPECT_EQ(res.error, "webhook: HTTP 500");
  ASSERT_EQ(rx.requests().size(), 1u);
  // Basic auth from the URL's userinfo reached the receiver, not the error text.
  EXPECT_EQ(rx.requests()[0].headers.count("authorization"), 1u);
}

TEST(webhook_channel, throttling_and_request_timeout_are_retryable) {
  for (int status : {408, 429, 503}) {
    http_receiver rx{status};
    auto res = make_webhook_channel(rx.url(), 2000ms)->deliver(webhook_intent());
    EXPECT_FALSE(res.delivered) << status;
    EXPECT_TRUE(res.retryable) << status;
    EXPECT_EQ(res.error, "webhook: HTTP " + std::to_string(status));
  }
}

TEST(webhook_channel, client_error_is_not_retryable) {
  for (int status : {400, 401, 404}) {
    http_receiver rx{status};
    auto res = make_webhook_channel(rx.url(), 2000ms)->deliver(webhook_intent());
    EXPECT_FALSE(res.delivered) << status;
    EXPECT_FALSE(res.retryable) << status;
    EXPECT_EQ(res.error, "webhook: HTTP " + std::to_string(status));
  }
}

TEST(webhook_channel, nothing_listening_is_retryable) {
  auto port = http_receiver::unused_port();
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/x?token=t0ken";
  auto res = make_webhook_channel(url, 2000ms)->deliver(webhook_intent());
  EXPECT_FALSE(res.delivered);
  EXPECT_TRUE(res.retryable);
  EXPECT_EQ(res.error.rfind("webhook: ", 0), 0u) << res.error;
  EXPECT_EQ(res.error.find("t0ken"), std::string::npos) << res.error;
  EXPECT_EQ(res.error.find(std::to_string(port)), std::string::npos) << res.error;
}

TEST(webhook_channel, timeout_is_honoured) {
  http_receiver rx{0};  // reads the request, never answers
  auto ch = make_webhook_channel(rx.url(), 300ms);
  auto start = std::chrono::steady_clock::now();
  auto res = ch->deliver(webhook_intent());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(res.delivered);
  EXPECT_TRUE(res.retryable);
  EXPECT_NE(res.error.find("imeout"), std::string::npos) << res.error;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(rx.requests().size(), 1u);
}

TEST(log_channel, always_delivers) {
  auto ch = make_log_channel();
  EXPECT_EQ(ch->name(), "log");
  auto res = ch->deliver(webhook_intent());
  EXPECT_TRUE(res.delivered);
  EXPECT_TRUE(res.error.empty());
}

}  // namespace
}  // namespace gotel
