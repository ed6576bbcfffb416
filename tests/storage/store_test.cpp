#include "storage/codec.hpp"
#include "storage/store.hpp"
#include "tests/storage/temp_dir.hpp"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace gotel::storage {
namespace {

using test::temp_dir;

reservation_record make_reservation(std::uint64_t id, std::string app, std::string component) {
  reservation_record r;
  r.job_id = id;
  r.app = std::move(app);
  r.component = std::move(component);
  r.owner = "owner";
  r.frequency = 5;
  r.unit = time_unit::minutes;
  r.created_ms = 1000;
  return r;
}

alert_intent make_intent(std::uint64_t id) {
  alert_intent i;
  i.id = id;
  i.dedup_key = "job:" + std::to_string(id);
  i.channel = "log";
  i.job_id = id;
  i.message = "late " + std::to_string(id);
  return i;
}

alert_log_entry make_log(std::int64_t at) {
  alert_log_entry e;
  e.at_ms = at;
  e.job_id = 1;
  e.kind = alert_kind::late;
  e.channel = "log";
  e.outcome = "delivered";
  return e;
}

class store_test : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    db_.reset();
    status st;
    db_ = store::open(options{dir_.path}, st);
    ASSERT_TRUE(st.ok()) << st.message;
    ASSERT_TRUE(db_);
  }

  void commit(write_batch& b) {
    auto st = db_->write(b, true);
    ASSERT_TRUE(st.ok()) << st.message;
  }

  std::vector<std::int64_t> checkin_times(const std::string& key, std::size_t limit = 1000) {
    status st;
    auto list = db_->checkins(key, limit, st);
    EXPECT_TRUE(st.ok()) << st.message;
    std::vector<std::int64_t> out;
    for (auto& e : list) out.push_back(e.at_ms);
    return out;
  }

  temp_dir dir_;
  std::unique_ptr<store> db_;
};

TEST_F(store_test, reservation_put_get_erase) {
  const auto key = reservation_key("App", "Comp");
  status st;
  EXPECT_FALSE(db_->get_reservation(key, st));
  EXPECT_EQ(st.code, errc::not_found);

  write_batch b;
  b.put(key, make_reservation(7, "App", "Comp"));
  EXPECT_EQ(b.count(), 2u) << "the record and its restart index entry";
  commit(b);

  auto got = db_->get_reservation(key, st);
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_TRUE(got);
  EXPECT_EQ(got->job_id, 7u);
  EXPECT_EQ(got->app, "App");
  EXPECT_EQ(got->component, "Comp");
  EXPECT_EQ(got->period_ms(), 300'000);

  write_batch e;
  e.erase_reservation(key);
  commit(e);
  EXPECT_FALSE(db_->get_reservation(key, st));
  EXPECT_EQ(st.code, errc::not_found);
}

TEST_F(store_test, reopen_keeps_every_record_type) {
  const auto key = reservation_key("a", "b");
  {
    write_batch b;
    b.put(key, make_reservation(1, "a", "b"));
    b.put_checkin(key, 1, checkin_entry{100, "first", "10.0.0.1"});
    b.put_checkin(key, 2, checkin_entry{200, "second", "10.0.0.2"});
    b.put(make_intent(5));
    b.append(1, make_log(300));
    b.put_meta("epoch", "42");
    commit(b);
  }
  db_.reset();  // close
  reopen();

  status st;
  auto r = db_->get_reservation(key, st);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->job_id, 1u);

  auto hist = db_->checkins(key, 10, st);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(hist[0].notes, "second");
  EXPECT_EQ(hist[0].source, "10.0.0.2");
  EXPECT_EQ(hist[1].at_ms, 100);

  std::vector<alert_intent> intents;
  ASSERT_TRUE(db_->for_each_intent([&](alert_intent&& i) {
                   intents.push_back(std::move(i));
                   return true;
                 }).ok());
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].message, "late 5");

  auto log = db_->alert_log(10, st);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].at_ms, 300);
  EXPECT_EQ(db_->last_alert_log_seq(), 1u);

  auto epoch = db_->get_meta("epoch", st);
  ASSERT_TRUE(epoch);
  EXPECT_EQ(*epoch, "42");
}

