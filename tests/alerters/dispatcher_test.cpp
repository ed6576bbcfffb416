// Tests alerters/dispatcher.*: outbox delivery, retry with backoff on virtual
// time, expiry and resume, against a real RocksDB store.

#include "alerters/dispatcher.hpp"

#include "actors/messages.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "tests/alerters/http_receiver.hpp"
#include "tests/caf_fixture.hpp"
#include "tests/temp_store.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <mutex>
#include <thread>

namespace gotel {
namespace {

using namespace std::chrono_literals;

/// A real channel (no mock framework): records every delivery, fails the first
/// `failures` calls with `retryable`, then succeeds.
class scripted_channel final : public alert_channel {
 public:
  scripted_channel(std::string name, int failures, bool retryable = true)
    : name_(std::move(name)), failures_(failures), retryable_(retryable) {}

  std::string_view name() const override { return name_; }

  delivery_result deliver(const alert_intent& intent) override {
    std::lock_guard<std::mutex> guard{mtx_};
    seen_.push_back(intent);
    if (static_cast<int>(seen_.size()) <= failures_)
      return {false, retryable_, "scripted failure " + std::to_string(seen_.size())};
    return {true, false, {}};
  }

  std::size_t calls() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_.size();
  }

  std::vector<alert_intent> seen() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_;
  }

 private:
  std::string name_;
  int failures_;
  bool retryable_;
  mutable std::mutex mtx_;
  std::vector<alert_intent> seen_;
};

/// The shared temporary store (tests/temp_store.hpp), plus a direct outbox write.
struct temp_store : test::temp_store {
  temp_store() : test::temp_store("gotel-dispatcher") {}
  /// Writes `in` to the outbox, as the reservation actor does before dispatching.
  void enqueue(const alert_intent& in) {
    storage::write_batch b;
    b.put(in);
    auto st = db->write(b, true);
    ASSERT_TRUE(st.ok()) << st.message;
  }
};

class dispatcher_test : public ::testing::Test, public test::caf_fixture {
 protected:
  ~dispatcher_test() override {
    if (dispatcher)
      kill(dispatcher);
  }

  void spawn(std::vector<std::shared_ptr<alert_channel>> channels,
             dispatcher_options opts = default_opts()) {
    dispatcher_env env;
    env.db = store.db.get();
    env.committer = store.committer.get();
    env.channels = std::move(channels);
    env.wall_now = [this] { return wall; };
    env.log_seq = &log_seq;
    env.intent_seq = &intent_seq;
    env.opts = opts;
    dispatcher = spawn_dispatcher(sys, std::move(env));
    run();
  }

  static dispatcher_options default_opts() {
    dispatcher_options o;
    o.retry_initial = 1000ms;
    o.retry_max = 8000ms;
    o.expire = 60000ms;
    o.inline_delivery = true;
    return o;
  }

  alert_intent intent(std::uint64_t id, std::string channel = "test") {
    alert_intent in;
    in.id = id;
    in.job_id = 100 + id;
    in.dedup_key = std::to_string(in.job_id) + ":1700000000000";
    in.channel = std::move(channel);
    in.app = "app" + std::to_string(id);
    in.component = "comp";
    in.owner = "owner@example.com";
    in.message = "late";
    in.deadline_ms = 1700000000000;
    in.created_ms = wall;
    return in;
  }

  void dispatch(std::vector<alert_intent> xs) {
    for (auto& x : xs)
      store.enqueue(x);
    self->send(dispatcher, dispatch_atom::value, std::move(xs));
    run();
  }

  /// Advances the injected wall clock and CAF's virtual clock together, then
  /// lets the dispatcher handle whatever fell due.
  void advance(std::chrono::milliseconds d) {
    wall += d.count();
    advance_time(d);
    run();
  }

  dispatcher_stats stats() {
    auto s = request<dispatcher_stats>(dispatcher, stats_atom::value);
    return s.value_or(dispatcher_stats{});
  }

  temp_store store;
  unix_ms wall = 1700000100000;
  std::atomic<std::uint64_t> log_seq{0};
  /// Ids of notices the dispatcher makes (alert-storm): far from the test's own.
  std::atomic<std::uint64_t> intent_seq{1000000};
  caf::actor dispatcher;
};

TEST_F(dispatcher_test, delivered_intent_leaves_the_outbox_and_is_logged) {
  auto ch = std::make_shared<scripted_channel>("test", 0);
  spawn({ch});
  dispatch({intent(1)});
  ASSERT_EQ(ch->calls(), 1u);
  EXPECT_EQ(ch->seen()[0].dedup_key, "101:1700000000000");
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "delivered");
  EXPECT_EQ(log[0].job_id, 101u);
  EXPECT_EQ(log[0].app, "app1");
  EXPECT_EQ(log[0].channel, "test");
  EXPECT_EQ(log[0].dedup_key, "101:1700000000000");
  EXPECT_EQ(log[0].at_ms, wall);
  EXPECT_EQ(log_seq.load(), 1u);
  auto s = stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_FALSE(has_pending_timeout());
}

