#include "net/auth.hpp"
#include "net/setting_lists.hpp"

#include "net/manage.hpp"
#include "net/pings.hpp"
#include "storage/utf8.hpp"

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace gotel {

namespace {

bool is_hex_digest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isxdigit(c) != 0;
         });
}

/// Calls `fn(item, n)` for each non-empty, trimmed entry of a comma-separated
/// setting, `n` counting from 1 over every entry (for error messages); stops
/// and returns false as soon as `fn` does.
template <class Fn>
bool for_each_entry(std::string_view csv, Fn fn) {
  std::size_t n = 0;
  while (!csv.empty()) {
    auto comma = csv.find(',');
    auto item = trim_blanks(csv.substr(0, comma));
    csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    ++n;
    if (!item.empty() && !fn(item, n))
      return false;
  }
  return true;
}

bool split_digests(std::string_view csv, const char* setting, std::vector<std::string>& out,
                   std::string& error) {
  return for_each_entry(csv, [&](std::string_view item, std::size_t n) {
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
    return true;
  });
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

/// Index of the entry of `keys` whose digest is `digest`, or -1; every entry is
/// compared in constant time, as in matches_any.
int match_ping_key(const std::vector<ping_key>& keys, const std::string& digest) {
  int found = -1;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    bool same = CRYPTO_memcmp(keys[i].digest.data(), digest.data(), digest.size()) == 0;
    found = same ? static_cast<int>(i) : found;
  }
  return found;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

/// The first segment after "/ping/", undecoded ("" when there is none).
std::string_view first_ping_segment(std::string_view path) {
  constexpr std::string_view prefix = "/ping/";
  if (!path.starts_with(prefix))
    return {};
  auto rest = path.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

/// %-encodes every byte but RFC 3986's unreserved ones.
std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    }
  }
  return out;
}

/// `query` without its `key` parameters (however they are %-encoded).
std::string without_key_param(std::string_view query) {
  std::string out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto name = percent_decode(pair.substr(0, pair.find('=')), true);
    if (!name || *name != "key") {
      if (!out.empty())
        out.push_back('&');
      out += pair;
    }
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return out;
}

/// Body parsers without size limits: they only find the app; the handler
/// applies the limits with the same parsers.
const field_limits unlimited{std::numeric_limits<std::size_t>::max(),
                             std::numeric_limits<std::size_t>::max()};

/// What a ping key for `app` may do with `req`.
std::optional<auth_denial> authorize_ping(const std::string& app, const http_request& req) {
  auto classified = classify_signal(req);
  if (auto* r = std::get_if<rejection>(&classified))
    return auth_denial{static_cast<http::status>(r->status), r->message};
  auto& t = std::get<signal_target>(classified);
  if (!t.is_signal)
    return auth_denial{http::status::forbidden,
                       "a ping key may only check in (POST /checkin, /start, /fail, /ping/..., "
                       "POST /api/v1/reservations/{app}/{component}/checkin); use an API key"};
  bool every_app = app == "*";
  if (t.by_uuid) {
    if (every_app)
      return std::nullopt;
    return auth_denial{http::status::forbidden,
                       "a ping key for one app cannot ping by uuid; use "
                       "/ping/<ping-key>/<component>"};
  }
  if (!every_app && normalize_name(t.app) != normalize_name(app))
    return auth_denial{http::status::forbidden,
                       "this ping key may not check in for app \"" + utf8::truncate(t.app, 64) + "\""};
  if (t.create && every_app)
    return auth_denial{http::status::forbidden,
                       "a ping key for every app may not create reservations (?create=1); "
                       "use an app's ping key"};
  return std::nullopt;
}