TEST_F(store_test, reopen_after_flush_keeps_data) {
  write_batch b;
  b.put_meta("k", "v");
  commit(b);
  ASSERT_TRUE(db_->flush().ok());
  reopen();
  status st;
  EXPECT_EQ(db_->get_meta("k", st).value_or(""), "v");
}

TEST_F(store_test, history_never_leaks_between_reservations_whose_keys_share_a_prefix) {
  // "a\0b" is a prefix of "a\0bc"; "a\0b" + seq bytes could also look like
  // another key if the layout were naive.
  const auto short_key = reservation_key("a", "b");
  const auto long_key = reservation_key("a", "bc");
  const auto nul_key = reservation_key("a", std::string("b\0\0", 3));
  write_batch b;
  for (std::uint64_t s = 1; s <= 3; ++s) {
    b.put_checkin(short_key, s, checkin_entry{static_cast<std::int64_t>(s), "", ""});
    b.put_checkin(long_key, s, checkin_entry{static_cast<std::int64_t>(100 + s), "", ""});
    b.put_checkin(nul_key, s, checkin_entry{static_cast<std::int64_t>(200 + s), "", ""});
  }
  commit(b);

  EXPECT_EQ(checkin_times(short_key), (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_EQ(checkin_times(long_key), (std::vector<std::int64_t>{103, 102, 101}));
  EXPECT_EQ(checkin_times(nul_key), (std::vector<std::int64_t>{203, 202, 201}));

  write_batch erase;
  erase.erase_history(short_key);
  commit(erase);
  EXPECT_TRUE(checkin_times(short_key).empty());
  EXPECT_EQ(checkin_times(long_key).size(), 3u);
  EXPECT_EQ(checkin_times(nul_key).size(), 3u);
}

TEST_F(store_test, reservations_whose_keys_share_a_prefix_stay_distinct) {
  write_batch b;
  b.put(reservation_key("a", "b"), make_reservation(1, "a", "b"));
  b.put(reservation_key("a", "bc"), make_reservation(2, "a", "bc"));
  b.put(reservation_key("ab", ""), make_reservation(3, "ab", ""));
  commit(b);
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  ASSERT_TRUE(db_->for_each_reservation([&](const std::string& k, reservation_record&& r) {
                   seen.emplace_back(k, r.job_id);
                   return true;
                 }).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(reservation_key("a", "b"), std::uint64_t{1}));
  EXPECT_EQ(seen[1], std::make_pair(reservation_key("a", "bc"), std::uint64_t{2}));
  EXPECT_EQ(seen[2], std::make_pair(reservation_key("ab", ""), std::uint64_t{3}));

  // Stopping early.
  int calls = 0;
  ASSERT_TRUE(db_->for_each_reservation([&](const std::string&, reservation_record&&) {
                   ++calls;
                   return false;
                 }).ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(store_test, paging_after_a_key_visits_each_reservation_once_in_order) {
  write_batch b;
  for (int i = 0; i < 25; ++i)
    b.put(reservation_key("app", "c" + std::to_string(100 + i)),
          make_reservation(static_cast<std::uint64_t>(i + 1), "app", "c" + std::to_string(100 + i)));
  commit(b);
  // Pages of 10, as cluster catch-up reads them.
  std::vector<std::uint64_t> ids;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    std::size_t n = 0;
    ASSERT_TRUE(db_->for_each_reservation_after(after, [&](const std::string& k,
                                                          reservation_record&& r) {
                     if (n == 10)
                       return false;
                     ++n;
                     after = k;
                     ids.push_back(r.job_id);
                     return true;
                   }).ok());
    if (n == 0)
      break;
  }
  ASSERT_EQ(ids.size(), 25u);
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(ids[i], i + 1);
  // A key that is not stored starts at the next one.
  std::vector<std::uint64_t> tail;
  ASSERT_TRUE(db_->for_each_reservation_after(reservation_key("app", "c1235"),
                                              [&](const std::string&, reservation_record&& r) {
                                                tail.push_back(r.job_id);
                                                return true;
                                              }).ok());
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0], 25u) << "c1235 sorts between c123 and c124";
}

TEST_F(store_test, checkins_are_newest_first_with_limit_across_byte_boundaries) {
  const auto key = reservation_key("job", "x");
  write_batch b;
  for (std::uint64_t s = 1; s <= 300; ++s)  // past 255: numeric, not lexical, order
    b.put_checkin(key, s, checkin_entry{static_cast<std::int64_t>(s), "", ""});
  commit(b);
  EXPECT_EQ(checkin_times(key, 3), (std::vector<std::int64_t>{300, 299, 298}));
  EXPECT_EQ(checkin_times(key, 1000).size(), 300u);
  EXPECT_EQ(checkin_times(key, 1000).back(), 1);
  EXPECT_TRUE(checkin_times(key, 0).empty());
  EXPECT_TRUE(checkin_times(reservation_key("job", "y")).empty());
}

TEST_F(store_test, erase_checkin_trims_the_oldest_and_history_can_restart) {
  const auto key = reservation_key("job", "x");
  write_batch b;
  for (std::uint64_t s = 1; s <= 5; ++s)
    b.put_checkin(key, s, checkin_entry{static_cast<std::int64_t>(s), "", ""});
  commit(b);
  write_batch trim;
  trim.erase_checkin(key, 1);
  trim.erase_checkin(key, 2);
  commit(trim);
  EXPECT_EQ(checkin_times(key), (std::vector<std::int64_t>{5, 4, 3}));

  // Erase and write again in one batch: the later put survives the range delete.
  write_batch again;
  again.erase_history(key);
  again.put_checkin(key, 1, checkin_entry{77, "", ""});
  commit(again);
  EXPECT_EQ(checkin_times(key), (std::vector<std::int64_t>{77}));
}

TEST_F(store_test, outbox_lists_intents_in_id_order_after_deleting_one) {
  write_batch b;
  for (std::uint64_t id : {3, 1, 256, 2, 5}) b.put(make_intent(id));
  commit(b);
  write_batch del;
  del.erase_intent(2);
  commit(del);

  std::vector<std::uint64_t> ids;
  ASSERT_TRUE(db_->for_each_intent([&](alert_intent&& i) {
                   ids.push_back(i.id);
                   EXPECT_EQ(i.dedup_key, "job:" + std::to_string(i.id));
                   return true;
                 }).ok());
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 3, 5, 256}));

  // Rewriting an intent (e.g. after a failed attempt) replaces it.
  auto retry = make_intent(3);
  retry.attempts = 2;
  retry.last_error = "timeout";
  write_batch upd;
  upd.put(retry);
  commit(upd);
  std::uint32_t attempts = 0;
  db_->for_each_intent([&](alert_intent&& i) {
    if (i.id == 3) attempts = i.attempts;
    return true;
  });
  EXPECT_EQ(attempts, 2u);
}

