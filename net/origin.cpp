#include "net/origin.hpp"
#include "net/setting_lists.hpp"

#include "net/auth.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace gotel {

namespace {

std::string lower(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// host[:port] of a Host header or an origin: the host in lower case (an IPv6
/// address without its brackets) and the port ("" when absent).
struct authority {
  std::string host;
  std::string port;
};

std::optional<authority> parse_authority(std::string_view text) {
  authority out;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    out.host = lower(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return std::nullopt;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    out.host = lower(text.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  }
  if (out.host.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  // Names and addresses only: nothing that could smuggle a path or userinfo.
  for (unsigned char c : out.host)
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':'))
      return std::nullopt;
  out.port = std::string{port};
  return out;
}

/// An origin `scheme://host[:port]`: scheme and authority, the port made
/// explicit (80 or 443 when omitted).
struct parsed_origin {
  std::string scheme;
  authority where;
};

std::optional<parsed_origin> parse_origin(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return std::nullopt;
  parsed_origin out;
  out.scheme = lower(text.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https")
    return std::nullopt;
  auto rest = text.substr(sep + 3);
  if (rest.ends_with('/'))
    rest.remove_suffix(1);
  auto where = parse_authority(rest);
  if (!where)
    return std::nullopt;
  out.where = std::move(*where);
  if (out.where.port.empty())
    out.where.port = out.scheme == "https" ? "443" : "80";
  return out;
}

/// The canonical text of an origin: scheme://host[:port], default port omitted.
std::string canonical(const parsed_origin& o) {
  bool ipv6 = o.where.host.find(':') != std::string::npos;
  std::string out = o.scheme + "://" + (ipv6 ? "[" + o.where.host + "]" : o.where.host);
  bool default_port = (o.scheme == "http" && o.where.port == "80")
                      || (o.scheme == "https" && o.where.port == "443");
  if (!default_port)
    out += ":" + o.where.port;
  return out;
}

bool is_state_changing(http::verb method) {
  return method != http::verb::get && method != http::verb::head
         && method != http::verb::options;
}

/// A header's value, cut for quoting in an error message.
std::string shown(std::string_view value) {
  return std::string{value.substr(0, 100)} + (value.size() > 100 ? "..." : "");
}

std::string error_body(const std::string& message) {
  nlohmann::ordered_json j;
  j["message"] = message;
  j["success"] = false;
  // Header values are not necessarily UTF-8.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::optional<origin_policy> make_origin_policy(std::string_view listen_host,
                                                std::string_view allowed_origins,
                                                std::string_view allowed_hosts,
                                                const std::vector<std::string>& more_names,
                                                std::string& error) {
  origin_policy p;
  bool ok = for_each_listed(allowed_origins, [&](std::string_view item) {
    if (item == "*") {
      p.any_origin = true;
      return true;
    }
    auto o = parse_origin(item);
    if (!o) {
      error = "server.allowed_origins: \"" + shown(item)
              + "\" is not an origin (http://host[:port] or https://host[:port], no path) or *";
      return false;
    }
    p.allowed_origins.push_back(canonical(*o));
    return true;
  });
  if (!ok)
    return std::nullopt;
  ok = for_each_listed(allowed_hosts, [&](std::string_view item) {
    auto a = parse_authority(item);
    if (!a) {
      error = "server.allowed_hosts: \"" + shown(item)
              + "\" is not a host name (a name or address, optionally with :port)";
      return false;
    }
    p.host_names.push_back(a->host);
    return true;
  });
  if (!ok)
    return std::nullopt;
  p.check_host = is_loopback_host(listen_host);
  p.host_names.push_back(lower(listen_host));
  for (auto& name : more_names)
    if (auto a = parse_authority(name))
      p.host_names.push_back(a->host);
  return p;
}

std::optional<std::string> cross_site_refusal(const origin_policy& policy,
                                              const http_request& req) {
  auto [host_first, host_last] = req.equal_range(http::field::host);
  if (host_first != host_last && std::next(host_first) != host_last)
    return std::string{"more than one Host header"};
  std::string_view host_header;
  if (host_first != host_last)
    host_header = trim_blanks({host_first->value().data(), host_first->value().size()});
  std::optional<authority> host;
  if (!host_header.empty())
    host = parse_authority(host_header);

  // DNS rebinding: a name the attacker controls, resolved to 127.0.0.1. An
  // address, localhost and *.localhost cannot be rebound (browsers resolve
  // the last two to loopback themselves); any port is fine, so SSH tunnels
  // (localhost:9000 -> 127.0.0.1:8080) keep working.
  if (policy.check_host && !host_header.empty()) {
    bool known = host
                 && (is_loopback_host(host->host) || host->host.ends_with(".localhost")
                     || std::find(policy.host_names.begin(), policy.host_names.end(), host->host)
                          != policy.host_names.end());
    if (!known)
      return "Host \"" + shown(host_header)
             + "\" is not a name of this server, which listens on loopback and answers only "
               "to localhost, loopback addresses and the names in server.allowed_hosts "
               "(refused against DNS rebinding)";
  }

  if (policy.any_origin || !is_state_changing(req.method()))
    return std::nullopt;
  if (auto i = req.find(http::field::origin); i != req.end()) {
    std::string_view origin = trim_blanks({i->value().data(), i->value().size()});
    auto o = parse_origin(origin);
    if (o && host) {
      auto host_port = host->port.empty() ? (o->scheme == "https" ? "443" : "80") : host->port;
      // The scheme is not compared: Host does not carry it (a TLS-terminating
      // proxy passes an https page's requests on as http), and a page served
      // from this host and port was served by this server, whatever the scheme.
      if (o->where.host == host->host && o->where.port == host_port)
        return std::nullopt;
    }
    if (o
        && std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), canonical(*o))
             != policy.allowed_origins.end())
      return std::nullopt;
    return "cross-origin " + std::string{http::to_string(req.method())} + " refused: Origin \""
           + shown(origin)
           + "\" is not this server's; a page on another origin may change nothing unless "
             "server.allowed_origins lists it";
  }
  // No Origin (older browsers, some navigations): the browser's own word.
  if (auto i = req.find("Sec-Fetch-Site"); i != req.end()) {
    auto site = lower(trim_blanks({i->value().data(), i->value().size()}));
    if (site == "cross-site" || site == "same-site")
      return "cross-origin " + std::string{http::to_string(req.method())}
             + " refused (Sec-Fetch-Site: " + shown(site)
             + "); a page on another origin may change nothing unless server.allowed_origins "
               "lists it";
  }
  return std::nullopt;
}

http_handler with_origin_checks(origin_policy policy, http_handler inner) {
  return [policy = std::move(policy), inner = std::move(inner)](
           http_request&& req, const std::string& remote, responder respond) {
    if (auto why = cross_site_refusal(policy, req)) {
      respond(json_response(http::status::forbidden, error_body(*why), req.version(),
                            req.keep_alive()));
      return;
    }
    inner(std::move(req), remote, std::move(respond));
  };
}

}  // namespace gotel
