// Tests runs, failures, ping uuids and cron schedules in actors/reservation.*
// and actors/coordinator.* on virtual time: start/finish pairing by run id,
// "running too long" alerts, fail and exit-status alerts, restarts, snoozes,
// the uuid index and cron deadlines (docs/pings.md).

#include "actors/errors.hpp"
#include "actors/ping_id.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

using namespace std::chrono_literals;

class signals_test : public test::actor_fixture {
 protected:
  reservation_record reserve_with(const std::string& app, reserve_request req) {
    req.app = app;
    req.component = "job";
    req.owner = "owner-" + app;
    if (req.schedule.empty() && req.frequency == 0) {
      req.frequency = 1;
      req.unit = time_unit::days;  // far enough not to go late in these tests
    }
    return *request<reservation_record>(coord, reserve_atom::value, req);
  }

  reservation_record reserve_runs(const std::string& app, std::int64_t max_duration_ms) {
    reserve_request req;
    req.max_duration_ms = max_duration_ms;
    return reserve_with(app, req);
  }

  caf::expected<reservation_record> signal(const std::string& app, signal_kind kind,
                                           const std::string& run_id = {},
                                           std::int32_t exit_status = -1,
                                           const std::string& notes = {}) {
    signal_request req;
    req.app = app;
    req.component = "job";
    req.kind = kind;
    req.run_id = run_id;
    req.exit_status = exit_status;
    req.notes = notes;
    req.source = "1.2.3.4";
    return call(caf::make_message(signal_atom::value, std::move(req)));
  }

  caf::expected<reservation_record> finish(const std::string& app, const std::string& run_id = {}) {
    return call(caf::make_message(checkin_atom::value,
                                  checkin_request{app, "job", "", "1.2.3.4", run_id, -1}));
  }

  std::vector<checkin_entry> history(const std::string& app) {
    storage::status st;
    return store.db->checkins(reservation_key(app, "job"), 100, st);
  }
};

TEST_F(signals_test, start_then_checkin_measures_the_run) {
  reserve_runs("app", 0);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(1500ms);
  auto rec = finish("app");
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->runs.empty());
  EXPECT_EQ(rec->last_duration_ms, 1500);
  EXPECT_EQ(rec->runs_finished, 1u);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(500ms);
  rec = finish("app");
  EXPECT_EQ(rec->last_duration_ms, 500);
  EXPECT_EQ(rec->total_duration_ms, 2000) << "average = 1 s";
  EXPECT_EQ(rec->runs_finished, 2u);
  EXPECT_EQ(rec->checkins, 2u);
  auto on_disk = stored("app", "job");
  EXPECT_EQ(on_disk->total_duration_ms, 2000);
  // History: newest first, with the signal kinds.
  auto h = history("app");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].kind, "");
  EXPECT_EQ(h[1].kind, "start");
  EXPECT_EQ(h[3].kind, "start");
  EXPECT_TRUE(channel->seen().empty());
}

TEST_F(signals_test, run_ids_pair_overlapping_runs) {
  reserve_runs("app", 0);
  ASSERT_TRUE(signal("app", signal_kind::start, "a"));
  advance(1s);
  ASSERT_TRUE(signal("app", signal_kind::start, "b"));
  advance(1s);
  auto rec = finish("app", "a");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->last_duration_ms, 2000) << "a ran 2 s";
  ASSERT_EQ(rec->runs.size(), 1u);
  EXPECT_EQ(rec->runs[0].id, "b");
  advance(3s);
  rec = finish("app", "b");
  EXPECT_EQ(rec->last_duration_ms, 4000) << "b ran 4 s";
  EXPECT_TRUE(rec->runs.empty());
  // A finish naming no open run is still a checkin, with no duration.
  rec = finish("app", "zzz");
  EXPECT_EQ(rec->runs_finished, 2u);
  EXPECT_EQ(rec->checkins, 3u);
}