TEST_F(dispatcher_test, failure_is_retried_after_backoff_not_before) {
  auto ch = std::make_shared<scripted_channel>("test", 2);
  spawn({ch});
  dispatch({intent(7)});
  ASSERT_EQ(ch->calls(), 1u);
  // Persisted between attempts, with the attempt count and the error.
  auto outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].attempts, 1u);
  EXPECT_EQ(outbox[0].last_error, "scripted failure 1");
  auto first_wait = outbox[0].next_attempt_ms - wall;
  EXPECT_GE(first_wait, 800);  // 1 s +-20%
  EXPECT_LE(first_wait, 1200);
  EXPECT_EQ(stats().pending, 1u);

  advance(790ms);
  EXPECT_EQ(ch->calls(), 1u) << "retried before the backoff";
  advance(420ms);  // 1.21 s in total
  ASSERT_EQ(ch->calls(), 2u);
  outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].attempts, 2u);
  EXPECT_EQ(outbox[0].last_error, "scripted failure 2");
  auto second_wait = outbox[0].next_attempt_ms - wall;
  EXPECT_GE(second_wait, 1600);  // doubled: 2 s +-20%
  EXPECT_LE(second_wait, 2400);

  advance(1590ms);
  EXPECT_EQ(ch->calls(), 2u);
  advance(820ms);
  ASSERT_EQ(ch->calls(), 3u);
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "delivered");
  auto s = stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_EQ(s.pending, 0u);
}

TEST_F(dispatcher_test, backoff_is_capped_at_retry_max) {
  auto ch = std::make_shared<scripted_channel>("test", 100);
  auto opts = default_opts();
  opts.expire = 3600000ms;
  spawn({ch}, opts);
  dispatch({intent(3)});
  for (int i = 0; i < 8; ++i)
    trigger_timeouts(), run();
  auto outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].attempts, 9u);
  // The wall clock stood still, so next_attempt - wall is the last backoff.
  auto wait = outbox[0].next_attempt_ms - wall;
  EXPECT_GE(wait, 6400);  // retry_max 8 s -20%
  EXPECT_LE(wait, 9600);
}

TEST_F(dispatcher_test, not_retryable_failure_expires_at_once) {
  auto ch = std::make_shared<scripted_channel>("test", 1, /*retryable=*/false);
  spawn({ch});
  dispatch({intent(2)});
  EXPECT_EQ(ch->calls(), 1u);
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "expired");
  EXPECT_EQ(stats().expired, 1u);
  EXPECT_FALSE(has_pending_timeout());
}

TEST_F(dispatcher_test, gives_up_after_expire) {
  auto ch = std::make_shared<scripted_channel>("test", 1000);
  auto opts = default_opts();
  opts.expire = 5000ms;
  spawn({ch}, opts);
  dispatch({intent(4)});
  // Attempts near 0 s, 1 s, 3 s and 7 s; the one at 7 s is past 5 s and expires.
  for (int i = 0; i < 100 && !store.outbox().empty(); ++i)
    advance(100ms);
  EXPECT_TRUE(store.outbox().empty());
  EXPECT_EQ(ch->calls(), 4u);
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "expired");
  auto s = stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.failed_attempts, 4u);
  EXPECT_EQ(s.pending, 0u);
  advance(60000ms);
  EXPECT_EQ(ch->calls(), 4u);  // no stray retries
}

TEST_F(dispatcher_test, unknown_channel_expires) {
  auto ch = std::make_shared<scripted_channel>("test", 0);
  spawn({ch});
  dispatch({intent(5, "pagerduty")});
  EXPECT_EQ(ch->calls(), 0u);
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "expired");
  EXPECT_EQ(log[0].channel, "pagerduty");
}

TEST_F(dispatcher_test, duplicate_dispatch_delivers_once) {
  auto ch = std::make_shared<scripted_channel>("test", 1);
  spawn({ch});
  auto in = intent(6);
  dispatch({in});
  dispatch({in, in});  // while the first one waits for its retry
  EXPECT_EQ(ch->calls(), 1u);
  advance(1300ms);
  EXPECT_EQ(ch->calls(), 2u);
  advance(60000ms);
  EXPECT_EQ(ch->calls(), 2u);
  EXPECT_EQ(store.log().size(), 1u);
}

TEST_F(dispatcher_test, routes_by_channel_name) {
  auto a = std::make_shared<scripted_channel>("a", 0);
  auto b = std::make_shared<scripted_channel>("b", 0);
  spawn({a, b});
  dispatch({intent(1, "a"), intent(2, "b"), intent(3, "b")});
  EXPECT_EQ(a->calls(), 1u);
  EXPECT_EQ(b->calls(), 2u);
  auto log = store.log();  // newest first, sequence numbers 3, 2, 1
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].job_id, 103u);
  EXPECT_EQ(log[2].job_id, 101u);
}

