// Tests virtual reservation actors (actors/coordinator.hpp, docs/scale.md) on
// virtual time: an idle actor is passivated and activated again when a message
// or its deadline needs it, and nothing a user would notice changes across
// passivate/activate cycles: deadlines, snoozes, open runs, escalation levels
// and alert state survive, and a message that races a passivation is neither
// lost nor applied twice.

#include "tests/actors/actor_fixture.hpp"

#include <gtest/gtest.h>

namespace gotel::test {
namespace {

using namespace std::chrono_literals;

class passivation_test : public actor_fixture {
 protected:
  passivation_test() {
    stop_actors();
    passivate_after = 10s;
    email = std::make_shared<recording_channel>("email");
    pager = std::make_shared<recording_channel>("pagerduty");
    extra_channels = {email, pager};
    start_actors();
  }

  coordinator_state& coordinator_state_of() {
    return static_cast<coordinator_pointer>(caf::actor_cast<caf::abstract_actor*>(coord))->state;
  }

  /// Whether (app, component)'s actor is alive (activated) now.
  bool active(const std::string& app, const std::string& comp) {
    auto& reg = coordinator_state_of().registry;
    auto i = reg.find(reservation_key(app, comp));
    return i != reg.end() && i->second.actor != nullptr;
  }

  reservation_record reserve_req(reserve_request req) {
    return *request<reservation_record>(coord, reserve_atom::value, std::move(req));
  }

  caf::expected<reservation_record> signal(const std::string& app, const std::string& comp,
                                           signal_kind kind, std::string run_id = {}) {
    signal_request req;
    req.app = app;
    req.component = comp;
    req.kind = kind;
    req.run_id = std::move(run_id);
    return call(caf::make_message(signal_atom::value, std::move(req)));
  }

  std::shared_ptr<recording_channel> email, pager;
};

TEST_F(passivation_test, an_idle_actor_is_passivated_and_its_deadline_still_alerts_once) {
  reserve("app", "job", 1, time_unit::minutes);
  EXPECT_TRUE(active("app", "job"));
  advance(11s);
  EXPECT_FALSE(active("app", "job")) << "idle for passivate_after: passivated";
  EXPECT_EQ(ctx->active_reservations.load(), 0u);
  advance(49s);  // deadline at 60 s, not missed yet
  EXPECT_EQ(channel->seen().size(), 0u);
  EXPECT_FALSE(active("app", "job")) << "a deadline not yet due activates nothing";
  advance(1ms);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "the deadline fired from the dormant entry";
  advance(20s);
  EXPECT_FALSE(active("app", "job")) << "passivated again after alerting";
  advance(1h);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "no repeat before hours_between_alerts";
  auto recovered = checkin("app", "job");
  ASSERT_TRUE(recovered);
  EXPECT_EQ(recovered->checkins, 1u);
  run();
  ASSERT_EQ(channel->count(alert_kind::recovered), 1u);
  auto seen = channel->seen();
  EXPECT_EQ(seen.front().dedup_key, seen.back().dedup_key)
    << "the recovery resolves the incident the passivated actor raised";
}

TEST_F(passivation_test, reads_of_a_dormant_reservation_do_not_activate_it) {
  reserve("app", "job", 1, time_unit::hours);
  ASSERT_TRUE(checkin("app", "job"));
  advance(11s);
  ASSERT_FALSE(active("app", "job"));
  auto rec = request<reservation_record>(coord, get_atom::value, key_request{"app", "job"});
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->checkins, 1u);
  EXPECT_FALSE(active("app", "job"));
}

TEST_F(passivation_test, escalation_levels_survive_passivation) {
  reserve_request req{"app", "job", "owner", "ops@example.com", "", 1, time_unit::minutes,
                      {}, {{0, {"email"}}, {3, {"pagerduty"}}}};
  reserve_req(req);
  advance(61s);
  EXPECT_EQ(email->count(alert_kind::late), 1u);
  EXPECT_EQ(pager->seen().size(), 0u);
  for (int i = 0; i < 17; ++i)  // 170 s in passivated steps: not yet 3 periods past
    advance(10s);
  EXPECT_EQ(pager->seen().size(), 0u);
  advance(11s);  // 60 s + 3 periods passed (241 s)
  EXPECT_EQ(pager->count(alert_kind::late), 1u) << "the second step fires once";
  EXPECT_EQ(email->count(alert_kind::late), 1u) << "the first step is not fired again";
  advance(30s);
  EXPECT_FALSE(active("app", "job"));
  ASSERT_TRUE(checkin("app", "job"));
  run();
  EXPECT_EQ(email->count(alert_kind::recovered), 1u);
  EXPECT_EQ(pager->count(alert_kind::recovered), 1u);
}

TEST_F(passivation_test, a_snooze_survives_passivation) {
  reserve("app", "job", 1, time_unit::minutes);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"app", "job", 10 * 60 * 1000})));
  advance(11s);
  ASSERT_FALSE(active("app", "job"));
  advance(9min);  // the deadline (60 s) passed while snoozed
  EXPECT_EQ(channel->seen().size(), 0u);
  advance(1min);  // the snooze ends: late at once
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
}

TEST_F(passivation_test, an_open_run_survives_passivation_and_alerts_when_too_long) {
  reserve_request req{"app", "job", "owner", "ops@example.com", "", 1, time_unit::hours};
  req.max_duration_ms = 60 * 1000;
  reserve_req(req);
  ASSERT_TRUE(signal("app", "job", signal_kind::start, "r1"));
  advance(11s);
  ASSERT_FALSE(active("app", "job"));
  advance(49s);
  EXPECT_EQ(channel->seen().size(), 0u);
  advance(1s);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "running too long, from a dormant entry";
  advance(11s);
  ASSERT_FALSE(active("app", "job"));
  auto done = checkin("app", "job");  // ends the newest run
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->runs.empty());
  run();
  EXPECT_EQ(channel->count(alert_kind::recovered), 1u);
}