TEST_F(signals_test, a_run_longer_than_max_duration_alerts_once_then_resolves) {
  auto job = reserve_runs("app", 2000);
  ASSERT_TRUE(signal("app", signal_kind::start, "r1"));
  auto started = wall_now();
  advance(2s);
  EXPECT_TRUE(channel->seen().empty()) << "exactly max_duration is not too long";
  advance(5ms);
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, alert_kind::late);
  EXPECT_NE(seen[0].message.find("running too long"), std::string::npos) << seen[0].message;
  EXPECT_NE(seen[0].message.find("[r1]"), std::string::npos) << seen[0].message;
  EXPECT_EQ(seen[0].dedup_key, std::to_string(job.job_id) + "-run-" + std::to_string(started)
                                 + "-r1");
  EXPECT_TRUE(stored("app", "job")->runs[0].alerted);
  advance(1h);
  EXPECT_EQ(channel->seen().size(), 1u) << "one alert per run";
  ASSERT_TRUE(finish("app", "r1"));
  run();
  seen = channel->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].kind, alert_kind::recovered);
  EXPECT_EQ(seen[1].dedup_key, seen[0].dedup_key);
  EXPECT_NE(seen[1].message.find("finished after 3602.0s"), std::string::npos) << seen[1].message;
}

TEST_F(signals_test, running_too_long_is_separate_from_did_not_start_on_time) {
  reserve_request req;
  req.frequency = 10;
  req.unit = time_unit::seconds;
  req.max_duration_ms = 3000;
  auto job = reserve_with("app", req);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(3001ms);
  ASSERT_EQ(channel->seen().size(), 1u);
  advance(7s);
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), 2u) << "then late: no checkin within 10 s";
  EXPECT_NE(seen[0].dedup_key, seen[1].dedup_key);
  EXPECT_EQ(seen[1].dedup_key, dedup_key(job.job_id, stored("app", "job")->late_since_ms));
  EXPECT_NE(seen[1].message.find("failed checkin"), std::string::npos);
}

TEST_F(signals_test, run_timers_survive_a_restart_and_count_the_downtime) {
  reserve_runs("app", 60'000);
  ASSERT_TRUE(signal("app", signal_kind::start, "r"));
  advance(20s);
  restart(30s);
  ASSERT_EQ(stored("app", "job")->runs.size(), 1u);
  advance(10s);
  EXPECT_TRUE(channel->seen().empty());
  advance(1s);
  EXPECT_EQ(channel->seen().size(), 1u) << "60 s after the start, downtime included";
  restart(1s);
  advance(1h);
  EXPECT_TRUE(channel->seen().empty()) << "not alerted again after a restart";
  auto rec = finish("app", "r");
  ASSERT_TRUE(rec);
  run();
  EXPECT_EQ(channel->count(alert_kind::recovered), 1u);
}

TEST_F(signals_test, a_new_anonymous_start_restarts_the_anonymous_run) {
  reserve_runs("app", 5000);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(4s);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(4s);
  EXPECT_TRUE(channel->seen().empty());
  EXPECT_EQ(stored("app", "job")->runs.size(), 1u);
}

TEST_F(signals_test, open_runs_are_bounded) {
  reserve_runs("app", 0);
  for (std::size_t i = 0; i < max_open_runs + 4; ++i)
    ASSERT_TRUE(signal("app", signal_kind::start, "r" + std::to_string(i)));
  auto rec = stored("app", "job");
  ASSERT_EQ(rec->runs.size(), max_open_runs);
  EXPECT_EQ(rec->runs.front().id, "r4") << "the oldest were dropped";
}

TEST_F(signals_test, fail_alerts_at_once_and_only_once_until_a_success) {
  auto job = reserve_runs("app", 0);
  ASSERT_TRUE(signal("app", signal_kind::start));
  advance(2s);
  auto failed_at = wall_now();
  auto rec = signal("app", signal_kind::fail, "", 3, "disk full\n");
  ASSERT_TRUE(rec);
  run();
  EXPECT_EQ(rec->last_exit_status, 3);
  EXPECT_EQ(rec->last_duration_ms, 2000) << "a failed run finished too";
  auto seen = channel->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].dedup_key, fail_dedup_key(job.job_id, failed_at));
  EXPECT_NE(seen[0].message.find("failed with exit status 3"), std::string::npos);
  EXPECT_NE(seen[0].message.find("Log: disk full"), std::string::npos) << seen[0].message;
  ASSERT_TRUE(signal("app", signal_kind::fail));
  run();
  EXPECT_EQ(channel->seen().size(), 1u) << "already failing: no second alert";
  EXPECT_EQ(history("app")[0].kind, "fail");
  EXPECT_EQ(history("app")[1].kind, "exit 3");
  ASSERT_TRUE(finish("app"));
  run();
  seen = channel->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].kind, alert_kind::recovered);
  EXPECT_EQ(seen[1].dedup_key, seen[0].dedup_key);
  EXPECT_EQ(stored("app", "job")->failed_since_ms, 0);
  // A new failure is a new incident.
  advance(1s);
  ASSERT_TRUE(signal("app", signal_kind::fail, "", 1));
  run();
  ASSERT_EQ(channel->seen().size(), 3u);
  EXPECT_NE(channel->seen()[2].dedup_key, seen[0].dedup_key);
}

