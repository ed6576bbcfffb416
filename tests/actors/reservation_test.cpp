// Tests actors/reservation.* and actors/coordinator.* on virtual time: deadlines,
// alerts, recovery, repeats, snoozes, checkout, restore and crash restart.

#include "actors/errors.hpp"
#include "storage/utf8.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

using namespace std::chrono_literals;
using test::actor_fixture;

using reservation_test = actor_fixture;

TEST_F(reservation_test, reserve_persists_and_upserts_keeping_owner) {
  auto rec = reserve("Backup", "Nightly", 5, time_unit::minutes, "custom {app}");
  EXPECT_EQ(rec.job_id, 1u);
  EXPECT_EQ(rec.owner, "owner-Backup");
  reserve_request again{"backup ", "NIGHTLY", "someone-else", "b@example.com", "", 2,
                        time_unit::hours};
  auto updated = *request<reservation_record>(coord, reserve_atom::value, again);
  EXPECT_EQ(updated.job_id, 1u) << "identity ignores case and trailing spaces";
  EXPECT_EQ(updated.owner, "owner-Backup") << "a repeat post keeps the owner";
  EXPECT_EQ(updated.notify, "b@example.com");
  EXPECT_EQ(updated.frequency, 2);
  EXPECT_EQ(updated.unit, time_unit::hours);
  auto on_disk = stored("Backup", "Nightly");
  ASSERT_TRUE(on_disk);
  EXPECT_EQ(on_disk->frequency, 2);
  EXPECT_EQ(on_disk->app, "Backup") << "display name is the first one posted";
  EXPECT_EQ(*request<std::uint64_t>(coord, count_atom::value), 1u);
}

TEST_F(reservation_test, missed_deadline_alerts_once_with_rendered_message) {
  reserve("app", "comp", 10, time_unit::seconds,
          "Job {app}/{component} of {owner} missed ({frequency}) on {srv}");
  advance(10s);
  EXPECT_TRUE(channel->seen().empty()) << "exactly at the deadline is not late yet";
  advance(5ms);
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, alert_kind::late);
  EXPECT_EQ(seen[0].message, "Job app/comp of owner-app missed (10seconds) on 10.0.0.7");
  auto rec = stored("app", "comp");
  ASSERT_TRUE(rec);
  EXPECT_NE(rec->late_since_ms, 0);
  EXPECT_EQ(seen[0].dedup_key, dedup_key(rec->job_id, rec->late_since_ms));
  EXPECT_TRUE(store.outbox().empty()) << "delivered intents leave the outbox";
  advance(1h);
  EXPECT_EQ(channel->seen().size(), 1u) << "no repeat before hours_between_alerts";
}

TEST_F(reservation_test, checkins_in_time_never_alert) {
  reserve("app", "comp", 10, time_unit::seconds);
  for (int i = 0; i < 30; ++i) {
    advance(9s);
    ASSERT_TRUE(checkin("app", "comp"));
  }
  EXPECT_TRUE(channel->seen().empty());
  EXPECT_EQ(stored("app", "comp")->checkins, 30u);
}

TEST_F(reservation_test, checkin_after_late_sends_recovery_with_same_dedup_key) {
  reserve("app", "comp", 1, time_unit::minutes);
  advance(61s);
  ASSERT_EQ(channel->count(alert_kind::late), 1u);
  ASSERT_TRUE(checkin("app", "comp"));
  run();
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].kind, alert_kind::recovered);
  EXPECT_EQ(seen[1].dedup_key, seen[0].dedup_key);
  EXPECT_EQ(stored("app", "comp")->late_since_ms, 0);
  // Late again: a new incident with a new key, alerted at once (repeat timer reset).
  advance(61s);
  seen = channel->seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].kind, alert_kind::late);
  EXPECT_NE(seen[2].dedup_key, seen[0].dedup_key);
}

TEST_F(reservation_test, repeats_every_hours_between_alerts_while_late) {
  reserve("app", "comp", 1, time_unit::minutes);
  advance(61s);
  advance(6h - 1s);
  EXPECT_EQ(channel->count(alert_kind::repeat), 0u);
  advance(2s);
  EXPECT_EQ(channel->count(alert_kind::repeat), 1u);
  advance(6h);
  EXPECT_EQ(channel->count(alert_kind::repeat), 2u);
  EXPECT_EQ(stored("app", "comp")->alerts, 3u);
}

TEST_F(reservation_test, snooze_suppresses_until_its_end_and_survives_checkins) {
  reserve("app", "comp", 1, time_unit::minutes);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"app", "comp", 3600'000})));
  ASSERT_TRUE(checkin("app", "comp"));
  advance(59min);
  EXPECT_TRUE(channel->seen().empty()) << "snoozed: late but silent";
  EXPECT_TRUE(stored("app", "comp")->snooze_until_ms > wall_now());
  advance(1min + 1s);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "still late when the snooze ends";
}

TEST_F(reservation_test, cancelling_a_snooze_alerts_at_once_if_late) {
  reserve("app", "comp", 1, time_unit::minutes);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"app", "comp", 3600'000})));
  advance(5min);
  EXPECT_TRUE(channel->seen().empty());
  ASSERT_TRUE(call(caf::make_message(unsnooze_atom::value, key_request{"app", "comp"})));
  run();
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
}

