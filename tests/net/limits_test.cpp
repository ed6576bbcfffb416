// Tests net/limits.*: per-client connection counts and token buckets, on a
// time passed in (no sleeping).

#include "net/limits.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

using namespace std::chrono_literals;
using clock = client_limits::clock;

TEST(client_limits, connections_are_counted_per_client) {
  client_limits lim{{2, 0, 0}};
  EXPECT_TRUE(lim.open_connection("a"));
  EXPECT_TRUE(lim.open_connection("a"));
  EXPECT_FALSE(lim.open_connection("a"));
  EXPECT_TRUE(lim.open_connection("b"));
  EXPECT_EQ(lim.connections("a"), 2u);
  lim.close_connection("a");
  EXPECT_TRUE(lim.open_connection("a"));
}

TEST(client_limits, zero_means_unlimited) {
  client_limits lim{{0, 0, 0}};
  std::uint32_t retry = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(lim.open_connection("a"));
    EXPECT_TRUE(lim.allow_request("a", clock::time_point{}, retry));
  }
}

TEST(client_limits, bucket_allows_burst_then_refills_at_rate) {
  client_limits lim{{0, 2.0, 3}};
  auto t0 = clock::time_point{} + 100s;
  std::uint32_t retry = 0;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(lim.allow_request("a", t0, retry)) << i;
  EXPECT_FALSE(lim.allow_request("a", t0, retry));
  EXPECT_EQ(retry, 1u);
  EXPECT_TRUE(lim.allow_request("b", t0, retry)) << "buckets are per client";
  EXPECT_FALSE(lim.allow_request("a", t0 + 400ms, retry));
  EXPECT_TRUE(lim.allow_request("a", t0 + 500ms, retry));
  // Refill is capped at the burst.
  auto later = t0 + 1h;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(lim.allow_request("a", later, retry));
  EXPECT_FALSE(lim.allow_request("a", later, retry));
}

TEST(client_limits, slow_rate_reports_a_longer_retry_after) {
  client_limits lim{{0, 0.1, 1}};
  std::uint32_t retry = 0;
  EXPECT_TRUE(lim.allow_request("a", clock::time_point{}, retry));
  EXPECT_FALSE(lim.allow_request("a", clock::time_point{}, retry));
  EXPECT_EQ(retry, 10u);
}

TEST(client_limits, idle_clients_are_pruned_so_the_table_stays_bounded) {
  client_limits lim{{0, 1000.0, 1}};
  std::uint32_t retry = 0;
  auto t = clock::time_point{};
  for (int i = 0; i < 20000; ++i)
    lim.allow_request("10.0." + std::to_string(i), t + std::chrono::seconds{i}, retry);
  // Nothing observable breaks, and a returning client starts with a full bucket.
  EXPECT_TRUE(lim.allow_request("10.0.1", t + 30000s, retry));
}

}  // namespace
}  // namespace gotel