TEST_F(dispatcher_test, resume_loads_pending_intents_after_restart) {
  // A previous process left three intents: one due now, one with a retry
  // scheduled 5 s from now, one for a channel that no longer exists.
  auto due = intent(10);
  due.attempts = 3;
  auto later = intent(11);
  later.attempts = 1;
  later.next_attempt_ms = wall + 5000;
  auto orphan = intent(12, "gone");
  store.enqueue(due);
  store.enqueue(later);
  store.enqueue(orphan);
  store.reopen();

  auto ch = std::make_shared<scripted_channel>("test", 0);
  spawn({ch});
  EXPECT_EQ(ch->calls(), 0u);  // nothing happens before resume
  self->send(dispatcher, resume_atom::value);
  run();
  ASSERT_EQ(ch->calls(), 1u);
  EXPECT_EQ(ch->seen()[0].id, 10u);
  EXPECT_EQ(ch->seen()[0].attempts, 3u);
  auto outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].id, 11u);

  advance(4900ms);
  EXPECT_EQ(ch->calls(), 1u);
  advance(200ms);
  ASSERT_EQ(ch->calls(), 2u);
  EXPECT_EQ(ch->seen()[1].id, 11u);
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 3u);
  std::map<std::uint64_t, std::string> outcome;
  for (auto& e : log)
    outcome[e.job_id] = e.outcome;
  EXPECT_EQ(outcome[110], "delivered");
  EXPECT_EQ(outcome[111], "delivered");
  EXPECT_EQ(outcome[112], "expired");
  auto s = stats();
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(s.expired, 1u);

  // A second resume finds nothing new.
  self->send(dispatcher, resume_atom::value);
  run();
  EXPECT_EQ(ch->calls(), 2u);
}

// Issue 13 section 6: 50 jobs late at once (threshold 10) and all 50 back.
// The recovery wave used to be paged as a second storm (a new "late" notice
// with a new dedup key) and the first storm incident was never resolved; the
// log alerter folded too, so 40 late jobs never reached the process log.
class storm_recovery_test : public dispatcher_test {
 protected:
  static dispatcher_options storm_opts() {
    auto o = default_opts();
    o.storm_threshold = 10;
    o.storm_window = 10000ms;
    return o;
  }

  alert_intent job(std::uint64_t id, std::uint64_t job_id, alert_kind kind, std::string channel) {
    auto in = intent(id, std::move(channel));
    in.job_id = job_id;
    in.app = "app" + std::to_string(job_id);
    in.dedup_key = std::to_string(job_id) + "-1700000000000";
    in.kind = kind;
    in.notify = "ops@example.com";
    return in;
  }

  /// One intent per job 1..`jobs` on every channel in `channels`; ids from `first`.
  std::vector<alert_intent> wave(std::uint64_t first, int jobs, alert_kind kind,
                                 std::vector<std::string> channels) {
    std::vector<alert_intent> out;
    for (int j = 1; j <= jobs; ++j)
      for (auto& c : channels)
        out.push_back(job(first++, static_cast<std::uint64_t>(j), kind, c));
    return out;
  }
};

