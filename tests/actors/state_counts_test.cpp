// Tests actors/state_counts.*: the pure counting rule, and the counts a node's
// reservation actors keep in node_context on virtual time (issue 15 §7):
// every change moves them, a snooze ends by time alone, restore and a crashed
// actor's restart count each reservation once.

#include "actors/state_counts.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

using namespace std::chrono_literals;

constexpr unix_ms t0 = 1'700'000'000'000;

count_entry entry(bool flagged, unix_ms snooze = 0, bool failed = false, bool running = false) {
  count_entry e;
  e.flagged = flagged || failed;
  e.failed = failed;
  e.running = running;
  e.snooze_until_ms = snooze;
  return e;
}

void expect_totals(const state_totals& t, std::uint64_t total, std::uint64_t ok,
                   std::uint64_t late, std::uint64_t paused) {
  EXPECT_EQ(t.total, total);
  EXPECT_EQ(t.ok, ok);
  EXPECT_EQ(t.late, late);
  EXPECT_EQ(t.paused, paused);
}

TEST(state_counts_test, entries_move_counts_between_states) {
  state_counters c;
  c.adjust(std::nullopt, entry(false), t0);
  c.adjust(std::nullopt, entry(false), t0);
  c.adjust(std::nullopt, entry(true), t0);
  expect_totals(c.read(t0), 3, 2, 1, 0);
  c.adjust(entry(false), entry(true), t0);  // a second one goes late
  expect_totals(c.read(t0), 3, 1, 2, 0);
  c.adjust(entry(true), entry(false), t0);  // one recovers
  c.adjust(entry(false), std::nullopt, t0); // one is checked out
  expect_totals(c.read(t0), 2, 1, 1, 0);
}

TEST(state_counts_test, failed_and_running_are_counted_beside_the_state) {
  state_counters c;
  c.adjust(std::nullopt, entry(false, 0, true, true), t0);
  c.adjust(std::nullopt, entry(false, 0, false, true), t0);
  auto t = c.read(t0);
  EXPECT_EQ(t.failed, 1u);
  EXPECT_EQ(t.running, 2u);
  EXPECT_EQ(t.late, 1u) << "a failure is late (failing) in listings";
  c.adjust(entry(false, 0, true, true), entry(false, 0, false, false), t0);
  t = c.read(t0);
  EXPECT_EQ(t.failed, 0u);
  EXPECT_EQ(t.running, 1u);
  EXPECT_EQ(t.late, 0u);
}

TEST(state_counts_test, a_snooze_ends_by_time_without_any_change) {
  state_counters c;
  c.adjust(std::nullopt, entry(false, t0 + 1000), t0);  // snoozed, on time
  c.adjust(std::nullopt, entry(true, t0 + 2000), t0);   // snoozed, late
  c.adjust(std::nullopt, entry(false), t0);
  expect_totals(c.read(t0), 3, 1, 0, 2);
  expect_totals(c.read(t0 + 999), 3, 1, 0, 2);  // paused while snooze_until > now
  expect_totals(c.read(t0 + 1000), 3, 2, 0, 1);  // the first snooze ended: ok again
  expect_totals(c.read(t0 + 5000), 3, 2, 1, 0);  // the second ended: late shows
  // Changing or removing an entry whose snooze ended moves the right counts.
  c.adjust(entry(true, t0 + 2000), entry(false, t0 + 2000), t0 + 6000);
  expect_totals(c.read(t0 + 6000), 3, 3, 0, 0);
  c.adjust(entry(false, t0 + 1000), std::nullopt, t0 + 6000);
  expect_totals(c.read(t0 + 6000), 2, 2, 0, 0);
  // A new snooze after the release counts as paused again.
  c.adjust(entry(false), entry(false, t0 + 9000), t0 + 6000);
  expect_totals(c.read(t0 + 7000), 2, 1, 0, 1);
  c.adjust(entry(false, t0 + 9000), entry(false), t0 + 7000);  // resumed early
  expect_totals(c.read(t0 + 7000), 2, 2, 0, 0);
}

TEST(state_counts_test, a_wall_clock_going_back_never_counts_twice) {
  state_counters c;
  c.adjust(std::nullopt, entry(false, t0 + 1000), t0);
  expect_totals(c.read(t0 + 2000), 1, 1, 0, 0);
  // The clock steps back: the snooze already released stays released.
  expect_totals(c.read(t0), 1, 1, 0, 0);
  c.adjust(entry(false, t0 + 1000), std::nullopt, t0);
  expect_totals(c.read(t0), 0, 0, 0, 0);
}

