// Tests actors/coordinator.*'s per-app reservation limit
// (server.max_reservations_per_app, docs/security.md) on virtual time: what
// counts as a new reservation, what frees a slot, restores and replicated
// changes.

#include "actors/errors.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

using namespace std::chrono_literals;

class coordinator_test : public test::actor_fixture {
 protected:
  coordinator_test() {
    max_reservations_per_app = 2;
    stop_actors();
    start_actors();
  }

  caf::expected<reservation_record> try_reserve(const std::string& app,
                                                const std::string& component,
                                                std::int64_t frequency = 1) {
    reserve_request req{app, component, "owner", "", "", frequency, time_unit::hours};
    return call(caf::make_message(reserve_atom::value, std::move(req)));
  }

  caf::expected<reservation_record> checkout(const std::string& app, const std::string& comp) {
    return call(caf::make_message(checkout_atom::value, key_request{app, comp}));
  }

  caf::expected<reservation_record> ping_create(const std::string& app, const std::string& comp) {
    signal_request ping;
    ping.app = app;
    ping.component = comp;
    ping.create = true;
    return call(caf::make_message(signal_atom::value, std::move(ping)));
  }

  std::uint64_t count() { return *request<std::uint64_t>(coord, count_atom::value); }

  static void expect_limit(const caf::expected<reservation_record>& res) {
    ASSERT_FALSE(res);
    EXPECT_EQ(code_of(res.error()), errc::limit_reached);
    EXPECT_NE(message_of(res.error()).find("server.max_reservations_per_app"), std::string::npos)
      << message_of(res.error());
  }
};

TEST_F(coordinator_test, a_reservation_beyond_the_app_limit_is_refused_and_creates_nothing) {
  ASSERT_TRUE(try_reserve("etl", "a"));
  ASSERT_TRUE(try_reserve("ETL ", "b")) << "the app's identity ignores case and trailing spaces";
  expect_limit(try_reserve("etl", "c"));
  expect_limit(ping_create("Etl", "d"));
  run();
  EXPECT_FALSE(stored("etl", "c"));
  EXPECT_FALSE(stored("etl", "d"));
  EXPECT_EQ(count(), 2u);
  EXPECT_TRUE(try_reserve("billing", "a")) << "the limit is per app";
}

TEST_F(coordinator_test, updates_and_signals_to_existing_reservations_work_at_the_limit) {
  ASSERT_TRUE(try_reserve("etl", "a"));
  ASSERT_TRUE(try_reserve("etl", "b"));
  auto updated = try_reserve("etl", "a", 5);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->frequency, 5);
  EXPECT_TRUE(ping_create("etl", "b")) << "create=1 on an existing one is a plain ping";
  EXPECT_TRUE(checkin("etl", "a"));
}

TEST_F(coordinator_test, a_checkout_frees_a_slot) {
  ASSERT_TRUE(try_reserve("etl", "a"));
  ASSERT_TRUE(try_reserve("etl", "b"));
  ASSERT_TRUE(checkout("etl", "a"));
  EXPECT_TRUE(try_reserve("etl", "c"));
  expect_limit(try_reserve("etl", "d"));
}

TEST_F(coordinator_test, the_count_is_rebuilt_by_a_restore) {
  ASSERT_TRUE(try_reserve("etl", "a"));
  ASSERT_TRUE(try_reserve("etl", "b"));
  run();
  EXPECT_EQ(restart(1s), 2u);
  expect_limit(try_reserve("etl", "c"));
  ASSERT_TRUE(checkout("etl", "b"));
  EXPECT_TRUE(try_reserve("etl", "c"));
}

TEST_F(coordinator_test, replicated_reservations_count_but_are_never_refused) {
  // A worker mirrors what its coordinator accepted, even beyond its own
  // setting.
  std::uint64_t job_id = 100;
  for (auto comp : {"a", "b", "c"}) {
    repl_change ch;
    ch.key = reservation_key("etl", comp);
    ch.rec.job_id = job_id++;
    ch.rec.app = "etl";
    ch.rec.component = comp;
    ch.rec.frequency = 1;
    ch.rec.unit = time_unit::hours;
    ch.rec.revision = 1;
    ch.rec.created_ms = wall_now();  // as the coordinator created it: not late
    ASSERT_TRUE(call(caf::make_message(apply_atom::value, std::move(ch)))) << comp;
  }
  EXPECT_EQ(count(), 3u);
  expect_limit(try_reserve("etl", "d"));
  repl_change gone;
  gone.key = reservation_key("etl", "a");
  gone.deleted = true;
  ASSERT_TRUE(call(caf::make_message(apply_atom::value, std::move(gone))));
  ASSERT_TRUE(checkout("etl", "b"));
  EXPECT_TRUE(try_reserve("etl", "d")) << "one left: a slot is free";
}

