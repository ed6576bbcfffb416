// tests net/metrics.*: the Prometheus text exposition (format 0.0.4) is pure.

#include "net/metrics.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

namespace gotel {
namespace {

constexpr unix_ms now = 1'700'000'000'000;

reservation_record job(std::string app, std::string component, unix_ms last, std::int64_t freq) {
  reservation_record r;
  r.app = std::move(app);
  r.component = std::move(component);
  r.frequency = freq;
  r.unit = time_unit::minutes;
  r.created_ms = now - 3'600'000;
  r.last_checkin_ms = last;
  r.checkins = last ? 3 : 0;
  return r;
}

std::string line_of(const std::string& text, const std::string& prefix) {
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0)
      return line;
  return {};
}

TEST(metrics_test, label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("plain"), "plain");
}

TEST(metrics_test, per_reservation_gauges_follow_state) {
  auto ok = job("billing", "nightly", now - 60'000, 5);
  auto late = job("backup", "db", now - 3'600'000, 5);
  auto paused = job("etl", "load", now - 3'600'000, 5);
  paused.snooze_until_ms = now + 60'000;
  server_metrics m;
  m.node_id = "n1";
  m.coordinator = true;
  m.checkins_total = 42;
  m.have_dispatcher = true;
  m.alerts_delivered = 7;
  m.alert_failures = 2;
  m.outbox_depth = 1;
  m.counts.total = 3;
  auto text = metrics_text({ok, late, paused}, now, schedule_policy{}, m);

  EXPECT_EQ(line_of(text, "gotel_reservation_up{app=\"billing\""),
            "gotel_reservation_up{app=\"billing\",component=\"nightly\"} 1");
  EXPECT_EQ(line_of(text, "gotel_reservation_up{app=\"backup\""),
            "gotel_reservation_up{app=\"backup\",component=\"db\"} 0");
  EXPECT_EQ(line_of(text, "gotel_reservation_late{app=\"backup\""),
            "gotel_reservation_late{app=\"backup\",component=\"db\"} 1");
  EXPECT_EQ(line_of(text, "gotel_reservation_paused{app=\"etl\""),
            "gotel_reservation_paused{app=\"etl\",component=\"load\"} 1");
  EXPECT_EQ(line_of(text, "gotel_reservation_paused{app=\"billing\""),
            "gotel_reservation_paused{app=\"billing\",component=\"nightly\"} 0");
  EXPECT_EQ(line_of(text, "gotel_reservation_last_checkin_timestamp_seconds{app=\"billing\""),
            "gotel_reservation_last_checkin_timestamp_seconds{app=\"billing\",component=\"nightly\"} "
            "1699999940.000");
  EXPECT_EQ(line_of(text, "gotel_reservations "), "gotel_reservations 3");
  EXPECT_EQ(line_of(text, "gotel_checkins_total "), "gotel_checkins_total 42");
  EXPECT_EQ(line_of(text, "gotel_alerts_sent_total "), "gotel_alerts_sent_total 7");
  EXPECT_EQ(line_of(text, "gotel_alert_failures_total "), "gotel_alert_failures_total 2");
  EXPECT_EQ(line_of(text, "gotel_outbox_depth "), "gotel_outbox_depth 1");
  EXPECT_EQ(line_of(text, "gotel_coordinator "), "gotel_coordinator 1");
  EXPECT_EQ(line_of(text, "gotel_node_info"), "gotel_node_info{node_id=\"n1\"} 1");
}

TEST(metrics_test, aggregates_and_state_counts_without_per_reservation_series) {
  // Issue 15 §7: by default no reservation is selected, and the exposition
  // stays the same size however many reservations the node holds.
  server_metrics m;
  m.counts.total = 1'000'000;
  m.counts.ok = 999'000;
  m.counts.late = 600;
  m.counts.paused = 400;
  m.counts.failed = 7;
  m.counts.running = 12;
  auto text = metrics_text({}, now, schedule_policy{}, m);
  EXPECT_EQ(text.find("gotel_reservation_up"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE gotel_reservation_late "), std::string::npos);
  EXPECT_EQ(line_of(text, "gotel_reservations "), "gotel_reservations 1000000");
  EXPECT_EQ(line_of(text, "gotel_reservations_by_state{state=\"ok\"}"),
            "gotel_reservations_by_state{state=\"ok\"} 999000");
  EXPECT_EQ(line_of(text, "gotel_reservations_by_state{state=\"late\"}"),
            "gotel_reservations_by_state{state=\"late\"} 600");
  EXPECT_EQ(line_of(text, "gotel_reservations_by_state{state=\"paused\"}"),
            "gotel_reservations_by_state{state=\"paused\"} 400");
  EXPECT_EQ(line_of(text, "gotel_reservations_failed "), "gotel_reservations_failed 7");
  EXPECT_EQ(line_of(text, "gotel_reservations_running "), "gotel_reservations_running 12");
  EXPECT_EQ(line_of(text, "gotel_metrics_per_reservation "), "gotel_metrics_per_reservation 0");
  EXPECT_LT(text.size(), 8192u);
}

TEST(metrics_test, selection_by_tag_and_the_cap_shows) {
  auto a = job("a", "x", now, 5);
  a.tags = {"prod", "db"};
  auto b = job("b", "x", now, 5);
  b.tags = {"staging"};
  EXPECT_TRUE(selected_for_metrics(a, {"db"}));
  EXPECT_FALSE(selected_for_metrics(b, {"db", "prod"}));
  EXPECT_FALSE(selected_for_metrics(a, {}));
  server_metrics m;
  m.per_reservation_matched = 3;
  m.per_reservation_max = 2;
  auto text = metrics_text({a}, now, schedule_policy{}, m);
  EXPECT_EQ(line_of(text, "gotel_metrics_per_reservation "), "gotel_metrics_per_reservation 1");
  EXPECT_EQ(line_of(text, "gotel_metrics_per_reservation_capped "),
            "gotel_metrics_per_reservation_capped 1");
  EXPECT_EQ(line_of(text, "gotel_reservation_up{app=\"a\""),
            "gotel_reservation_up{app=\"a\",component=\"x\"} 1");
}

TEST(metrics_test, every_line_is_valid_exposition_format) {
  auto odd = job("we\"ird\\app", "line\nbreak", 0, 1);
  server_metrics m;
  auto text = metrics_text({odd}, now, schedule_policy{}, m);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  // Without dispatcher counters their families are left out, not zeroed.
  EXPECT_EQ(text.find("gotel_alerts_sent_total"), std::string::npos);
  std::regex help{R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+)"};
  std::regex type{R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge))"};
  std::regex sample{
    R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*",?)*\})? -?[0-9]+(\.[0-9]+)?)"};
  std::istringstream in{text};
  std::string last_type;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP", 0) == 0)
      EXPECT_TRUE(std::regex_match(line, help)) << line;
    else if (line.rfind("# TYPE", 0) == 0)
      EXPECT_TRUE(std::regex_match(line, type)) << line;
    else
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
  }
  EXPECT_NE(text.find("{app=\"we\\\"ird\\\\app\",component=\"line\\nbreak\"}"), std::string::npos);
}

}  // namespace
}  // namespace gotel
