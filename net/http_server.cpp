#include "net/http_server.hpp"

#include "storage/utf8.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
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

void responder::stream(streamed_response&& s) const {
  if (stream_)
    return stream_(std::move(s));
  // No streaming server behind this responder: the pieces, made here, in one.
  std::string body;
  try {
    for (std::string piece;; piece.clear()) {
      bool more = s.next(piece);
      body += piece;
      if (!more)
        break;
    }
  } catch (const std::exception& e) {
    spdlog::error("http: a streamed answer failed: {}", utf8::printable(e.what()));
    send_(json_response(http::status::internal_server_error,
                        "{\"success\":false,\"message\":\"internal error; see the server log\"}",
                        s.header.version(), false));
    return;
  }
  http_response res{s.header.result(), s.header.version()};
  for (auto& field : s.header)
    res.set(field.name_string(), field.value());
  res.chunked(false);
  res.body() = std::move(body);
  res.prepare_payload();
  send_(std::move(res));
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

/// True when the request's Transfer-Encoding is anything but one "chunked"
/// (xchunked, gzip, "gzip, chunked", ...). Beast reads the body of a request
/// whose last coding is not chunked as empty, so the body would be parsed as
/// a second request: a desync behind any proxy that reads it otherwise.
bool unsupported_transfer_coding(const http_request& req) {
  std::size_t codings = 0;
  bool chunked = false;
  auto [first, last] = req.equal_range(http::field::transfer_encoding);
  for (auto field = first; field != last; ++field) {
    std::string_view value{field->value().data(), field->value().size()};
    while (!value.empty()) {
      auto comma = value.find(',');
      auto coding = value.substr(0, comma);
      value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
        coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
        coding.remove_suffix(1);
      if (coding.empty())
        continue;
      ++codings;
      chunked = beast::iequals(coding, "chunked");
    }
  }
  return codings > 1 || (codings == 1 && !chunked);
}

/// The longest a refused connection (over its client's limit) or one closed
/// after an error answer is kept to let the client read that answer.
constexpr std::chrono::milliseconds linger_limit{1000};
/// What is read and thrown away meanwhile, at most.
constexpr std::size_t linger_bytes = 1 << 20;

/// What a server shares with the threads that answer its requests off its io
/// threads (a handler's callbacks run on actor threads; a streamed answer's
/// pieces are made on a pool). Those threads hold a session only weakly and
/// post to it only while the server runs, under `m`; so no session, strand or
/// executor is ever destroyed on their threads after the server is gone (ASan
/// in CI: a pool thread destroyed its copy of a strand executor after the
/// server's io_context). A session waiting for such an answer is kept alive
/// in `waiting` instead.
struct answer_gate {
  std::mutex m;
  bool open = true;
  std::unordered_map<const void*, std::shared_ptr<void>> waiting;
};

/// One connection, plain (`plain_stream`) or HTTPS (`tls_stream`): the same
/// keep-alive loop, limits and timeouts over either; TLS only adds the
/// handshake in front and close_notify at the end.
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

 public:
  /// `stream_args` follow the socket into Stream's constructor (the TLS context).
  /// `open_total` was incremented for this connection; the session gives it back.
  template <class... StreamArgs>
  session(tcp::socket&& socket, const http_server_options& opts, const http_handler& handler,
          client_limits& limits, std::atomic<std::uint32_t>& open_total,
          std::shared_ptr<answer_gate> gate, StreamArgs&... stream_args)
    : stream_(std::move(socket), stream_args...), opts_(opts), handler_(handler),
      limits_(limits), open_total_(open_total), gate_(std::move(gate)) {
    boost::system::error_code ec;
    auto ep = tcp_layer().socket().remote_endpoint(ec);
    if (!ec)
      remote_ = ep.address().to_string();
    // Over the per-client connection limit: answered 429 and closed at once.
    counted_ = limits_.open_connection(remote_);
  }

  ~session() {
    if (counted_)
      limits_.close_connection(remote_);
    open_total_.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&session::begin, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  /// Keeps this session alive until an answer made off the io threads is
  /// posted back to it (post_back).
  void wait_off_thread() {
    std::lock_guard lock{gate_->m};
    gate_->waiting[this] = this->shared_from_this();
  }

  void stop_waiting() {
    std::lock_guard lock{gate_->m};
    gate_->waiting.erase(this);
  }

  /// From any thread: runs `f(session)` on the session's executor, unless
  /// the server stopped or the session is gone. Nothing that refers to the
  /// io_context outlives the lock here.
  template <class F>
  static void post_back(const std::weak_ptr<session>& weak, const std::shared_ptr<answer_gate>& gate,
                        F&& f) {
    std::lock_guard lock{gate->m};
    if (!gate->open)
      return;
    auto self = weak.lock();
    if (!self)
      return;
    auto executor = self->stream_.get_executor();
    asio::post(executor, [self, f = std::forward<F>(f)]() mutable {
      self->stop_waiting();
      f(*self);
    });
  }

  /// An answer owed from another thread: claimed at most once; dropped
  /// unclaimed (a handler that lost its callback, a pool that shut down), it
  /// closes the connection instead of leaving it waiting.
  struct pending {
    std::weak_ptr<session> weak;
    std::shared_ptr<answer_gate> gate;
    std::atomic<bool> done{false};

    pending(std::weak_ptr<session> w, std::shared_ptr<answer_gate> g)
      : weak(std::move(w)), gate(std::move(g)) {}
    pending(const pending&) = delete;
    pending& operator=(const pending&) = delete;
    bool claim() { return !done.exchange(true); }
    ~pending() {
      if (!done.load())
        post_back(weak, gate, [](session& s) { s.drop(); });
    }
  };

  std::shared_ptr<pending> owe_answer() {
    wait_off_thread();
    return std::make_shared<pending>(this->weak_from_this(), gate_);
  }

  std::chrono::milliseconds read_timeout() const {
    return std::chrono::milliseconds(opts_.read_timeout_ms != 0 ? opts_.read_timeout_ms
                                                                : opts_.idle_timeout_ms);
  }

  /// How long a connection that is being closed after an error answer (or
  /// refused) may take to read that answer.
  std::chrono::milliseconds linger_timeout() const { return std::min(read_timeout(), linger_limit); }

  void begin() {
    if constexpr (is_tls) {
      // The handshake is bounded like a request: a client that connects and
      // never finishes it (or trickles it) is cut off after the read timeout;
      // a refused one gets only the linger time.
      tcp_layer().expires_after(counted_ ? read_timeout() : linger_timeout());
      stream_.async_handshake(asio::ssl::stream_base::server,
                              beast::bind_front_handler(&session::on_handshake,
                                                        this->shared_from_this()));
    } else {
      counted_ ? read() : refuse();
    }
  }

  /// Over the client's connection limit: 429 without waiting for a request
  /// (an idle flood would otherwise hold its sockets for the idle timeout),
  /// then closed.
  void refuse() {
    fail(http::status::too_many_requests,
         "too many connections from " + remote_ + " (at most "
           + std::to_string(opts_.client_limits.max_connections) + ")");
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      // Plain HTTP, a port scan or garbage on the TLS port: this connection's
      // problem only.
      spdlog::debug("http: TLS handshake with {} failed: {}", remote_, ec.message());
      return drop();
    }
    tls_up_ = true;
    counted_ ? read() : refuse();
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
    if (unsupported_transfer_coding(parser_->get()))
      return fail(http::status::not_implemented,
                  "Transfer-Encoding other than chunked is not supported; send the body with "
                  "Content-Length or Transfer-Encoding: chunked");
    if (std::uint32_t retry_after = 0;
        !limits_.allow_request(remote_, client_limits::clock::now(), retry_after)) {
      auto keep_alive = parser_->get().keep_alive();
      return fail(http::status::too_many_requests,
                  "request rate limit exceeded; retry in " + std::to_string(retry_after) + " s",
                  keep_alive, retry_after);
    }
    auto req = parser_->release();
    auto version = req.version();
    auto keep_alive = req.keep_alive();
    auto target = std::string{req.target()};
    // The first answer wins: after a handler threw, or a callback was called
    // again with a 500 (net/bridge.cpp deliver), a second one is dropped.
    auto owed = owe_answer();
    bool head = req.method() == http::verb::head;
    auto failed = [&] {
      if (!owed->claim())
        return;
      stop_waiting();
      fail(http::status::internal_server_error, "internal error; see the server log", keep_alive);
    };
    try {
      auto send = [owed, version, keep_alive](http_response&& res) {
        if (!owed->claim())
          return;
        res.version(version);
        if (!keep_alive)
          res.keep_alive(false);
        post_back(owed->weak, owed->gate,
                  [res = std::move(res)](session& s) mutable { s.write(std::move(res)); });
      };
      auto stream = [owed, version, keep_alive, head](streamed_response&& r) {
        if (!owed->claim())
          return;
        auto job = std::make_shared<stream_job>();
        job->r = std::move(r);
        job->r.header.version(version);
        if (!keep_alive)
          job->r.header.keep_alive(false);
        job->head = head;
        post_back(owed->weak, owed->gate, [job](session& s) { s.write_streamed(job); });
      };
      handler_(std::move(req), remote_, responder{std::move(send), std::move(stream)});
    } catch (const std::exception& e) {
      // A handler that throws answers 500 and the process goes on serving
      // (issue 13: one request must never end the node).
      spdlog::error("http: request {} from {} failed: {}", utf8::printable(target.substr(0, 200)),
                    remote_, utf8::printable(e.what()));
      failed();
    } catch (...) {
      spdlog::error("http: request {} from {} failed", utf8::printable(target.substr(0, 200)),
                    remote_);
      failed();
    }
  }

  /// Answers a request that could not be served, then closes the connection
  /// unless `keep_alive`; `retry_after` (s) is sent as Retry-After when non-zero.
  void fail(http::status status, std::string message, bool keep_alive = false,
            std::uint32_t retry_after = 0) {
    // What the client sent after this request is not read as a request; it is
    // drained while the answer is read (close()).
    linger_ = !keep_alive;
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

  /// A streamed response on its way (streamed_response): the header, then one
  /// chunk per piece, each made on the pool only once the previous one is sent.
  struct stream_job {
    streamed_response r;
    std::optional<http::response_serializer<http::empty_body>> header;
    std::string piece;
    bool head = false;
    /// HTTP/1.0 has no chunked coding: the body is sent as it is and ends when
    /// the connection closes.
    bool raw = false;
  };

  void write_streamed(std::shared_ptr<stream_job> job) {
    job->raw = job->r.header.version() < 11;
    if (job->raw) {
      job->r.header.chunked(false);
      job->r.header.keep_alive(false);
    } else {
      job->r.header.chunked(true);
    }
    job->header.emplace(job->r.header);
    tcp_layer().expires_after(std::chrono::milliseconds(opts_.idle_timeout_ms));
    http::async_write_header(
      stream_, *job->header,
      [self = this->shared_from_this(), job](beast::error_code ec, std::size_t) {
        if (ec)
          return self->drop();
        if (job->head)  // HEAD: the header says chunked, and no body follows
          return self->after_write(job->r.header.keep_alive());
        self->next_piece(job);
      });
  }

  /// Makes the next piece on the pool, then writes it here.
  void next_piece(std::shared_ptr<stream_job> job) {
    auto run = job->r.run ? job->r.run : [](std::function<void()> f) { f(); };
    run([owed = owe_answer(), job, remote = remote_]() mutable {
      std::string piece;
      bool more = false;
      bool failed = false;
      try {
        more = job->r.next(piece);
      } catch (const std::exception& e) {
        spdlog::error("http: a streamed answer to {} failed: {}", remote,
                      utf8::printable(e.what()));
        failed = true;
      } catch (...) {
        failed = true;
      }
      if (!owed->claim())
        return;
      post_back(owed->weak, owed->gate,
                [job = std::move(job), piece = std::move(piece), more, failed](session& s) mutable {
                  s.write_piece(std::move(job), std::move(piece), more, failed);
                });
    });
  }

  void write_piece(std::shared_ptr<stream_job> job, std::string piece, bool more, bool failed) {
    if (failed)
      return drop();  // the client sees the body cut short (no last chunk)
    auto then = [self = this->shared_from_this(), job, more](beast::error_code ec, std::size_t) {
      if (ec)
        return self->drop();
      if (more)
        return self->next_piece(job);
      if (job->raw)
        return self->close();
      self->tcp_layer().expires_after(std::chrono::milliseconds(self->opts_.idle_timeout_ms));
      asio::async_write(self->stream_, http::make_chunk_last(),
                        [self, job](beast::error_code ec2, std::size_t) {
                          if (ec2)
                            return self->drop();
                          self->after_write(job->r.header.keep_alive());
                        });
    };
    if (piece.empty())
      return then({}, 0);
    job->piece = std::move(piece);
    tcp_layer().expires_after(std::chrono::milliseconds(opts_.idle_timeout_ms));
    if (job->raw)
      asio::async_write(stream_, asio::buffer(job->piece), std::move(then));
    else
      asio::async_write(stream_, http::make_chunk(asio::buffer(job->piece)), std::move(then));
  }

  void after_write(bool keep_alive) {
    if (!keep_alive)
      return close();
    read();
  }

  /// Ends a healthy connection: over TLS, close_notify first (bounded by the
  /// read timeout, so a peer that never answers it cannot hold the socket).
  void close() {
    if constexpr (is_tls) {
      if (tls_up_) {
        tls_up_ = false;
        tcp_layer().expires_after(linger_ ? linger_timeout() : read_timeout());
        return stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->drop(); });
      }
    } else {
      beast::error_code ec;
      tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (linger_ && !ec) {
        // Closing with unread input would reset the connection, and a reset
        // can destroy the answer before the client reads it: read and discard
        // until the client closes, briefly and boundedly.
        tcp_layer().expires_after(linger_timeout());
        return drain();
      }
    }
    drop();
  }

  void drain() {
    tcp_layer().socket().async_read_some(
      asio::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec,
                                                                 std::size_t n) {
        self->drained_ += n;
        if (ec || self->drained_ > linger_bytes)
          return self->drop();
        self->drain();
      });
  }

  /// Ends a connection with nothing more to say on it.
  void drop() { tcp_layer().close(); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const http_server_options& opts_;
  const http_handler& handler_;
  client_limits& limits_;
  std::atomic<std::uint32_t>& open_total_;
  std::shared_ptr<answer_gate> gate_;
  std::string remote_;
  bool counted_ = false;  ///< holds one of its client's connection slots
  bool tls_up_ = false;   ///< the TLS handshake completed and no close_notify was sent
  bool linger_ = false;   ///< closing after an error answer: drain the input first
  std::array<char, 4096> discard_;
  std::size_t drained_ = 0;
};