TEST_F(storm_recovery_test, recovery_wave_resolves_the_storm_incident_and_pages_nothing_new) {
  auto pd = std::make_shared<scripted_channel>("pagerduty", 0);
  std::shared_ptr<alert_channel> log_channel = make_log_channel();
  spawn({pd, log_channel}, storm_opts());

  dispatch(wave(1, 50, alert_kind::late, {"pagerduty", "log"}));
  advance(10000ms);  // the storm window ends: the notice goes out
  auto seen = pd->seen();
  ASSERT_EQ(seen.size(), 11u) << "10 one by one, then one storm notice";
  auto storm = seen.back();
  ASSERT_TRUE(is_storm_notice(storm));
  EXPECT_EQ(storm.kind, alert_kind::late);
  EXPECT_EQ(storm.dedup_key, "storm:pagerduty:" + std::to_string(storm.id));

  advance(60000ms);
  dispatch(wave(1001, 50, alert_kind::recovered, {"pagerduty", "log"}));
  seen = pd->seen();
  // The 10 jobs whose own incident opened are resolved one by one at once.
  ASSERT_EQ(seen.size(), 21u);
  std::set<std::string> resolved;
  for (std::size_t i = 11; i < 21; ++i) {
    EXPECT_EQ(seen[i].kind, alert_kind::recovered);
    resolved.insert(seen[i].dedup_key);
  }
  std::set<std::string> triggered;
  for (std::size_t i = 0; i < 10; ++i)
    triggered.insert(seen[i].dedup_key);
  EXPECT_EQ(resolved, triggered);

  advance(10000ms);
  seen = pd->seen();
  ASSERT_EQ(seen.size(), 22u) << "one notice for the 40 grouped recoveries";
  auto& back = seen.back();
  EXPECT_EQ(back.kind, alert_kind::recovered) << "a recovery wave is never a new page";
  EXPECT_EQ(back.dedup_key, storm.dedup_key) << "it resolves the storm incident";
  EXPECT_NE(back.message.find("40 of the 40 job(s)"), std::string::npos) << back.message;
  auto body = nlohmann::json::parse(pagerduty_payload(back, pagerduty_options{}));
  EXPECT_EQ(body["event_action"], "resolve");
  EXPECT_EQ(body["dedup_key"], storm.dedup_key);
  EXPECT_EQ(nlohmann::json::parse(webhook_payload(back))["event"], "recovered");
  for (auto& x : seen)
    if (x.kind != alert_kind::recovered)
      EXPECT_TRUE(x.id <= 50 || x.dedup_key == storm.dedup_key) << "new page " << x.dedup_key;

  advance(60000ms);
  EXPECT_EQ(pd->calls(), 22u);
  EXPECT_TRUE(store.outbox().empty());

  // The log alerter logged every one of the 100 alerts by itself.
  std::size_t log_delivered = 0, pd_grouped = 0;
  for (auto& e : store.log(1000)) {
    if (e.channel == "log") {
      EXPECT_EQ(e.outcome, "delivered") << e.app;
      ++log_delivered;
    }
    if (e.channel == "pagerduty" && e.outcome == "grouped")
      ++pd_grouped;
  }
  EXPECT_EQ(log_delivered, 100u);
  EXPECT_EQ(pd_grouped, 80u) << "40 late and 40 recoveries grouped, each in the alert log";
}

TEST_F(storm_recovery_test, partial_recovery_reports_without_resolving_then_last_one_resolves) {
  auto pd = std::make_shared<scripted_channel>("pagerduty", 0);
  spawn({pd}, storm_opts());
  dispatch(wave(1, 50, alert_kind::late, {"pagerduty"}));
  advance(10000ms);
  auto storm = pd->seen().back();
  ASSERT_TRUE(is_storm_notice(storm));

  // Jobs 11..50 were grouped; 45..50 recover first.
  std::vector<alert_intent> some;
  for (std::uint64_t j = 45; j <= 50; ++j)
    some.push_back(job(1000 + j, j, alert_kind::recovered, "pagerduty"));
  dispatch(some);
  advance(10000ms);
  auto partial = pd->seen().back();
  ASSERT_EQ(pd->calls(), 12u);
  EXPECT_EQ(partial.kind, alert_kind::recovered);
  EXPECT_NE(partial.dedup_key, storm.dedup_key) << "the incident stays open while jobs are late";
  EXPECT_TRUE(partial.dedup_key.starts_with(storm.dedup_key + ":partial:"));
  EXPECT_NE(partial.message.find("34 grouped job(s) are still late"), std::string::npos)
    << partial.message;

  std::vector<alert_intent> rest;
  for (std::uint64_t j = 11; j <= 44; ++j)
    rest.push_back(job(2000 + j, j, alert_kind::recovered, "pagerduty"));
  dispatch(rest);
  advance(10000ms);
  ASSERT_EQ(pd->calls(), 13u);
  EXPECT_EQ(pd->seen().back().dedup_key, storm.dedup_key);
  EXPECT_EQ(pd->seen().back().kind, alert_kind::recovered);
}

// Issue 14 section 5: one reservation with 701 addresses in notify and a 1 s
// period made 701 SMTP sessions in 20 s. A mail channel now gets at most
// mail_per_recipient messages per address and mail_total in all per window;
// the rest become one digest per address at the next window, and every alert
// stays in the alert log.

/// A real channel that mails one message per recipient, as the e-mail
/// alerter does (skipping those in `progress`: sent before, or ">" deferred to
/// a digest), and records each message with the injected wall time it left.
class recording_mail_channel final : public alert_channel {
 public:
  struct mail {
    std::string to;
    alert_intent intent;
    unix_ms at = 0;
  };

  /// `failures`: the first so many deliveries fail (retryable) after trying
  /// every remaining recipient.
  recording_mail_channel(const unix_ms* wall, int failures = 0)
    : wall_(wall), failures_(failures) {}

  std::string_view name() const override { return "email"; }
  bool mails_recipients() const override { return true; }

  delivery_result deliver(const alert_intent& intent) override {
    std::lock_guard<std::mutex> guard{mtx_};
    bool fail = calls_++ < failures_;
    std::set<std::string> done;
    for (auto& d : split_recipients(intent.progress))
      done.insert(d.front() == deferred_mark ? d.substr(1) : d);
    std::string progress = intent.progress;
    for (auto& to : split_recipients(intent.notify)) {
      if (done.count(to) > 0)
        continue;
      sent_.push_back({to, intent, *wall_});
      if (!fail)
        progress += (progress.empty() ? "" : ",") + to;
    }
    if (fail)
      return {false, true, "scripted failure", progress};
    return {true, false, {}, progress};
  }

