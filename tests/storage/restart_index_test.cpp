// The restart index entry (storage/restart_index.hpp): what it keeps of a
// record, its fixed-width encoding, and a decoder that refuses bad bytes.

#include "storage/restart_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace gotel {
namespace {

reservation_record periodic() {
  reservation_record r;
  r.job_id = 42;
  r.app = "App";
  r.component = "Comp";
  r.frequency = 5;
  r.unit = time_unit::minutes;
  r.created_ms = 1'700'000'000'000;
  r.revision = 9;
  r.uuid = "0123ABCD-4567-89ab-cdef-0123456789AB";
  return r;
}

TEST(restart_index, keeps_what_a_restart_needs_of_a_record) {
  auto r = periodic();
  auto ix = index_of(r);
  EXPECT_EQ(ix.job_id, 42u);
  EXPECT_EQ(ix.revision, 9u);
  EXPECT_FALSE(ix.checked_in);
  EXPECT_EQ(ix.base_ms, r.created_ms) << "never checked in: the base is the creation";
  EXPECT_EQ(ix.period_ms, 300'000);
  EXPECT_TRUE(ix.has_uuid);
  EXPECT_EQ(ix.uuid_hi, 0x0123abcd456789abULL);
  EXPECT_EQ(ix.uuid_lo, 0xcdef0123456789abULL);
  EXPECT_FALSE(ix.uuid_from_key);
  EXPECT_TRUE(ix.schedule.empty());

  r.last_checkin_ms = r.created_ms + 60'000;
  r.late_since_ms = 5;
  r.failed_since_ms = 6;
  r.snooze_until_ms = 7;
  r.max_duration_ms = 1000;
  r.runs = {{"a", 500, false}, {"b", 100, true}, {"c", 300, false}};
  r.schedule = "*/5 * * * *";
  r.tz = "Europe/Paris";
  ix = index_of(r);
  EXPECT_TRUE(ix.checked_in);
  EXPECT_EQ(ix.base_ms, r.last_checkin_ms);
  EXPECT_TRUE(ix.late);
  EXPECT_TRUE(ix.failed);
  EXPECT_FALSE(ix.fail_alerted);
  EXPECT_EQ(ix.snooze_until_ms, 7);
  EXPECT_TRUE(ix.running);
  EXPECT_TRUE(ix.has_run_due);
  EXPECT_EQ(ix.run_due_ms, 1300) << "the earliest run not alerted yet (b is alerted)";
  EXPECT_EQ(ix.schedule, "*/5 * * * *");
  EXPECT_EQ(ix.tz, "Europe/Paris");

  r.uuid.clear();
  ix = index_of(r);
  EXPECT_TRUE(ix.uuid_from_key) << "records from before ping ids derive theirs from the key";
  EXPECT_FALSE(ix.has_uuid);
  r.uuid = "not-a-uuid";
  ix = index_of(r);
  EXPECT_FALSE(ix.uuid_from_key);
  EXPECT_FALSE(ix.has_uuid);
}

TEST(restart_index, round_trips_in_fixed_width) {
  auto r = periodic();
  r.last_checkin_ms = -3;  // any i64 survives
  r.grace_ms = 1234;
  auto ix = index_of(r);
  auto bytes = codec::encode(ix);
  EXPECT_EQ(bytes.size(), 75u) << "version, flags, 7 x 8 bytes, 16-byte uuid";
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), codec::index_version);
  auto back = codec::decode_index(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ix);

  r.schedule = "0 3 * * 1";
  r.tz = "America/New_York";
  r.max_duration_ms = 10;
  r.runs = {{"", 5, false}};
  ix = index_of(r);
  bytes = codec::encode(ix);
  EXPECT_EQ(bytes.size(), 75u + 4 + r.schedule.size() + 4 + r.tz.size());
  back = codec::decode_index(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ix);
}

TEST(restart_index, decode_refuses_bad_bytes) {
  auto r = periodic();
  r.schedule = "* * * * *";
  const auto good = codec::encode(index_of(r));
  ASSERT_TRUE(codec::decode_index(good));

  // Every truncation, and one byte too many.
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(codec::decode_index(good.substr(0, n))) << "truncated to " << n;
  EXPECT_FALSE(codec::decode_index(good + "x"));

  auto with = [&good](std::size_t at, unsigned char v) {
    auto b = good;
    b[at] = static_cast<char>(v);
    return b;
  };
  EXPECT_FALSE(codec::decode_index(with(0, 2))) << "unknown version";
  EXPECT_FALSE(codec::decode_index(with(0, 0)));
  EXPECT_FALSE(codec::decode_index(with(1, 0x80))) << "unknown flag";
  auto both_uuid_flags = good;
  both_uuid_flags[2] = static_cast<char>(static_cast<unsigned char>(good[2]) | 0x80);
  EXPECT_FALSE(codec::decode_index(both_uuid_flags)) << "uuid bits and uuid from key";
  // period_ms (bytes 27..34) must be > 0.
  auto zero_period = good;
  for (int i = 27; i < 35; ++i)
    zero_period[i] = 0;
  EXPECT_FALSE(codec::decode_index(zero_period));
  // Times so large that adding a period to them could overflow (base_ms is
  // bytes 19..26): the restore reads such a record instead.
  auto huge_base = good;
  huge_base[19] = 0x7f;
  EXPECT_FALSE(codec::decode_index(huge_base));
  auto record_with_huge_period = periodic();
  record_with_huge_period.frequency = std::int64_t{1} << 52;
  record_with_huge_period.unit = time_unit::seconds;
  EXPECT_FALSE(codec::decode_index(codec::encode(index_of(record_with_huge_period))));
  // A schedule length longer than what follows.
  EXPECT_FALSE(codec::decode_index(with(75, 0x7f)));

  // Random bytes never crash the decoder (the fuzzer goes further).
  std::mt19937_64 rng{15};
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 120, '\0');
    for (auto& c : b)
      c = static_cast<char>(rng());
    if (!b.empty() && rng() % 2)
      b[0] = static_cast<char>(codec::index_version);
    (void)codec::decode_index(b);
  }
}

}  // namespace
}  // namespace gotel
