// A restart reads the restart index (storage/restart_index.hpp), not the
// records (issue 15 §5): the wake-up and counts computed from an entry equal
// those computed from its record; a restore from the index registers exactly
// what a restore from the records did; an entry that does not decode falls
// back to its record; and a data directory written before the index existed
// (tests/fixtures/data-main-49ca5dc, made by main at 49ca5dc) is migrated and
// its reservations restored, deadlines missed while down alerting at once.

#include "actors/actor_time.hpp"
#include "storage/codec.hpp"
#include "tests/actors/actor_fixture.hpp"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <map>
#include <random>

namespace gotel::test {
namespace {

using namespace std::chrono_literals;

// ---- the pure part: entry and record agree --------------------------------

TEST(restart_index_schedule, wake_hint_and_counts_from_an_entry_equal_those_from_its_record) {
  std::mt19937_64 rng{20261203};
  const char* schedules[] = {"", "", "*/15 * * * *", "0 3 * * 1-5", "@daily", "0 0 29 2 *"};
  const char* zones[] = {"", "Europe/Paris", "America/New_York", "Nowhere/Atlantis"};
  const unix_ms t0 = 1'700'000'000'000;
  auto pick = [&rng](std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  for (int i = 0; i < 4000; ++i) {
    reservation_record r;
    r.job_id = rng() % 1000;
    r.frequency = pick(1, 90);
    r.unit = static_cast<time_unit>(rng() % 4);
    r.created_ms = t0 + pick(-86'400'000, 0);
    if (rng() % 2)
      r.last_checkin_ms = r.created_ms + pick(0, 86'400'000);
    r.grace_ms = rng() % 3 ? 0 : pick(0, 3'600'000);
    r.schedule = schedules[rng() % std::size(schedules)];
    r.tz = r.schedule.empty() ? "" : zones[rng() % std::size(zones)];
    if (rng() % 4 == 0)
      r.snooze_until_ms = t0 + pick(-3'600'000, 86'400'000);
    if (rng() % 5 == 0)
      r.late_since_ms = t0 - 1;
    if (rng() % 5 == 0) {
      r.failed_since_ms = t0 - 2;
      if (rng() % 2)
        r.fail_alerted_ms = t0 - 1;
    }
    if (rng() % 3 == 0) {
      r.max_duration_ms = rng() % 2 ? 0 : pick(1000, 7'200'000);
      for (int k = pick(1, 3); k > 0; --k)
        r.runs.push_back({"", t0 + pick(-7'200'000, 0), rng() % 3 == 0});
    }
    r.uuid = rng() % 4 == 0 ? "" : "0123abcd-4567-89ab-cdef-0123456789ab";
    // Through the encoding, as a restart reads it.
    auto bytes = codec::encode(index_of(r));
    auto ix = codec::decode_index(bytes);
    ASSERT_TRUE(ix);
    for (auto policy : {schedule_policy{0, 0, 1}, schedule_policy{300'000, 60'000, 1}}) {
      for (auto now : {t0 - 86'400'000, t0, t0 + pick(0, 2 * 86'400'000)}) {
        ASSERT_EQ(wake_hint_ms(*ix, policy, now), wake_hint_ms(r, policy, now))
          << "record " << i << " schedule '" << r.schedule << "' tz '" << r.tz << "' now " << now;
      }
    }
    ASSERT_EQ(count_entry_of(*ix), count_entry_of(r)) << "record " << i;
  }
}

// ---- the coordinator's restore ----------------------------------------------

class restart_index_test : public actor_fixture {
 protected:
  restart_index_test() {
    stop_actors();
    // A policy that moves deadlines, so an entry must not bake it in.
    policy.bake_ms = 5 * 60'000;
    policy.grace_ms = 30'000;
    start_actors();
  }

  coordinator_state& state() {
    return static_cast<coordinator_pointer>(caf::actor_cast<caf::abstract_actor*>(coord))->state;
  }

  /// What a restore leaves in the coordinator, per reservation and in total.
  struct restored {
    struct one {
      std::optional<uuid_bits> uuid;
      std::int64_t due_ns = 0;
      std::optional<count_entry> counted;
      bool active = false;
      friend bool operator==(const one&, const one&) = default;
    };
    std::map<std::string, one> entries;
    std::map<std::string, std::uint64_t> per_app;
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> uuids;
    std::vector<std::uint64_t> totals;
    std::uint64_t next_job_id = 0;
    std::uint64_t armed = 0;
    friend bool operator==(const restored&, const restored&) = default;
  };

  restored snapshot() {
    restored out;
    auto& st = state();
    for (auto& [key, e] : st.registry)
      out.entries[key] = {e.uuid, e.due_ns, e.counted, e.actor != nullptr};
    for (auto& [app, n] : st.per_app)
      out.per_app[app] = n;
    st.uuids.for_each(
      [&](const uuid_bits& bits, const auto* e) { out.uuids[{bits.hi, bits.lo}] = *e->key; });
    auto t = ctx->reservation_counts->read(wall_now());
    out.totals = {t.total, t.ok, t.late, t.paused, t.failed, t.running};
    out.next_job_id = ctx->next_job_id.load();
    out.armed = *request<std::uint64_t>(coord, arm_atom::value);
    return out;
  }

  void put_records(const std::vector<reservation_record>& recs) {
    storage::write_batch b;
    for (auto& r : recs)
      b.put(reservation_key(r.app, r.component), r);
    ASSERT_TRUE(store.db->write(b, true).ok());
  }

  /// Overwrites the index entry of `key` with bytes that do not decode.
  void spoil_entry(const std::string& key, std::string bytes) {
    storage::write_batch b;
    b.raw().Put("i/" + key, bytes);
    ASSERT_TRUE(store.db->write(b, true).ok());
  }

  reservation_record record(std::string app, std::string comp, std::uint64_t id) {
    reservation_record r;
    r.job_id = id;
    r.app = std::move(app);
    r.component = std::move(comp);
    r.frequency = 1;
    r.unit = time_unit::hours;
    r.created_ms = wall_now() - 60'000;
    r.uuid = random_uuid();
    return r;
  }
};

TEST_F(restart_index_test, a_restore_from_the_index_equals_a_restore_from_the_records) {
  auto wall = wall_now();
  std::vector<reservation_record> recs;
  recs.push_back(record("Plain", "never", 1));
  recs.push_back(record("Plain", "checked", 2));
  recs.back().last_checkin_ms = wall - 10 * 60'000;
  recs.back().grace_ms = 90'000;
  recs.push_back(record("Cron", "never", 3));
  recs.back().schedule = "*/20 * * * *";
  recs.back().tz = "Asia/Kolkata";
  recs.push_back(record("Cron", "checked", 4));
  recs.back().schedule = "0 9 * * MON-FRI";
  recs.back().tz = "America/New_York";
  recs.back().last_checkin_ms = wall - 3600'000;
  recs.push_back(record("Snoozed", "ok", 5));
  recs.back().snooze_until_ms = wall + 7200'000;
  recs.push_back(record("Snoozed", "past", 6));  // deadline passed, under a snooze
  recs.back().created_ms = wall - 5 * 3600'000;
  recs.back().snooze_until_ms = wall + 600'000;
  recs.push_back(record("Etl", "running", 7));
  recs.back().unit = time_unit::days;
  recs.back().max_duration_ms = 1800'000;
  recs.back().runs = {{"r1", wall - 600'000, false}, {"r0", wall - 7200'000, true}};
  recs.push_back(record("Failed", "alerted", 8));
  recs.back().failed_since_ms = wall - 1000;
  recs.back().fail_alerted_ms = wall - 500;
  recs.push_back(record("Old", "no-uuid", 9));
  recs.back().uuid.clear();
  recs.push_back(record("Odd", "uuid", 10));
  recs.back().uuid = "not a uuid";
  recs.push_back(record("Upper", "uuid", 41));
  recs.back().uuid = "ABCDEF01-2345-6789-ABCD-EF0123456789";
  put_records(recs);

  ASSERT_EQ(restart(0ms), recs.size());
  auto from_index = snapshot();
  EXPECT_EQ(from_index.entries.size(), recs.size());
  for (auto& [key, one] : from_index.entries) {
    EXPECT_FALSE(one.active) << "restore spawns no actor";
    EXPECT_GT(one.due_ns, to_ns(now())) << "every deadline here is ahead";
  }
  EXPECT_EQ(from_index.per_app["plain"], 2u);
  EXPECT_EQ(from_index.uuids.size(), recs.size() - 1) << "all but the non-uuid";
  EXPECT_EQ(from_index.next_job_id, 42u);
  EXPECT_EQ(from_index.armed, recs.size());

  // Every entry spoiled: the restore reads each record instead, as before.
  for (auto& r : recs)
    spoil_entry(reservation_key(r.app, r.component), "\x01too short");
  ASSERT_EQ(restart(0ms), recs.size());
  auto from_records = snapshot();
  EXPECT_EQ(from_records.entries, from_index.entries);
  EXPECT_EQ(from_records.per_app, from_index.per_app);
  EXPECT_EQ(from_records.uuids, from_index.uuids);
  EXPECT_EQ(from_records.totals, from_index.totals);
  EXPECT_EQ(from_records.next_job_id, from_index.next_job_id);
  EXPECT_EQ(from_records.armed, from_index.armed);
}

TEST_F(restart_index_test, a_truncated_entry_falls_back_to_its_record_and_its_deadline_alerts) {
  reserve("app", "a", 1, time_unit::minutes);
  reserve("app", "b", 1, time_unit::hours);
  auto a = reservation_key("app", "a");
  auto good = codec::encode(index_of(*stored("app", "a")));
  spoil_entry(a, good.substr(0, good.size() / 2));
  // a's deadline: 1 min + the 5 min bake + 30 s grace; b's an hour later.
  EXPECT_EQ(restart(10min), 2u) << "never lost";
  EXPECT_EQ(channel->count(alert_kind::late), 1u) << "a missed its deadline while down";
  EXPECT_EQ(*request<std::uint64_t>(coord, arm_atom::value), 2u);
  // Its next write rewrites the entry.
  ASSERT_TRUE(checkin("app", "a"));
  bool seen = false;
  auto st = store.db->for_each_index([&](std::string_view key, const restart_index* ix) {
    if (key == a) {
      seen = ix != nullptr && *ix == index_of(*stored("app", "a"));
    }
    return true;
  });
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(seen);
}

TEST_F(restart_index_test, a_data_directory_written_before_the_index_is_migrated_and_restored) {
  namespace fs = std::filesystem;
  stop_actors();
  store.committer.reset();
  store.db.reset();
  fs::remove_all(store.dir);
  fs::copy(fs::path{GOTEL_SOURCE_DIR} / "tests/fixtures/data-main-49ca5dc", store.dir);
  store.open();

  storage::status st;
  EXPECT_EQ(store.db->get_meta("restart_index", st).value_or(""), "1") << "built at open";
  std::map<std::string, reservation_record> recs;
  ASSERT_TRUE(store.db->for_each_reservation([&](const std::string& key, reservation_record&& r) {
    recs.emplace(key, std::move(r));
    return true;
  }).ok());
  ASSERT_GE(recs.size(), 7u) << "the fixture's reservations (and its node's own rows)";
  std::size_t indexed = 0;
  ASSERT_TRUE(store.db->for_each_index([&](std::string_view key, const restart_index* ix) {
    auto i = recs.find(std::string(key));
    EXPECT_NE(i, recs.end()) << "an entry per record, no other";
    EXPECT_TRUE(ix);
    if (i != recs.end() && ix)
      EXPECT_EQ(*ix, index_of(i->second)) << key;
    ++indexed;
    return true;
  }).ok());
  EXPECT_EQ(indexed, recs.size());

  // The node comes back an hour after the fixture was written.
  unix_ms written = 0;
  for (auto& [key, r] : recs)
    written = std::max({written, r.created_ms, r.last_checkin_ms});
  wall_jump = written + 3600'000 - (wall_now() - wall_jump);
  start_actors();
  EXPECT_EQ(*request<std::uint64_t>(coord, restore_atom::value), recs.size());
  run();

  std::map<std::string, std::vector<std::string>> alerted;  // app -> dedup keys
  for (auto& in : channel->seen())
    alerted[in.app].push_back(in.dedup_key);
  EXPECT_EQ(alerted["Graceful"].size(), 1u) << "10 min + 2 min grace passed while down";
  ASSERT_EQ(alerted["Etl"].size(), 1u) << "its run passed max_duration while down";
  EXPECT_NE(alerted["Etl"][0].find("-run-"), std::string::npos);
  EXPECT_EQ(alerted.count("Nightly"), 0u);
  EXPECT_EQ(alerted.count("Never"), 0u);
  EXPECT_EQ(alerted.count("Paused"), 0u) << "snoozed for 3 days";
  EXPECT_EQ(alerted.count("Fast"), 0u) << "alerted before the stop; no repeat within 6 h";

  // Ping uuids survive: a success by uuid reaches the reservation.
  auto& nightly = recs.at(reservation_key("Nightly", "Backup"));
  signal_request req;
  req.uuid = nightly.uuid;
  req.kind = signal_kind::success;
  auto got = call(caf::make_message(signal_atom::value, std::move(req)));
  ASSERT_TRUE(got) << to_string(got.error());
  EXPECT_EQ(got->checkins, nightly.checkins + 1);
}

}  // namespace
}  // namespace gotel::test
