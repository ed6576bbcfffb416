#include "storage/codec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <random>

namespace gotel {
namespace {

using json = nlohmann::json;

reservation_record sample_reservation() {
  reservation_record r;
  r.job_id = std::numeric_limits<std::uint64_t>::max();
  r.app = "Backup \xC3\xA9";
  r.component = std::string("nul\0inside", 10);
  r.owner = "ops@example.com";
  r.notify = "a@example.com,b@example.com";
  r.alert_msg = "{{app}} is late";
  r.frequency = 15;
  r.unit = time_unit::hours;
  r.created_ms = 1'700'000'000'000;
  r.last_checkin_ms = -1;  // negative wall times survive
  r.checkins = 1ull << 40;
  r.snooze_until_ms = std::numeric_limits<std::int64_t>::max();
  r.late_since_ms = std::numeric_limits<std::int64_t>::min();
  r.last_alert_ms = 42;
  r.alerts = 7;
  return r;
}

alert_intent sample_intent() {
  alert_intent i;
  i.id = 99;
  i.dedup_key = "17:1700000000000";
  i.kind = alert_kind::recovered;
  i.channel = "webhook";
  i.job_id = 17;
  i.app = "app";
  i.component = "comp";
  i.owner = "me";
  i.notify = "x@example.com";
  i.message = "late!\n";
  i.deadline_ms = 1'700'000'000'000;
  i.created_ms = 1'700'000'000'100;
  i.attempts = std::numeric_limits<std::uint32_t>::max();
  i.next_attempt_ms = 1'700'000'060'000;
  i.last_error = "HTTP 503";
  return i;
}

alert_log_entry sample_log() {
  alert_log_entry e;
  e.at_ms = 5;
  e.job_id = 6;
  e.app = "a";
  e.component = "c";
  e.kind = alert_kind::repeat;
  e.channel = "log";
  e.dedup_key = "6:5";
  e.outcome = "delivered";
  return e;
}

void expect_equal(const reservation_record& a, const reservation_record& b) {
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.component, b.component);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.notify, b.notify);
  EXPECT_EQ(a.alert_msg, b.alert_msg);
  EXPECT_EQ(a.frequency, b.frequency);
  EXPECT_EQ(a.unit, b.unit);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.last_checkin_ms, b.last_checkin_ms);
  EXPECT_EQ(a.checkins, b.checkins);
  EXPECT_EQ(a.snooze_until_ms, b.snooze_until_ms);
  EXPECT_EQ(a.late_since_ms, b.late_since_ms);
  EXPECT_EQ(a.last_alert_ms, b.last_alert_ms);
  EXPECT_EQ(a.alerts, b.alerts);
}

/// A value built by hand: version byte + msgpack of `obj`.
std::string raw_value(const json& obj, unsigned char version = codec::value_version) {
  std::string out(1, static_cast<char>(version));
  auto bytes = json::to_msgpack(obj);
  out.append(bytes.begin(), bytes.end());
  return out;
}

/// Runs every decoder on `bytes` (none may throw or crash); how many accepted it.
int decoded_count(std::string_view bytes) {
  int n = 0;
  n += codec::decode_reservation(bytes).has_value();
  n += codec::decode_checkin(bytes).has_value();
  n += codec::decode_intent(bytes).has_value();
  n += codec::decode_alert_log(bytes).has_value();
  return n;
}

TEST(codec, reservation_round_trip) {
  auto r = sample_reservation();
  auto bytes = codec::encode(r);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), codec::value_version);
  auto back = codec::decode_reservation(bytes);
  ASSERT_TRUE(back);
  expect_equal(*back, r);
}

TEST(codec, checkin_round_trip) {
  checkin_entry e{1'700'000'000'000, "took 3 s", "10.0.0.7"};
  auto back = codec::decode_checkin(codec::encode(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at_ms, e.at_ms);
  EXPECT_EQ(back->notes, e.notes);
  EXPECT_EQ(back->source, e.source);
}

TEST(codec, intent_round_trip) {
  auto i = sample_intent();
  auto back = codec::decode_intent(codec::encode(i));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, i.id);
  EXPECT_EQ(back->dedup_key, i.dedup_key);
  EXPECT_EQ(back->kind, i.kind);
  EXPECT_EQ(back->channel, i.channel);
  EXPECT_EQ(back->job_id, i.job_id);
  EXPECT_EQ(back->app, i.app);
  EXPECT_EQ(back->component, i.component);
  EXPECT_EQ(back->owner, i.owner);
  EXPECT_EQ(back->notify, i.notify);
  EXPECT_EQ(back->message, i.message);
  EXPECT_EQ(back->deadline_ms, i.deadline_ms);
  EXPECT_EQ(back->created_ms, i.created_ms);
  EXPECT_EQ(back->attempts, i.attempts);
  EXPECT_EQ(back->next_attempt_ms, i.next_attempt_ms);
  EXPECT_EQ(back->last_error, i.last_error);
}