std::string error_body(const std::string& message) {
  nlohmann::ordered_json j;
  j["message"] = message;
  j["success"] = false;
  return json_text(j);
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

std::optional<std::vector<ping_key>> parse_ping_keys(std::string_view csv, std::string& error) {
  std::vector<ping_key> out;
  bool ok = for_each_entry(csv, [&](std::string_view item, std::size_t n) {
    auto colon = item.rfind(':');
    auto app = colon == std::string_view::npos ? std::string_view{} : trim_blanks(item.substr(0, colon));
    auto digest = colon == std::string_view::npos ? item : trim_blanks(item.substr(colon + 1));
    // Never echo the entry: it may hold a raw key pasted by mistake.
    auto where = "server.ping_keys: entry " + std::to_string(n);
    if (app.empty() || app.find_first_not_of(' ') == std::string_view::npos) {
      error = where + " must be app:sha256hex (or *:sha256hex for every app)";
      return false;
    }
    std::vector<std::string> digests;
    if (!split_digests(digest, "server.ping_keys", digests, error) || digests.size() != 1) {
      error = where + " is not app:<SHA-256 hex digest> (64 hex digits); store sha256(key), "
                      "not the key";
      return false;
    }
    out.push_back(ping_key{std::string{app}, std::move(digests.front())});
    return true;
  });
  if (!ok)
    return std::nullopt;
  return out;
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
    auto v = trim_blanks({i->value().data(), i->value().size()});
    if (!v.empty())
      return v;
  }
  if (auto i = req.find(http::field::authorization); i != req.end()) {
    auto v = trim_blanks({i->value().data(), i->value().size()});
    constexpr std::string_view scheme = "Bearer ";
    if (v.size() > scheme.size() && iequals(v.substr(0, scheme.size()), scheme)) {
      auto key = trim_blanks(v.substr(scheme.size()));
      if (!key.empty())
        return key;
    }
  }
  return std::nullopt;
}

grant grant_of(const auth_policy& policy, std::string_view key) {
  auto digest = sha256_hex(key);
  if (matches_any(policy.read_write, digest))
    return {access::read_write, {}};
  if (matches_any(policy.read_only, digest))
    return {access::read_only, {}};
  if (auto i = match_ping_key(policy.ping, digest); i >= 0)
    return {access::ping, policy.ping[static_cast<std::size_t>(i)].app};
  return {};
}

std::variant<signal_target, rejection> classify_signal(const http_request& req) {
  auto target = std::string_view{req.target().data(), req.target().size()};
  auto path = path_of(target);
  bool post = req.method() == http::verb::post;
  signal_target t;
  auto from_body = [&](auto parsed) -> std::variant<signal_target, rejection> {
    if (auto* r = std::get_if<rejection>(&parsed))
      return *r;
    t.is_signal = true;
    t.app = std::get<0>(parsed).app;
    return t;
  };
  if (path == "/checkin" && post)
    return from_body(parse_checkin(req.body(), unlimited));
  if (path == "/start" && post)
    return from_body(parse_signal(req.body(), signal_kind::start, unlimited));
  if (path == "/fail" && post)
    return from_body(parse_signal(req.body(), signal_kind::fail, unlimited));
  if (path.starts_with("/ping/")) {
    // Any method: the handler answers 405 to what is not GET, HEAD or POST.
    auto query = target.size() > path.size() ? target.substr(path.size() + 1) : "";
    auto parsed = parse_ping(path, query);
    if (auto* r = std::get_if<rejection>(&parsed))
      return *r;
    auto& ping = std::get<signal_request>(parsed);
    t.is_signal = true;
    t.by_uuid = !ping.uuid.empty();
    t.create = ping.create;
    t.app = std::move(ping.app);
    return t;
  }
  constexpr std::string_view manage = "/api/v1/reservations/";
  if (path.starts_with(manage) && post) {
    // {app}/{component}/checkin, each segment non-empty, as net/manage.cpp
    // reads it.
    auto rest = path.substr(manage.size());
    auto first = rest.find('/');
    auto second = first == std::string_view::npos ? first : rest.find('/', first + 1);
    if (second != std::string_view::npos && rest.substr(second + 1) == "checkin" && first > 0
        && second > first + 1) {
      auto app = percent_decode(rest.substr(0, first), false);
      if (app && !app->empty()) {
        t.is_signal = true;
        t.app = std::move(*app);
      }
    }
  }
  return t;
}

