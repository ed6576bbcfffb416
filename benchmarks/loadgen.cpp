// gotel_loadgen: an HTTP/1.1 load generator for the GoTel API (and for any
// static URL, to measure the machine's HTTP ceiling with the same client).
//
//   gotel_loadgen --url http://127.0.0.1:8080 --mode checkin --reservations 10000
//                 --connections 64 --duration 5
//   gotel_loadgen --url https://127.0.0.1:8443 --cacert cert.pem --mode checkin
//                 --new-connection --connections 1 --max-requests 2000
//
// Modes:
//   checkin  POST /checkin {"app":"app-<i>","component":"comp"}, i spread
//            pseudo-randomly over --reservations
//   reserve  POST /reservation for app-0 .. app-<K-1> exactly once each, as fast
//            as the connections allow (K = --reservations)
//   get      GET --path (a static file on nginx: the ceiling)
//
// Keep-alive connections, spread over --threads io_contexts (one thread each).
// With --new-connection, every request gets a connection of its own instead
// (connect, TLS handshake for https, `Connection: close` request, response,
// close), as a cron job's one-shot curl does.
// An https:// URL is verified like curl does it: against --cacert (PEM), else
// the system's CAs, and the certificate must name the URL's host. Each
// connection makes a full handshake (no session resumption).
// Every run is bounded twice: by --duration seconds and by --max-requests.
// Prints progress to stderr (with --progress) and one JSON line to stdout:
//   {"mode":..,"scheme":..,"new_connection":..,"requests":..,"errors":..,
//    "seconds":..,"rps":..,"p50_ms":..,"p99_ms":..,"p999_ms":..,"max_ms":..,
//    "mean_ms":..}
// plus, for https, "tls" (the protocol and suite negotiated), and with
// --new-connection "connect_p50_ms", "connect_p99_ms" and "connect_mean_ms":
// connect (and handshake) alone.
// Latency is measured per request, from sorted samples of every request after
// --warmup seconds: write start to full response read on a keep-alive
// connection; connect start to full response read with --new-connection.

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = ssl::stream<tcp::socket>;
using steady = std::chrono::steady_clock;

struct options {
  std::string scheme = "http";
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string mode = "checkin";
  std::string path = "/";
  std::size_t connections = 64;
  std::size_t threads = 2;
  double duration_s = 5;
  double warmup_s = 0;
  std::uint64_t reservations = 1000;
  std::uint64_t max_requests = 50'000'000;
  std::string component = "comp";
  std::int64_t frequency = 1;
  std::string time_units = "days";
  std::string ca_file;          ///< PEM trust anchors for https; empty = the system's
  bool new_connection = false;  ///< one connection per request
  bool progress = false;
};

/// Counters shared by all threads; per-thread latency samples live in worker.
struct shared_state {
  options opt;
  steady::time_point start;
  steady::time_point warm;  ///< samples before this are not recorded
  steady::time_point until;
  std::atomic<std::uint64_t> issued{0};     ///< requests handed out (bounded by max)
  std::atomic<std::uint64_t> completed{0};  ///< responses read
  std::atomic<std::uint64_t> errors{0};     ///< non-2xx or transport failures
  std::atomic<bool> stopping{false};
  tcp::resolver::results_type endpoints;
  ssl::context* tls = nullptr;  ///< set for https: every connection's client context
  bool host_is_ip = true;       ///< no SNI for an address
};

/// One io_context and its thread; only that thread touches the members until
/// it is joined.
struct worker {
  asio::io_context io{1};
  std::vector<std::uint32_t> latencies_us;
  std::vector<std::uint32_t> connect_us;  ///< --new-connection: connect (+ handshake)
  steady::time_point last_response{};     ///< when the latest response was read
  std::string tls;                        ///< https: protocol and suite of a handshake
  std::thread thread;
};

std::uint32_t micros(steady::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX));
}

/// What main() needs of a connection whatever its transport. close() must run
/// on the connection's worker thread.
class closable {
 public:
  virtual ~closable() = default;
  virtual void start() = 0;
  virtual void close() = 0;
};

