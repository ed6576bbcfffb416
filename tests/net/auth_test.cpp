// Tests net/auth.*: key digests, how keys are presented, read-only vs read-write.

#include "net/auth.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

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

// -- ping keys (server.ping_keys) ---------------------------------------------

const std::string backups_key = "backups-ping-key";
const std::string any_key = "every-app-ping-key";

auth_policy with_ping_keys() {
  auto p = policy();
  std::string error;
  auto keys
    = parse_ping_keys(" backups:" + sha256_hex(backups_key) + ", *:" + sha256_hex(any_key), error);
  EXPECT_TRUE(keys) << error;
  p.ping = *keys;
  return p;
}

http_request keyed(http::verb verb, std::string target, const std::string& key,
                   std::string body = {}) {
  auto req = request(verb, std::move(target));
  if (!key.empty())
    req.set("X-Api-Key", key);
  req.body() = std::move(body);
  return req;
}

std::optional<http::status> denied(const auth_policy& p, const http_request& req) {
  auto d = authorize(p, req);
  return d ? std::optional{d->status} : std::nullopt;
}

TEST(auth, ping_keys_are_app_and_digest_and_raw_keys_are_not_echoed) {
  std::string error;
  auto keys = parse_ping_keys("a:b:" + sha256_hex("k") + ",,*:" + sha256_hex("j"), error);
  ASSERT_TRUE(keys) << error;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].app, "a:b") << "the last ':' separates";
  EXPECT_EQ((*keys)[1].app, "*");
  for (std::string bad :
       {std::string{"backups:my-raw-key"}, std::string{"my-raw-key"}, ":" + sha256_hex("k")}) {
    EXPECT_FALSE(parse_ping_keys(bad, error)) << bad;
    EXPECT_NE(error.find("server.ping_keys"), std::string::npos);
    EXPECT_EQ(error.find("my-raw-key"), std::string::npos);
  }
  auth_policy only_ping;
  only_ping.ping = *keys;
  EXPECT_TRUE(only_ping.enabled()) << "ping keys alone close everything but check-ins";
  EXPECT_EQ(grant_of(only_ping, "k").level, access::ping);
  EXPECT_EQ(grant_of(only_ping, "k").app, "a:b");
  EXPECT_EQ(grant_of(only_ping, "nope").level, access::none);
}

TEST(auth, ping_key_checks_in_for_its_app_only) {
  auto p = with_ping_keys();
  const std::string body = R"({"APP":"Backups ","component":"nightly"})";
  for (auto path : {"/checkin", "/start", "/fail"})
    EXPECT_FALSE(denied(p, keyed(http::verb::post, path, backups_key, body))) << path;
  EXPECT_FALSE(denied(p, keyed(http::verb::post, "/checkin?key=" + backups_key, "", body)))
    << "?key= works too";
  EXPECT_FALSE(denied(
    p, keyed(http::verb::post, "/api/v1/reservations/backups/nightly/checkin", backups_key)));
  EXPECT_FALSE(denied(p, keyed(http::verb::get, "/ping/backups/nightly/3?create=1", backups_key)));
  EXPECT_FALSE(denied(p, request(http::verb::head, "/ping/backups/nightly?key=" + backups_key)));

  const std::string other = R"({"app":"billing","component":"nightly"})";
  EXPECT_EQ(denied(p, keyed(http::verb::post, "/checkin", backups_key, other)),
            http::status::forbidden);
  EXPECT_EQ(denied(p, keyed(http::verb::get, "/ping/billing/nightly", backups_key)),
            http::status::forbidden);
  EXPECT_EQ(
    denied(p, keyed(http::verb::post, "/api/v1/reservations/billing/x/checkin", backups_key)),
    http::status::forbidden);
  EXPECT_EQ(denied(p, keyed(http::verb::post, "/checkin", backups_key, "{not json")),
            http::status::bad_request)
    << "the app of a body that does not parse is unknown: refused";
}