// The handshake: a checkin sent while the actor is deciding to passivate
// (its idle check already queued) is applied exactly once, for every order
// in which the coordinator and the actor may run.
TEST_F(passivation_test, a_message_racing_a_passivation_is_neither_lost_nor_applied_twice) {
  for (int steps = 0; steps < 8; ++steps) {
    auto comp = "job" + std::to_string(steps);
    reserve("app", comp, 1, time_unit::hours);
    advance_time(10s);  // the idle check is queued, not yet handled
    for (int k = 0; k < steps; ++k)
      run_once();
    auto hdl = caf::actor_cast<caf::actor>(coord);
    auto answer = self->request(hdl, caf::infinite, checkin_atom::value,
                                checkin_request{"app", comp, "racing", "1.2.3.4"});
    run();
    std::optional<reservation_record> rec;
    answer.receive([&](reservation_record& r) { rec = std::move(r); },
                   [&](caf::error& e) { FAIL() << "steps " << steps << ": " << to_string(e); });
    ASSERT_TRUE(rec) << "steps " << steps;
    EXPECT_EQ(rec->checkins, 1u) << "steps " << steps;
    advance(11s);  // passivated now, whatever happened
    EXPECT_FALSE(active("app", comp)) << "steps " << steps;
    auto again = checkin("app", comp);
    ASSERT_TRUE(again) << "steps " << steps;
    EXPECT_EQ(again->checkins, 2u) << "steps " << steps << ": the racing checkin counted once";
    EXPECT_EQ(stored("app", comp)->checkins, 2u) << "steps " << steps;
  }
  EXPECT_EQ(channel->seen().size(), 0u);
}

TEST_F(passivation_test, restore_spawns_no_actor_and_deadlines_missed_while_down_alert) {
  reserve("app", "a", 1, time_unit::minutes);
  reserve("app", "b", 1, time_unit::hours);
  EXPECT_EQ(restart(2min), 2u);
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
  EXPECT_EQ(coordinator_state_of().active, 0u)
    << "the deadline missed while down alerted from the dormant entry (batch path)";
  EXPECT_NE(stored("app", "a")->late_since_ms, 0);
  EXPECT_EQ(stored("app", "b")->late_since_ms, 0);
  EXPECT_EQ(*request<std::uint64_t>(coord, arm_atom::value), 2u)
    << "one deadline per reservation";
}

TEST_F(passivation_test, deadlines_due_together_alert_in_one_batch_without_activation) {
  for (int i = 0; i < 50; ++i)
    reserve("app", "job" + std::to_string(i), 1, time_unit::minutes);
  advance(11s);
  ASSERT_EQ(coordinator_state_of().active, 0u);
  auto batches = coordinator_state_of().next_judged;
  advance(50s);  // every deadline (60 s) passed in the same tick
  EXPECT_EQ(channel->count(alert_kind::late), 50u);
  EXPECT_EQ(coordinator_state_of().active, 0u) << "a plain late activates no actor";
  EXPECT_EQ(coordinator_state_of().next_judged - batches, 1u)
    << "50 records and 50 intents in one write batch";
  EXPECT_TRUE(coordinator_state_of().unwritten.empty()) << "the batch is durable";
  for (int i = 0; i < 50; ++i) {
    auto rec = stored("app", "job" + std::to_string(i));
    EXPECT_NE(rec->late_since_ms, 0);
    EXPECT_EQ(rec->alerts, 1u);
  }
  advance(1h);
  EXPECT_EQ(channel->count(alert_kind::late), 50u) << "judged again later, alerted once";
  ASSERT_TRUE(checkin("app", "job7"));
  run();
  EXPECT_EQ(channel->count(alert_kind::recovered), 1u)
    << "the activated actor knows the batch path's alert";
}

TEST_F(passivation_test, escalation_and_repeats_run_on_dormant_entries) {
  reserve_request req{"app", "job", "owner", "ops@example.com", "", 1, time_unit::minutes,
                      {}, {{0, {"email"}}, {3, {"pagerduty"}}}};
  reserve_req(req);
  advance(11s);
  ASSERT_FALSE(active("app", "job"));
  advance(50s);
  EXPECT_EQ(email->count(alert_kind::late), 1u);
  advance(3min);
  EXPECT_EQ(pager->count(alert_kind::late), 1u) << "the second step, from the dormant entry";
  EXPECT_EQ(stored("app", "job")->escalation_level, 2u);
  advance(6h);  // alerts.hours_between_alerts (6 h by default)
  EXPECT_EQ(email->count(alert_kind::repeat), 1u);
  EXPECT_EQ(pager->count(alert_kind::repeat), 1u);
  EXPECT_FALSE(active("app", "job")) << "no activation for any of it";
}

TEST_F(passivation_test, checkin_load_keeps_one_deadline_per_reservation) {
  for (int i = 0; i < 20; ++i)
    reserve("app", "job" + std::to_string(i), 1, time_unit::minutes);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(checkin("app", "job" + std::to_string(i)));
    advance(7s);
  }
  EXPECT_EQ(*request<std::uint64_t>(coord, arm_atom::value), 20u);
  EXPECT_EQ(channel->seen().size(), 0u);
}

}  // namespace
}  // namespace gotel::test
