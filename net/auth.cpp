#include "net/auth.hpp"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace gotel {

namespace {

bool is_hex_digest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isxdigit(c) != 0;
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool split_digests(std::string_view csv, const char* setting, std::vector<std::string>& out,
                   std::string& error) {
  std::size_t n = 0;
  while (!csv.empty()) {
    auto comma = csv.find(',');
    auto item = trim(csv.substr(0, comma));
    csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    ++n;
    if (item.empty())
      continue;
    if (!is_hex_digest(item)) {
      // Never echo the entry: it may be a raw key pasted by mistake.
      error = std::string{setting} + ": entry " + std::to_string(n)
              + " is not a SHA-256 hex digest (64 hex digits); store sha256(key), not the key";
      return false;
    }
    std::string digest{item};
    std::transform(digest.begin(), digest.end(), digest.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.push_back(std::move(digest));
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x))
                  == std::tolower(static_cast<unsigned char>(y));
         });
}

bool matches_any(const std::vector<std::string>& digests, const std::string& digest) {
  // Constant time per comparison, and every entry is compared, so timing says
  // nothing about which digest (if any) matched.
  bool found = false;
  for (auto& d : digests)
    found |= CRYPTO_memcmp(d.data(), digest.data(), digest.size()) == 0;
  return found;
}

std::string error_body(const std::string& message) {
  nlohmann::ordered_json j;
  j["message"] = message;
  j["success"] = false;
  return j.dump();
}

}  // namespace

std::optional<auth_policy> make_auth_policy(std::string_view read_write_csv,
                                            std::string_view read_only_csv, std::string& error) {
  auth_policy p;
  if (!split_digests(read_write_csv, "server.api_keys", p.read_write, error)
      || !split_digests(read_only_csv, "server.read_only_api_keys", p.read_only, error))
    return std::nullopt;
  return p;
}

std::string sha256_hex(std::string_view text) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : md) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xf]);
  }
  return out;
}

std::optional<std::string_view> presented_key(const http_request& req) {
  if (auto i = req.find("X-Api-Key"); i != req.end()) {
    auto v = trim({i->value().data(), i->value().size()});
    if (!v.empty())
      return v;
  }
  if (auto i = req.find(http::field::authorization); i != req.end()) {
    auto v = trim({i->value().data(), i->value().size()});
    constexpr std::string_view scheme = "Bearer ";
    if (v.size() > scheme.size() && iequals(v.substr(0, scheme.size()), scheme)) {
      auto key = trim(v.substr(scheme.size()));
      if (!key.empty())
        return key;
    }
  }
  return std::nullopt;
}

access access_of(const auth_policy& policy, std::string_view key) {
  auto digest = sha256_hex(key);
  if (matches_any(policy.read_write, digest))
    return access::read_write;
  if (matches_any(policy.read_only, digest))
    return access::read_only;
  return access::none;
}

std::optional<auth_denial> authorize(const auth_policy& policy, const http_request& req) {
  if (!policy.enabled())
    return std::nullopt;
  bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  auto target = std::string_view{req.target().data(), req.target().size()};
  auto path = target.substr(0, target.find('?'));
  // The health check answers load balancers and other nodes, which hold no key;
  // it reveals nothing but "up".
  if (read && path == "/")
    return std::nullopt;
  auto key = presented_key(req);
  if (!key)
    return auth_denial{http::status::unauthorized,
                       "an API key is required (X-Api-Key or Authorization: Bearer)"};
  switch (access_of(policy, *key)) {
    case access::read_write:
      return std::nullopt;
    case access::read_only:
      if (read)
        return std::nullopt;
      return auth_denial{http::status::forbidden,
                         "this API key is read-only; it may only GET"};
    case access::none:
      break;
  }
  return auth_denial{http::status::unauthorized, "unknown API key"};
}

http_handler with_auth(auth_policy policy, http_handler inner) {
  if (!policy.enabled())
    return inner;
  return [policy = std::move(policy), inner = std::move(inner)](
           http_request&& req, const std::string& remote, responder respond) {
    if (auto denied = authorize(policy, req)) {
      auto res = json_response(denied->status, error_body(denied->message), req.version(),
                               req.keep_alive());
      if (denied->status == http::status::unauthorized)
        res.set(http::field::www_authenticate, "Bearer realm=\"gotel\"");
      respond(std::move(res));
      return;
    }
    inner(std::move(req), remote, std::move(respond));
  };
}

bool is_loopback_host(std::string_view host) {
  if (iequals(host, "localhost"))
    return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string{host}, ec);
  return !ec && addr.is_loopback();
}

}  // namespace gotel