/// True for accept errors that say the process (EMFILE) or the system
/// (ENFILE) has no file descriptor left.
bool out_of_descriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors
         || ec == beast::error_code{ENFILE, boost::system::system_category()};
}

/// How long the accept loop pauses after an accept error it cannot act on.
constexpr std::chrono::milliseconds accept_pause{100};
/// Between two warnings about refused connections.
constexpr std::chrono::seconds warn_every{10};

}  // namespace

struct http_server::impl {
  // Sessions refer to opts, handler and limits, and the last of them are
  // destroyed with the handlers still queued in ioc (answers posted after
  // stop()), so these three are declared, and thus outlive, ioc.
  http_server_options opts;
  http_handler handler;
  std::unique_ptr<client_limits> limits;
  std::atomic<std::uint32_t> open_total{0};  ///< sessions alive (each holds a socket)
  std::shared_ptr<answer_gate> gate = std::make_shared<answer_gate>();
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_timer{ioc};
  /// A descriptor held in reserve: when accept fails for want of descriptors it
  /// is closed, so that pending connections can be accepted and closed (their
  /// clients learn at once) instead of waiting in the backlog, and reopened.
  int spare_fd = -1;
  std::chrono::steady_clock::time_point last_warning{};
  std::size_t refused_since_warning = 0;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool running = false;