  std::vector<mail> sent() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return sent_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return sent_.size();
  }

 private:
  const unix_ms* wall_;
  int failures_;
  mutable std::mutex mtx_;
  int calls_ = 0;
  std::vector<mail> sent_;
};

class mail_budget_test : public dispatcher_test {
 protected:
  static dispatcher_options mail_opts() {
    auto o = default_opts();
    o.mail_per_recipient = 10;
    o.mail_total = 120;
    o.mail_window = 60000ms;
    o.max_recipients = 10;
    return o;
  }

  alert_intent mail(std::uint64_t id, std::string notify) {
    auto in = intent(id, "email");
    in.notify = std::move(notify);
    return in;
  }

  std::map<std::string, std::string> outcomes() {
    std::map<std::string, std::string> out;
    for (auto& e : store.log(10000))
      out[e.app] = e.outcome;
    return out;
  }

  /// Messages per window (wall / 60 s) and per window and recipient.
  static std::map<unix_ms, std::size_t> per_window(
    const std::vector<recording_mail_channel::mail>& sent) {
    std::map<unix_ms, std::size_t> out;
    for (auto& m : sent)
      ++out[m.at / 60000];
    return out;
  }
  static std::map<std::pair<unix_ms, std::string>, std::size_t> per_window_and_recipient(
    const std::vector<recording_mail_channel::mail>& sent) {
    std::map<std::pair<unix_ms, std::string>, std::size_t> out;
    for (auto& m : sent)
      ++out[{m.at / 60000, m.to}];
    return out;
  }
};

TEST_F(mail_budget_test, one_address_gets_its_budget_then_one_digest_at_the_next_window) {
  ASSERT_EQ(wall % 60000, 0) << "the test starts at a window boundary";
  auto ch = std::make_shared<recording_mail_channel>(&wall);
  spawn({ch}, mail_opts());
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 15; ++id)
    xs.push_back(mail(id, "victim@example.com"));
  dispatch(xs);

  ASSERT_EQ(ch->count(), 10u) << "ten messages to one address within a minute";
  auto s = stats();
  EXPECT_EQ(s.mail_deferred, 5u);
  EXPECT_EQ(s.delivered, 10u);
  // Every intent is in the alert log: 10 sent, 5 deferred to the digest.
  auto o = outcomes();
  for (int id = 1; id <= 10; ++id)
    EXPECT_EQ(o["app" + std::to_string(id)], "delivered") << id;
  for (int id = 11; id <= 15; ++id)
    EXPECT_EQ(o["app" + std::to_string(id)], "deferred to digest") << id;
  // What is left is one durable digest, due at the next window.
  auto outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_TRUE(is_mail_digest(outbox[0]));
  EXPECT_EQ(outbox[0].notify, "victim@example.com");
  EXPECT_EQ(outbox[0].next_attempt_ms, wall + 60000);

  advance(59999ms);
  EXPECT_EQ(ch->count(), 10u) << "the digest went out before the window ended";
  advance(1ms);
  ASSERT_EQ(ch->count(), 11u);
  auto digest = ch->sent().back();
  EXPECT_EQ(digest.to, "victim@example.com");
  EXPECT_TRUE(is_mail_digest(digest.intent));
  EXPECT_EQ(digest.intent.app, "gotel");
  EXPECT_EQ(digest.intent.component, "mail-digest");
  auto& text = digest.intent.message;
  EXPECT_NE(text.find("GoTel held back 5 alert(s) for victim@example.com"), std::string::npos)
    << text;
  for (int id = 11; id <= 15; ++id)
    EXPECT_NE(text.find("app" + std::to_string(id) + "/comp (late)"), std::string::npos) << text;
  EXPECT_EQ(text.find("app10/"), std::string::npos) << "a sent alert is not in the digest";
  EXPECT_TRUE(store.outbox().empty());
  s = stats();
  EXPECT_EQ(s.mail_digests, 1u);
  EXPECT_EQ(s.mail_deferred, 5u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(outcomes()["gotel"], "delivered") << "the digest is in the alert log too";
  EXPECT_EQ(store.log(10000).size(), 16u);
  advance(600000ms);
  EXPECT_EQ(ch->count(), 11u) << "nothing is sent twice";
}