TEST(state_counts_test, state_of_is_the_listing_rule) {
  schedule_policy p{0, 0, 3600'000};
  reservation_record r;
  r.frequency = 1;
  r.unit = time_unit::minutes;
  r.created_ms = t0;
  r.last_checkin_ms = t0;
  EXPECT_EQ(state_of(r, t0 + 1000, p), job_state::ok);
  EXPECT_EQ(state_of(r, t0 + 61'000, p), job_state::late) << "late by time";
  r.snooze_until_ms = t0 + 120'000;
  EXPECT_EQ(state_of(r, t0 + 61'000, p), job_state::paused);
  EXPECT_EQ(state_of(r, t0 + 121'000, p), job_state::late);
  r.snooze_until_ms = 0;
  r.last_checkin_ms = t0 + 100'000;
  r.failed_since_ms = t0 + 100'000;
  EXPECT_EQ(state_of(r, t0 + 101'000, p), job_state::late) << "a failure is failing";
  EXPECT_EQ(to_string(job_state::paused), "paused");
}

// -- a node's counts, on virtual time ----------------------------------------

struct node_counts_test : test::actor_fixture {
  /// The node's counts now, as /api/v1/status reads them.
  state_totals counts() { return ctx->reservation_counts->read(wall_now()); }
};

TEST_F(node_counts_test, every_change_moves_the_counts) {
  EXPECT_EQ(counts().total, 0u);
  reserve("a", "one", 1, time_unit::minutes);
  reserve("a", "two", 1, time_unit::hours);
  reserve("b", "three", 1, time_unit::hours);
  expect_totals(counts(), 3, 3, 0, 0);
  advance(61s);  // a/one misses its deadline; its actor marks it late
  ASSERT_EQ(channel->count(alert_kind::late), 1u);
  expect_totals(counts(), 3, 2, 1, 0);
  ASSERT_TRUE(checkin("a", "one"));  // recovers
  expect_totals(counts(), 3, 3, 0, 0);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value, snooze_request{"a", "two", 600'000})));
  expect_totals(counts(), 3, 2, 0, 1);
  ASSERT_TRUE(call(caf::make_message(checkout_atom::value, key_request{"b", "three"})));
  expect_totals(counts(), 2, 1, 0, 1);
  // A run and a failure.
  signal_request sig;
  sig.app = "a";
  sig.component = "one";
  sig.kind = signal_kind::start;
  ASSERT_TRUE(call(caf::make_message(signal_atom::value, sig)));
  EXPECT_EQ(counts().running, 1u);
  sig.kind = signal_kind::fail;
  ASSERT_TRUE(call(caf::make_message(signal_atom::value, sig)));
  auto t = counts();
  EXPECT_EQ(t.running, 0u);
  EXPECT_EQ(t.failed, 1u);
  expect_totals(t, 2, 0, 1, 1);
}

TEST_F(node_counts_test, a_snooze_that_ends_is_counted_at_its_end) {
  reserve("app", "hourly", 1, time_unit::hours);
  reserve("app", "minutely", 1, time_unit::minutes);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"app", "hourly", 600'000})));
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"app", "minutely", 600'000})));
  expect_totals(counts(), 2, 0, 0, 2);
  advance(5min);  // minutely is overdue, but snoozed: still paused
  expect_totals(counts(), 2, 0, 0, 2);
  advance(5min + 1ms);  // both snoozes end: hourly is ok, minutely late
  expect_totals(counts(), 2, 1, 1, 0);
  EXPECT_EQ(channel->count(alert_kind::late), 1u);
}

TEST_F(node_counts_test, restore_counts_each_reservation_once) {
  reserve("down", "job", 1, time_unit::minutes);
  reserve("fine", "job", 1, time_unit::hours);
  reserve("snoozed", "job", 1, time_unit::hours);
  ASSERT_TRUE(call(caf::make_message(snooze_atom::value,
                                     snooze_request{"snoozed", "job", 3600'000})));
  EXPECT_EQ(restart(2min), 3u);  // a new node_context: counts from zero, then restore
  expect_totals(counts(), 3, 1, 1, 1);
}

TEST_F(node_counts_test, a_crashed_actor_is_not_counted_twice) {
  reserve("app", "comp", 1, time_unit::minutes);
  reserve("app", "other", 1, time_unit::minutes);
  auto& registry =
    static_cast<coordinator_pointer>(caf::actor_cast<caf::abstract_actor*>(coord))->state.registry;
  auto victim = registry.begin()->second.actor;
  self->send_exit(victim, caf::exit_reason::kill);
  run();
  ASSERT_NE(registry.begin()->second.actor, victim) << "restarted from storage";
  expect_totals(counts(), 2, 2, 0, 0);
}

}  // namespace
}  // namespace gotel
