// Tests net/paging.* and net/listing.* on a real RocksDB store (issue 15 §7):
// cursor pages yield every reservation exactly once in every order, filters
// and totals, cursors that do not fit are refused, and the streamed bodies of
// GET /reservation and GET /status?plain=1 are byte for byte the old ones.

#include "net/api.hpp"
#include "net/listing.hpp"
#include "net/pages.hpp"
#include "net/paging.hpp"
#include "tests/temp_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace gotel {
namespace {

constexpr unix_ms fixed_now = 1'700'000'000'000;

struct paging_test : ::testing::Test {
  test::temp_store store{"gotel-paging"};
  schedule_policy policy{0, 0, 3600'000};
  std::vector<reservation_record> written;

  /// n reservations app-<i % apps>/comp-<i>, some late, some paused, some tagged.
  void fill(int n, int apps = 7) {
    storage::write_batch batch;
    for (int i = 0; i < n; ++i) {
      reservation_record r;
      r.job_id = static_cast<std::uint64_t>(1000 + (i * 7919) % n);  // not in key order
      r.app = "App-" + std::to_string(i % apps);
      r.component = "comp-" + std::to_string(i);
      r.owner = i % 5 == 0 ? "Finance-Team" : "ops";
      r.frequency = 1;
      r.unit = time_unit::hours;
      r.created_ms = fixed_now - 10 * 3600'000;
      r.last_checkin_ms = i % 4 == 0 ? 0 : fixed_now - (i % 13) * 60'000;  // ties, and never
      r.checkins = static_cast<std::uint64_t>(i % 9);
      if (i % 10 == 3)
        r.last_checkin_ms = fixed_now - 2 * 3600'000;  // late by time
      if (i % 10 == 6)
        r.snooze_until_ms = fixed_now + 600'000;
      if (i % 3 == 0)
        r.tags = {"prod"};
      batch.put(reservation_key(r.app, r.component), r);
      written.push_back(r);
    }
    ASSERT_TRUE(store.db->write(batch, true).ok());
  }

  listing_query query(const std::string& params) {
    std::string why;
    auto q = parse_listing_query("/api/v1/reservations?" + params, why);
    EXPECT_TRUE(q) << why;
    return q ? *q : listing_query{};
  }

  /// Every page of `params` with `limit`, following next_cursor.
  std::vector<reservation_record> all_pages(const std::string& params, std::size_t limit,
                                            std::optional<std::uint64_t>* total = nullptr,
                                            std::size_t* pages = nullptr) {
    std::vector<reservation_record> out;
    std::string cursor;
    for (int guard = 0; guard < 10000; ++guard) {
      auto q = query(params + "&limit=" + std::to_string(limit)
                     + (cursor.empty() ? "" : "&cursor=" + cursor));
      storage::status st;
      auto snap = store.db->snapshot();
      auto page = select_page(
        q, fixed_now, policy,
        [&](const std::string& after, const auto& visit) { return snap->for_each_after(after, visit); },
        st);
      EXPECT_TRUE(st.ok()) << st.message;
      EXPECT_LE(page.rows.size(), limit);
      if (total && guard == 0)
        *total = page.total;
      if (pages)
        ++*pages;
      for (auto& r : page.rows)
        out.push_back(r);
      if (page.next_cursor.empty())
        return out;
      EXPECT_EQ(page.rows.size(), limit) << "only the last page is short";
      cursor = page.next_cursor;
    }
    ADD_FAILURE() << "pages never ended";
    return out;
  }

  std::vector<std::string> keys(const std::vector<reservation_record>& recs) {
    std::vector<std::string> out;
    for (auto& r : recs)
      out.push_back(reservation_key(r.app, r.component));
    return out;
  }
};

TEST_F(paging_test, key_order_pages_yield_each_reservation_exactly_once) {
  fill(1003);
  std::size_t pages = 0;
  auto got = all_pages("", 50, nullptr, &pages);
  EXPECT_EQ(pages, 21u);
  auto k = keys(got);
  EXPECT_TRUE(std::is_sorted(k.begin(), k.end()));
  EXPECT_EQ(std::set<std::string>(k.begin(), k.end()).size(), 1003u);
}

TEST_F(paging_test, every_order_pages_through_all_in_order) {
  fill(503);
  for (std::string sort : {"job_id", "last_checkin", "checkins", "status", "name"})
    for (std::string order : {"asc", "desc"}) {
      std::optional<std::uint64_t> total;
      auto got = all_pages("sort=" + sort + "&order=" + order, 37, &total);
      auto k = keys(got);
      EXPECT_EQ(std::set<std::string>(k.begin(), k.end()).size(), 503u) << sort << " " << order;
      EXPECT_EQ(got.size(), 503u) << sort << " " << order;
      if (sort != "name" || order == "desc")
        EXPECT_EQ(total, 503u) << "a full pass counts every match";
      for (std::size_t i = 1; i < got.size(); ++i) {
        auto& a = got[i - 1];
        auto& b = got[i];
        std::int64_t va = 0, vb = 0;
        if (sort == "job_id") va = a.job_id, vb = b.job_id;
        if (sort == "last_checkin") va = a.last_checkin_ms, vb = b.last_checkin_ms;
        if (sort == "checkins") va = a.checkins, vb = b.checkins;
        if (sort == "status")
          va = static_cast<int>(state_of(a, fixed_now, policy)), vb = static_cast<int>(state_of(b, fixed_now, policy));
        if (order == "asc")
          ASSERT_LE(va, vb) << sort << " at " << i;
        else
          ASSERT_GE(va, vb) << sort << " at " << i;
      }
    }
}

TEST_F(paging_test, filters_match_what_a_scan_would_and_count_the_total) {
  fill(700);
  auto expect = [&](const std::string& params, auto pred) {
    std::optional<std::uint64_t> total;
    auto got = all_pages(params, 23, &total);
    std::set<std::string> want;
    for (auto& r : written)
      if (pred(r))
        want.insert(reservation_key(r.app, r.component));
    auto k = keys(got);
    EXPECT_EQ(std::set<std::string>(k.begin(), k.end()), want) << params;
    EXPECT_EQ(k.size(), want.size()) << params << ": no duplicates";
    return total;
  };
  EXPECT_FALSE(expect("status=late", [&](auto& r) { return state_of(r, fixed_now, policy) == job_state::late; }))
    << "a status filter alone takes its total from the counters";
  expect("status=paused", [&](auto& r) { return state_of(r, fixed_now, policy) == job_state::paused; });
  auto n_app = std::count_if(written.begin(), written.end(), [](auto& r) { return r.app == "App-3"; });
  EXPECT_EQ(expect("app=app-3", [](auto& r) { return r.app == "App-3"; }),
            static_cast<std::uint64_t>(n_app));
  expect("app=APP-3&status=late&sort=job_id", [&](auto& r) {
    return r.app == "App-3" && state_of(r, fixed_now, policy) == job_state::late;
  });
  expect("tag=prod", [](auto& r) { return !r.tags.empty(); });
  expect("q=finance", [](auto& r) { return r.owner == "Finance-Team"; });
  expect("q=comp-12", [](auto& r) { return r.component.rfind("comp-12", 0) == 0; });
  expect("component=comp-5", [](auto& r) { return r.component == "comp-5"; });
  expect("app=app-30", [](auto&) { return false; });
}

TEST_F(paging_test, bad_parameters_and_foreign_cursors_are_refused) {
  std::string why;
  for (std::string bad : {"limit=0", "limit=5001", "limit=x", "sort=owner", "order=up",
                          "status=broken", "cursor=zz", "cursor=name.a.0.6g"}) {
    EXPECT_FALSE(parse_listing_query("/x?" + bad, why)) << bad;
    EXPECT_FALSE(why.empty());
  }
  fill(30);
  auto q = query("limit=10&sort=job_id");
  storage::status st;
  auto page = select_page(
    q, fixed_now, policy,
    [&](const std::string& after, const auto& visit) { return store.db->for_each_reservation_after(after, visit); },
    st);
  ASSERT_FALSE(page.next_cursor.empty());
  EXPECT_FALSE(parse_listing_query("/x?sort=checkins&cursor=" + page.next_cursor, why))
    << "a cursor of another order";
  EXPECT_FALSE(parse_listing_query("/x?sort=job_id&order=desc&cursor=" + page.next_cursor, why));
  EXPECT_TRUE(parse_listing_query("/x?sort=job_id&cursor=" + page.next_cursor, why)) << why;
  EXPECT_EQ(query("").limit, default_page_size) << "no limit: the default page";
}

// -- streamed bodies ------------------------------------------------------------

std::string drain(body_pieces pieces, std::size_t* count = nullptr) {
  std::string body;
  for (int guard = 0; guard < 100000; ++guard) {
    std::string piece;
    bool more = pieces(piece);
    body += piece;
    if (count)
      ++*count;
    if (!more)
      return body;
  }
  ADD_FAILURE() << "pieces never ended";
  return body;
}

TEST_F(paging_test, streamed_reservation_listing_is_byte_for_byte_the_old_one) {
  fill(2000);
  // What GET /reservation answered before: every record, stable-sorted newest
  // checkin first over the key order, in one listing_json.
  std::vector<reservation_record> recs;
  ASSERT_TRUE(store.db->for_each_reservation([&](const std::string&, reservation_record&& r) {
    recs.push_back(std::move(r));
    return true;
  }).ok());
  std::stable_sort(recs.begin(), recs.end(), [](const auto& a, const auto& b) {
    return a.last_checkin_ms > b.last_checkin_ms;
  });
  auto old_body = listing_json(recs, fixed_now, policy);
  std::size_t pieces = 0;
  auto body = drain(reservation_listing_pieces(store.db->snapshot(), fixed_now, policy, 16 * 1024),
                    &pieces);
  EXPECT_EQ(body, old_body);
  EXPECT_GT(pieces, old_body.size() / (32 * 1024)) << "made in pieces, not at once";
  EXPECT_EQ(drain(reservation_listing_pieces(test::temp_store{"gotel-empty"}.db->snapshot(), fixed_now,
                                             policy)),
            listing_json({}, fixed_now, policy));
}

TEST_F(paging_test, the_streamed_listing_reads_one_snapshot) {
  fill(300);
  auto pieces = reservation_listing_pieces(store.db->snapshot(), fixed_now, policy, 1024);
  std::string first;
  ASSERT_TRUE(pieces(first));
  // Changes after the listing began: not in it, and nothing breaks.
  storage::write_batch batch;
  batch.erase_reservation(reservation_key(written[299].app, written[299].component));
  auto extra = written[0];
  extra.component = "added-later";
  batch.put(reservation_key(extra.app, extra.component), extra);
  ASSERT_TRUE(store.db->write(batch, true).ok());
  auto body = first + drain(pieces);
  auto doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["result"].size(), 300u);
  EXPECT_EQ(body.find("added-later"), std::string::npos);
  EXPECT_NE(body.find("\"comp-299\""), std::string::npos);
}

TEST_F(paging_test, streamed_status_table_is_byte_for_byte_the_old_one) {
  fill(1234);
  std::vector<reservation_record> recs;
  ASSERT_TRUE(store.db->for_each_reservation([&](const std::string&, reservation_record&& r) {
    recs.push_back(std::move(r));
    return true;
  }).ok());
  std::size_t pieces = 0;
  EXPECT_EQ(drain(status_table_pieces(store.db->snapshot(), fixed_now, policy, 100), &pieces),
            status_page(recs, fixed_now, policy));
  EXPECT_EQ(pieces, 13u);
}

}  // namespace
}  // namespace gotel
