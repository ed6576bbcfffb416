// A data directory written by an older GoTel may hold names, notes and
// templates that are not UTF-8 (issue 13 section 1). Such a store opens and
// every output built from it (JSON listing, pages, metrics, alert text) is
// valid UTF-8, with U+FFFD in place of each bad byte, and nothing throws.

#include "alerters/render.hpp"
#include "net/api.hpp"
#include "net/listing.hpp"
#include "net/metrics.hpp"
#include "net/pages.hpp"
#include "net/ui.hpp"
#include "storage/utf8.hpp"
#include "tests/temp_store.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace gotel {
namespace {

reservation_record bad_record() {
  reservation_record rec;
  rec.job_id = 7;
  rec.app = "\xFF" "app";
  rec.component = std::string(63, 'c') + "\xC3";  // cut through an é
  rec.owner = "Ren\xE9";
  rec.notify = "ops\xFE@example.com";
  rec.alert_msg = "{app} is late \xE9";
  rec.frequency = 1;
  rec.unit = time_unit::hours;
  rec.created_ms = 1'700'000'000'000;
  rec.last_checkin_ms = 1'700'000'000'000;
  rec.checkins = 1;
  rec.tags = {"t\xFF"};
  rec.alerters = {"x\xFF"};
  rec.uuid = "0b8a6a3e-6f4d-4c5e-9a51-2b1d6c3f4e5a";
  return rec;
}

TEST(stored_bytes, a_store_holding_invalid_bytes_opens_and_every_output_is_utf8) {
  test::temp_store store{"gotel-bytes"};
  auto rec = bad_record();
  auto key = reservation_key(rec.app, rec.component);
  storage::write_batch batch;
  batch.put(key, rec);
  batch.put_checkin(key, 1, checkin_entry{rec.last_checkin_ms, "Hello \xE9 World", "10.0.0.1", ""});
  ASSERT_TRUE(store.db->write(batch, true).ok());
  store.reopen();

  std::vector<reservation_record> recs;
  storage::status st = store.db->for_each_reservation([&](const std::string&, reservation_record&& r) {
    recs.push_back(std::move(r));
    return true;
  });
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(recs.size(), 1u);
  auto entries = store.db->checkins(key, 10, st);
  ASSERT_EQ(entries.size(), 1u);

  unix_ms now = rec.created_ms + 2 * 3600 * 1000;
  schedule_policy policy{0, 0, 6 * 3600 * 1000};
  std::string listing;
  ASSERT_NO_THROW(listing = listing_json(recs, now, policy));
  auto doc = nlohmann::json::parse(listing);
  auto& row = doc["result"][0];
  EXPECT_EQ(row["app"], "\xEF\xBF\xBD" "app");
  EXPECT_EQ(row["owner"], "Ren\xEF\xBF\xBD");
  EXPECT_EQ(row["tags"][0], "t\xEF\xBF\xBD");

  nlohmann::ordered_json notes;
  notes["notes"] = entries[0].notes;
  EXPECT_EQ(nlohmann::json::parse(json_text(notes))["notes"], "Hello \xEF\xBF\xBD World");

  EXPECT_TRUE(utf8::valid(status_page(recs, now, policy)));
  EXPECT_TRUE(utf8::valid(status_app_page(recs, now, policy)));
  EXPECT_TRUE(utf8::valid(badguests_page(recs, {})));
  auto metrics = metrics_text(recs, now, policy, server_metrics{});
  EXPECT_TRUE(utf8::valid(metrics));
  EXPECT_NE(metrics.find("app=\"\xEF\xBF\xBD" "app\""), std::string::npos);
  auto alert = render_alert(rec.alert_msg, fields_for(recs[0], now, "10.0.0.7"));
  EXPECT_TRUE(utf8::valid(alert));
  EXPECT_EQ(alert, "\xEF\xBF\xBD" "app is late \xEF\xBF\xBD");
  EXPECT_TRUE(utf8::valid(render_recovery(recs[0], now, "10.0.0.7")));
}

}  // namespace
}  // namespace gotel
