// gotel_loadgen: an HTTP/1.1 load generator for the GoTel API (and for any
// static URL, to measure the machine's HTTP ceiling with the same client).
//
//   gotel_loadgen --url http://127.0.0.1:8080 --mode checkin --reservations 10000
//                 --connections 64 --duration 5
//
// Modes:
//   checkin  POST /checkin {"app":"app-<i>","component":"comp"}, i spread
//            pseudo-randomly over --reservations
//   reserve  POST /reservation for app-0 .. app-<K-1> exactly once each, as fast
//            as the connections allow (K = --reservations)
//   get      GET --path (a static file on nginx: the ceiling)
//
// Keep-alive connections, spread over --threads io_contexts (one thread each).
// Every run is bounded twice: by --duration seconds and by --max-requests.
// Prints progress to stderr (with --progress) and one JSON line to stdout:
//   {"mode":..,"requests":..,"errors":..,"seconds":..,"rps":..,
//    "p50_ms":..,"p99_ms":..,"p999_ms":..,"max_ms":..}
// Latency is measured per request (write start to full response read), from
// sorted samples of every request after --warmup seconds.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

struct options {
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
};

struct worker {
  asio::io_context io{1};
  std::vector<std::uint32_t> latencies_us;
  std::thread thread;
};

/// One keep-alive connection issuing one request at a time.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(worker& w, shared_state& s, std::uint64_t seed)
      : w_(w), s_(s), socket_(w.io), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {}

  void start() { connect(); }
  void close() {
    beast::error_code ec;
    socket_.close(ec);
  }

 private:
  void connect() {
    if (s_.stopping.load(std::memory_order_relaxed))
      return;
    asio::async_connect(socket_, s_.endpoints,
                        [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                          if (ec) {
                            self->failed();
                            return;
                          }
                          self->socket_.set_option(tcp::no_delay{true});
                          self->issue();
                        });
  }

  /// Transport failure: count it, and reconnect (bounded) unless stopping.
  void failed() {
    if (s_.stopping.load(std::memory_order_relaxed))
      return;
    s_.errors.fetch_add(1, std::memory_order_relaxed);
    close();
    if (++reconnects_ > 100)
      return;
    socket_ = tcp::socket{w_.io};
    connect();
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
    req_.keep_alive(true);
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

  void issue() {
    if (s_.stopping.load(std::memory_order_relaxed) || steady::now() >= s_.until)
      return done();
    if (!build_request())
      return done();
    sent_at_ = steady::now();
    http::async_write(socket_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->failed();
      self->read();
    });
  }

  void read() {
    res_ = {};
    http::async_read(socket_, buffer_, res_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
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
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at_).count();
      w_.latencies_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)));
    }
    if (!res_.keep_alive()) {
      close();
      socket_ = tcp::socket{w_.io};
      return connect();
    }
    issue();
  }

  void done() { close(); }

  worker& w_;
  shared_state& s_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  steady::time_point sent_at_;
  std::uint64_t rng_;
  int reconnects_ = 0;
};

bool parse_url(const std::string& url, options& o) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    return false;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  if (slash != std::string::npos && o.mode == "get" && o.path == "/")
    o.path = rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    o.host = hostport;
    o.port = "80";
  } else {
    o.host = hostport.substr(0, colon);
    o.port = hostport.substr(colon + 1);
  }
  return !o.host.empty();
}

void usage() {
  std::cerr << "usage: gotel_loadgen --url http://HOST:PORT[/path] [--mode checkin|reserve|get]\n"
               "  [--connections 64] [--threads 2] [--duration 5] [--warmup 0]\n"
               "  [--reservations 1000] [--max-requests N] [--path /x] [--component comp]\n"
               "  [--frequency 1] [--time-units days] [--progress]\n";
}

double percentile_ms(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto idx = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)] / 1000.0;
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

  std::vector<std::unique_ptr<worker>> workers;
  for (std::size_t t = 0; t < o.threads; ++t)
    workers.push_back(std::make_unique<worker>());
  std::vector<std::shared_ptr<connection>> conns;
  s.start = steady::now();
  s.warm = s.start + std::chrono::duration_cast<steady::duration>(
                       std::chrono::duration<double>(o.warmup_s));
  s.until = s.start + std::chrono::duration_cast<steady::duration>(
                        std::chrono::duration<double>(o.duration_s));
  for (std::size_t c = 0; c < o.connections; ++c) {
    auto& w = *workers[c % workers.size()];
    auto conn = std::make_shared<connection>(w, s, c + 1);
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

  std::vector<std::uint32_t> all;
  for (auto& w : workers)
    all.insert(all.end(), w->latencies_us.begin(), w->latencies_us.end());
  std::sort(all.begin(), all.end());
  // Throughput counts the measured window only (after warmup).
  auto measured_end = std::min(end, s.until);
  auto measured_s = std::chrono::duration<double>(measured_end - s.warm).count();
  if (o.mode == "reserve" || measured_s <= 0)
    measured_s = std::chrono::duration<double>(measured_end - s.start).count();
  auto completed = s.completed.load();
  auto counted = o.warmup_s > 0 ? all.size() : completed;
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"mode\":\"%s\",\"connections\":%zu,\"threads\":%zu,\"requests\":%llu,"
                "\"errors\":%llu,\"seconds\":%.3f,\"rps\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                "\"p999_ms\":%.3f,\"max_ms\":%.3f}",
                o.mode.c_str(), o.connections, o.threads,
                static_cast<unsigned long long>(completed),
                static_cast<unsigned long long>(s.errors.load()), measured_s,
                static_cast<double>(counted) / measured_s, percentile_ms(all, 0.50),
                percentile_ms(all, 0.99), percentile_ms(all, 0.999),
                all.empty() ? 0.0 : all.back() / 1000.0);
  std::cout << line << std::endl;
  return 0;
}
