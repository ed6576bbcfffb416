#pragma once
/// The management API under /api/v1 (docs/api.md, docs/openapi.json), plus
/// GET /openapi.json and GET /metrics. Thin handlers like api.cpp's: parse,
/// validate, ask an actor (through a bridge) or read the store on the blocking
/// pool, map the answer to JSON. No job logic here.

#include "actors/errors.hpp"
#include "actors/node.hpp"
#include "net/bridge.hpp"
#include "net/http_server.hpp"
#include "net/requests.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gotel {

/// What handlers outside api.cpp get from the api. Every function is callable
/// from any thread; none blocks.
struct api_services {
  node* n = nullptr;  ///< outlives the api
  field_limits limits;
  /// Asks the coordinator (through a bridge) and calls back exactly once.
  std::function<void(caf::message, reply_fn)> ask;
  /// Runs blocking work (store scans, waiting for the dispatcher) on the
  /// api's pool, never on an I/O or scheduler thread.
  std::function<void(std::function<void()>)> run_blocking;
  /// The cluster as this node sees it (a single node is its own coordinator).
  std::function<node_context::cluster_view()> cluster_view;
  /// Whether the bridges are healthy (GET /, /metrics): {healthy, restarts}.
  std::function<std::pair<bool, std::uint64_t>()> health;
};

/// The one mapping from gotel error codes to HTTP statuses (defined in api.cpp).
http::status http_status_of(errc code);

/// Answers `req` when its path belongs to the management API, /openapi.json or
/// /metrics, and returns true; returns false (and leaves `respond` alone) for
/// every other path.
bool handle_management(const std::shared_ptr<const api_services>& services,
                       const http_request& req, std::string_view path,
                       const std::string& remote, responder& respond);

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt for a
/// malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// The value of query parameter `name` in `target` ("/x?a=1&b=2"), decoded;
/// nullopt when absent or malformed.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace gotel
