#include "net/http_server.hpp"

#include "storage/utf8.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>
#include <type_traits>
#include <vector>

namespace gotel {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

http_response json_response(http::status status, std::string body, unsigned version,
                            bool keep_alive) {
  http_response res{status, version};
  res.set(http::field::server, "gotel");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

namespace {

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// True for errors after which the stream cannot carry another byte (the peer
/// reset it, the timer closed it, TLS failed): there is nobody to answer or to
/// say goodbye to.
bool broken(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::operation_aborted
         || ec == asio::error::connection_reset || ec == asio::error::broken_pipe
         || ec == asio::ssl::error::stream_truncated
         || ec.category() == asio::error::get_ssl_category();
}

/// One connection, plain (`plain_stream`) or HTTPS (`tls_stream`): the same
/// keep-alive loop, limits and timeouts over either; TLS only adds the
/// handshake in front and close_notify at the end.
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

 public:
  /// `stream_args` follow the socket into Stream's constructor (the TLS context).
  template <class... StreamArgs>
  session(tcp::socket&& socket, const http_server_options& opts, const http_handler& handler,
          client_limits& limits, StreamArgs&... stream_args)
    : stream_(std::move(socket), stream_args...), opts_(opts), handler_(handler),
      limits_(limits) {
    boost::system::error_code ec;
    auto ep = tcp_layer().socket().remote_endpoint(ec);
    if (!ec)
      remote_ = ep.address().to_string();
    // Over the per-client connection limit: the first request is read (within
    // the read timeout) only to answer it 429 and close.
    counted_ = limits_.open_connection(remote_);
  }

  ~session() {
    if (counted_)
      limits_.close_connection(remote_);
  }

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&session::begin, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  std::chrono::milliseconds read_timeout() const {
    return std::chrono::milliseconds(opts_.read_timeout_ms != 0 ? opts_.read_timeout_ms
                                                                : opts_.idle_timeout_ms);
  }

  void begin() {
    if constexpr (is_tls) {
      // The handshake is bounded like a request: a client that connects and
      // never finishes it (or trickles it) is cut off after the read timeout.
      tcp_layer().expires_after(read_timeout());
      stream_.async_handshake(asio::ssl::stream_base::server,
                              beast::bind_front_handler(&session::on_handshake,
                                                        this->shared_from_this()));
    } else {
      read();
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      // Plain HTTP, a port scan or garbage on the TLS port: this connection's
      // problem only.
      spdlog::debug("http: TLS handshake with {} failed: {}", remote_, ec.message());
      return drop();
    }
    tls_up_ = true;
    read();
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(opts_.body_limit);
    parser_->header_limit(opts_.header_limit);
    if (buffer_.size() > 0)
      return read_request();  // a pipelined request is already here
    // Between requests the idle timeout applies; once the first byte arrives,
    // the (shorter) read timeout bounds the whole request, so a client that
    // trickles its headers (slowloris) cannot hold the connection open.
    tcp_layer().expires_after(std::chrono::milliseconds(opts_.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&session::on_first_bytes,
                                                      this->shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (ec)
      return broken(ec) ? drop() : close();
    buffer_.commit(n);
    read_request();
  }

  void read_request() {
    tcp_layer().expires_after(read_timeout());
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof)
      return close();
    if (broken(ec))
      return drop();
    if (ec == http::error::body_limit) {
      return fail(http::status::payload_too_large,
                  "request body is larger than " + std::to_string(opts_.body_limit) + " bytes");
    }
    if (ec == http::error::header_limit)
      return fail(http::status::request_header_fields_too_large, "request headers too large");
    if (ec)
      return fail(http::status::bad_request, "malformed HTTP request");
    if (!counted_) {
      return fail(http::status::too_many_requests,
                  "too many connections from " + remote_ + " (at most "
                    + std::to_string(opts_.client_limits.max_connections) + ")");
    }
    if (std::uint32_t retry_after = 0;
        !limits_.allow_request(remote_, client_limits::clock::now(), retry_after)) {
      auto keep_alive = parser_->get().keep_alive();
      return fail(http::status::too_many_requests,
                  "request rate limit exceeded; retry in " + std::to_string(retry_after) + " s",
                  keep_alive, retry_after);
    }
    auto req = parser_->release();
    auto self = this->shared_from_this();
    auto version = req.version();
    auto keep_alive = req.keep_alive();
    auto target = std::string{req.target()};
    // The first answer wins: after a handler threw, or a callback was called
    // again with a 500 (net/bridge.cpp deliver), a second one is dropped.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    try {
      handler_(std::move(req), remote_, [self, version, keep_alive,
                                         answered](http_response&& res) {
        if (answered->exchange(true))
          return;
        res.version(version);
        if (!keep_alive)
          res.keep_alive(false);
        asio::post(self->stream_.get_executor(),
                   [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
      });
    } catch (const std::exception& e) {
      // A handler that throws answers 500 and the process goes on serving
      // (issue 13: one request must never end the node).
      spdlog::error("http: request {} from {} failed: {}", utf8::printable(target.substr(0, 200)),
                    remote_, utf8::printable(e.what()));
      if (!answered->exchange(true))
        fail(http::status::internal_server_error, "internal error; see the server log",
             keep_alive);
    } catch (...) {
      spdlog::error("http: request {} from {} failed", utf8::printable(target.substr(0, 200)),
                    remote_);
      if (!answered->exchange(true))
        fail(http::status::internal_server_error, "internal error; see the server log",
             keep_alive);
    }
  }

  /// Answers a request that could not be served, then closes the connection
  /// unless `keep_alive`; `retry_after` (s) is sent as Retry-After when non-zero.
  void fail(http::status status, std::string message, bool keep_alive = false,
            std::uint32_t retry_after = 0) {
    // Built by hand: the server does not depend on a JSON library.
    std::string escaped;
    for (char c : utf8::sanitize(message)) {
      if (c == '"' || c == '\\')
        escaped.push_back('\\');
      escaped.push_back(c);
    }
    auto res = json_response(status, "{\"success\":false,\"message\":\"" + escaped + "\"}", 11,
                             keep_alive);
    if (retry_after != 0)
      res.set(http::field::retry_after, std::to_string(retry_after));
    write(std::move(res));
  }

  void write(http_response&& res) {
    auto sp = std::make_shared<http_response>(std::move(res));
    tcp_layer().expires_after(std::chrono::milliseconds(opts_.idle_timeout_ms));
    http::async_write(stream_, *sp,
                      [self = this->shared_from_this(), sp](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->drop();
                        if (!sp->keep_alive())
                          return self->close();
                        self->read();
                      });
  }

  /// Ends a healthy connection: over TLS, close_notify first (bounded by the
  /// read timeout, so a peer that never answers it cannot hold the socket).
  void close() {
    if constexpr (is_tls) {
      if (tls_up_) {
        tls_up_ = false;
        tcp_layer().expires_after(read_timeout());
        return stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->drop(); });
      }
    } else {
      beast::error_code ec;
      tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    drop();
  }

  /// Ends a connection with nothing more to say on it.
  void drop() { tcp_layer().close(); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const http_server_options& opts_;
  const http_handler& handler_;
  client_limits& limits_;
  std::string remote_;
  bool counted_ = false;  ///< holds one of its client's connection slots
  bool tls_up_ = false;   ///< the TLS handshake completed and no close_notify was sent
};

}  // namespace

struct http_server::impl {
  // Sessions refer to opts, handler and limits, and the last of them are
  // destroyed with the handlers still queued in ioc (answers posted after
  // stop()), so these three are declared, and thus outlive, ioc.
  http_server_options opts;
  http_handler handler;
  std::unique_ptr<client_limits> limits;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool running = false;

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        if (opts.tls)
          std::make_shared<session<tls_stream>>(std::move(s), opts, handler, *limits, *opts.tls)
            ->start();
        else
          std::make_shared<session<plain_stream>>(std::move(s), opts, handler, *limits)->start();
      }
      accept();
    });
  }
};

http_server::http_server(http_server_options opts, http_handler handler)
  : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
  impl_->limits = std::make_unique<client_limits>(impl_->opts.client_limits);
}

http_server::~http_server() {
  stop();
}

std::string http_server::start() {
  auto& d = *impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(d.opts.host, ec);
  if (ec)
    return "invalid listen address " + d.opts.host;
  tcp::endpoint ep{addr, d.opts.port};
  d.acceptor.open(ep.protocol(), ec);
  if (!ec)
    d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    d.acceptor.bind(ep, ec);
  if (!ec)
    d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return "cannot listen on " + d.opts.host + ":" + std::to_string(d.opts.port) + ": "
           + ec.message();
  d.port = d.acceptor.local_endpoint().port();
  d.accept();
  d.running = true;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, d.opts.threads); ++i)
    d.threads.emplace_back([&d] { d.ioc.run(); });
  return {};
}

std::uint16_t http_server::port() const {
  return impl_->port;
}

void http_server::stop() {
  auto& d = *impl_;
  if (!d.running)
    return;
  d.running = false;
  asio::post(d.ioc, [&d] {
    beast::error_code ec;
    d.acceptor.close(ec);
  });
  d.ioc.stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();
}

}  // namespace gotel
