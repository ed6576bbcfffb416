#include "actors/cluster_guard.hpp"

#include <caf/io/basp/instance.hpp>
#include <caf/io/system_messages.hpp>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

namespace gotel::cluster_guard {

namespace {

struct guard_state {
  std::atomic<bool> active{false};
  std::atomic<std::uint16_t> port{0};
  std::atomic<std::uint32_t> max_payload{default_max_unauthenticated_payload};
  std::atomic<std::uint64_t> refused_address{0};
  std::atomic<std::uint64_t> refused_oversized{0};
  std::mutex mtx;
  std::set<std::string> allowed;       ///< numeric source addresses
  std::vector<caf::node_id> trusted;   ///< nodes whose large payloads pass
};

guard_state& state() {
  static guard_state st;
  return st;
}

/// The numeric form of `sa`, an IPv4-mapped IPv6 address as plain IPv4.
std::string numeric(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    auto& a6 = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6))
      inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf);
    else
      inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  }
  return buf;
}

std::uint16_t port_of(const sockaddr* sa) {
  if (sa->sa_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}

/// CAF's BASP data handler, which the interposed definition below replaces.
constexpr const char* basp_handle_symbol =
  "_ZN3caf2io4basp8instance6handleEPNS_14execution_unitERNS0_12new_data_msgERNS1_6headerEb";

/// Logs the first few refusals of a kind and then every 100th, so a flood
/// cannot flood the log.
void log_refusal(std::uint64_t count, const std::string& what) {
  if (count <= 10 || count % 100 == 0)
    spdlog::warn("cluster: closed a connection to the cluster port: {} ({} such so far)", what,
                 count);
}

}  // namespace

std::string configure(const std::vector<std::string>& peer_hosts, std::uint16_t port,
                      std::uint32_t max_unauthenticated_payload) {
  // The size check calls CAF's own handler; without it (a CAF built otherwise)
  // the guard cannot work, and the node must not run unguarded unawares.
  if (dlsym(RTLD_NEXT, basp_handle_symbol) == nullptr || dlsym(RTLD_NEXT, "accept") == nullptr)
    return "the cluster port's guard cannot find CAF 0.17's BASP handler in libcaf_io "
           "(docs/security.md, \"Cluster port before authentication\")";
  std::set<std::string> allowed;
  for (auto& host : peer_hosts) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0)
      return "cannot resolve cluster node address " + host + ": " + gai_strerror(rc);
    for (auto* ai = res; ai != nullptr; ai = ai->ai_next)
      if (auto n = numeric(ai->ai_addr); !n.empty())
        allowed.insert(n);
    freeaddrinfo(res);
  }
  auto& st = state();
  {
    std::lock_guard lock{st.mtx};
    st.allowed = std::move(allowed);
  }
  st.port = port;
  st.max_payload = max_unauthenticated_payload;
  st.active = true;
  return "";
}

void set_port(std::uint16_t port) {
  state().port = port;
}

void set_trusted(std::vector<caf::node_id> nodes) {
  auto& st = state();
  std::lock_guard lock{st.mtx};
  st.trusted = std::move(nodes);
}

counters stats() {
  auto& st = state();
  return {st.refused_address.load(), st.refused_oversized.load()};
}

bool address_allowed(const std::string& addr) {
  auto& st = state();
  if (!st.active)
    return true;
  std::lock_guard lock{st.mtx};
  return st.allowed.count(addr) > 0;
}

namespace {

/// Whether a connection accepted on `listener` as `fd` may stay open.
bool accept_allowed(int listener, int fd) {
  auto& st = state();
  if (!st.active)
    return true;
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&local), &len) != 0
      || port_of(reinterpret_cast<sockaddr*>(&local)) != st.port.load())
    return true;  // another listener (the HTTP server)
  sockaddr_storage remote{};
  len = sizeof remote;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0)
    return false;  // already gone
  auto who = numeric(reinterpret_cast<sockaddr*>(&remote));
  if (address_allowed(who))
    return true;
  log_refusal(++st.refused_address, "from " + who + ", which is not a configured node's address");
  return false;
}

/// Whether CAF may read a payload of `len` bytes from `node` (none before its
/// BASP handshake).
bool payload_allowed(const caf::node_id& node, std::uint32_t len) {
  auto& st = state();
  if (!st.active || len <= st.max_payload.load())
    return true;
  {
    std::lock_guard lock{st.mtx};
    if (node && std::find(st.trusted.begin(), st.trusted.end(), node) != st.trusted.end())
      return true;
  }
  log_refusal(++st.refused_oversized,
              "a message of " + std::to_string(len) + " bytes announced before authentication "
                + "(at most " + std::to_string(st.max_payload.load()) + ")");
  return false;
}

}  // namespace

}  // namespace gotel::cluster_guard

// ---------------------------------------------------------------------------
// Interposed definitions (see cluster_guard.hpp). Each calls the definition it
// replaces, found with dlsym(RTLD_NEXT): libc's accept, and CAF's handler of a
// BASP connection's data, which the BASP broker calls for every header (and
// then every payload) it reads; right after a header it answers
// `await_payload`, and the broker then reads exactly `hdr.payload_len` bytes
// into a buffer of that size. Answering `malformed_basp_message` instead
// makes the broker close the connection first (caf/io/basp_broker.cpp).
// ---------------------------------------------------------------------------

extern "C" int accept(int fd, sockaddr* __restrict addr, socklen_t* __restrict len) {
  using fn = int (*)(int, sockaddr*, socklen_t*);
  static const auto real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "accept"));
  int conn = real(fd, addr, len);
  if (conn < 0 || gotel::cluster_guard::accept_allowed(fd, conn))
    return conn;
  ::close(conn);
  // Nothing to hand over: as if no connection were pending (CAF's acceptor
  // waits for the next readiness of its non-blocking listener).
  errno = EAGAIN;
  return -1;
}

namespace caf::io::basp {

connection_state instance::handle(execution_unit* ctx, new_data_msg& dm, header& hdr,
                                  bool is_payload) {
  using fn = connection_state (*)(instance*, execution_unit*, new_data_msg&, header&, bool);
  static const auto real =
    reinterpret_cast<fn>(dlsym(RTLD_NEXT, gotel::cluster_guard::basp_handle_symbol));
  auto next = real(this, ctx, dm, hdr, is_payload);
  if (next == await_payload
      && !gotel::cluster_guard::payload_allowed(tbl().lookup_direct(dm.handle), hdr.payload_len))
    return malformed_basp_message;  // the broker forgets the route and closes

  return next;
}

}  // namespace caf::io::basp