TEST_F(store_test, alert_log_is_newest_first_and_reports_last_seq) {
  EXPECT_EQ(db_->last_alert_log_seq(), 0u);
  status st;
  EXPECT_TRUE(db_->alert_log(10, st).empty());
  EXPECT_TRUE(st.ok());

  write_batch b;
  for (std::uint64_t s = 1; s <= 300; ++s) b.append(s, make_log(static_cast<std::int64_t>(s)));
  commit(b);
  auto log = db_->alert_log(3, st);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].at_ms, 300);
  EXPECT_EQ(log[1].at_ms, 299);
  EXPECT_EQ(log[2].at_ms, 298);
  EXPECT_EQ(db_->last_alert_log_seq(), 300u);
}

TEST_F(store_test, meta_get_and_missing) {
  status st;
  EXPECT_FALSE(db_->get_meta("epoch", st));
  EXPECT_EQ(st.code, errc::not_found);
  write_batch b;
  b.put_meta("epoch", std::string("\0\x01", 2));
  commit(b);
  auto v = db_->get_meta("epoch", st);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, std::string("\0\x01", 2));
}

TEST_F(store_test, unconfirmed_writes_survive_a_reopen_in_key_order_and_can_be_erased) {
  const auto a = reservation_key("a", "x");
  const auto ab = reservation_key("a", "xy");  // a prefix of it is another key
  write_batch b;
  b.put_unconfirmed(ab, unconfirmed_write{true, 0x0102030405060708ULL, "uuid-1"});
  b.put_unconfirmed(a, unconfirmed_write{});
  b.put(a, make_reservation(1, "a", "x"));
  commit(b);
  reopen();
  std::vector<std::pair<std::string, unconfirmed_write>> seen;
  auto st = db_->for_each_unconfirmed([&](const std::string& key, unconfirmed_write&& w) {
    seen.emplace_back(key, std::move(w));
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, a);
  EXPECT_EQ(seen[0].second, unconfirmed_write{});
  EXPECT_EQ(seen[1].first, ab);
  EXPECT_EQ(seen[1].second, (unconfirmed_write{true, 0x0102030405060708ULL, "uuid-1"}));

  write_batch e;
  e.erase_unconfirmed(ab);
  commit(e);
  seen.clear();
  st = db_->for_each_unconfirmed([&](const std::string& key, unconfirmed_write&& w) {
    seen.emplace_back(key, std::move(w));
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message;
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, a);
  EXPECT_TRUE(db_->get_reservation(a, st)) << "the reservation itself is untouched";
}

TEST_F(store_test, undecodable_values_are_reported_as_corruption_without_hiding_good_ones) {
  write_batch b;
  b.put(reservation_key("a", "1"), make_reservation(1, "a", "1"));
  b.raw().Put(std::string("r/") + reservation_key("a", "2"), "garbage");
  b.put(reservation_key("a", "3"), make_reservation(3, "a", "3"));
  commit(b);

  status st;
  EXPECT_FALSE(db_->get_reservation(reservation_key("a", "2"), st));
  EXPECT_EQ(st.code, errc::corruption);

  std::vector<std::uint64_t> ids;
  st = db_->for_each_reservation([&](const std::string&, reservation_record&& r) {
    ids.push_back(r.job_id);
    return true;
  });
  EXPECT_EQ(st.code, errc::corruption);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 3}));
}