TEST_F(signals_test, a_failure_while_snoozed_alerts_when_the_snooze_ends) {
  reserve_runs("app", 0);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value, snooze_request{"app", "job", 60'000})));
  ASSERT_TRUE(signal("app", signal_kind::fail, "", 2));
  advance(59s);
  EXPECT_TRUE(channel->seen().empty());
  advance(2s);
  ASSERT_EQ(channel->seen().size(), 1u);
  EXPECT_NE(channel->seen()[0].message.find("exit status 2"), std::string::npos);
}

TEST_F(signals_test, a_failure_not_yet_alerted_survives_a_restart) {
  reserve_runs("app", 0);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value, snooze_request{"app", "job", 60'000})));
  ASSERT_TRUE(signal("app", signal_kind::fail));
  restart(2min);
  EXPECT_EQ(channel->seen().size(), 1u) << "the snooze ended while down";
  restart(1s);
  EXPECT_TRUE(channel->seen().empty()) << "alerted once";
}

TEST_F(signals_test, log_signals_only_add_history) {
  reserve_runs("app", 0);
  auto rec = signal("app", signal_kind::log, "", -1, "hello");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->checkins, 0u);
  EXPECT_EQ(rec->last_checkin_ms, 0);
  auto h = history("app");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].kind, "log");
  EXPECT_EQ(h[0].notes, "hello");
}

TEST_F(signals_test, history_seq_continues_after_checkins_stored_before_signals) {
  history_limit = 3;
  stop_actors();
  start_actors();
  reserve_runs("app", 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(finish("app"));
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(signal("app", signal_kind::log, "", -1, "l" + std::to_string(i)));
  auto h = history("app");
  ASSERT_EQ(h.size(), 3u) << "bounded across kinds";
  EXPECT_EQ(h[0].notes, "l2");
  EXPECT_EQ(stored("app", "job")->pings, 6u);
}

TEST_F(signals_test, every_reservation_gets_a_stable_uuid_that_pings_can_use) {
  auto rec = reserve_runs("app", 0);
  EXPECT_TRUE(is_uuid(rec.uuid)) << rec.uuid;
  EXPECT_EQ(rec.uuid[14], '4') << "random, version 4";
  auto other = reserve_runs("other", 0);
  EXPECT_NE(other.uuid, rec.uuid);
  EXPECT_EQ(reserve_runs("app", 0).uuid, rec.uuid) << "an upsert keeps it";
  signal_request ping;
  ping.uuid = lower_uuid(rec.uuid);
  ping.kind = signal_kind::success;
  auto res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->checkins, 1u);
  EXPECT_EQ(res->app, "app");
  // Upper-case uuids name the same reservation.
  for (auto& c : ping.uuid)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ping.kind = signal_kind::start;
  ASSERT_TRUE(call(caf::make_message(signal_atom::value, ping)));
  EXPECT_EQ(stored("app", "job")->runs.size(), 1u);
  // After a restart the index is rebuilt from the records.
  restart(1s);
  ping.kind = signal_kind::success;
  res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->checkins, 2u);
  EXPECT_EQ(res->uuid, rec.uuid);
  // Unknown uuids, and checked-out reservations, are not found.
  ASSERT_TRUE(call(caf::make_message(checkout_atom::value, key_request{"app", "job"})));
  res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_FALSE(res);
  EXPECT_EQ(code_of(res.error()), errc::not_found);
}