TEST(auth, ping_key_may_not_read_change_or_list) {
  auto p = with_ping_keys();
  const std::string body = R"({"app":"backups","component":"nightly","frequency":1,)"
                           R"("time_units":"hours","duration":1})";
  for (auto [verb, path] : std::vector<std::pair<http::verb, std::string>>{
         {http::verb::get, "/reservation"},
         {http::verb::post, "/reservation"},
         {http::verb::post, "/checkout"},
         {http::verb::post, "/snooze"},
         {http::verb::delete_, "/snooze"},
         {http::verb::get, "/status"},
         {http::verb::get, "/metrics"},
         {http::verb::get, "/api/v1/reservations/backups/nightly"},
         {http::verb::put, "/api/v1/reservations/backups/nightly"},
         {http::verb::delete_, "/api/v1/reservations/backups/nightly"},
         {http::verb::post, "/api/v1/reservations/backups/nightly/pause"},
         {http::verb::get, "/api/v1/reservations/backups/nightly/pings"},
       })
    EXPECT_EQ(denied(p, keyed(verb, path, backups_key, body)), http::status::forbidden) << path;
}

TEST(auth, unknown_ping_key_is_401_and_query_takes_ping_keys_only) {
  auto p = with_ping_keys();
  EXPECT_EQ(denied(p, request(http::verb::get, "/ping/backups/nightly?key=nope")),
            http::status::unauthorized);
  EXPECT_EQ(denied(p, request(http::verb::get, "/ping/nope/nightly")), http::status::unauthorized);
  EXPECT_EQ(denied(p, request(http::verb::get, "/ping/backups/nightly?key=" + rw_key)),
            http::status::unauthorized)
    << "an API key in a URL is not accepted";
}

TEST(auth, ping_key_in_the_path_names_its_app) {
  auto p = with_ping_keys();
  EXPECT_FALSE(denied(p, request(http::verb::get, "/ping/" + backups_key + "/nightly/start")));
  EXPECT_EQ(served_target(p, "/ping/" + backups_key + "/nightly/start?rid=r1&key=x"),
            "/ping/backups/nightly/start?rid=r1");
  EXPECT_EQ(served_target(p, "/ping/backups-ping-key/n%20x?create=1"),
            "/ping/backups/n%20x?create=1");
  EXPECT_EQ(denied(p, request(http::verb::get, "/ping/" + any_key + "/nightly")),
            http::status::forbidden)
    << "a key for every app cannot say which app";
  p.ping.front().app = "my app/x";
  EXPECT_EQ(served_target(p, "/ping/" + backups_key + "/nightly"), "/ping/my%20app%2Fx/nightly");
}

TEST(auth, served_target_drops_every_key_parameter) {
  auto p = with_ping_keys();
  EXPECT_EQ(served_target(p, "/checkin?key=abc"), "/checkin");
  EXPECT_EQ(served_target(p, "/ping/a/b?rid=1&%6Bey=abc&key&create=1"), "/ping/a/b?rid=1&create=1");
  EXPECT_EQ(served_target(p, "/reservation"), "/reservation");
}

TEST(auth, ping_by_uuid_needs_a_key_for_every_app_unless_uuids_are_open) {
  auto p = with_ping_keys();
  const std::string uuid = "/ping/0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3";
  EXPECT_EQ(denied(p, request(http::verb::get, uuid)), http::status::unauthorized);
  EXPECT_EQ(denied(p, keyed(http::verb::get, uuid, backups_key)), http::status::forbidden);
  EXPECT_FALSE(denied(p, keyed(http::verb::post, uuid + "/fail", any_key)));
  EXPECT_FALSE(denied(p, keyed(http::verb::get, uuid, rw_key)));
  p.open_uuid_pings = true;
  EXPECT_FALSE(denied(p, request(http::verb::get, uuid + "/start")));
  EXPECT_EQ(denied(p, request(http::verb::get, "/ping/backups/nightly")),
            http::status::unauthorized)
    << "only uuids are open";
}

TEST(auth, key_for_every_app_checks_in_anywhere_but_may_not_create) {
  auto p = with_ping_keys();
  EXPECT_FALSE(denied(p, keyed(http::verb::get, "/ping/billing/nightly", any_key)));
  EXPECT_EQ(denied(p, keyed(http::verb::get, "/ping/billing/nightly?create=1", any_key)),
            http::status::forbidden);
  EXPECT_EQ(denied(p, keyed(http::verb::get, "/reservation", any_key)), http::status::forbidden);
}

TEST(auth, read_only_key_may_not_ping_by_get) {
  auto p = policy();
  EXPECT_EQ(denied(p, keyed(http::verb::get, "/ping/backups/nightly", ro_key)),
            http::status::forbidden);
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