TEST(codec, alert_log_round_trip) {
  auto e = sample_log();
  auto back = codec::decode_alert_log(codec::encode(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at_ms, e.at_ms);
  EXPECT_EQ(back->job_id, e.job_id);
  EXPECT_EQ(back->app, e.app);
  EXPECT_EQ(back->component, e.component);
  EXPECT_EQ(back->kind, e.kind);
  EXPECT_EQ(back->channel, e.channel);
  EXPECT_EQ(back->dedup_key, e.dedup_key);
  EXPECT_EQ(back->outcome, e.outcome);
}

TEST(codec, unconfirmed_write_round_trip_and_refusals) {
  unconfirmed_write w;
  w.removed = true;
  w.revision = std::numeric_limits<std::uint64_t>::max();
  w.uuid = "0b6a1c1e-8a44-4a43-9f5e-2f0e4f6b7c11";
  auto back = codec::decode_unconfirmed(codec::encode(w));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, w);
  EXPECT_EQ(codec::decode_unconfirmed(codec::encode(unconfirmed_write{})), unconfirmed_write{});
  // A flag other than 0 or 1, a missing flag, or a wrong type is not a value
  // this version wrote: refused, never guessed.
  EXPECT_FALSE(codec::decode_unconfirmed(raw_value({{"rm", 2}})));
  EXPECT_FALSE(codec::decode_unconfirmed(raw_value({{"v", 3}})));
  EXPECT_FALSE(codec::decode_unconfirmed(raw_value({{"rm", 1}, {"v", -3}})));
  EXPECT_FALSE(codec::decode_unconfirmed(raw_value({{"rm", 1}, {"u", 7}})));
}