TEST_F(mail_budget_test, total_budget_holds_across_addresses_and_digests_wait_their_turn) {
  auto ch = std::make_shared<recording_mail_channel>(&wall);
  auto opts = mail_opts();
  opts.mail_total = 4;
  spawn({ch}, opts);
  // 5 alerts x 2 addresses each, all distinct: 10 messages, 4 fit.
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 5; ++id)
    xs.push_back(mail(id, "a" + std::to_string(id) + "@example.com, b" + std::to_string(id)
                            + "@example.com"));
  dispatch(xs);
  EXPECT_EQ(ch->count(), 4u);
  auto o = outcomes();
  EXPECT_EQ(o["app1"], "delivered");
  EXPECT_EQ(o["app2"], "delivered");
  EXPECT_EQ(o["app3"], "deferred to digest");
  EXPECT_EQ(o["app5"], "deferred to digest");
  EXPECT_EQ(stats().mail_deferred, 6u);
  EXPECT_EQ(store.outbox().size(), 6u) << "six digests, one per address held back";

  // Six digests at 4 a window: 4 now, 2 at the window after.
  advance(60000ms);
  EXPECT_EQ(ch->count(), 8u);
  advance(60000ms);
  EXPECT_EQ(ch->count(), 10u);
  EXPECT_TRUE(store.outbox().empty());
  EXPECT_EQ(stats().mail_digests, 6u);
  for (auto& [window, n] : per_window(ch->sent()))
    EXPECT_LE(n, 4u) << "window " << window;
  // Each held-back address got exactly its own alert in its digest.
  std::set<std::string> digested;
  for (auto& m : ch->sent())
    if (is_mail_digest(m.intent)) {
      EXPECT_EQ(m.intent.notify, m.to);
      digested.insert(m.to);
    }
  EXPECT_EQ(digested, (std::set<std::string>{"a3@example.com", "b3@example.com",
                                              "a4@example.com", "b4@example.com",
                                              "a5@example.com", "b5@example.com"}));
}

TEST_F(mail_budget_test, a_partly_deferred_alert_is_not_resent_to_the_deferred_address) {
  // The first delivery fails and is retried; by then the address is over its
  // budget, so the retry defers it instead of mailing it.
  auto ch = std::make_shared<recording_mail_channel>(&wall, /*failures=*/1);
  auto opts = mail_opts();
  opts.mail_per_recipient = 2;
  spawn({ch}, opts);
  dispatch({mail(3, "x@example.com")});  // fails: x has used 1
  dispatch({mail(4, "x@example.com")});  // sent: x has used 2
  dispatch({mail(5, "x@example.com,y@example.com")});  // x deferred, y sent
  auto sent = ch->sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].to, "y@example.com");
  EXPECT_EQ(outcomes()["app5"], "partly deferred to digest");
  EXPECT_EQ(outcomes()["app4"], "delivered");

  advance(1300ms);  // 3's retry: x is over budget now
  EXPECT_EQ(ch->count(), 3u) << "the retry mailed x above its budget";
  EXPECT_EQ(outcomes()["app3"], "deferred to digest");
  EXPECT_EQ(stats().mail_deferred, 2u);

  advance(60000ms);
  ASSERT_EQ(ch->count(), 4u);
  auto digest = ch->sent().back();
  EXPECT_EQ(digest.to, "x@example.com");
  EXPECT_NE(digest.intent.message.find("GoTel held back 2 alert(s)"), std::string::npos)
    << digest.intent.message;
  EXPECT_NE(digest.intent.message.find("app3/comp"), std::string::npos);
  EXPECT_NE(digest.intent.message.find("app5/comp"), std::string::npos);
  for (auto& [key, n] : per_window_and_recipient(ch->sent()))
    EXPECT_LE(n, 2u) << key.second;
  EXPECT_TRUE(store.outbox().empty());
}

TEST_F(mail_budget_test, stored_record_above_max_recipients_is_capped_at_send_time) {
  auto ch = std::make_shared<recording_mail_channel>(&wall);
  spawn({ch}, mail_opts());
  // Written by a version without the limit: 15 addresses.
  std::string fifteen;
  for (int r = 1; r <= 15; ++r)
    fifteen += (r > 1 ? "," : "") + std::string{"r"} + std::to_string(r) + "@example.com";
  dispatch({mail(1, fifteen)});
  auto sent = ch->sent();
  ASSERT_EQ(sent.size(), 10u);
  for (std::size_t i = 0; i < sent.size(); ++i)
    EXPECT_EQ(sent[i].to, "r" + std::to_string(i + 1) + "@example.com");
  auto s = stats();
  EXPECT_EQ(s.recipients_capped, 5u);
  EXPECT_EQ(s.mail_deferred, 0u);
  EXPECT_EQ(outcomes()["app1"], "delivered");
  EXPECT_TRUE(store.outbox().empty());
}