TEST_F(store_test, append_batch_moves_changes_in_order) {
  const auto key = reservation_key("j", "k");
  write_batch first;
  first.put_checkin(key, 1, checkin_entry{1, "", ""});
  write_batch second;
  second.erase_history(key);
  second.put_checkin(key, 2, checkin_entry{2, "", ""});
  second.put_meta("m", "v");
  first.append_batch(std::move(second));
  EXPECT_EQ(first.count(), 4u);
  EXPECT_TRUE(second.empty());  // NOLINT(bugprone-use-after-move): documented as moved out

  write_batch empty;
  empty.append_batch(std::move(first));
  EXPECT_EQ(empty.count(), 4u);
  commit(empty);
  EXPECT_EQ(checkin_times(key), (std::vector<std::int64_t>{2}));
  status st;
  EXPECT_EQ(db_->get_meta("m", st).value_or(""), "v");

  // A moved-from batch can be reused.
  second.put_meta("m", "w");
  commit(second);
  EXPECT_EQ(db_->get_meta("m", st).value_or(""), "w");
}

TEST(store_open, fails_cleanly) {
  temp_dir dir;
  status st;
  options missing{dir.path + "/absent"};
  missing.create_if_missing = false;
  EXPECT_FALSE(store::open(missing, st));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.code, errc::not_found);

  auto first = store::open(options{dir.path}, st);
  ASSERT_TRUE(first) << st.message;
  // The directory is locked by the first store.
  EXPECT_FALSE(store::open(options{dir.path}, st));
  EXPECT_EQ(st.code, errc::io_error);
}


// ---- restart index (issue 15 §5) ------------------------------------------