TEST(codec, missing_optional_fields_take_defaults_and_unknown_fields_are_ignored) {
  auto r = codec::decode_reservation(
      raw_value({{"id", 3}, {"a", "app"}, {"c", "comp"}, {"f", 2}, {"u", 0}, {"zz", "new"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->job_id, 3u);
  EXPECT_EQ(r->unit, time_unit::seconds);
  EXPECT_EQ(r->owner, "");
  EXPECT_EQ(r->last_checkin_ms, 0);
  EXPECT_EQ(r->alerts, 0u);
}

TEST(codec, rejects_wrong_version_empty_and_truncated) {
  auto bytes = codec::encode(sample_reservation());
  EXPECT_FALSE(codec::decode_reservation(""));
  EXPECT_FALSE(codec::decode_reservation(std::string(1, static_cast<char>(codec::value_version))));
  auto wrong = bytes;
  wrong[0] = static_cast<char>(codec::value_version + 1);
  EXPECT_FALSE(codec::decode_reservation(wrong));
  wrong[0] = 0;
  EXPECT_FALSE(codec::decode_reservation(wrong));
  for (std::size_t len = 0; len < bytes.size(); ++len)
    EXPECT_FALSE(codec::decode_reservation(std::string_view(bytes).substr(0, len))) << len;
  EXPECT_FALSE(codec::decode_reservation(bytes + "x"));  // trailing bytes
}

TEST(codec, rejects_wrong_types_missing_required_and_out_of_range) {
  json good = {{"id", 3}, {"a", "app"}, {"c", "comp"}, {"f", 2}, {"u", 1}};
  ASSERT_TRUE(codec::decode_reservation(raw_value(good)));
  auto with = [&](const char* k, json v) {
    json o = good;
    o[k] = std::move(v);
    return raw_value(o);
  };
  auto without = [&](const char* k) {
    json o = good;
    o.erase(k);
    return raw_value(o);
  };
  EXPECT_FALSE(codec::decode_reservation(with("id", "3")));
  EXPECT_FALSE(codec::decode_reservation(with("id", -1)));
  EXPECT_FALSE(codec::decode_reservation(with("id", 3.0)));
  EXPECT_FALSE(codec::decode_reservation(with("a", 5)));
  EXPECT_FALSE(codec::decode_reservation(with("o", nullptr)));
  EXPECT_FALSE(codec::decode_reservation(with("o", true)));
  EXPECT_FALSE(codec::decode_reservation(with("u", 4)));
  EXPECT_FALSE(codec::decode_reservation(with("u", 256)));
  EXPECT_FALSE(codec::decode_reservation(with("f", 0)));
  EXPECT_FALSE(codec::decode_reservation(with("f", -5)));
  // frequency x unit would overflow int64 milliseconds
  EXPECT_FALSE(codec::decode_reservation(with("f", std::numeric_limits<std::int64_t>::max())));
  EXPECT_FALSE(codec::decode_reservation(with("cr", std::numeric_limits<std::uint64_t>::max())));
  EXPECT_FALSE(codec::decode_reservation(with("m", json::array({"x"}))));
  EXPECT_FALSE(codec::decode_reservation(with("m", json::object({{"x", 1}}))));
  EXPECT_FALSE(codec::decode_reservation(with("m", json::binary({1, 2}))));
  for (const char* k : {"id", "a", "c", "f", "u"})
    EXPECT_FALSE(codec::decode_reservation(without(k))) << k;

  EXPECT_FALSE(codec::decode_reservation(raw_value(json::array({1, 2}))));
  EXPECT_FALSE(codec::decode_reservation(raw_value("just a string")));
  EXPECT_FALSE(codec::decode_intent(raw_value({{"id", 1}, {"dk", "x"}, {"k", 3}, {"ch", "log"}})));
  EXPECT_FALSE(codec::decode_intent(
      raw_value({{"id", 1}, {"dk", "x"}, {"k", 0}, {"ch", "log"}, {"at", 1ull << 32}})));
  EXPECT_FALSE(codec::decode_alert_log(raw_value({{"t", 1}})));  // kind is required
  EXPECT_FALSE(codec::decode_checkin(raw_value({{"n", "no time"}})));
}

TEST(codec, rejects_duplicate_keys) {
  // fixmap of 2: "t" -> 1, "t" -> 2
  std::string bytes{static_cast<char>(codec::value_version), '\x82', '\xa1', 't', '\x01',
                    '\xa1', 't', '\x02'};
  EXPECT_FALSE(codec::decode_checkin(bytes));
}

TEST(codec, deep_nesting_does_not_exhaust_the_stack) {
  // A million nested one-element arrays (0x91) and maps: refused at depth one.
  std::string arrays(1, static_cast<char>(codec::value_version));
  arrays.append(1'000'000, '\x91');
  EXPECT_EQ(decoded_count(arrays), 0);
  std::string maps(1, static_cast<char>(codec::value_version));
  for (int i = 0; i < 300'000; ++i) maps += "\x81\xa1k";
  EXPECT_EQ(decoded_count(maps), 0);
}

TEST(codec, huge_declared_lengths_are_refused_without_allocating_them) {
  // str32 and map32 claiming 4 GiB, with only a few bytes behind them.
  std::string str32{static_cast<char>(codec::value_version), '\xdb', '\xff', '\xff', '\xff',
                    '\xff', 'a'};
  std::string map32{static_cast<char>(codec::value_version), '\xdf', '\xff', '\xff', '\xff',
                    '\xff'};
  EXPECT_EQ(decoded_count(str32), 0);
  EXPECT_EQ(decoded_count(map32), 0);
}

TEST(codec, random_bytes_and_mutations_never_crash) {
  std::mt19937 rng(20240601);  // fixed seed: reproducible
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 64);
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    if (!bytes.empty() && i % 2 == 0) bytes[0] = static_cast<char>(codec::value_version);
    decoded_count(bytes);
  }
  const std::string seeds[] = {codec::encode(sample_reservation()), codec::encode(sample_intent()),
                               codec::encode(sample_log()),
                               codec::encode(checkin_entry{1, "n", "s"})};
  for (const auto& seed : seeds) {
    for (int i = 0; i < 5'000; ++i) {
      std::string bytes = seed;
      std::uniform_int_distribution<std::size_t> pos(1, bytes.size() - 1);
      for (int flips = 1 + i % 4; flips > 0; --flips)
        bytes[pos(rng)] = static_cast<char>(byte(rng));
      decoded_count(bytes);
    }
  }
  SUCCEED();
}

TEST(codec, schedule_run_and_ping_fields_round_trip) {
  auto r = sample_reservation();
  r.uuid = "0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3";
  r.schedule = "*/15 2-5 * * MON-FRI";
  r.tz = "Europe/Berlin";
  r.grace_ms = 300'000;
  r.max_duration_ms = 7'200'000;
  r.runs = {{"", 1000, false}, {"r-1.a_b", 2000, true}};
  r.last_duration_ms = 1500;
  r.total_duration_ms = 4500;
  r.runs_finished = 3;
  r.failed_since_ms = 9000;
  r.fail_alerted_ms = 9001;
  r.last_exit_status = 3;
  r.pings = 77;
  auto back = codec::decode_reservation(codec::encode(r));
  ASSERT_TRUE(back);
  expect_equal(*back, r);
  EXPECT_EQ(back->uuid, r.uuid);
  EXPECT_EQ(back->schedule, r.schedule);
  EXPECT_EQ(back->tz, r.tz);
  EXPECT_EQ(back->grace_ms, r.grace_ms);
  EXPECT_EQ(back->max_duration_ms, r.max_duration_ms);
  EXPECT_EQ(back->runs, r.runs);
  EXPECT_EQ(back->last_duration_ms, 1500);
  EXPECT_EQ(back->total_duration_ms, 4500);
  EXPECT_EQ(back->runs_finished, 3u);
  EXPECT_EQ(back->failed_since_ms, 9000);
  EXPECT_EQ(back->fail_alerted_ms, 9001);
  EXPECT_EQ(back->last_exit_status, 3);
  EXPECT_EQ(back->pings, 77u);
  // Values written before these fields existed decode with their defaults.
  auto old = codec::decode_reservation(codec::encode(sample_reservation()));
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->uuid.empty());
  EXPECT_TRUE(old->schedule.empty());
  EXPECT_TRUE(old->runs.empty());
  EXPECT_EQ(old->last_exit_status, -1);
  EXPECT_EQ(old->history_seq(), old->checkins);
  checkin_entry e{5, "n", "s", "exit 3"};
  auto eb = codec::decode_checkin(codec::encode(e));
  ASSERT_TRUE(eb);
  EXPECT_EQ(eb->kind, "exit 3");
}

TEST(codec, ping_history_fields_round_trip_and_old_entries_still_decode) {
  checkin_entry e{7, "hello", "1.1.1.1", "exit 3"};
  e.method = "POST";
  e.user_agent = "curl/8.5.0";
  e.run_id = "r-42";
  e.duration_ms = 1234;
  e.exit_status = 3;
  auto back = codec::decode_checkin(codec::encode(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, "exit 3");
  EXPECT_EQ(back->method, "POST");
  EXPECT_EQ(back->user_agent, "curl/8.5.0");
  EXPECT_EQ(back->run_id, "r-42");
  EXPECT_EQ(back->duration_ms, 1234);
  EXPECT_EQ(back->exit_status, 3);
  // An entry as the previous version wrote it (t, n, s, x only).
  auto old = codec::decode_checkin(
    raw_value(json::object({{"t", 5}, {"n", "n"}, {"s", "s"}, {"x", "start"}})));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->kind, "start");
  EXPECT_TRUE(old->method.empty());
  EXPECT_TRUE(old->user_agent.empty());
  EXPECT_TRUE(old->run_id.empty());
  EXPECT_EQ(old->duration_ms, -1);
  EXPECT_EQ(old->exit_status, -1);
  // Out-of-range values refuse the value.
  auto bad = [](const char* key, json v) {
    auto o = json::object({{"t", 5}});
    o[key] = std::move(v);
    return codec::decode_checkin(raw_value(o)).has_value();
  };
  EXPECT_FALSE(bad("xs", 256));
  EXPECT_FALSE(bad("d", -5));
  EXPECT_FALSE(bad("ua", 3));
  EXPECT_TRUE(bad("xs", 0));
  // manual_resume on the record: round trip, absent = false, 2 refused.
  auto r = codec::decode_reservation(raw_value(json::object(
    {{"id", 1}, {"a", "a"}, {"c", "c"}, {"f", 1}, {"u", 1}, {"mr", 1}})));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->manual_resume);
  auto again = codec::decode_reservation(codec::encode(*r));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->manual_resume);
  r->manual_resume = false;
  EXPECT_EQ(codec::encode(*r).find("mr"), std::string::npos) << "written only when set";
  EXPECT_FALSE(codec::decode_reservation(raw_value(json::object(
    {{"id", 1}, {"a", "a"}, {"c", "c"}, {"f", 1}, {"u", 1}, {"mr", 2}}))));
}

TEST(codec, malformed_runs_and_negative_durations_refuse_the_value) {
  auto base = json::object({{"id", 1}, {"a", "a"}, {"c", "c"}, {"f", 1}, {"u", 1}});
  auto with = [&](const char* key, json value) {
    auto o = base;
    o[key] = std::move(value);
    return codec::decode_reservation(raw_value(o));
  };
  EXPECT_TRUE(with("rn", "1000:0:;2000:1:r1"));
  EXPECT_FALSE(with("rn", "1000"));
  EXPECT_FALSE(with("rn", "1000:2:x"));
  EXPECT_FALSE(with("rn", "x:0:y"));
  EXPECT_FALSE(with("rn", "1000:0"));
  std::string many;
  for (std::size_t i = 0; i <= max_open_runs; ++i)
    many += (many.empty() ? "" : ";") + std::to_string(i) + ":0:r" + std::to_string(i);
  EXPECT_FALSE(with("rn", many)) << "more than max_open_runs";
  EXPECT_FALSE(with("gr", -1));
  EXPECT_FALSE(with("md", -5));
  EXPECT_FALSE(with("xs", 256));
  EXPECT_FALSE(with("uu", 5));
}

}  // namespace
}  // namespace gotel
