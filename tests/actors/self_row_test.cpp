// Tests actors/self_row.*, the node's own reservation rows (docs/cluster.md,
// "The cluster's own rows"), on virtual time with the real coordinator and
// RocksDB: created at the first start, checked in every period by the
// actor's own timer, found again (not duplicated) after a restart, back after
// a user's checkout, never refused or counted by the reservation limits, and
// the role row following the node's role (a worker's writes go through the
// cluster actor's forward).

#include "actors/errors.hpp"
#include "actors/self_row.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

using namespace std::chrono_literals;

/// Stands in for the cluster actor of a worker: forwards (forward_atom, msg)
/// to the coordinator actor, as the real one does to the coordinator's node,
/// counts what it forwarded, and confirms replication (no peers).
struct fake_cluster_state {
  std::size_t forwarded = 0;
};

caf::behavior fake_cluster(caf::stateful_actor<fake_cluster_state>* self, coordinator_actor coord,
                           std::shared_ptr<std::size_t> forwarded) {
  return {
    [=](forward_atom, caf::message& msg) -> caf::result<reservation_record> {
      ++*forwarded;
      auto rp = self->make_response_promise<reservation_record>();
      self->request(caf::actor_cast<caf::actor>(coord), caf::infinite, std::move(msg))
        .then([=](reservation_record& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    // The reservation actors of a cluster node replicate every change; no peer here.
    [](replicate_atom, repl_change&) { return true; },
  };
}

class self_row_test : public test::actor_fixture {
 protected:
  ~self_row_test() override { stop_rows(); }

  void start_rows(std::chrono::seconds period = 30s) {
    ctx->self_row_keys = self_row_keys({"n1", "n2"});
    self_row_options o;
    o.node_id = "n1";
    o.period = period;
    o.poll = 1s;
    rows = spawn_self_row(sys, ctx.get(), coord, o);
    run();
  }

  void stop_rows() {
    if (rows)
      kill(rows);
    rows = nullptr;
  }

  /// Moves virtual time on in poll-sized steps (each step's timer re-arms).
  void pass(std::chrono::seconds d) {
    for (auto t = 0s; t < d; t += 1s)
      advance(1s);
  }

  std::uint64_t checkins(const std::string& component) {
    auto rec = stored("gotel", component);
    return rec ? rec->checkins : 0;
  }

  std::uint64_t count() { return *request<std::uint64_t>(coord, count_atom::value); }

  caf::expected<reservation_record> try_reserve(const std::string& app,
                                                const std::string& component) {
    reserve_request req{app, component, "owner", "", "", 1, time_unit::hours};
    return call(caf::make_message(reserve_atom::value, std::move(req)));
  }

  caf::actor rows;
};

TEST_F(self_row_test, a_single_node_creates_its_rows_at_start_and_checks_them_in_every_period) {
  start_rows(30s);
  auto own = stored("gotel", "n1");
  auto role = stored("gotel", "coordinator");
  ASSERT_TRUE(own) << "gotel/<node id> exists right after the start";
  ASSERT_TRUE(role) << "gotel/coordinator exists right after the start";
  EXPECT_FALSE(stored("gotel", "worker")) << "a single node is never a worker";
  EXPECT_EQ(own->checkins, 1u);
  EXPECT_EQ(role->checkins, 1u);
  // 10 periods of 30 s: the original GoTel's 5 minutes.
  EXPECT_EQ(role->frequency, 5);
  EXPECT_EQ(role->unit, time_unit::minutes);
  EXPECT_EQ(count(), 2u);
  pass(29s);
  EXPECT_EQ(checkins("n1"), 1u) << "not before the period is over";
  pass(1s);
  EXPECT_EQ(checkins("n1"), 2u);
  EXPECT_EQ(checkins("coordinator"), 2u);
  pass(90s);
  EXPECT_EQ(checkins("n1"), 5u);
  EXPECT_EQ(checkins("coordinator"), 5u);
  EXPECT_EQ(stored("gotel", "n1")->last_checkin_ms, wall_now());
}

TEST_F(self_row_test, a_stalled_node_lets_its_rows_go_late) {
  // No checkin while the timer does not run: the row's deadline passes and
  // the coordinator alerts it like any late job.
  start_rows(1s);
  ASSERT_EQ(stored("gotel", "n1")->frequency, 10);
  ASSERT_EQ(stored("gotel", "n1")->unit, time_unit::seconds);
  stop_rows();
  advance(11s);
  EXPECT_GE(channel->count(alert_kind::late), 2u) << "both rows alerted";
  bool own = false;
  for (auto& x : channel->seen())
    own = own || (x.app == "gotel" && x.component == "n1" && x.kind == alert_kind::late);
  EXPECT_TRUE(own);
  // Back: the first checkin recovers it.
  start_rows(1s);
  EXPECT_GE(channel->count(alert_kind::recovered), 1u);
}

TEST_F(self_row_test, a_restart_finds_its_rows_and_creates_no_duplicate) {
  start_rows();
  pass(30s);
  ASSERT_EQ(checkins("n1"), 2u);
  auto job_id = stored("gotel", "n1")->job_id;
  stop_rows();
  ASSERT_EQ(restart(10s), 2u);
  start_rows();
  EXPECT_EQ(count(), 2u);
  EXPECT_EQ(checkins("n1"), 3u) << "the stored row is checked in, not made anew";
  EXPECT_EQ(stored("gotel", "n1")->job_id, job_id);
}

TEST_F(self_row_test, a_checked_out_row_reappears_at_the_next_checkin) {
  start_rows();
  ASSERT_TRUE(call(caf::make_message(checkout_atom::value, key_request{"gotel", "n1"})));
  run();
  EXPECT_FALSE(stored("gotel", "n1"));
  pass(30s);
  ASSERT_TRUE(stored("gotel", "n1")) << "created again";
  EXPECT_EQ(checkins("n1"), 1u);
}

TEST_F(self_row_test, a_changed_frequency_is_put_back_and_notify_kept) {
  start_rows();
  reserve_request req{"gotel", "coordinator", "ops", "oncall@example.com", "", 2, time_unit::days};
  ASSERT_TRUE(call(caf::make_message(reserve_atom::value, std::move(req))));
  pass(30s);
  auto rec = stored("gotel", "coordinator");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->frequency, 5);
  EXPECT_EQ(rec->unit, time_unit::minutes);
  EXPECT_EQ(rec->notify, "oncall@example.com") << "a recipient set by the operator stays";
}

TEST_F(self_row_test, the_rows_are_neither_refused_nor_counted_by_the_limits) {
  max_reservations = 1;
  max_reservations_per_app = 1;
  stop_actors();
  start_actors();
  start_rows();
  EXPECT_TRUE(stored("gotel", "n1")) << "created although the limits are 1";
  EXPECT_TRUE(stored("gotel", "coordinator"));
  // A user still gets the one reservation the limit allows, in app gotel too.
  ASSERT_TRUE(try_reserve("gotel", "user-job"));
  auto refused = try_reserve("billing", "export");
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), errc::limit_reached);
  EXPECT_NE(message_of(refused.error()).find("already holds 1 reservations"), std::string::npos)
    << message_of(refused.error());
  ASSERT_TRUE(call(caf::make_message(checkout_atom::value, key_request{"gotel", "user-job"})));
  run();
  ASSERT_TRUE(try_reserve("gotel", "user-job"));
  ctx->max_reservations = 0;
  auto second = try_reserve("gotel", "second");
  ASSERT_FALSE(second) << "the per-app limit still holds for users";
  EXPECT_NE(message_of(second.error()).find("app gotel already has 1 reservations"),
            std::string::npos)
    << message_of(second.error());
}