TEST_F(mail_budget_test, digest_survives_a_restart) {
  auto ch = std::make_shared<recording_mail_channel>(&wall);
  spawn({ch}, mail_opts());
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 12; ++id)
    xs.push_back(mail(id, "victim@example.com"));
  dispatch(xs);
  ASSERT_EQ(ch->count(), 10u);
  kill(dispatcher);
  dispatcher = nullptr;
  store.reopen();

  auto after = std::make_shared<recording_mail_channel>(&wall);
  spawn({after}, mail_opts());
  self->send(dispatcher, resume_atom::value);
  run();
  EXPECT_EQ(after->count(), 0u) << "the digest waits for its window after a restart too";
  advance(60000ms);
  ASSERT_EQ(after->count(), 1u);
  EXPECT_TRUE(is_mail_digest(after->sent()[0].intent));
  EXPECT_NE(after->sent()[0].intent.message.find("app12/comp (late)"), std::string::npos);
  EXPECT_TRUE(store.outbox().empty());
}

TEST_F(mail_budget_test, storm_grouping_and_the_budget_together_lose_nothing) {
  auto ch = std::make_shared<recording_mail_channel>(&wall);
  auto opts = mail_opts();
  opts.storm_threshold = 50;
  opts.storm_window = 10000ms;
  spawn({ch}, opts);
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 60; ++id)
    xs.push_back(mail(id, "victim@example.com"));
  dispatch(xs);
  // 50 one by one (10 mailed, 40 deferred), 10 folded into the storm notice.
  EXPECT_EQ(ch->count(), 10u);
  advance(10000ms);  // the storm notice is due, but victim's budget is spent
  EXPECT_EQ(ch->count(), 10u);
  advance(50000ms);  // the next window: one digest holds the 40 and the notice
  ASSERT_EQ(ch->count(), 11u);
  auto digest = ch->sent().back();
  EXPECT_TRUE(is_mail_digest(digest.intent));
  EXPECT_NE(digest.intent.message.find("GoTel held back 41 alert(s)"), std::string::npos)
    << digest.intent.message;
  EXPECT_NE(digest.intent.message.find("gotel/alert-storm (late)"), std::string::npos);
  EXPECT_TRUE(store.outbox().empty());
  std::map<std::string, std::size_t> by_outcome;
  for (auto& e : store.log(10000))
    ++by_outcome[e.outcome];
  EXPECT_EQ(by_outcome["delivered"], 11u);  // 10 alerts and the digest
  EXPECT_EQ(by_outcome["deferred to digest"], 41u);  // 40 alerts and the storm notice
  EXPECT_EQ(by_outcome["grouped"], 10u);
  for (auto& [key, n] : per_window_and_recipient(ch->sent()))
    EXPECT_LE(n, 10u) << key.second;
}

TEST_F(mail_budget_test, other_channels_are_not_budgeted) {
  auto ch = std::make_shared<scripted_channel>("webhook", 0);
  spawn({ch}, mail_opts());
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 15; ++id) {
    auto in = intent(id, "webhook");
    in.notify = "victim@example.com";
    xs.push_back(in);
  }
  dispatch(xs);
  EXPECT_EQ(ch->calls(), 15u);
  EXPECT_EQ(stats().mail_deferred, 0u);
}

// The production path: deliveries on the dispatcher's pool threads, results
// sent back as messages. Needs a real (threaded) actor system, so it waits for
// the outcome with a bounded poll instead of virtual time.

/// Blocks each delivery briefly and records the most deliveries of one intent
/// that ever ran at the same time.
class slow_channel final : public alert_channel {
 public:
  explicit slow_channel(int failures) : failures_(failures) {}
  std::string_view name() const override { return "slow"; }
  delivery_result deliver(const alert_intent& intent) override {
    int now_running = ++running_[intent.id % 8];
    int seen = max_same_.load();
    while (now_running > seen && !max_same_.compare_exchange_weak(seen, now_running)) {
    }
    std::this_thread::sleep_for(5ms);  // a slow receiver, not a wait for a deadline
    --running_[intent.id % 8];
    if (calls_.fetch_add(1) < failures_)
      return {false, true, "slow failure"};
    return {true, false, {}};
  }
  int max_same() const { return max_same_.load(); }
  int calls() const { return calls_.load(); }

 private:
  int failures_;
  std::atomic<int> running_[8] = {};
  std::atomic<int> max_same_{0};
  std::atomic<int> calls_{0};
};