TEST_F(signals_test, records_without_a_uuid_get_one_derived_from_their_key) {
  reservation_record old;
  old.job_id = 7;
  old.app = "legacy";
  old.component = "job";
  old.frequency = 1;
  old.unit = time_unit::hours;
  old.created_ms = wall_now();
  storage::write_batch b;
  b.put(reservation_key("legacy", "job"), old);
  ASSERT_TRUE(store.db->write(b, true).ok());
  restart(1s);
  auto expected = key_uuid(reservation_key("legacy", "job"));
  signal_request ping;
  ping.uuid = expected;
  auto res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->uuid, expected);
  EXPECT_EQ(stored("legacy", "job")->uuid, expected) << "persisted with the next change";
}

TEST_F(signals_test, create_makes_an_unknown_reservation_with_healthchecks_defaults) {
  signal_request ping;
  ping.app = "ping-key";
  ping.component = "nightly";
  auto res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_FALSE(res) << "no create flag";
  EXPECT_EQ(code_of(res.error()), errc::not_found);
  ping.create = true;
  ping.kind = signal_kind::start;
  res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_TRUE(res);
  run();
  auto rec = stored("ping-key", "nightly");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->frequency, 1);
  EXPECT_EQ(rec->unit, time_unit::days);
  EXPECT_EQ(rec->grace_ms, 3'600'000);
  EXPECT_EQ(rec->runs.size(), 1u);
  EXPECT_TRUE(is_uuid(rec->uuid));
  ping.kind = signal_kind::success;
  res = call(caf::make_message(signal_atom::value, ping));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->job_id, rec->job_id) << "created once";
  EXPECT_EQ(*request<std::uint64_t>(coord, count_atom::value), 1u);
}

TEST_F(signals_test, cron_deadline_is_the_next_run_plus_grace) {
  // Virtual wall time starts at 2023-11-14 22:13:20 UTC.
  reserve_request req;
  req.schedule = "*/15 * * * *";
  req.grace_ms = 60'000;
  auto job = reserve_with("cron", req);
  EXPECT_EQ(job.frequency, 15) << "typical gap, for display and escalation";
  EXPECT_EQ(job.unit, time_unit::minutes);
  // Next run 22:15:00, deadline 22:16:00: 2 min 40 s away.
  advance(160s);
  EXPECT_TRUE(channel->seen().empty());
  advance(5ms);
  ASSERT_EQ(channel->count(alert_kind::late), 1u);
  auto late = stored("cron", "job")->late_since_ms;
  EXPECT_EQ(late, 1'700'000'160'000);
  EXPECT_EQ(channel->seen()[0].dedup_key, dedup_key(job.job_id, late));
  // A checkin at 22:16:00 expects the 22:30 run, late after 22:31.
  ASSERT_TRUE(finish("cron"));
  run();
  EXPECT_EQ(channel->count(alert_kind::recovered), 1u);
  advance(15min - 5ms);
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
  advance(10ms);
  EXPECT_EQ(channel->count(alert_kind::late), 2u);
}

TEST_F(signals_test, cron_deadlines_survive_restarts_and_ignore_wall_clock_jumps) {
  reserve_request req;
  req.schedule = "0 * * * *";
  req.tz = "Europe/Berlin";
  reserve_with("cron", req);
  ASSERT_TRUE(finish("cron"));  // 22:13:20 UTC; next 23:00 UTC (00:00 Berlin)
  restart(10min);
  wall_jump = 3600 * 1000;  // NTP steps the wall clock an hour ahead
  advance(36min);
  EXPECT_TRUE(channel->seen().empty()) << "a wall jump does not fire a steady deadline";
  advance(41s);
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
}

}  // namespace
}  // namespace gotel
