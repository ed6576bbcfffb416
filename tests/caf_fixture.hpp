#pragma once
/// A deterministic CAF 0.17 actor system for GoogleTest: the essentials of
/// caf/test/dsl.hpp's test_coordinator_fixture without CAF's unit-test engine
/// (whose macros and argc/argv hooks do not mix with gtest).
///
/// Nothing runs by itself: actors consume messages only inside run() /
/// run_once(), and delayed messages (delayed_send, after(...)) fire only when
/// virtual time is advanced. Usage:
///
///   struct my_test : ::testing::Test, gotel::test::caf_fixture {};
///   TEST_F(my_test, x) {
///     auto a = sys.spawn(...);
///     self->send(a, some_atom::value);
///     run();                                   // deliver every queued message
///     advance_time(std::chrono::seconds{5});   // fire timers due by now + 5 s
///     run();                                   // let actors handle what fired
///     auto n = request<int>(a, count_atom::value);  // ask and wait, deterministically
///     kill(a);
///   }

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <utility>

namespace gotel::test {

class caf_fixture {
 public:
  using scheduler_type = caf::scheduler::test_coordinator;

  /// Config tweaks for the test system; call before the fixture constructs
  /// `sys`, e.g. to add_message_type, by deriving a config and passing it in.
  static caf::actor_system_config& init_config(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    cfg.set("middleman.network-backend", caf::atom("testing"));
    cfg.set("middleman.manual-multiplexing", true);
    cfg.set("middleman.workers", size_t{0});
    return cfg;
  }

  caf_fixture()
    : sys(init_config(cfg)),
      self(sys, true),
      sched(dynamic_cast<scheduler_type&>(sys.scheduler())) {
    // Like CAF's fixture: virtual time does not start at the epoch.
    sched.clock().current_time += std::chrono::hours(1);
  }

  virtual ~caf_fixture() { run(); }

  caf_fixture(const caf_fixture&) = delete;
  caf_fixture& operator=(const caf_fixture&) = delete;

  /// Lets every actor consume every queued message (no timers fire).
  /// Returns the number of messages consumed.
  std::size_t run() { return sched.run(); }

  /// Lets one actor consume one message; false when nothing was queued.
  bool run_once() { return sched.try_run_once(); }

  /// Moves virtual time forward by `d` and enqueues every delayed message that
  /// became due; call run() afterwards to have them handled.
  /// Returns the number of timeouts that fired.
  template <class Rep, class Period>
  std::size_t advance_time(std::chrono::duration<Rep, Period> d) {
    return sched.clock().advance_time(std::chrono::duration_cast<caf::timespan>(d));
  }

  /// Fires every pending timeout regardless of its due time (time jumps to the
  /// latest one). Returns how many fired.
  std::size_t trigger_timeouts() { return sched.clock().trigger_timeouts(); }

  /// Whether some delayed message is still waiting for its time.
  bool has_pending_timeout() const { return sched.clock().has_pending_timeout(); }

  /// The current virtual time.
  caf::actor_clock::time_point now() const { return sched.clock().now(); }

  /// Sends `xs...` to `dest` as a request, runs the system until the reply is
  /// there and returns it; nullopt (and a gtest failure) on an error reply or
  /// a reply of another type.
  template <class T, class Handle, class... Ts>
  std::optional<T> request(const Handle& dest, Ts&&... xs) {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    run();
    std::optional<T> result;
    // Blocking on an empty mailbox would hang the test: nothing else runs.
    if (self->mailbox().empty()) {
      ADD_FAILURE() << "no reply after running every actor";
      return result;
    }
    handle.receive([&](T& x) { result = std::move(x); },
                   [&](caf::error& err) {
                     ADD_FAILURE() << "request failed: " << sys.render(err);
                   });
    return result;
  }

  /// Terminates `dest` (exit reason kill) and lets it finish, so that its state
  /// is destroyed before the test ends.
  template <class Handle>
  void kill(const Handle& dest) {
    self->send_exit(dest, caf::exit_reason::kill);
    run();
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  scheduler_type& sched;
};

}  // namespace gotel::test