TEST(dispatcher_pool, delivers_on_pool_threads) {
  temp_store store;
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};
  std::atomic<std::uint64_t> log_seq{0};
  auto ch = std::make_shared<slow_channel>(3);
  dispatcher_env env;
  env.db = store.db.get();
  env.committer = store.committer.get();
  env.channels = {ch};
  env.wall_now = [] { return unix_ms{1700000000000}; };
  env.log_seq = &log_seq;
  env.opts.retry_initial = 1ms;
  env.opts.retry_max = 5ms;
  env.opts.pool_threads = 3;
  auto d = spawn_dispatcher(sys, std::move(env));
  std::vector<alert_intent> xs;
  for (std::uint64_t id = 1; id <= 6; ++id) {
    alert_intent in;
    in.id = id;
    in.channel = "slow";
    in.created_ms = 1700000000000;
    store.enqueue(in);
    xs.push_back(in);
  }
  caf::scoped_actor self{sys};
  self->send(d, dispatch_atom::value, xs);
  self->send(d, dispatch_atom::value, xs);  // duplicates must not run twice
  dispatcher_stats s;
  for (int i = 0; i < 500; ++i) {
    self->request(d, 1s, stats_atom::value)
      .receive([&](dispatcher_stats& x) { s = x; }, [](caf::error&) {});
    if (s.delivered == 6)
      break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(s.delivered, 6u);
  EXPECT_EQ(s.failed_attempts, 3u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(ch->calls(), 9);
  EXPECT_EQ(ch->max_same(), 1);
  EXPECT_TRUE(store.outbox().empty());
  EXPECT_EQ(store.log().size(), 6u);
  self->send_exit(d, caf::exit_reason::kill);
}


/// A mail relay that accepts connections and never answers (issue 14 section
/// 4): every SMTP session hangs until the client's timeout.
class tarpit {
 public:
  tarpit() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(listener_, nullptr, nullptr);
        if (c < 0)
          return;  // shut down
        std::lock_guard<std::mutex> guard{mtx_};
        held_.push_back(c);
      }
    });
  }
  ~tarpit() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
    std::lock_guard<std::mutex> guard{mtx_};
    for (int c : held_)
      ::close(c);
  }
  int port() const { return port_; }
  std::size_t held() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return held_.size();
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mtx_;
  std::vector<int> held_;
};

// Issue 14 section 4: with a relay that never answers (4 reservations x 15
// recipients), an unrelated webhook alert waited 28 s: every channel shared 4
// delivery threads. Each channel now has its own.
TEST(dispatcher_pool, hung_mail_relay_does_not_delay_the_webhook) {
  temp_store store;
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};
  std::atomic<std::uint64_t> log_seq{0};
  auto relay = std::make_unique<tarpit>();
  test::http_receiver hook{200};
  smtp_options mail;
  mail.host = "127.0.0.1";
  mail.port = relay->port();
  mail.from = "gotel@example.com";
  mail.timeout = 20000ms;  // each recipient hangs this long: 15 x 20 s per intent
  dispatcher_env env;
  env.db = store.db.get();
  env.committer = store.committer.get();
  env.channels = {make_smtp_channel(mail), make_webhook_channel(hook.url(), 5000ms)};
  env.wall_now = [] { return unix_ms{1700000000000}; };
  env.log_seq = &log_seq;
  env.opts.pool_threads = 4;  // as many as the whole pool had before
  auto d = spawn_dispatcher(sys, std::move(env));
  caf::scoped_actor self{sys};

  std::string fifteen;
  for (int r = 1; r <= 15; ++r)
    fifteen += (r > 1 ? "," : "") + std::string{"r"} + std::to_string(r) + "@example.com";
  std::vector<alert_intent> mails;
  for (std::uint64_t id = 1; id <= 4; ++id) {
    alert_intent in;
    in.id = id;
    in.job_id = id;
    in.dedup_key = std::to_string(id) + "-1700000000000";
    in.channel = "email";
    in.notify = fifteen;
    in.created_ms = 1700000000000;
    store.enqueue(in);
    mails.push_back(in);
  }
  self->send(d, dispatch_atom::value, mails);
  // Wait until every mail delivery hangs in the relay.
  auto until = std::chrono::steady_clock::now() + 30s;
  while (relay->held() < 4 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_GE(relay->held(), 4u) << "the mail deliveries never reached the tarpit";

  alert_intent web;
  web.id = 5;
  web.job_id = 5;
  web.dedup_key = "5-1700000000000";
  web.channel = "webhook";
  web.app = "unrelated";
  web.created_ms = 1700000000000;
  store.enqueue(web);
  auto sent = std::chrono::steady_clock::now();
  self->send(d, dispatch_atom::value, std::vector<alert_intent>{web});
  // Generous for a busy machine, far below one mail timeout (20 s).
  until = sent + 10s;
  while (hook.requests().empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - sent);
  ASSERT_EQ(hook.requests().size(), 1u) << "webhook still waiting after " << waited.count() << " ms";
  EXPECT_NE(hook.requests()[0].body.find("\"app\":\"unrelated\""), std::string::npos);
  // The mail is still stuck: nothing delivered but the webhook.
  dispatcher_stats s;
  self->request(d, 5s, stats_atom::value).receive([&](dispatcher_stats& x) { s = x; },
                                                  [](caf::error&) {});
  EXPECT_LE(s.delivered, 1u);
  EXPECT_EQ(s.pending, 4u);
  // Let the hung sessions fail fast so the dispatcher's pools join quickly.
  relay.reset();
  self->send_exit(d, caf::exit_reason::kill);
}

}  // namespace
}  // namespace gotel