TEST_F(reservation_test, checkout_removes_everything_and_unknown_jobs_are_not_found) {
  reserve("app", "comp", 1, time_unit::minutes);
  ASSERT_TRUE(checkin("app", "comp"));
  ASSERT_TRUE(call(caf::make_message(checkout_atom::value, key_request{"APP", "comp "})));
  EXPECT_FALSE(stored("app", "comp"));
  storage::status st;
  EXPECT_TRUE(store.db->checkins(reservation_key("app", "comp"), 10, st).empty());
  auto res = checkin("app", "comp");
  ASSERT_FALSE(res);
  EXPECT_EQ(code_of(res.error()), errc::not_found);
  EXPECT_EQ(message_of(res.error()), "no reservation app/comp");
  advance(2min);
  EXPECT_TRUE(channel->seen().empty()) << "a checked-out job never alerts";
  // The same key can be reserved again, as a new job.
  auto again = reserve("app", "comp", 1, time_unit::minutes);
  EXPECT_EQ(again.job_id, 2u);
}

TEST_F(reservation_test, history_is_bounded_per_reservation) {
  history_limit = 3;
  stop_actors();
  start_actors();
  reserve("app", "comp", 1, time_unit::minutes);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(checkin("app", "comp"));
  storage::status st;
  auto hist = store.db->checkins(reservation_key("app", "comp"), 100, st);
  EXPECT_EQ(hist.size(), 3u);
  EXPECT_EQ(stored("app", "comp")->checkins, 5u);
}

TEST_F(reservation_test, restart_restores_state_and_alerts_deadlines_missed_while_down) {
  reserve("down", "job", 1, time_unit::minutes);
  reserve("fine", "job", 1, time_unit::hours);
  ASSERT_TRUE(checkin("down", "job"));
  ASSERT_TRUE(checkin("down", "job"));
  EXPECT_EQ(restart(2min), 2u);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "alerted right after start";
  EXPECT_EQ(channel->seen()[0].app, "down");
  auto rec = stored("down", "job");
  EXPECT_EQ(rec->checkins, 2u);
  // New reservations do not reuse job ids.
  EXPECT_EQ(reserve("new", "job", 1, time_unit::minutes).job_id, 3u);
}

TEST_F(reservation_test, restart_does_not_realert_an_incident_already_alerted) {
  reserve("app", "comp", 1, time_unit::minutes);
  advance(61s);
  ASSERT_EQ(channel->seen().size(), 1u);
  restart(10min);
  EXPECT_TRUE(channel->seen().empty()) << "fresh channel after restart; no duplicate";
  advance(6h);
  EXPECT_EQ(channel->count(alert_kind::repeat), 1u) << "the repeat timer survives restarts";
}

TEST_F(reservation_test, wall_clock_jumps_neither_fire_nor_skip_alerts) {
  reserve("app", "comp", 10, time_unit::minutes);
  wall_jump = 24 * 3600 * 1000;  // NTP steps the wall clock a day ahead
  advance(1s);
  ASSERT_TRUE(checkin("app", "comp"));
  advance(9min);
  EXPECT_TRUE(channel->seen().empty()) << "a forward jump fires nothing";
  wall_jump = -24 * 3600 * 1000;  // and now a day back
  advance(1min + 1s);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "a backward jump skips nothing";
}

TEST_F(reservation_test, crashed_reservation_actor_is_restarted_from_storage) {
  reserve("app", "comp", 1, time_unit::minutes);
  ASSERT_TRUE(checkin("app", "comp"));
  auto before = *request<reservation_record>(coord, get_atom::value, key_request{"app", "comp"});
  // Find the actor through the coordinator's state and kill it, as a crash would.
  auto& registry =
    static_cast<coordinator_pointer>(caf::actor_cast<caf::abstract_actor*>(coord))->state.registry;
  auto victim = registry.begin()->second.actor;
  self->send_exit(victim, caf::exit_reason::kill);
  run();
  auto after = *request<reservation_record>(coord, get_atom::value, key_request{"app", "comp"});
  EXPECT_EQ(after.checkins, before.checkins);
  EXPECT_NE(registry.begin()->second.actor, victim);
  ASSERT_TRUE(checkin("app", "comp"));
  advance(61s);
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "the restarted actor keeps its deadline";
}

TEST_F(reservation_test, a_stored_record_with_invalid_utf8_restores_checks_in_and_alerts_in_utf8) {
  // What an older GoTel could have stored: names and a template that are not UTF-8.
  reservation_record rec;
  rec.job_id = 1;
  rec.app = "\xFF" "app";
  rec.component = "comp\xC3";
  rec.owner = "Ren\xE9";
  rec.alert_msg = "{app}/{component} late, ask {owner}";
  rec.frequency = 1;
  rec.unit = time_unit::minutes;
  rec.created_ms = wall_now();
  auto key = reservation_key(rec.app, rec.component);
  storage::write_batch batch;
  batch.put(key, rec);
  ASSERT_TRUE(store.db->write(batch, true).ok());
  ASSERT_EQ(restart(1s), 1u);
  ASSERT_TRUE(checkin(rec.app, rec.component)) << "the actor serves its old name";
  advance(61s);
  ASSERT_EQ(channel->count(alert_kind::late), 1u);
  auto message = channel->seen().back().message;
  EXPECT_TRUE(utf8::valid(message)) << message;
  EXPECT_EQ(message, "\xEF\xBF\xBD" "app/comp\xEF\xBF\xBD late, ask Ren\xEF\xBF\xBD");
}

}  // namespace
}  // namespace gotel
