// Tests the coordinator's side of cluster reconciliation (actors/coordinator.*
// and actors/reservation.*, reconcile_atom; docs/cluster.md "Reconciliation")
// on virtual time: what a record or a removal pushed by a node that wrote
// while split does to the coordinator's state.

#include "actors/errors.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace gotel {
namespace {

class reconcile_test : public test::actor_fixture {
 protected:
  caf::expected<reservation_record> push(reconcile_change rc) {
    return call(caf::make_message(reconcile_atom::value, std::move(rc)));
  }

  /// The record of etl/job as another node would push it, at `revision`.
  reconcile_change pushed(std::uint64_t revision, std::uint64_t checkins) {
    reconcile_change rc;
    rc.key = reservation_key("etl", "job");
    rc.rec.job_id = 40;
    rc.rec.app = "etl";
    rc.rec.component = "job";
    rc.rec.frequency = 1;
    rc.rec.unit = time_unit::hours;
    rc.rec.created_ms = wall_now();
    rc.rec.last_checkin_ms = wall_now();
    rc.rec.checkins = checkins;
    rc.rec.pings = checkins;
    rc.rec.uuid = "3f1c0a52-0000-4000-8000-000000000001";
    rc.rec.revision = revision;
    return rc;
  }

  std::vector<std::string> notes() {
    storage::status st;
    std::vector<std::string> out;
    for (auto& e : store.db->checkins(reservation_key("etl", "job"), 50, st))
      out.push_back(e.notes);
    return out;
  }
};

TEST_F(reconcile_test, a_record_the_coordinator_lacks_is_created_with_its_history) {
  auto rc = pushed(3, 2);
  rc.seqs = {1, 2};
  rc.entries = {checkin_entry{wall_now(), "first", "10.0.0.1", {}},
                checkin_entry{wall_now(), "second", "10.0.0.1", {}}};
  auto res = push(rc);
  ASSERT_TRUE(res) << message_of(res.error());
  auto rec = stored("etl", "job");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->revision, 3u);
  EXPECT_EQ(rec->checkins, 2u);
  EXPECT_EQ(rec->uuid, rc.rec.uuid);
  EXPECT_EQ(notes(), (std::vector<std::string>{"second", "first"}));
  EXPECT_GE(ctx->next_job_id.load(), 41u) << "its job id is never handed out again";
}

TEST_F(reconcile_test, the_higher_revision_wins_and_a_tie_goes_to_the_coordinator) {
  ASSERT_TRUE(push(pushed(3, 2)));
  auto older = push(pushed(2, 1));
  ASSERT_TRUE(older);
  EXPECT_EQ(stored("etl", "job")->checkins, 2u) << "a lower revision changes nothing";

  auto tie = pushed(3, 5);
  ASSERT_TRUE(push(tie));
  auto rec = stored("etl", "job");
  EXPECT_EQ(rec->checkins, 2u) << "same revision, other content: the coordinator's record stays";
  EXPECT_EQ(rec->revision, 4u) << "under a new revision, which the pushing node then adopts";

  auto newer = pushed(7, 9);
  newer.seqs = {9};
  newer.entries = {checkin_entry{wall_now(), "from the other side", "10.0.0.2", {}}};
  ASSERT_TRUE(push(newer));
  rec = stored("etl", "job");
  EXPECT_EQ(rec->revision, 7u);
  EXPECT_EQ(rec->checkins, 9u);
  EXPECT_EQ(notes().front(), "from the other side");

  auto same = stored("etl", "job");
  reconcile_change again = newer;
  again.rec = *same;
  ASSERT_TRUE(push(again));
  EXPECT_EQ(stored("etl", "job")->revision, 7u) << "the same record writes nothing";
}

TEST_F(reconcile_test, a_removal_holds_only_against_the_record_it_removed) {
  ASSERT_TRUE(push(pushed(3, 2)));
  auto removal = [](std::uint64_t revision, std::string uuid) {
    reconcile_change rc;
    rc.key = reservation_key("etl", "job");
    rc.removed = true;
    rc.rec.revision = revision;
    rc.rec.uuid = std::move(uuid);
    return rc;
  };
  ASSERT_TRUE(push(removal(2, pushed(0, 0).rec.uuid)));
  EXPECT_TRUE(stored("etl", "job")) << "changed here since the removal: kept";
  ASSERT_TRUE(push(removal(3, "another-reservation-of-that-name")));
  EXPECT_TRUE(stored("etl", "job")) << "a reservation created anew: kept";
  ASSERT_TRUE(push(removal(3, pushed(0, 0).rec.uuid)));
  EXPECT_FALSE(stored("etl", "job")) << "the very record that was checked out: removed";
  EXPECT_TRUE(push(removal(3, pushed(0, 0).rec.uuid))) << "removed already: nothing to do";
}

}  // namespace
}  // namespace gotel
