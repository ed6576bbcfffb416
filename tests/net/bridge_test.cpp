// Tests net/bridge.*: a callback that throws does not end a bridge (it answers
// 500 instead), a bridge that dies is respawned by its supervisor, and a lost
// supervisor makes the node unhealthy (issue 13 section 1).

#include "actors/errors.hpp"
#include "net/bridge.hpp"
#include "tests/actors/actor_fixture.hpp"

#include <nlohmann/json.hpp>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using bridge_test = test::actor_fixture;

caf::message get_message(const std::string& app, const std::string& comp) {
  return caf::make_message(get_atom::value, key_request{app, comp});
}

TEST_F(bridge_test, a_callback_that_throws_answers_500_and_the_bridge_keeps_serving) {
  reserve("app", "comp", 1, time_unit::hours);
  auto bridge = spawn_bridge(sys, coord, ctx.get(), 5s);
  std::vector<errc> errors;
  int calls = 0;
  ask(bridge, get_message("app", "comp"), [&](caf::expected<reservation_record> res) {
    ++calls;
    if (res) {
      // What writing a non-UTF-8 name used to do (nlohmann's type_error.316).
      nlohmann::json j = std::string{"\xFF"};
      (void)j.dump();
    }
    errors.push_back(code_of(res.error()));
  });
  run();
  EXPECT_EQ(calls, 2) << "once with the record (threw), once with the 500";
  EXPECT_EQ(errors, std::vector<errc>{errc::internal});
  // The same bridge still answers.
  std::optional<std::string> app;
  ask(bridge, get_message("app", "comp"), [&](caf::expected<reservation_record> res) {
    if (res)
      app = res->app;
  });
  run();
  EXPECT_EQ(app, "app");
  kill(bridge);
}

TEST_F(bridge_test, a_dead_bridge_is_respawned_and_a_lost_supervisor_makes_the_node_unhealthy) {
  reserve("app", "comp", 1, time_unit::hours);
  auto spawn = [this] { return spawn_bridge(sys, coord, ctx.get(), 5s); };
  std::vector<caf::actor> bridges{spawn(), spawn()};
  std::mutex mtx;
  bridge_health health;
  auto sup = spawn_bridge_supervisor(sys, bridges, mtx, spawn, health);
  run();
  EXPECT_TRUE(health.healthy());
  auto victim = bridges[0];
  self->send_exit(victim, caf::exit_reason::kill);
  run();
  EXPECT_NE(bridges[0], victim);
  EXPECT_EQ(health.restarts.load(), 1u);
  EXPECT_TRUE(health.healthy());
  // The replacement serves, and is itself watched.
  std::optional<std::string> app;
  ask(bridges[0], get_message("app", "comp"), [&](caf::expected<reservation_record> res) {
    if (res)
      app = res->app;
  });
  run();
  EXPECT_EQ(app, "app");
  auto second = bridges[0];
  self->send_exit(second, caf::exit_reason::kill);
  run();
  EXPECT_NE(bridges[0], second);
  EXPECT_EQ(health.restarts.load(), 2u);
  // Without its supervisor the node says it is unhealthy.
  self->send_exit(sup, caf::exit_reason::kill);
  run();
  EXPECT_FALSE(health.healthy());
  EXPECT_NE(health.why().find("supervisor"), std::string::npos);
  for (auto& b : bridges)
    kill(b);
}

}  // namespace
}  // namespace gotel