/// Every index entry as (key, entry re-encoded; "" for one that does not decode).
std::vector<std::pair<std::string, std::string>> index_entries(const store& db) {
  std::vector<std::pair<std::string, std::string>> out;
  auto st = db.for_each_index([&](std::string_view key, const restart_index* ix) {
    out.emplace_back(std::string(key), ix ? codec::encode(*ix) : std::string{});
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.message;
  return out;
}

std::string encoded_index(const reservation_record& r) { return codec::encode(index_of(r)); }

TEST_F(store_test, the_restart_index_entry_is_written_and_erased_with_its_record) {
  const auto a = reservation_key("a", "1");
  const auto b = reservation_key("a", "10");  // a's key is a prefix of b's
  auto ra = make_reservation(1, "a", "1");
  auto rb = make_reservation(2, "a", "10");
  rb.last_checkin_ms = 5000;
  write_batch w;
  w.put(a, ra);
  w.put(b, rb);
  commit(w);
  using entries = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(index_entries(*db_), (entries{{a, encoded_index(ra)}, {b, encoded_index(rb)}}));
  {
    write_batch other_app;
    other_app.put(reservation_key("b", "1"), make_reservation(3, "b", "1"));
    commit(other_app);
    status st;
    std::uint64_t apps = 0;
    EXPECT_EQ(db_->count_index(st, &apps), 3u);
    EXPECT_EQ(apps, 2u) << "a (two reservations) and b";
    write_batch undo;
    undo.erase_reservation(reservation_key("b", "1"));
    commit(undo);
  }

  // A rewrite replaces the entry; it is not added again.
  rb.last_checkin_ms = 9000;
  rb.revision = 3;
  write_batch u;
  u.put(b, rb);
  commit(u);
  EXPECT_EQ(index_entries(*db_), (entries{{a, encoded_index(ra)}, {b, encoded_index(rb)}}));

  write_batch e;
  e.erase_reservation(a);
  commit(e);
  EXPECT_EQ(index_entries(*db_), (entries{{b, encoded_index(rb)}}));
  status st;
  EXPECT_EQ(db_->count_index(st), 1u);

  // A batch that is never written leaves neither the record nor its entry.
  write_batch dropped;
  dropped.put(a, ra);
  EXPECT_EQ(dropped.count(), 2u);
  reopen();
  EXPECT_EQ(index_entries(*db_), (entries{{b, encoded_index(rb)}}));
  EXPECT_FALSE(db_->get_reservation(a, st));
}

TEST_F(store_test, an_index_entry_that_does_not_decode_is_passed_as_null_not_skipped) {
  const auto a = reservation_key("a", "1");
  const auto b = reservation_key("b", "1");
  write_batch w;
  w.put(a, make_reservation(1, "a", "1"));
  w.put(b, make_reservation(2, "b", "1"));
  commit(w);
  write_batch bad;
  auto truncated = encoded_index(make_reservation(1, "a", "1"));
  truncated.resize(truncated.size() - 1);
  bad.raw().Put(std::string("i/") + a, truncated);
  commit(bad);
  auto got = index_entries(*db_);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, a);
  EXPECT_EQ(got[0].second, "") << "undecodable: the caller reads the record instead";
  EXPECT_EQ(got[1].second, encoded_index(make_reservation(2, "b", "1")));
}

TEST_F(store_test, a_store_without_the_index_builds_it_once_when_opened) {
  // What a data directory written before the index looks like: records and
  // no `i/` entries, no `m/restart_index`.
  std::vector<std::string> keys;
  for (int i = 0; i < 20000; ++i)  // more than one migration batch
    keys.push_back(reservation_key("app" + std::to_string(i), "c"));
  {
    write_batch w;
    for (std::size_t i = 0; i < keys.size(); ++i)
      w.raw().Put("r/" + keys[i], codec::encode(make_reservation(i + 1, "app", "c")));
    w.raw().Delete("m/restart_index");
    w.raw().DeleteRange("i/", "i0");
    commit(w);
  }
  EXPECT_TRUE(index_entries(*db_).empty());
  reopen();
  status st;
  EXPECT_EQ(db_->get_meta("restart_index", st).value_or(""), "1");
  auto got = index_entries(*db_);
  ASSERT_EQ(got.size(), keys.size());
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(got[i].first, keys[i]);
    auto rec = db_->get_reservation(keys[i], st);
    ASSERT_TRUE(rec);
    EXPECT_EQ(got[i].second, encoded_index(*rec));
  }

  // Entries of an older index format are replaced, stray ones dropped.
  {
    write_batch w;
    w.put_meta("restart_index", "0");
    w.raw().Put("i/stray", "old");
    commit(w);
  }
  reopen();
  EXPECT_EQ(db_->get_meta("restart_index", st).value_or(""), "1");
  EXPECT_EQ(index_entries(*db_).size(), keys.size());
  EXPECT_EQ(db_->count_index(st), keys.size());
}

}  // namespace
}  // namespace gotel::storage