/// One connection issuing one request at a time: keep-alive, or (with
/// --new-connection) a fresh connection for every request. `Stream` is
/// tcp::socket for http and ssl::stream<tcp::socket> for https.
template <class Stream>
class connection : public closable, public std::enable_shared_from_this<connection<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

 public:
  connection(worker& w, shared_state& s, std::uint64_t seed)
      : w_(w), s_(s), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {}

  void start() override { next(); }
  void close() override {
    open_ = false;
    if (!stream_)
      return;
    beast::error_code ec;
    stream_->lowest_layer().close(ec);
  }

 private:
  /// Starts the next request, on a new connection when none is open.
  void next() {
    if (s_.stopping.load(std::memory_order_relaxed) || steady::now() >= s_.until)
      return done();
    if (!build_request())
      return done();
    if (!open_)
      return connect();
    sent_at_ = steady::now();
    write();
  }

  void connect() {
    // A fresh stream each time: an SSL object is not reused after its connection.
    if constexpr (is_tls) {
      stream_.emplace(w_.io, *s_.tls);
      if (!s_.host_is_ip)
        SSL_set_tlsext_host_name(stream_->native_handle(), s_.opt.host.c_str());
    } else {
      stream_.emplace(w_.io);
    }
    buffer_.clear();
    connect_at_ = steady::now();
    asio::async_connect(stream_->lowest_layer(), s_.endpoints,
                        [self = this->shared_from_this()](beast::error_code ec,
                                                          const tcp::endpoint&) {
                          if (ec)
                            return self->failed();
                          self->stream_->lowest_layer().set_option(tcp::no_delay{true});
                          if constexpr (is_tls)
                            self->handshake();
                          else
                            self->connected();
                        });
  }

  void handshake() {
    stream_->async_handshake(ssl::stream_base::client,
                             [self = this->shared_from_this()](beast::error_code ec) {
                               if (ec)
                                 return self->failed();
                               self->connected();
                             });
  }

  void connected() {
    open_ = true;
    if constexpr (is_tls) {
      if (w_.tls.empty()) {
        const SSL* native = stream_->native_handle();
        w_.tls = std::string{SSL_get_version(native)} + " " + SSL_get_cipher_name(native);
      }
    }
    auto now = steady::now();
    if (s_.opt.new_connection) {
      sent_at_ = connect_at_;  // the request's latency includes its connection
      connect_time_ = now - connect_at_;
    } else {
      sent_at_ = now;
    }
    write();
  }

  /// Transport failure: count it, and go on (reconnecting, bounded) unless stopping.
  void failed() {
    if (s_.stopping.load(std::memory_order_relaxed))
      return;
    s_.errors.fetch_add(1, std::memory_order_relaxed);
    close();
    if (++reconnects_ > 100)
      return;
    next();
  }

  std::uint64_t next_random() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  bool build_request() {
    const auto& o = s_.opt;
    auto n = s_.issued.fetch_add(1, std::memory_order_relaxed);
    if (n >= o.max_requests)
      return false;
    req_ = {};
    req_.version(11);
    req_.set(http::field::host, s_.opt.host);
    req_.keep_alive(!o.new_connection);
    if (o.mode == "get") {
      req_.method(http::verb::get);
      req_.target(o.path);
    } else if (o.mode == "reserve") {
      if (n >= o.reservations)
        return false;
      req_.method(http::verb::post);
      req_.target("/reservation");
      req_.set(http::field::content_type, "application/json");
      req_.body() = "{\"app\":\"app-" + std::to_string(n) + "\",\"component\":\"" + o.component
                    + "\",\"frequency\":" + std::to_string(o.frequency) + ",\"time_units\":\""
                    + o.time_units + "\",\"owner\":\"bench\"}";
    } else {  // checkin
      auto i = next_random() % std::max<std::uint64_t>(o.reservations, 1);
      req_.method(http::verb::post);
      req_.target("/checkin");
      req_.set(http::field::content_type, "application/json");
      req_.body() =
        "{\"app\":\"app-" + std::to_string(i) + "\",\"component\":\"" + o.component + "\"}";
    }
    req_.prepare_payload();
    return true;
  }

  void write() {
    http::async_write(*stream_, req_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->failed();
                        self->read();
                      });
  }

  void read() {
    res_ = {};
    http::async_read(*stream_, buffer_, res_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec)
                         return self->failed();
                       self->on_response();
                     });
  }

  void on_response() {
    auto now = steady::now();
    s_.completed.fetch_add(1, std::memory_order_relaxed);
    auto code = res_.result_int();
    if (code < 200 || code >= 300)
      s_.errors.fetch_add(1, std::memory_order_relaxed);
    if (sent_at_ >= s_.warm) {
      w_.latencies_us.push_back(micros(now - sent_at_));
      if (s_.opt.new_connection)
        w_.connect_us.push_back(micros(connect_time_));
    }
    w_.last_response = now;
    // The client closes without waiting for the server's close_notify: timing
    // ends with the response, as for a one-shot curl.
    if (s_.opt.new_connection || !res_.keep_alive())
      close();
    next();
  }

  void done() { close(); }

  worker& w_;
  shared_state& s_;
  std::optional<Stream> stream_;
  bool open_ = false;  ///< connected (and handshaken) and reusable
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  steady::time_point connect_at_;
  steady::duration connect_time_{};
  steady::time_point sent_at_;
  std::uint64_t rng_;
  int reconnects_ = 0;
};

