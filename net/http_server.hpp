#pragma once
/// An asynchronous HTTP/1.1 server on Boost.Beast, plain or over TLS: keep-alive,
/// body and header limits, idle timeouts. It knows nothing of GoTel; it hands
/// each request to a handler together with a responder that may be called from
/// any thread.

#include "net/limits.hpp"

#include <boost/beast/http.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

namespace boost::asio::ssl {
class context;
}

namespace gotel {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

/// A response whose body is made and sent piece by piece with chunked transfer
/// coding, never held whole (GET /reservation at a million rows, issue 15 §7).
struct streamed_response {
  /// Status and headers; the server sets Transfer-Encoding: chunked.
  http::response<http::empty_body> header;
  /// Appends the next piece of the body to `out` (empty is fine); returns
  /// false once the body is complete. Called one call at a time, through `run`
  /// (never on an I/O thread), and only as fast as the client reads. If it
  /// throws, the connection is closed with the body cut short.
  std::function<bool(std::string& out)> next;
  /// Runs one call of `next` off the I/O threads (the api's blocking pool).
  /// A job it drops (shutting down) closes the connection.
  std::function<void(std::function<void()>)> run;
};

/// Sends the response for one request. Thread-safe; call exactly once (either
/// form). Made from any callable taking http_response&& (tests, wrappers);
/// then stream() collects the pieces and sends them as one response.
class responder {
 public:
  using send_fn = std::function<void(http_response&&)>;
  using stream_fn = std::function<void(streamed_response&&)>;

  responder() = default;
  template <class F, std::enable_if_t<!std::is_same_v<std::decay_t<F>, responder>
                                        && std::is_invocable_v<F&, http_response&&>,
                                      int> = 0>
  responder(F f) : send_(std::move(f)) {}
  responder(send_fn send, stream_fn stream) : send_(std::move(send)), stream_(std::move(stream)) {}

  void operator()(http_response&& res) const { send_(std::move(res)); }
  /// Sends `s` in pieces (or, without a streaming server, whole).
  void stream(streamed_response&& s) const;
  explicit operator bool() const { return static_cast<bool>(send_); }

 private:
  send_fn send_;
  stream_fn stream_;
};

using http_handler =
  std::function<void(http_request&& req, const std::string& remote, responder respond)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;         ///< 0 = pick an ephemeral port
  std::size_t threads = 2;
  std::uint64_t body_limit = 65536;  ///< larger bodies get 413
  std::uint32_t header_limit = 16384;
  std::uint32_t idle_timeout_ms = 60000;  ///< a keep-alive connection idle this long is closed
  /// Once a request's first byte is in, all of it (headers and body) must arrive
  /// within this; slow clients (slowloris) are cut off. 0 = idle_timeout_ms.
  std::uint32_t read_timeout_ms = 10000;
  client_limit_options client_limits;  ///< per-address connections and rate (429)
  /// Connections open at once, every client together; 0 = unlimited. One
  /// accepted beyond it is closed at once, so the process never runs out of
  /// file descriptors for its own files (main.cpp derives it from
  /// RLIMIT_NOFILE with connection_cap, net/limits.hpp). A connection over its
  /// client's limit is answered 429 at once and closed (without waiting for a
  /// request); while it closes it still counts here.
  std::uint32_t max_connections = 0;
  /// Serve HTTPS with this context (make_tls_context, net/tls.hpp); null = plain
  /// HTTP. Every limit and timeout above applies the same; the TLS handshake is
  /// bounded by read_timeout_ms.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// A JSON response with the right headers (every answer is application/json
/// unless it is an HTML page).
http_response json_response(http::status status, std::string body, unsigned version,
                            bool keep_alive);

class http_server {
 public:
  http_server(http_server_options opts, http_handler handler);
  ~http_server();

  /// Binds and starts the I/O threads; "" on success, else why not.
  std::string start();
  /// The bound port (after start()).
  std::uint16_t port() const;
  /// Stops accepting, closes connections, joins the threads. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gotel
