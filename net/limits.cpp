#include "net/limits.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gotel {

namespace {

/// Entries kept before idle ones are swept.
constexpr std::size_t prune_threshold = 4096;

}  // namespace

client_limits::client_limits(client_limit_options opts)
  : opts_(opts), burst_(opts.burst >= 1 ? opts.burst : std::max(1.0, opts.rate_per_second)) {}

bool client_limits::open_connection(const std::string& client) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& e = clients_[client];
  if (opts_.max_connections != 0 && e.connections >= opts_.max_connections)
    return false;
  ++e.connections;
  return true;
}

void client_limits::close_connection(const std::string& client) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = clients_.find(client);
  if (i != clients_.end() && i->second.connections > 0)
    --i->second.connections;
}

bool client_limits::allow_request(const std::string& client, clock::time_point now,
                                  std::uint32_t& retry_after_s) {
  if (opts_.rate_per_second <= 0)
    return true;
  std::lock_guard<std::mutex> guard{mutex_};
  if (clients_.size() > prune_threshold)
    prune(now);
  auto& e = clients_[client];
  if (!e.bucket_started) {
    e.bucket_started = true;
    e.tokens = burst_;
    e.refilled = now;
  } else if (now > e.refilled) {
    std::chrono::duration<double> elapsed = now - e.refilled;
    e.tokens = std::min(burst_, e.tokens + elapsed.count() * opts_.rate_per_second);
    e.refilled = now;
  }
  if (e.tokens >= 1) {
    e.tokens -= 1;
    return true;
  }
  retry_after_s = static_cast<std::uint32_t>(
    std::max(1.0, std::ceil((1 - e.tokens) / opts_.rate_per_second)));
  return false;
}

std::uint32_t client_limits::connections(const std::string& client) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = clients_.find(client);
  return i == clients_.end() ? 0 : i->second.connections;
}

std::uint64_t fd_reserve(std::uint64_t fd_limit) {
  return std::max<std::uint64_t>(128, fd_limit / 8);
}

std::uint32_t connection_cap(std::uint64_t fd_limit, std::uint64_t configured) {
  auto reserve = fd_reserve(fd_limit);
  auto room = fd_limit >= 2 * reserve ? fd_limit - reserve : fd_limit / 2;
  return static_cast<std::uint32_t>(
    std::min<std::uint64_t>({configured, room, std::numeric_limits<std::uint32_t>::max()}));
}

void client_limits::prune(clock::time_point now) {
  for (auto i = clients_.begin(); i != clients_.end();) {
    auto& e = i->second;
    std::chrono::duration<double> elapsed = now - e.refilled;
    bool full = !e.bucket_started || e.tokens + elapsed.count() * opts_.rate_per_second >= burst_;
    if (e.connections == 0 && full)
      i = clients_.erase(i);
    else
      ++i;
  }
}

}  // namespace gotel
