#pragma once
/// A node's actors on a deterministic scheduler and virtual time: real RocksDB
/// (inline group commit), real timer shards, real dispatcher with a recording
/// channel, and the coordinator. The wall clock follows virtual time unless a
/// test moves it on its own (clock jumps).

#include "actors/coordinator.hpp"
#include "alerters/dispatcher.hpp"
#include "tests/caf_fixture.hpp"
#include "tests/temp_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>

namespace gotel::test {

/// An alert channel that records what reaches it (and always succeeds).
class recording_channel final : public alert_channel {
 public:
  explicit recording_channel(std::string name = "recorder") : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  delivery_result deliver(const alert_intent& intent) override {
    std::lock_guard<std::mutex> guard{mtx_};
    seen_.push_back(intent);
    return {true, false, {}};
  }
  std::vector<alert_intent> seen() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_;
  }
  std::size_t count(alert_kind kind) const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::size_t n = 0;
    for (auto& x : seen_)
      n += x.kind == kind ? 1 : 0;
    return n;
  }

 private:
  std::string name_;
  mutable std::mutex mtx_;
  std::vector<alert_intent> seen_;
};

class actor_fixture : public ::testing::Test, public caf_fixture {
 protected:
  actor_fixture() {
    start_wall = 1'700'000'000'000;
    start_steady = now();
    start_actors();
  }

  ~actor_fixture() override { stop_actors(); }

  void start_actors() {
    channel = std::make_shared<recording_channel>();
    ctx = std::make_unique<node_context>();
    ctx->db = store.db.get();
    ctx->committer = store.committer.get();
    ctx->wall_now = [this] { return wall_now(); };
    ctx->policy = policy;
    ctx->history_limit = history_limit;
    ctx->max_reservations_per_app = max_reservations_per_app;
    ctx->max_reservations = max_reservations;
    ctx->srv = "10.0.0.7";
    ctx->channels = {"recorder"};
    for (auto& ch : extra_channels)
      ctx->channels.emplace_back(ch->name());
    dispatcher_env env;
    env.db = store.db.get();
    env.committer = store.committer.get();
    env.channels = {channel};
    for (auto& ch : extra_channels)
      env.channels.push_back(ch);
    env.wall_now = ctx->wall_now;
    env.log_seq = &ctx->alert_log_seq;
    env.opts.inline_delivery = true;
    env.opts.storm_threshold = storm_threshold;
    env.intent_seq = &ctx->next_intent_id;
    ctx->dispatcher = spawn_dispatcher(sys, std::move(env));
    ctx->passivate_after = passivate_after;
    coord = sys.spawn(coordinator, ctx.get());
    run();
  }

  void stop_actors() {
    if (!coord)
      return;
    kill(coord);
    kill(ctx->dispatcher);
    run();
    coord = nullptr;
  }

  /// Stops every actor, reopens the store and restores, like a process restart
  /// after `downtime` (steady and wall time both move on).
  std::uint64_t restart(std::chrono::milliseconds downtime) {
    stop_actors();
    store.reopen();
    advance(downtime);
    start_actors();
    return *request<std::uint64_t>(coord, restore_atom::value);
  }

  unix_ms wall_now() const {
    using namespace std::chrono;
    return start_wall + wall_jump
           + duration_cast<milliseconds>(now() - start_steady).count();
  }

  /// Moves virtual (steady and wall) time and lets every actor react.
  void advance(std::chrono::milliseconds d) {
    advance_time(d);
    run();
  }

  reservation_record reserve(const std::string& app, const std::string& component,
                             std::int64_t frequency, time_unit unit,
                             const std::string& alert_msg = {}) {
    reserve_request req{app, component, "owner-" + app, "ops@example.com", alert_msg,
                        frequency, unit};
    return *request<reservation_record>(coord, reserve_atom::value, req);
  }

  caf::expected<reservation_record> call(caf::message msg) {
    auto hdl = caf::actor_cast<caf::actor>(coord);
    auto handle = self->request(hdl, caf::infinite, std::move(msg));
    run();
    std::optional<reservation_record> rec;
    caf::error err;
    handle.receive([&](reservation_record& r) { rec = std::move(r); },
                   [&](caf::error& e) { err = std::move(e); });
    if (rec)
      return std::move(*rec);
    return err;
  }

  caf::expected<reservation_record> checkin(const std::string& app, const std::string& comp) {
    return call(caf::make_message(checkin_atom::value, checkin_request{app, comp, "notes", "1.2.3.4"}));
  }

  std::optional<reservation_record> stored(const std::string& app, const std::string& comp) {
    storage::status st;
    return store.db->get_reservation(reservation_key(app, comp), st);
  }

  schedule_policy policy{0, 0, 6 * 3600 * 1000};
  std::size_t history_limit = 50;
  std::uint64_t max_reservations_per_app = 0;  ///< server.max_reservations_per_app; 0 = none
  std::uint64_t max_reservations = 0;          ///< server.max_reservations; 0 = none
  std::size_t storm_threshold = 50;  ///< the dispatcher's alert-storm threshold
  /// reservations.passivate_after; zero = never. GOTEL_TEST_PASSIVATE_MS sets
  /// the default: CTest runs every actor test a second time with 1 ms, so each
  /// behaviour is also proven with an actor passivated between any two steps.
  std::chrono::milliseconds passivate_after = default_passivate_after();
  static std::chrono::milliseconds default_passivate_after() {
    auto v = std::getenv("GOTEL_TEST_PASSIVATE_MS");
    return std::chrono::milliseconds{v ? std::atoll(v) : 0};
  }
  /// Channels beside "recorder" (named ones, for per-reservation alerters).
  std::vector<std::shared_ptr<alert_channel>> extra_channels;
  unix_ms start_wall = 0;
  unix_ms wall_jump = 0;  ///< a wall-clock step (NTP) that steady time does not see
  caf::actor_clock::time_point start_steady;
  temp_store store{"gotel-actors"};
  std::shared_ptr<recording_channel> channel;
  std::unique_ptr<node_context> ctx;
  coordinator_actor coord;
};

}  // namespace gotel::test
