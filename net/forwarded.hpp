#pragma once
/// The client address behind a reverse proxy (issue 13 §4): Healthchecks
/// records a ping's source from X-Forwarded-For; GoTel does so only when the
/// direct peer is a proxy the operator trusts (`server.trusted_proxies`),
/// never on anyone else's word.

#include "net/http_server.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

/// Addresses and networks (`127.0.0.0/8`, `::1`, `10.1.2.3`) whose
/// X-Forwarded-For is believed.
class trusted_proxies {
public:
  /// Parses a comma-separated list; nullopt and `error` on a bad entry.
  static std::optional<trusted_proxies> parse(std::string_view list, std::string& error);

  bool contains(const boost::asio::ip::address& a) const;
  bool empty() const { return nets_.empty(); }

private:
  struct net {
    boost::asio::ip::address base;
    unsigned prefix;
  };
  std::vector<net> nets_;
};

/// The client's address: the first X-Forwarded-For entry (port stripped,
/// IPv4-mapped IPv6 kept as written) when `peer` is a trusted proxy and the
/// entry is an IP address; otherwise `peer`.
std::string client_address(const std::string& peer, const http_request& req,
                           const trusted_proxies& trusted);

/// Calls `inner` with client_address() as the remote.
http_handler with_forwarded_client(trusted_proxies trusted, http_handler inner);

}  // namespace gotel