TEST_F(coordinator_test, a_replicated_change_already_held_is_still_answered) {
  // A worker that caught up before the coordinator's replication arrived
  // holds the revision already; the replication must still be confirmed, or
  // the coordinator answers its client 503 for a write every node has. Also
  // when the record is late on arrival (its placeholder alerts, bumping the
  // local revision before the change is applied).
  for (unix_ms created : {wall_now(), unix_ms{0}}) {
    repl_change ch;
    ch.key = reservation_key("etl", created == 0 ? "late" : "fresh");
    ch.rec.job_id = 100;
    ch.rec.app = "etl";
    ch.rec.component = created == 0 ? "late" : "fresh";
    ch.rec.frequency = 1;
    ch.rec.unit = time_unit::hours;
    ch.rec.revision = 1;
    ch.rec.created_ms = created;
    ASSERT_TRUE(call(caf::make_message(apply_atom::value, ch))) << ch.key;
    auto again = call(caf::make_message(apply_atom::value, ch));
    ASSERT_TRUE(again) << ch.key;
    EXPECT_GE(again->revision, 1u);
  }
}

TEST_F(coordinator_test, zero_means_no_limit) {
  max_reservations_per_app = 0;
  stop_actors();
  start_actors();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(try_reserve("etl", "c" + std::to_string(i)));
}

TEST_F(coordinator_test, look_alike_names_are_refused_and_create_nothing) {
  max_reservations_per_app = 0;
  stop_actors();
  start_actors();
  ASSERT_TRUE(try_reserve("one", "job"));
  for (std::string app : {" one", "\tone", "one\xE2\x80\x8B", "\xEF\xBD\x8F\xEF\xBD\x8E\xEF\xBD\x85",
                          "o\xC2\xADne", "one\t", "\xEF\xBB\xBFone"}) {
    auto res = try_reserve(app, "job");
    ASSERT_FALSE(res) << app;
    EXPECT_EQ(code_of(res.error()), errc::invalid_argument) << app;
    auto ping = ping_create(app, "job");
    ASSERT_FALSE(ping) << app;
    EXPECT_EQ(code_of(ping.error()), errc::invalid_argument) << app;
  }
  auto comp = try_reserve("one", "job\xE2\x80\x8D");
  ASSERT_FALSE(comp);
  EXPECT_NE(message_of(comp.error()).find("invisible"), std::string::npos);
  EXPECT_EQ(count(), 1u);
  EXPECT_TRUE(try_reserve("one ", "job")) << "trailing spaces: the same reservation";
  EXPECT_TRUE(try_reserve("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC", "job")) << "other non-ASCII is fine";
  EXPECT_EQ(count(), 2u);
}

TEST_F(coordinator_test, max_reservations_caps_every_app_together) {
  max_reservations_per_app = 0;
  max_reservations = 3;
  stop_actors();
  start_actors();
  ASSERT_TRUE(try_reserve("a", "1"));
  ASSERT_TRUE(try_reserve("b", "1"));
  ASSERT_TRUE(try_reserve("c", "1"));
  for (auto res : {try_reserve("d", "1"), ping_create("e", "1")}) {
    ASSERT_FALSE(res);
    EXPECT_EQ(code_of(res.error()), errc::limit_reached);
    EXPECT_NE(message_of(res.error()).find("server.max_reservations "), std::string::npos)
      << message_of(res.error());
  }
  EXPECT_EQ(count(), 3u);
  EXPECT_TRUE(try_reserve("a", "1", 2)) << "updating one is not creating one";
  ASSERT_TRUE(checkout("b", "1"));
  EXPECT_TRUE(try_reserve("d", "1")) << "a checkout frees a slot";
}

}  // namespace
}  // namespace gotel
