// Tests the per-reservation alerter choice and escalation levels of
// actors/reservation.cpp on virtual time: which channels hear of a miss, when
// an escalation step fires, what a recovery reaches, and that a restart
// neither repeats nor forgets a step.

#include "tests/actors/actor_fixture.hpp"

#include <gtest/gtest.h>

namespace gotel::test {
namespace {

using namespace std::chrono_literals;

class escalation_test : public actor_fixture {
 protected:
  escalation_test() {
    stop_actors();
    email = std::make_shared<recording_channel>("email");
    pager = std::make_shared<recording_channel>("pagerduty");
    extra_channels = {email, pager};
    start_actors();
  }

  reservation_record reserve_with(std::vector<std::string> alerters,
                                  std::vector<escalation_step> escalation) {
    reserve_request req{"app", "job", "owner", "ops@example.com", "", 1, time_unit::minutes,
                        std::move(alerters), std::move(escalation)};
    return *request<reservation_record>(coord, reserve_atom::value, req);
  }

  std::shared_ptr<recording_channel> email, pager;
};

TEST_F(escalation_test, default_alerts_every_configured_channel_at_the_first_miss) {
  reserve_with({}, {});
  advance(60s);
  EXPECT_EQ(channel->seen().size(), 0u);
  advance(1ms);
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
  EXPECT_EQ(email->count(alert_kind::late), 1u);
  EXPECT_EQ(pager->count(alert_kind::late), 1u);
}

TEST_F(escalation_test, named_alerters_only) {
  reserve_with({"email"}, {});
  advance(61s);
  EXPECT_EQ(email->count(alert_kind::late), 1u);
  EXPECT_EQ(pager->seen().size(), 0u);
  EXPECT_EQ(channel->seen().size(), 0u);
  ASSERT_TRUE(checkin("app", "job"));
  run();
  EXPECT_EQ(email->count(alert_kind::recovered), 1u);
  EXPECT_EQ(pager->seen().size(), 0u);
}

TEST_F(escalation_test, pagerduty_after_three_missed_periods_then_both_recover) {
  reserve_with({}, {{0, {"email"}}, {3, {"pagerduty"}}});
  advance(61s);  // deadline at 60 s missed
  EXPECT_EQ(email->count(alert_kind::late), 1u);
  EXPECT_EQ(pager->seen().size(), 0u);
  advance(179s);  // now 240 s = 60 s + 3 periods: not yet past
  EXPECT_EQ(pager->seen().size(), 0u);
  advance(1ms);
  ASSERT_EQ(pager->count(alert_kind::late), 1u);
  EXPECT_EQ(pager->seen()[0].dedup_key, email->seen()[0].dedup_key);
  EXPECT_EQ(email->seen().size(), 1u) << "an escalation step does not re-alert earlier channels";
  EXPECT_EQ(stored("app", "job")->escalation_level, 2u);

  ASSERT_TRUE(checkin("app", "job"));
  run();
  EXPECT_EQ(email->count(alert_kind::recovered), 1u);
  EXPECT_EQ(pager->count(alert_kind::recovered), 1u);
  EXPECT_EQ(stored("app", "job")->escalation_level, 0u);
}

TEST_F(escalation_test, recovery_before_the_step_reaches_only_who_was_alerted) {
  reserve_with({}, {{0, {"email"}}, {3, {"pagerduty"}}});
  advance(61s);
  ASSERT_TRUE(checkin("app", "job"));
  run();
  EXPECT_EQ(email->count(alert_kind::recovered), 1u);
  EXPECT_EQ(pager->seen().size(), 0u);
  // The old step (due at 240 s) must not fire after the recovery.
  for (int i = 0; i < 5; ++i) {
    advance(50s);
    ASSERT_TRUE(checkin("app", "job"));
  }
  run();
  EXPECT_EQ(pager->seen().size(), 0u);
}

TEST_F(escalation_test, a_step_survives_a_restart_and_is_not_repeated) {
  reserve_with({}, {{0, {"email"}}, {3, {"pagerduty"}}});
  advance(61s);
  ASSERT_EQ(email->seen().size(), 1u);
  // Down for 5 minutes: the step came due meanwhile and fires right after start.
  ASSERT_EQ(restart(5min), 1u);
  run();
  EXPECT_EQ(pager->count(alert_kind::late), 1u);
  EXPECT_EQ(email->seen().size(), 1u) << "the first step was already sent before the restart";
  // And another restart sends nothing new.
  ASSERT_EQ(restart(1s), 1u);
  run();
  EXPECT_EQ(pager->seen().size(), 1u);
  EXPECT_EQ(email->seen().size(), 1u);
}

TEST_F(escalation_test, no_immediate_step_means_no_alert_at_the_miss) {
  reserve_with({}, {{2, {"pagerduty"}}});
  advance(61s);
  EXPECT_EQ(email->seen().size() + pager->seen().size() + channel->seen().size(), 0u);
  EXPECT_NE(stored("app", "job")->late_since_ms, 0) << "the job is late all the same";
  advance(2min);
  EXPECT_EQ(pager->count(alert_kind::late), 1u);
  EXPECT_EQ(email->seen().size(), 0u);
}

TEST_F(escalation_test, repeats_go_to_every_channel_alerted_so_far) {
  policy.repeat_ms = 10 * 60 * 1000;
  stop_actors();
  start_actors();
  reserve_with({}, {{0, {"email"}}, {3, {"pagerduty"}}});
  advance(61s);
  advance(3min);
  ASSERT_EQ(pager->count(alert_kind::late), 1u);
  advance(10min);
  EXPECT_EQ(email->count(alert_kind::repeat), 1u);
  EXPECT_EQ(pager->count(alert_kind::repeat), 1u);
}

}  // namespace
}  // namespace gotel::test
