// Tests net/auth.*: key digests, how keys are presented, read-only vs read-write.

#include "net/auth.hpp"

#include <gtest/gtest.h>

namespace gotel {
namespace {

const std::string rw_key = "rw-secret";
const std::string ro_key = "ro-secret";

auth_policy policy() {
  std::string error;
  auto p = make_auth_policy(sha256_hex(rw_key) + ", " + sha256_hex("other"),
                            sha256_hex(ro_key), error);
  EXPECT_TRUE(p) << error;
  return *p;
}

http_request request(http::verb verb, std::string target) {
  http_request req{verb, target, 11};
  return req;
}

TEST(auth, sha256_hex_matches_sha256sum) {
  // printf %s abc | sha256sum
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(auth, digests_must_be_hex_and_raw_keys_are_not_echoed) {
  std::string error;
  EXPECT_FALSE(make_auth_policy("my-raw-key", "", error));
  EXPECT_NE(error.find("server.api_keys"), std::string::npos);
  EXPECT_EQ(error.find("my-raw-key"), std::string::npos);
  auto upper = make_auth_policy("", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", error);
  ASSERT_TRUE(upper);
  EXPECT_EQ(access_of(*upper, "abc"), access::read_only);
  auto empty = make_auth_policy(" , ", "", error);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->enabled());
}

TEST(auth, key_is_taken_from_x_api_key_or_bearer) {
  auto req = request(http::verb::get, "/reservation");
  EXPECT_FALSE(presented_key(req));
  req.set(http::field::authorization, "bearer  tok ");
  EXPECT_EQ(presented_key(req).value_or(""), "tok");
  req.set("X-Api-Key", "k1");
  EXPECT_EQ(presented_key(req).value_or(""), "k1");
  auto basic = request(http::verb::get, "/");
  basic.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  EXPECT_FALSE(presented_key(basic));
}

TEST(auth, no_keys_means_open) {
  auth_policy open;
  EXPECT_FALSE(authorize(open, request(http::verb::post, "/checkin")));
}

TEST(auth, missing_or_unknown_key_is_401) {
  auto p = policy();
  auto none = authorize(p, request(http::verb::get, "/reservation"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, http::status::unauthorized);
  auto req = request(http::verb::post, "/checkin");
  req.set("X-Api-Key", "wrong");
  auto wrong = authorize(p, req);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, http::status::unauthorized);
}

TEST(auth, health_check_needs_no_key) {
  EXPECT_FALSE(authorize(policy(), request(http::verb::get, "/")));
  EXPECT_TRUE(authorize(policy(), request(http::verb::post, "/")));
}

TEST(auth, read_only_key_may_only_get) {
  auto p = policy();
  auto get = request(http::verb::get, "/reservation?x=1");
  get.set("X-Api-Key", ro_key);
  EXPECT_FALSE(authorize(p, get));
  for (auto verb : {http::verb::post, http::verb::delete_, http::verb::put}) {
    auto req = request(verb, "/checkin");
    req.set(http::field::authorization, "Bearer " + ro_key);
    auto denied = authorize(p, req);
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, http::status::forbidden);
  }
}

TEST(auth, read_write_key_may_do_anything) {
  auto p = policy();
  for (auto verb : {http::verb::get, http::verb::post, http::verb::delete_}) {
    auto req = request(verb, "/snooze");
    req.set("X-Api-Key", rw_key);
    EXPECT_FALSE(authorize(p, req));
  }
}

TEST(auth, loopback_hosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

}  // namespace
}  // namespace gotel
