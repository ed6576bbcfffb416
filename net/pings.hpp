#pragma once
/// Healthchecks-compatible ping URLs (docs/pings.md), so existing clients and
/// wrappers work by changing the base URL:
///   /ping/<uuid>[/start|/fail|/log|/<exit-status>]
///   /ping/<app>/<component>[/start|/fail|/log|/<exit-status>]   (slug form)
/// with `?create=1` (slug form: create an unknown reservation) and `?rid=`
/// (run id). HEAD, GET and POST are accepted; a POST body is the ping log.
/// Answers are text, as Healthchecks answers: 200 "OK", 201 "Created" (the
/// ?create=1 ping that created it), 404 "not found" (also ?create=1 beyond
/// the app's reservation limit), 400 with what is wrong; every answer carries
/// Access-Control-Allow-Origin, Ping-Body-Limit and a no-cache Cache-Control.
/// Keys are checked before (net/auth.hpp), which also serves
/// Healthchecks' /ping/<ping-key>/<slug> as the slug form of the key's app.

#include "actors/messages.hpp"
#include "net/bridge.hpp"
#include "net/http_server.hpp"
#include "net/requests.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace gotel {

/// Parses a ping URL: `path` is the request path (starting with "/ping/"),
/// `query` the text after '?' (may be empty). Pure; the request it returns has
/// no notes or source yet.
parse_result<signal_request> parse_ping(std::string_view path, std::string_view query);

/// How the ping handler reaches the actors (the api's bridge).
using ask_fn = std::function<void(caf::message, reply_fn)>;

/// Answers one ping request: parses, truncates the body to `max_log_bytes`
/// (Healthchecks truncates, it does not refuse), asks, maps the answer.
void handle_ping(http_request&& req, std::string_view path, std::string_view query,
                 const std::string& remote, std::size_t max_log_bytes, const ask_fn& ask,
                 responder respond);

}  // namespace gotel
