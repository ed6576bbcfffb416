#include "net/forwarded.hpp"
#include "net/setting_lists.hpp"

#include <charconv>

namespace gotel {

namespace ip = boost::asio::ip;

namespace {

std::optional<ip::address> address_of(std::string_view text) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string{text}, ec);
  if (ec)
    return std::nullopt;
  return a;
}

/// An X-Forwarded-For entry without its port: `1.2.3.4:80` and `[2001::1]:80`
/// lose it; a bare IPv6 address (several colons) has none.
std::string_view without_port(std::string_view s) {
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    return close == std::string_view::npos ? s : s.substr(1, close - 1);
  }
  auto colon = s.find(':');
  if (colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos)
    return s.substr(0, colon);
  return s;
}

bool prefix_matches(const unsigned char* a, const unsigned char* b, unsigned bits) {
  for (unsigned i = 0; i < bits / 8; ++i)
    if (a[i] != b[i])
      return false;
  if (bits % 8 == 0)
    return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits % 8));
  return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}

}  // namespace

std::optional<trusted_proxies> trusted_proxies::parse(std::string_view list, std::string& error) {
  trusted_proxies out;
  bool ok = for_each_listed(list, [&](std::string_view item) {
    auto slash = item.find('/');
    auto a = address_of(item.substr(0, slash));
    if (!a) {
      error = "server.trusted_proxies: \"" + std::string{item.substr(0, 64)}
              + "\" is not an IP address or network (address/prefix)";
      return false;
    }
    unsigned max = a->is_v4() ? 32 : 128, prefix = max;
    if (slash != std::string_view::npos) {
      auto bits = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (bits.empty() || ec != std::errc{} || p != bits.data() + bits.size() || prefix > max) {
        error = "server.trusted_proxies: \"" + std::string{item.substr(0, 64)}
                + "\" has no valid prefix length (0 to " + std::to_string(max) + ")";
        return false;
      }
    }
    out.nets_.push_back({*a, prefix});
    return true;
  });
  if (!ok)
    return std::nullopt;
  return out;
}

bool trusted_proxies::contains(const ip::address& a) const {
  // An IPv4 peer may arrive as IPv4-mapped IPv6 on a dual-stack socket.
  ip::address plain = a;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    plain = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  for (const auto& n : nets_) {
    if (n.base.is_v4() && plain.is_v4()) {
      auto x = n.base.to_v4().to_bytes(), y = plain.to_v4().to_bytes();
      if (prefix_matches(x.data(), y.data(), n.prefix))
        return true;
    } else if (n.base.is_v6() && plain.is_v6()) {
      auto x = n.base.to_v6().to_bytes(), y = plain.to_v6().to_bytes();
      if (prefix_matches(x.data(), y.data(), n.prefix))
        return true;
    }
  }
  return false;
}

std::string client_address(const std::string& peer, const http_request& req,
                           const trusted_proxies& trusted) {
  auto header = req.find("X-Forwarded-For");
  if (header == req.end() || trusted.empty())
    return peer;
  auto direct = address_of(peer);
  if (!direct || !trusted.contains(*direct))
    return peer;
  std::string_view value{header->value().data(), header->value().size()};
  auto first = trim_blanks(value.substr(0, value.find(',')));
  auto host = without_port(first);
  auto a = address_of(host);
  if (!a)
    return peer;
  return std::string{host};
}

http_handler with_forwarded_client(trusted_proxies trusted, http_handler inner) {
  return [trusted = std::move(trusted), inner = std::move(inner)](
             http_request&& req, const std::string& remote, responder respond) {
    auto client = client_address(remote, req, trusted);
    inner(std::move(req), client, std::move(respond));
  };
}

}  // namespace gotel
