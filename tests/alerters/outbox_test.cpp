// Tests alerters/dispatcher.* with real channels and faults: a webhook receiver
// that is down at first and up later, an intent pending across a restart
// (store reopen + resume), and an alert storm of 10,000 simultaneous misses
// folded into one grouped notice with every miss in the alert log. Virtual time.

#include "alerters/dispatcher.hpp"

#include "actors/messages.hpp"
#include "tests/actors/actor_fixture.hpp"
#include "tests/alerters/http_receiver.hpp"
#include "tests/caf_fixture.hpp"
#include "tests/temp_store.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using test::http_receiver;

class outbox_test : public ::testing::Test, public test::caf_fixture {
 protected:
  ~outbox_test() override {
    if (dispatcher)
      kill(dispatcher);
  }

  void spawn(std::shared_ptr<alert_channel> ch) {
    dispatcher_env env;
    env.db = store.db.get();
    env.committer = store.committer.get();
    env.channels = {std::move(ch)};
    env.wall_now = [this] { return wall; };
    env.log_seq = &log_seq;
    env.opts.retry_initial = 1000ms;
    env.opts.retry_max = 8000ms;
    env.opts.inline_delivery = true;
    dispatcher = spawn_dispatcher(sys, std::move(env));
    run();
  }

  alert_intent intent(std::uint64_t id) {
    alert_intent in;
    in.id = id;
    in.job_id = 42;
    in.dedup_key = "42:1700000000000";
    in.channel = "webhook";
    in.app = "billing";
    in.component = "nightly";
    in.message = "late";
    in.deadline_ms = 1700000000000;
    in.created_ms = wall;
    in.next_attempt_ms = wall;
    return in;
  }

  /// Persists and dispatches, as a reservation actor does.
  void dispatch(alert_intent in) {
    storage::write_batch b;
    b.put(in);
    ASSERT_TRUE(store.db->write(b, true).ok());
    self->send(dispatcher, dispatch_atom::value, std::vector<alert_intent>{in});
    run();
  }

  void advance(std::chrono::milliseconds d) {
    wall += d.count();
    advance_time(d);
    run();
  }

  test::temp_store store{"gotel-outbox"};
  unix_ms wall = 1700000100000;
  std::atomic<std::uint64_t> log_seq{0};
  caf::actor dispatcher;
};

TEST_F(outbox_test, receiver_down_at_first_gets_the_alert_once_it_is_up) {
  auto port = http_receiver::unused_port();
  spawn(make_webhook_channel("http://127.0.0.1:" + std::to_string(port) + "/hook", 2000ms));
  dispatch(intent(1));
  auto outbox = store.outbox();
  ASSERT_EQ(outbox.size(), 1u) << "a failed attempt keeps the intent";
  EXPECT_EQ(outbox[0].attempts, 1u);
  EXPECT_NE(outbox[0].last_error.find("webhook: "), std::string::npos);

  http_receiver rx{200, port};  // the receiver comes up
  advance(1300ms);              // past the first backoff (1 s +-20%)
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["dedup_key"], "42:1700000000000");
  EXPECT_TRUE(store.outbox().empty());
  auto log = store.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "delivered");
  advance(60s);
  EXPECT_EQ(rx.requests().size(), 1u) << "delivered once";
}

TEST_F(outbox_test, pending_intent_survives_a_restart_and_is_delivered_after_it) {
  auto port = http_receiver::unused_port();
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  spawn(make_webhook_channel(url, 2000ms));
  dispatch(intent(5));
  ASSERT_EQ(store.outbox().size(), 1u);

  // The process dies with the intent pending; storage is reopened.
  kill(dispatcher);
  dispatcher = nullptr;
  store.reopen();
  ASSERT_EQ(store.outbox().size(), 1u);
  EXPECT_EQ(store.outbox()[0].attempts, 1u);

  http_receiver rx{200, port};
  spawn(make_webhook_channel(url, 2000ms));
  self->send(dispatcher, resume_atom::value);
  run();
  advance(1300ms);  // resumes at its stored next_attempt_ms
  ASSERT_EQ(rx.requests().size(), 1u);
  EXPECT_TRUE(store.outbox().empty());
  EXPECT_EQ(store.log()[0].outcome, "delivered");
}

/// 10,000 reservations going late at the same instant.
class storm_test : public test::actor_fixture {
 protected:
  storm_test() {
    // Unsynced writes: the test is about grouping, not fsync (the outbox
    // benchmark measures synced writes).
    stop_actors();
    store.committer = std::make_unique<storage::group_committer>(*store.db, false, true);
    start_actors();
  }
};

TEST_F(storm_test, ten_thousand_misses_make_one_grouped_notice_and_ten_thousand_log_entries) {
  constexpr int jobs = 10000;
  for (int i = 0; i < jobs; ++i) {
    reserve_request req{"app" + std::to_string(i), "c", "o", "ops@example.com", "", 1,
                        time_unit::minutes, {}, {}};
    self->send(coord, reserve_atom::value, req);
  }
  run();
  advance(61s);  // every deadline passes at once
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), storm_threshold) << "only the threshold goes out one by one";
  EXPECT_EQ(store.outbox().size(), 1u) << "the rest wait in one grouped notice";

  advance(10s);  // the storm window ends: the notice is sent
  seen = channel->seen();
  ASSERT_EQ(seen.size(), storm_threshold + 1);
  auto& notice = seen.back();
  EXPECT_TRUE(is_storm_notice(notice));
  EXPECT_EQ(notice.notify, "ops@example.com");
  EXPECT_NE(notice.message.find("9950 more alert(s)"), std::string::npos) << notice.message;
  EXPECT_NE(notice.message.find("(9950 late, 0 repeat, 0 recovered)"), std::string::npos);
  EXPECT_NE(notice.message.find("... and 9930 more."), std::string::npos);
  EXPECT_TRUE(store.outbox().empty());

  // Nothing is dropped from the alert log: one line per miss, plus the notice.
  auto log = store.log(2 * jobs);
  std::set<std::uint64_t> logged_jobs;
  std::size_t grouped = 0, delivered = 0;
  for (auto& e : log) {
    if (e.outcome == "grouped")
      ++grouped;
    if (e.outcome == "delivered")
      ++delivered;
    if (e.job_id != 0)
      logged_jobs.insert(e.job_id);
  }
  EXPECT_EQ(logged_jobs.size(), static_cast<std::size_t>(jobs));
  EXPECT_EQ(grouped, jobs - storm_threshold);
  EXPECT_EQ(delivered, storm_threshold + 1);
  EXPECT_EQ(log.size(), static_cast<std::size_t>(jobs) + 1);
  auto stats = request<dispatcher_stats>(ctx->dispatcher, stats_atom::value);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->grouped, static_cast<std::uint64_t>(jobs - storm_threshold));
  EXPECT_EQ(stats->pending, 0u);

  // After the window, alerts go out one by one again.
  reserve_request late{"after", "c", "o", "ops@example.com", "", 1, time_unit::minutes, {}, {}};
  self->send(coord, reserve_atom::value, late);
  run();
  advance(61s);
  EXPECT_EQ(channel->seen().back().app, "after");
}

}  // namespace
}  // namespace gotel
