// Tests alerters/smtp_channel.cpp against a real SMTP server on 127.0.0.1
// (aiosmtpd, tests/alerters/smtp_sink.py), with and without AUTH.

#include "alerters/channel.hpp"
#include "tests/alerters/http_receiver.hpp"
#include "tests/alerters/smtp_sink.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using test::smtp_sink;

alert_intent smtp_intent(std::string notify = "a@example.com,b@example.com") {
  alert_intent in;
  in.id = 17;
  in.dedup_key = "42:1136239445000";
  in.kind = alert_kind::late;
  in.channel = "email";
  in.job_id = 42;
  in.app = "billing";
  in.component = "nightly";
  in.owner = "ops@example.com";
  in.notify = std::move(notify);
  in.message = "App: [billing] Component: [nightly] failed checkin on IP [10.0.0.7]. Contact "
               "owner [ops@example.com]\n.leading dot";
  in.deadline_ms = 1136239445000;
  in.created_ms = 1136239446999;
  return in;
}

smtp_options options(int port) {
  smtp_options o;
  o.host = "127.0.0.1";
  o.port = port;
  o.from = "gotel@example.com";
  o.reply_to = "oncall@example.com";
  o.timeout = 5000ms;
  return o;
}

/// The exact DATA a recipient gets (aiosmtpd hands it over un-dot-stuffed).
std::string expected_data(const std::string& to, int index, const std::string& subject,
                          const std::string& body_first) {
  return "Date: Mon, 02 Jan 2006 22:04:06 +0000\r\n"
         "From: gotel@example.com\r\n"
         "Reply-To: oncall@example.com\r\n"
         "To: " + to + "\r\n"
         "Subject: " + subject + "\r\n"
         "Message-ID: <42.1136239445000.17." + std::to_string(index) + "@example.com>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "X-Gotel-Dedup-Key: 42:1136239445000\r\n"
         "\r\n" + body_first + "\r\n.leading dot\r\n"
         "\r\n"
         "Alert time is [Mon, 02 Jan 2006 22:04:06 UTC]\r\n"
         "Notification list [a@example.com,b@example.com]\r\n";
}

const std::string first_line =
  "App: [billing] Component: [nightly] failed checkin on IP [10.0.0.7]. Contact owner "
  "[ops@example.com]";

TEST(smtp_channel, relay_without_auth_gets_one_exact_message_per_recipient) {
  smtp_sink sink;
  auto ch = make_smtp_channel(options(sink.port()));
  EXPECT_EQ(ch->name(), "email");
  auto res = ch->deliver(smtp_intent());
  ASSERT_TRUE(res.delivered) << res.error;
  auto got = sink.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].mail_from, "gotel@example.com");
  EXPECT_EQ(got[0].rcpt_to, "a@example.com");
  EXPECT_EQ(got[1].rcpt_to, "b@example.com");
  EXPECT_FALSE(got[0].authenticated);
  EXPECT_EQ(got[0].data,
            expected_data("a@example.com", 1, "Job Failed to checkin", first_line));
  EXPECT_EQ(got[1].data,
            expected_data("b@example.com", 2, "Job Failed to checkin", first_line));
}

TEST(smtp_channel, auth_is_used_when_a_user_is_configured) {
  smtp_sink sink{"alerts:s3cret"};
  auto opts = options(sink.port());
  opts.user = "alerts";
  opts.pass = "s3cret";
  auto res = make_smtp_channel(opts)->deliver(smtp_intent("a@example.com"));
  ASSERT_TRUE(res.delivered) << res.error;
  auto got = sink.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].authenticated);

  // Wrong password: refused, retryable (fixing the config must deliver), and
  // the password never appears in the error.
  opts.pass = "wrong-pass";
  auto bad = make_smtp_channel(opts)->deliver(smtp_intent("a@example.com"));
  EXPECT_FALSE(bad.delivered);
  EXPECT_TRUE(bad.retryable);
  EXPECT_EQ(bad.error.find("wrong-pass"), std::string::npos) << bad.error;
  // Without a user, a relay that requires AUTH refuses.
  opts.user.clear();
  EXPECT_FALSE(make_smtp_channel(opts)->deliver(smtp_intent("a@example.com")).delivered);
  EXPECT_EQ(sink.messages().size(), 1u);
}

