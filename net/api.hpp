#pragma once
/// GoTel's HTTP API (shared/reference/gotel-api.md): thin handlers that parse,
/// validate, ask an actor through the bridge and map the answer. No job logic.

#include "actors/node.hpp"
#include "net/http_server.hpp"

#include <memory>

namespace gotel {

class api {
 public:
  /// `n` must outlive the api.
  explicit api(node& n);
  /// Calls stop().
  ~api();

  /// Drops the blocking jobs still queued, waits for the running ones and
  /// stops the bridges, so that no request callback (each holding its
  /// connection) outlives this call. Call it from the thread that owns the api,
  /// after http_server::stop() and before the server is destroyed. Idempotent.
  void stop();

  /// The handler to give http_server.
  http_handler handler();

  /// Where the HTTP server listens (shown on /nodes); call before serving.
  void set_bound_address(std::string address);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// The listing element for `rec` in GoTel's key order (GET /reservation).
std::string listing_json(const std::vector<reservation_record>& recs, unix_ms now,
                         const schedule_policy& policy);

}  // namespace gotel
