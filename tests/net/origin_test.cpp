// Tests net/origin.*: which requests from web pages are refused (cross-site
// state changes, DNS rebinding) and that clients without Origin pass (issue 14 §3).

#include "net/origin.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

origin_policy origin_for(std::string_view listen = "127.0.0.1", std::string_view origins = "",
                     std::string_view hosts = "", std::vector<std::string> names = {}) {
  std::string error;
  auto p = make_origin_policy(listen, origins, hosts, names, error);
  EXPECT_TRUE(p) << error;
  return p ? *p : origin_policy{};
}

http_request origin_request(http::verb method, std::string host,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  http_request req{method, "/checkout", 11};
  if (!host.empty())
    req.set(http::field::host, host);
  for (auto& [name, value] : headers)
    req.set(name, value);
  return req;
}

bool refused(const origin_policy& p, const http_request& req) {
  return cross_site_refusal(p, req).has_value();
}

TEST(origin, requests_without_origin_pass_as_curl_sends_them) {
  auto p = origin_for();
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080")));
  EXPECT_FALSE(refused(p, origin_request(http::verb::delete_, "localhost:8080")));
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "")));  // HTTP/1.0 without Host
}

TEST(origin, a_page_of_this_server_may_change_things) {
  auto p = origin_for();
  EXPECT_FALSE(refused(p, origin_request(http::verb::put, "127.0.0.1:8080",
                                  {{"Origin", "http://127.0.0.1:8080"},
                                   {"Sec-Fetch-Site", "same-origin"}})));
  // Through an SSH tunnel: the page and the API share the tunnel's origin.
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "localhost:9000",
                                  {{"Origin", "http://localhost:9000"}})));
  // Default ports are the same origin however they are written.
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "localhost:80",
                                  {{"Origin", "http://localhost"}})));
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "[::1]:8080",
                                  {{"Origin", "http://[::1]:8080"}})));
  // Behind a TLS-terminating proxy on this machine that passes Host on.
  EXPECT_FALSE(refused(origin_for("127.0.0.1", "", "gotel.example"), origin_request(http::verb::post, "gotel.example:8443",
                                  {{"Origin", "https://gotel.example:8443"}})));
}

TEST(origin, a_page_of_another_origin_may_not) {
  auto p = origin_for();
  for (auto origin : {"http://127.0.0.2:8000", "http://127.0.0.1:8081", "http://evil.example",
                      "null", "garbage"}) {
    auto why = cross_site_refusal(
      p, origin_request(http::verb::post, "127.0.0.1:8080", {{"Origin", origin}}));
    ASSERT_TRUE(why) << origin;
    EXPECT_NE(why->find("server.allowed_origins"), std::string::npos) << *why;
  }
  // Reading is not refused: the browser keeps the answer from the other page.
  EXPECT_FALSE(refused(p, origin_request(http::verb::get, "127.0.0.1:8080",
                                  {{"Origin", "http://evil.example"}})));
}

TEST(origin, sec_fetch_site_refuses_when_there_is_no_origin) {
  auto p = origin_for();
  for (auto site : {"cross-site", "same-site", "Cross-Site"})
    EXPECT_TRUE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080",
                                   {{"Sec-Fetch-Site", site}})))
      << site;
  for (auto site : {"same-origin", "none"})
    EXPECT_FALSE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080",
                                    {{"Sec-Fetch-Site", site}})))
      << site;
}

TEST(origin, allowed_origins_are_matched_canonically_and_star_allows_any) {
  auto p = origin_for("127.0.0.1", "https://Ops.Example.com:443/, http://localhost:3000");
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080",
                                  {{"Origin", "https://ops.example.com"}})));
  EXPECT_FALSE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080",
                                  {{"Origin", "http://localhost:3000"}})));
  EXPECT_TRUE(refused(p, origin_request(http::verb::post, "127.0.0.1:8080",
                                 {{"Origin", "http://localhost:3001"}})));
  auto any = origin_for("127.0.0.1", "*");
  EXPECT_FALSE(refused(any, origin_request(http::verb::post, "127.0.0.1:8080",
                                    {{"Origin", "http://evil.example"}})));
}

TEST(origin, on_loopback_a_host_that_is_not_ours_is_refused_dns_rebinding) {
  auto p = origin_for("127.0.0.1", "", "gotel.internal");
  for (auto host : {"attacker.example", "attacker.example:8080", "127.0.0.1.nip.io:8080",
                    "a b", "x/y"}) {
    auto why = cross_site_refusal(p, origin_request(http::verb::get, host));
    ASSERT_TRUE(why) << host;
    EXPECT_NE(why->find("server.allowed_hosts"), std::string::npos) << *why;
  }
  for (auto host : {"127.0.0.1:8080", "127.0.0.1", "localhost:8080", "LOCALHOST", "[::1]:8080",
                    "127.0.0.2:8080", "app.localhost:8080", "gotel.internal:443"})
    EXPECT_FALSE(refused(p, origin_request(http::verb::get, host))) << host;
  auto two_hosts = origin_request(http::verb::get, "127.0.0.1");
  two_hosts.insert(http::field::host, "attacker.example");
  EXPECT_TRUE(refused(p, two_hosts));
}

TEST(origin, hosts_are_not_checked_off_loopback_and_own_names_count) {
  EXPECT_FALSE(refused(origin_for("0.0.0.0"), origin_request(http::verb::get, "gotel.example.com")));
  auto p = origin_for("127.0.0.1", "", "", {"monitor.example:8080"});
  EXPECT_FALSE(refused(p, origin_request(http::verb::get, "monitor.example:8080")));
  EXPECT_FALSE(refused(origin_for("::1"), origin_request(http::verb::get, "[::1]:8080")));
}

TEST(origin, malformed_settings_are_configuration_errors) {
  std::string error;
  EXPECT_FALSE(make_origin_policy("127.0.0.1", "ftp://x", "", {}, error));
  EXPECT_NE(error.find("server.allowed_origins"), std::string::npos);
  EXPECT_FALSE(make_origin_policy("127.0.0.1", "http://x/path", "", {}, error));
  EXPECT_FALSE(make_origin_policy("127.0.0.1", "", "http://x", {}, error));
  EXPECT_NE(error.find("server.allowed_hosts"), std::string::npos);
}

}  // namespace
}  // namespace gotel