TEST(smtp_channel, recovery_has_its_own_subject) {
  smtp_sink sink;
  auto in = smtp_intent("a@example.com");
  in.kind = alert_kind::recovered;
  ASSERT_TRUE(make_smtp_channel(options(sink.port()))->deliver(in).delivered);
  auto got = sink.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].data.find("\r\nSubject: Job recovered\r\n"), std::string::npos);
}

TEST(smtp_channel, a_failed_recipient_does_not_stop_the_others_and_is_retried_alone) {
  smtp_sink sink;
  auto ch = make_smtp_channel(options(sink.port()));
  auto in = smtp_intent("a@example.com,later@example.com,b@example.com");
  auto res = ch->deliver(in);
  EXPECT_FALSE(res.delivered);
  EXPECT_TRUE(res.retryable) << "451 is temporary";
  EXPECT_EQ(res.progress, "a@example.com,b@example.com");
  EXPECT_NE(res.error.find("later@example.com"), std::string::npos) << res.error;
  ASSERT_EQ(sink.messages().size(), 2u);

  // The retry carries the progress: only the failed recipient is tried again.
  in.progress = res.progress;
  res = ch->deliver(in);
  EXPECT_FALSE(res.delivered);
  EXPECT_EQ(sink.messages().size(), 2u) << "a and b must not get a second copy";
}

// Issue 14 section 5: a recipient over the mail budget is marked ">address" in
// progress by the dispatcher (its copy went into a digest): never mailed.
TEST(smtp_channel, recipients_deferred_to_a_digest_are_not_mailed) {
  smtp_sink sink;
  auto ch = make_smtp_channel(options(sink.port()));
  EXPECT_TRUE(ch->mails_recipients());
  auto in = smtp_intent("a@example.com,b@example.com,c@example.com");
  in.progress = ">b@example.com";
  auto res = ch->deliver(in);
  EXPECT_TRUE(res.delivered);
  EXPECT_EQ(res.progress, ">b@example.com,a@example.com,c@example.com");
  auto got = sink.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].rcpt_to, "a@example.com");
  EXPECT_EQ(got[1].rcpt_to, "c@example.com");
}

TEST(smtp_channel, digest_has_its_own_subject) {
  auto in = smtp_intent("a@example.com");
  in.dedup_key = "digest:812";
  auto m = smtp_message(in, options(25), "a@example.com");
  EXPECT_NE(m.find("\r\nSubject: GoTel alert digest\r\n"), std::string::npos) << m;
}

TEST(smtp_channel, permanent_refusal_is_not_retryable) {
  smtp_sink sink;
  auto res = make_smtp_channel(options(sink.port()))
               ->deliver(smtp_intent("rejected@example.com,a@example.com"));
  EXPECT_FALSE(res.delivered);
  EXPECT_FALSE(res.retryable) << res.error;
  EXPECT_EQ(res.progress, "a@example.com");
  EXPECT_NE(res.error.find("550"), std::string::npos) << res.error;
}

TEST(smtp_channel, relay_down_is_retryable) {
  auto res = make_smtp_channel(options(test::http_receiver::unused_port()))
               ->deliver(smtp_intent("a@example.com"));
  EXPECT_FALSE(res.delivered);
  EXPECT_TRUE(res.retryable);
  EXPECT_TRUE(res.progress.empty());
}

TEST(smtp_channel, header_injection_through_notify_is_impossible) {
  smtp_sink sink;
  auto res = make_smtp_channel(options(sink.port()))
               ->deliver(smtp_intent("a@example.com\r\nBcc: evil@example.com"));
  EXPECT_FALSE(res.delivered);
  EXPECT_FALSE(res.retryable);
  EXPECT_TRUE(sink.messages().empty());
}

TEST(split_recipients, trims_and_drops_empty_and_duplicates) {
  EXPECT_EQ(split_recipients(" a@x , ,b@x,a@x,"), (std::vector<std::string>{"a@x", "b@x"}));
  EXPECT_TRUE(split_recipients("").empty());
}

}  // namespace
}  // namespace gotel