TEST_F(self_row_test, a_worker_checks_in_through_the_cluster_and_a_new_coordinator_at_once) {
  auto forwarded = std::make_shared<std::size_t>(0);
  ctx->cluster = sys.spawn(fake_cluster, coord, forwarded);
  ctx->coordinator.store(false);
  node_context::cluster_view v;
  v.coordinator_id = "";
  ctx->set_view(v);
  start_rows();
  EXPECT_FALSE(stored("gotel", "n1")) << "no checkin while nobody coordinates";
  v.coordinator_id = "n2";
  ctx->set_view(v);
  advance(1s);
  ASSERT_TRUE(stored("gotel", "n1")) << "a worker checks in once it knows the coordinator";
  ASSERT_TRUE(stored("gotel", "worker"));
  EXPECT_FALSE(stored("gotel", "coordinator"));
  EXPECT_GE(*forwarded, 4u) << "checkins and creations went through the cluster actor";
  // Takes over: gotel/coordinator within a poll, not a period.
  ctx->coordinator.store(true);
  advance(1s);
  ASSERT_TRUE(stored("gotel", "coordinator"));
  EXPECT_EQ(checkins("coordinator"), 1u);
  EXPECT_EQ(checkins("n1"), 2u);
  EXPECT_EQ(checkins("worker"), 1u) << "not checked in by a coordinator";
  kill(ctx->cluster);
  ctx->cluster = nullptr;
}

TEST_F(self_row_test, a_coordinator_without_its_alert_lease_checks_in_nothing) {
  // A coordinator resumed from a pause has no lease until its cluster actor
  // has listened again: it has most likely been replaced, so no
  // gotel/coordinator checkin from it, and none as a worker either.
  auto forwarded = std::make_shared<std::size_t>(0);
  ctx->cluster = sys.spawn(fake_cluster, coord, forwarded);
  ctx->coordinator.store(true);
  ctx->alert_lease_ns.store(0);
  start_rows();
  pass(2s);
  EXPECT_FALSE(stored("gotel", "coordinator"));
  EXPECT_FALSE(stored("gotel", "n1"));
  EXPECT_EQ(*forwarded, 0u);
  ctx->alert_lease_ns.store(INT64_MAX);  // elected again
  advance(1s);
  EXPECT_EQ(checkins("coordinator"), 1u);
  EXPECT_EQ(checkins("n1"), 1u);
  kill(ctx->cluster);
  ctx->cluster = nullptr;
}

}  // namespace
}  // namespace gotel