bool parse_url(const std::string& url, options& o) {
  auto sep = url.find("://");
  if (sep == std::string::npos)
    return false;
  o.scheme = url.substr(0, sep);
  if (o.scheme != "http" && o.scheme != "https")
    return false;
  auto rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string::npos && o.mode == "get" && o.path == "/")
    o.path = rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    o.host = hostport;
    o.port = o.scheme == "https" ? "443" : "80";
  } else {
    o.host = hostport.substr(0, colon);
    o.port = hostport.substr(colon + 1);
  }
  return !o.host.empty();
}

void usage() {
  std::cerr << "usage: gotel_loadgen --url http[s]://HOST:PORT[/path]\n"
               "  [--mode checkin|reserve|get] [--connections 64] [--threads 2] [--duration 5]\n"
               "  [--warmup 0] [--reservations 1000] [--max-requests N] [--path /x]\n"
               "  [--component comp] [--frequency 1] [--time-units days] [--new-connection]\n"
               "  [--cacert PEM] [--progress]\n";
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto idx = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)] / 1000.0;
}

double mean_ms(const std::vector<std::uint32_t>& samples) {
  if (samples.empty())
    return 0;
  auto sum = std::accumulate(samples.begin(), samples.end(), std::uint64_t{0});
  return static_cast<double>(sum) / static_cast<double>(samples.size()) / 1000.0;
}

