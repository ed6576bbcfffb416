// Fuzzes the HTTP request path: arbitrary bytes through Beast's request_parser
// with the server's limits (net/http_server.hpp), and every request that parses
// through API-key and ping-key checking (net/auth.hpp) and the API's body
// parsing for its endpoint (net/requests.hpp).
// Properties: no crash, no UB, no exception escaping; limits hold; the target
// served after authorization holds no ping key and no `key=` parameter.

#include "net/auth.hpp"
#include "net/http_server.hpp"
#include "net/requests.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace gotel;

void require(bool ok) {
  if (!ok)
    std::abort();
}

/// What api.cpp does with a parsed request's body, minus the actor call.
void route(const http_request& req, const field_limits& lim) {
  auto target = std::string_view{req.target().data(), req.target().size()};
  auto path = target.substr(0, target.find('?'));
  std::string_view body = req.body();
  if (path == "/reservation")
    (void)parse_reserve(body, lim);
  else if (path == "/checkin")
    (void)parse_checkin(body, lim);
  else if (path == "/snooze")
    (void)parse_snooze(body, lim);
  else if (path == "/checkout")
    (void)parse_key(body, lim);
  else {
    // Unknown paths still reach the parsers in the fuzzer, to cover them all.
    (void)parse_reserve(body, lim);
    (void)parse_checkin(body, lim);
    (void)parse_snooze(body, lim);
    (void)parse_key(body, lim);
  }
}

/// Whether `target`'s query string has a parameter named `key`.
bool has_key_param(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos)
    return false;
  auto query = target.substr(q + 1);
  while (true) {
    auto amp = query.find('&');
    auto param = query.substr(0, amp);
    if (param.substr(0, param.find('=')) == "key")
      return true;
    if (amp == std::string_view::npos)
      return false;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const http_server_options opts;  // the server's default limits
  const field_limits lim;
  // Ping key "pk" may check in for app "billing", "pw" for every app; the
  // seed corpus presents them in paths, queries and headers.
  static const auth_policy keys = [] {
    std::string error;
    auto policy = *make_auth_policy(sha256_hex("k"), sha256_hex("abc"), error);
    policy.ping =
      *parse_ping_keys("billing:" + sha256_hex("pk") + ",*:" + sha256_hex("pw"), error);
    return policy;
  }();
  // Several requests may follow each other on one keep-alive connection.
  std::size_t offset = 0;
  for (int n = 0; n < 4 && offset < size; ++n) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opts.body_limit);
    parser.header_limit(opts.header_limit);
    parser.eager(true);
    boost::beast::error_code ec;
    while (offset < size && !parser.is_done()) {
      auto used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
      offset += used;
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0)
          break;  // the rest is an incomplete message
        continue;
      }
      if (ec)
        return 0;  // the server answers 400/413/431 and closes
    }
    if (!parser.is_done()) {
      parser.put_eof(ec);
      if (ec || !parser.is_done())
        return 0;
    }
    auto req = parser.release();
    require(req.body().size() <= opts.body_limit);
    (void)presented_key(req);
    (void)classify_signal(req);
    if (!authorize(keys, req)) {
      std::string_view target{req.target().data(), req.target().size()};
      auto served = served_target(keys, target);
      if (target.rfind("/ping/pk/", 0) == 0)
        require(served.rfind("/ping/billing/", 0) == 0);
      require(!has_key_param(served));
    }
    route(req, lim);
  }
  return 0;
}
