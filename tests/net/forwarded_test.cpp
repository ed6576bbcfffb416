// Tests net/forwarded.*: which peers' X-Forwarded-For names a ping's client,
// and how an entry is read (issue 13 §4, as Healthchecks reads it).

#include "net/forwarded.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

http_request with_xff(const std::string& value) {
  http_request req{http::verb::get, "/ping/x", 11};
  req.set("X-Forwarded-For", value);
  return req;
}

trusted_proxies loopback() {
  std::string error;
  auto t = trusted_proxies::parse("127.0.0.0/8, ::1", error);
  EXPECT_TRUE(t) << error;
  return *t;
}

TEST(forwarded, a_trusted_proxy_names_the_first_client_without_its_port) {
  auto t = loopback();
  EXPECT_EQ(client_address("127.0.0.1", with_xff("1.1.1.1"), t), "1.1.1.1");
  EXPECT_EQ(client_address("127.0.0.9", with_xff("1.1.1.1, 2.2.2.2"), t), "1.1.1.1");
  EXPECT_EQ(client_address("127.0.0.1", with_xff("1.1.1.1:1234"), t), "1.1.1.1");
  EXPECT_EQ(client_address("::1", with_xff("2001::1"), t), "2001::1");
  EXPECT_EQ(client_address("::1", with_xff("[2001::1]:443"), t), "2001::1");
  EXPECT_EQ(client_address("127.0.0.1", with_xff("::ffff:1.1.1.1"), t), "::ffff:1.1.1.1");
}

TEST(forwarded, anyone_else_and_garbage_leave_the_direct_peer) {
  auto t = loopback();
  EXPECT_EQ(client_address("192.0.2.7", with_xff("1.1.1.1"), t), "192.0.2.7");
  EXPECT_EQ(client_address("127.0.0.1", with_xff("<script>, 1.1.1.1"), t), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", with_xff("\xff\xfe"), t), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", with_xff(""), t), "127.0.0.1");
  http_request none{http::verb::get, "/ping/x", 11};
  EXPECT_EQ(client_address("127.0.0.1", none, t), "127.0.0.1");
  std::string error;
  auto nobody = trusted_proxies::parse("", error);
  ASSERT_TRUE(nobody);
  EXPECT_EQ(client_address("127.0.0.1", with_xff("1.1.1.1"), *nobody), "127.0.0.1");
}

TEST(forwarded, networks_match_by_prefix_and_ipv4_mapped_peers_count_as_ipv4) {
  std::string error;
  auto t = trusted_proxies::parse("10.1.0.0/16,fd00::/8", error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(client_address("10.1.200.3", with_xff("1.1.1.1"), *t), "1.1.1.1");
  EXPECT_EQ(client_address("10.2.0.1", with_xff("1.1.1.1"), *t), "10.2.0.1");
  EXPECT_EQ(client_address("::ffff:10.1.0.1", with_xff("1.1.1.1"), *t), "1.1.1.1");
  EXPECT_EQ(client_address("fd12::1", with_xff("1.1.1.1"), *t), "1.1.1.1");
  EXPECT_EQ(client_address("fe80::1", with_xff("1.1.1.1"), *t), "fe80::1");
}

TEST(forwarded, a_bad_entry_is_refused_with_its_text) {
  std::string error;
  EXPECT_FALSE(trusted_proxies::parse("10.0.0.0/33", error));
  EXPECT_NE(error.find("10.0.0.0/33"), std::string::npos);
  EXPECT_FALSE(trusted_proxies::parse("proxy.example", error));
  EXPECT_FALSE(trusted_proxies::parse("::1/129", error));
  EXPECT_FALSE(trusted_proxies::parse("10.0.0.0/", error));
}

}  // namespace
}  // namespace gotel