/// The client side of https as curl does it: verify the chain against
/// `o.ca_file` (or the system's CAs) and that the certificate names `o.host`
/// (an IP address or a DNS name). Empty optional and `error` set on failure.
std::optional<ssl::context> make_client_tls(const options& o, bool& host_is_ip,
                                            std::string& error) {
  std::optional<ssl::context> ctx{std::in_place, ssl::context::tls_client};
  ctx->set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (o.ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(o.ca_file, ec);
  if (ec) {
    error = "cannot load the CA file " + o.ca_file + ": " + ec.message();
    return std::nullopt;
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx->native_handle());
  host_is_ip = X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str()) == 1;
  if (!host_is_ip && X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), o.host.size()) != 1) {
    error = "cannot verify certificates for host " + o.host;
    return std::nullopt;
  }
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--url") url = next();
    else if (a == "--mode") o.mode = next();
    else if (a == "--path") o.path = next();
    else if (a == "--connections") o.connections = std::stoul(next());
    else if (a == "--threads") o.threads = std::stoul(next());
    else if (a == "--duration") o.duration_s = std::stod(next());
    else if (a == "--warmup") o.warmup_s = std::stod(next());
    else if (a == "--reservations") o.reservations = std::stoull(next());
    else if (a == "--max-requests") o.max_requests = std::stoull(next());
    else if (a == "--component") o.component = next();
    else if (a == "--frequency") o.frequency = std::stoll(next());
    else if (a == "--time-units") o.time_units = next();
    else if (a == "--cacert") o.ca_file = next();
    else if (a == "--new-connection") o.new_connection = true;
    else if (a == "--progress") o.progress = true;
    else {
      usage();
      return 2;
    }
  }
  if (url.empty() || !parse_url(url, o)
      || (o.mode != "checkin" && o.mode != "reserve" && o.mode != "get") || o.connections == 0
      || o.threads == 0 || o.duration_s <= 0) {
    usage();
    return 2;
  }

  shared_state s;
  s.opt = o;
  {
    asio::io_context io;
    tcp::resolver resolver{io};
    beast::error_code ec;
    s.endpoints = resolver.resolve(o.host, o.port, ec);
    if (ec) {
      std::cerr << "gotel_loadgen: cannot resolve " << o.host << ":" << o.port << ": "
                << ec.message() << "\n";
      return 1;
    }
  }
  std::optional<ssl::context> tls;
  if (o.scheme == "https") {
    std::string error;
    tls = make_client_tls(o, s.host_is_ip, error);
    if (!tls) {
      std::cerr << "gotel_loadgen: " << error << "\n";
      return 1;
    }
    s.tls = &*tls;
  }

  std::vector<std::unique_ptr<worker>> workers;
  for (std::size_t t = 0; t < o.threads; ++t)
    workers.push_back(std::make_unique<worker>());
  std::vector<std::shared_ptr<closable>> conns;
  s.start = steady::now();
  s.warm = s.start + std::chrono::duration_cast<steady::duration>(
                       std::chrono::duration<double>(o.warmup_s));
  s.until = s.start + std::chrono::duration_cast<steady::duration>(
                        std::chrono::duration<double>(o.duration_s));
  for (std::size_t c = 0; c < o.connections; ++c) {
    auto& w = *workers[c % workers.size()];
    std::shared_ptr<closable> conn;
    if (s.tls)
      conn = std::make_shared<connection<tls_stream>>(w, s, c + 1);
    else
      conn = std::make_shared<connection<tcp::socket>>(w, s, c + 1);
    conns.push_back(conn);
    asio::post(w.io, [conn] { conn->start(); });
  }
  for (auto& wp : workers) {
    auto* w = wp.get();
    w->thread = std::thread([w] { w->io.run(); });
  }
  // Progress and the duration bound, from the main thread: at `until` every
  // socket is closed, whatever it waits for; 2 s later the loops are stopped.
  std::uint64_t last = 0;
  auto hard_stop = s.until + std::chrono::seconds{2};
  for (;;) {
    bool all_done = std::all_of(workers.begin(), workers.end(),
                                [](auto& w) { return w->io.stopped(); });
    if (all_done)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    auto now = steady::now();
    if (now >= s.until || s.stopping) {
      s.stopping = true;
      for (std::size_t t = 0; t < workers.size(); ++t)
        asio::post(workers[t]->io, [&conns, t, n = workers.size()] {
          for (std::size_t c = t; c < conns.size(); c += n)
            conns[c]->close();
        });
      if (now >= hard_stop)
        for (auto& w : workers)
          w->io.stop();
    }
    auto done = s.completed.load();
    if (o.progress && done / 20000 != last / 20000) {
      std::cerr << "\r  " << o.mode << ": " << done << " requests, "
                << std::chrono::duration_cast<std::chrono::seconds>(now - s.start).count()
                << " s   " << std::flush;
    }
    last = done;
  }
  auto end = steady::now();
  for (auto& w : workers)
    w->thread.join();
  if (o.progress)
    std::cerr << "\r" << std::string(60, ' ') << "\r";

  std::vector<std::uint32_t> all, connects;
  steady::time_point last_response{};
  for (auto& w : workers) {
    all.insert(all.end(), w->latencies_us.begin(), w->latencies_us.end());
    connects.insert(connects.end(), w->connect_us.begin(), w->connect_us.end());
    last_response = std::max(last_response, w->last_response);
  }
  std::sort(all.begin(), all.end());
  std::sort(connects.begin(), connects.end());
  // Throughput counts the measured window only (after warmup). A run that
  // ends on --max-requests ends with its last response, not when the polling
  // loop above noticed (up to 100 ms later).
  auto measured_end = std::min(last_response > s.start ? last_response : end, s.until);
  auto measured_s = std::chrono::duration<double>(measured_end - s.warm).count();
  if (o.mode == "reserve" || measured_s <= 0)
    measured_s = std::chrono::duration<double>(measured_end - s.start).count();
  auto completed = s.completed.load();
  auto counted = o.warmup_s > 0 ? all.size() : completed;
  char line[768];
  int n = std::snprintf(
    line, sizeof line,
    "{\"mode\":\"%s\",\"scheme\":\"%s\",\"new_connection\":%s,\"connections\":%zu,"
    "\"threads\":%zu,\"requests\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rps\":%.0f,"
    "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f",
    o.mode.c_str(), o.scheme.c_str(), o.new_connection ? "true" : "false", o.connections,
    o.threads, static_cast<unsigned long long>(completed),
    static_cast<unsigned long long>(s.errors.load()), measured_s,
    static_cast<double>(counted) / measured_s, percentile_ms(all, 0.50), percentile_ms(all, 0.99),
    percentile_ms(all, 0.999), all.empty() ? 0.0 : all.back() / 1000.0, mean_ms(all));
  if (o.new_connection)
    std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n),
                  ",\"connect_p50_ms\":%.3f,\"connect_p99_ms\":%.3f,\"connect_mean_ms\":%.3f",
                  percentile_ms(connects, 0.50), percentile_ms(connects, 0.99), mean_ms(connects));
  std::cout << line;
  for (auto& w : workers)
    if (!w->tls.empty()) {  // OpenSSL's names are plain ASCII: no JSON escaping needed
      std::cout << ",\"tls\":\"" << w->tls << "\"";
      break;
    }
  std::cout << "}" << std::endl;
  return 0;
}
