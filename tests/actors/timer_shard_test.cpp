// Tests actors/timer_shard.*: wake-ups at their due time on virtual time, in
// order, one pending CAF timeout however many entries, weak references.

#include "actors/messages.hpp"
#include "actors/timer_shard.hpp"
#include "tests/caf_fixture.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace gotel {
namespace {

using namespace std::chrono_literals;

struct wake_log {
  std::vector<std::pair<int, std::int64_t>> wakes;  // (target id, due ns)
};

caf::behavior target(caf::event_based_actor*, int id, std::shared_ptr<wake_log> log) {
  return {[=](wake_atom, std::int64_t due) { log->wakes.emplace_back(id, due); }};
}

class timer_shard_test : public ::testing::Test, public test::caf_fixture {
 protected:
  std::shared_ptr<wake_log> log = std::make_shared<wake_log>();
  caf::actor shard = sys.spawn(timer_shard);

  std::int64_t arm(const caf::actor& who, caf::timespan in) {
    auto due = to_ns(now() + in);
    self->send(shard, arm_atom::value, due, who.address());
    run();
    return due;
  }
};

TEST_F(timer_shard_test, wakes_each_target_at_its_due_time_in_order) {
  auto a = sys.spawn(target, 1, log);
  auto b = sys.spawn(target, 2, log);
  auto due_b = arm(b, 5s);
  auto due_a = arm(a, 2s);
  arm(a, 10s);
  advance_time(1999ms);
  run();
  EXPECT_TRUE(log->wakes.empty());
  advance_time(1ms);
  run();
  ASSERT_EQ(log->wakes.size(), 1u);
  EXPECT_EQ(log->wakes[0], std::make_pair(1, due_a));
  advance_time(3s);
  run();
  ASSERT_EQ(log->wakes.size(), 2u);
  EXPECT_EQ(log->wakes[1], std::make_pair(2, due_b));
  advance_time(5s);
  run();
  EXPECT_EQ(log->wakes.size(), 3u);
  EXPECT_EQ(*request<std::uint64_t>(shard, count_atom::value), 0u);
  kill(a);
  kill(b);
  kill(shard);
}

TEST_F(timer_shard_test, many_same_instant_deadlines_fire_together) {
  std::vector<caf::actor> targets;
  for (int i = 0; i < 1000; ++i) {
    targets.push_back(sys.spawn(target, i, log));
    arm(targets.back(), 1s);
  }
  advance_time(1s);
  run();
  EXPECT_EQ(log->wakes.size(), 1000u);
  for (auto& t : targets)
    kill(t);
  kill(shard);
}

TEST_F(timer_shard_test, a_target_that_quit_is_skipped_not_kept_alive) {
  auto a = sys.spawn(target, 1, log);
  arm(a, 1s);
  kill(a);
  a = nullptr;
  advance_time(2s);
  run();
  EXPECT_TRUE(log->wakes.empty());
  kill(shard);
}

}  // namespace
}  // namespace gotel