  ~impl() {
    // Sessions still waiting for an answer from another thread go before the
    // io_context their sockets belong to (and the gate's cycle is broken).
    std::unordered_map<const void*, std::shared_ptr<void>> waiting;
    {
      std::lock_guard lock{gate->m};
      gate->open = false;
      waiting.swap(gate->waiting);
    }
    waiting.clear();
    if (spare_fd >= 0)
      ::close(spare_fd);
  }

  // The accept handlers run one at a time (one accept is outstanding), so the
  // members they use need no lock.
  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open())
        return;
      if (out_of_descriptors(ec)) {
        // Accepting again at once fails the same way while the connection
        // waits in the backlog: that loop spun at full CPU.
        refused(shed_pending(), "out of file descriptors (" + ec.message() + ")");
        return pause_accept();
      }
      if (ec && ec != asio::error::connection_aborted) {
        spdlog::debug("http: accept failed: {}", ec.message());
        return pause_accept();
      }
      if (!ec)
        admit(std::move(s));
      accept();
    });
  }

  void pause_accept() {
    accept_timer.expires_after(accept_pause);
    accept_timer.async_wait([this](beast::error_code ec) {
      if (!ec)
        accept();
    });
  }

  void admit(tcp::socket s) {
    if (opts.max_connections != 0
        && open_total.load(std::memory_order_relaxed) >= opts.max_connections) {
      beast::error_code ignored;
      s.close(ignored);
      refused(1, "server.max_connections (" + std::to_string(opts.max_connections)
                   + ") connections are open");
      return;
    }
    open_total.fetch_add(1, std::memory_order_relaxed);
    beast::error_code ec;
    s.set_option(tcp::no_delay(true), ec);
    if (opts.tls)
      std::make_shared<session<tls_stream>>(std::move(s), opts, handler, *limits, open_total,
                                            gate, *opts.tls)
        ->start();
    else
      std::make_shared<session<plain_stream>>(std::move(s), opts, handler, *limits, open_total,
                                              gate)
        ->start();
  }

  /// Accepts and closes every connection waiting in the backlog, using the
  /// spare descriptor; returns how many.
  std::size_t shed_pending() {
    if (spare_fd < 0)
      spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spare_fd < 0)
      return 0;
    ::close(spare_fd);
    spare_fd = -1;
    std::size_t n = 0;
    // The acceptor is non-blocking (start()): EAGAIN ends it once the backlog
    // is empty, EMFILE if another thread took the freed descriptor first.
    for (; n < 4096; ++n) {
      int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        break;
      ::close(fd);
    }
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return n;
  }

  /// Counts `n` refused connections and warns, at most every warn_every.
  void refused(std::size_t n, const std::string& why) {
    refused_since_warning += n;
    auto now = std::chrono::steady_clock::now();
    if (now - last_warning < warn_every)
      return;
    spdlog::warn("http: {}: closed {} new connection(s) at once (docs/security.md)", why,
                 refused_since_warning);
    last_warning = now;
    refused_since_warning = 0;
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
  // shed_pending accepts without blocking; Asio's own accepts work either way.
  d.acceptor.native_non_blocking(true, ec);
  d.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
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
  {
    // From here no other thread posts to the sessions (answer_gate).
    std::lock_guard lock{d.gate->m};
    d.gate->open = false;
  }
  asio::post(d.ioc, [&d] {
    beast::error_code ec;
    d.acceptor.close(ec);
    d.accept_timer.cancel();
  });
  d.ioc.stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();
}

}  // namespace gotel