const ping_key* path_ping_key(const auth_policy& policy, std::string_view path) {
  if (policy.ping.empty())
    return nullptr;
  auto segment = first_ping_segment(path);
  if (segment.empty())
    return nullptr;
  auto key = percent_decode(segment, false);
  if (!key)
    return nullptr;
  auto i = match_ping_key(policy.ping, sha256_hex(*key));
  return i < 0 ? nullptr : &policy.ping[static_cast<std::size_t>(i)];
}

std::string served_target(const auth_policy& policy, std::string_view target) {
  auto path = path_of(target);
  std::string out;
  auto* key = path_ping_key(policy, path);
  if (key && key->app != "*") {
    auto segment = first_ping_segment(path);
    out = "/ping/" + percent_encode(key->app)
          + std::string{path.substr(std::string_view{"/ping/"}.size() + segment.size())};
  } else {
    out = std::string{path};
  }
  if (target.size() > path.size()) {
    auto query = without_key_param(target.substr(path.size() + 1));
    if (!query.empty())
      out += "?" + query;
  }
  return out;
}

std::optional<auth_denial> authorize(const auth_policy& policy, const http_request& req) {
  if (!policy.enabled())
    return std::nullopt;
  bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  auto target = std::string_view{req.target().data(), req.target().size()};
  auto path = path_of(target);
  // The health check answers load balancers and other nodes, which hold no key;
  // it reveals nothing but "up".
  if (read && path == "/")
    return std::nullopt;
  bool ping_url = path.starts_with("/ping/");
  // Healthchecks' /ping/<ping-key>/<slug>: the key in the path names the app,
  // so the request is for that app by construction (served_target rewrites it).
  if (auto* key = ping_url ? path_ping_key(policy, path) : nullptr) {
    if (key->app == "*")
      return auth_denial{http::status::forbidden,
                         "a ping key for every app cannot stand for the app in the URL; use "
                         "/ping/<app>/<component>?key=<ping-key>"};
    return std::nullopt;
  }
  if (ping_url && policy.open_uuid_pings) {
    auto classified = classify_signal(req);
    if (auto* t = std::get_if<signal_target>(&classified); t && t->by_uuid)
      return std::nullopt;
  }
  if (auto key = presented_key(req)) {
    auto g = grant_of(policy, *key);
    switch (g.level) {
      case access::read_write: return std::nullopt;
      case access::read_only:
        // A ping by GET is a write all the same.
        if (read && !ping_url)
          return std::nullopt;
        return auth_denial{http::status::forbidden,
                           "this API key is read-only; it may only GET, and not ping"};
      case access::ping: return authorize_ping(g.app, req);
      case access::none: break;
    }
    return auth_denial{http::status::unauthorized, "unknown API key"};
  }
  // ?key= carries ping keys only: a URL ends up in shell history and proxy
  // logs, where a key that can only check in for one app is the least harm.
  if (auto key = query_param(target, "key"); key && !key->empty()) {
    auto g = grant_of(policy, *key);
    if (g.level == access::ping)
      return authorize_ping(g.app, req);
    return auth_denial{http::status::unauthorized,
                       "unknown ping key (?key= takes ping keys only; send API keys as "
                       "X-Api-Key or Authorization: Bearer)"};
  }
  return auth_denial{http::status::unauthorized,
                     "an API key is required (X-Api-Key or Authorization: Bearer), or a ping "
                     "key for check-ins (also as ?key=)"};
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
    auto target = std::string_view{req.target().data(), req.target().size()};
    if (auto served = served_target(policy, target); served != target)
      req.target(served);
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
