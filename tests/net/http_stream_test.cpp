// Tests net/http_server.*'s streamed responses (issue 15 §7): a body made in
// pieces goes out chunked, one piece at a time, the connection stays usable;
// a producer that fails cuts the body short (no last chunk) and closes; a
// responder made from a plain callable collects the pieces into one answer.
// A real server on 127.0.0.1 with real sockets.

#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace gotel {
namespace {

/// Runs each job on its own short-lived thread, as the api's pool would.
void on_a_thread(std::function<void()> job) {
  std::thread{std::move(job)}.detach();
}

/// A streamed answer of `pieces` pieces "<i>:xxxx...\n"; throws at piece `fail_at` (0 = never).
http_handler streaming_handler(int pieces, int fail_at, std::atomic<int>* made) {
  return [=](http_request&& req, const std::string&, responder respond) {
    if (req.target() != "/stream") {
      respond(json_response(http::status::ok, "{\"success\":true}", req.version(),
                            req.keep_alive()));
      return;
    }
    streamed_response r;
    r.header.result(http::status::ok);
    r.header.set(http::field::content_type, "text/plain");
    r.header.keep_alive(true);
    auto i = std::make_shared<int>(0);
    r.next = [=](std::string& out) {
      ++*i;
      made->fetch_add(1);
      if (*i == fail_at)
        throw std::runtime_error("the store went away");
      out = std::to_string(*i) + ":" + std::string(1000, 'x') + "\n";
      return *i < pieces;
    };
    r.run = on_a_thread;
    respond.stream(std::move(r));
  };
}

int connect_local(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& s) {
  ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

/// Reads until `stop` is in what was read, or the peer closes (or 10 s pass).
std::string read_until(int fd, const std::string& stop) {
  std::string out;
  char buf[8192];
  while (out.find(stop) == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// The body of a chunked message (after the header), and whether it ended with the last chunk.
std::pair<std::string, bool> dechunk(std::string_view raw) {
  std::string body;
  while (true) {
    auto eol = raw.find("\r\n");
    if (eol == std::string_view::npos)
      return {body, false};
    auto size = std::stoul(std::string{raw.substr(0, eol)}, nullptr, 16);
    raw.remove_prefix(eol + 2);
    if (size == 0)
      return {body, raw.substr(0, 2) == "\r\n"};
    if (raw.size() < size + 2)
      return {body + std::string{raw}, false};
    body += raw.substr(0, size);
    raw.remove_prefix(size + 2);
  }
}

std::string expected_body(int pieces) {
  std::string out;
  for (int i = 1; i <= pieces; ++i)
    out += std::to_string(i) + ":" + std::string(1000, 'x') + "\n";
  return out;
}

http_server_options stream_options() {
  http_server_options opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.threads = 2;
  return opts;
}

TEST(http_stream, pieces_go_out_chunked_and_the_connection_stays_usable) {
  std::atomic<int> made{0};
  http_server server{stream_options(), streaming_handler(40, 0, &made)};
  ASSERT_EQ(server.start(), "");
  int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto raw = read_until(fd, "\r\n0\r\n\r\n");
  auto head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  auto head = raw.substr(0, head_end);
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  auto [body, complete] = dechunk(std::string_view{raw}.substr(head_end + 4));
  EXPECT_TRUE(complete);
  EXPECT_EQ(body, expected_body(40));
  EXPECT_EQ(made.load(), 40);
  // The same connection answers the next request.
  send_all(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto next = read_until(fd, "{\"success\":true}");
  EXPECT_NE(next.find("HTTP/1.1 200"), std::string::npos) << next;
  ::close(fd);
  server.stop();
}

TEST(http_stream, a_failing_producer_cuts_the_body_short_and_closes) {
  std::atomic<int> made{0};
  http_server server{stream_options(), streaming_handler(40, 3, &made)};
  ASSERT_EQ(server.start(), "");
  int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto raw = read_until(fd, "never sent");  // until the server closes
  auto head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  auto [body, complete] = dechunk(std::string_view{raw}.substr(head_end + 4));
  EXPECT_FALSE(complete) << "no last chunk: the client can tell the body is cut";
  EXPECT_EQ(body, expected_body(2));
  EXPECT_EQ(made.load(), 3);
  ::close(fd);
  server.stop();
}

TEST(http_stream, http_1_0_gets_the_body_unframed_then_the_close) {
  std::atomic<int> made{0};
  http_server server{stream_options(), streaming_handler(7, 0, &made)};
  ASSERT_EQ(server.start(), "");
  int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /stream HTTP/1.0\r\n\r\n");
  auto raw = read_until(fd, "never sent");
  auto head_end = raw.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << raw;
  EXPECT_EQ(raw.find("chunked"), std::string::npos);
  EXPECT_EQ(raw.substr(head_end + 4), expected_body(7));
  ::close(fd);
  server.stop();
}

TEST(http_stream, a_plain_callable_responder_gets_the_pieces_as_one_answer) {
  http_response got;
  responder plain = [&got](http_response&& res) { got = std::move(res); };
  std::atomic<int> made{0};
  auto handler = streaming_handler(5, 0, &made);
  handler(http_request{http::verb::get, "/stream", 11}, "127.0.0.1", plain);
  EXPECT_EQ(got.result(), http::status::ok);
  EXPECT_EQ(got.body(), expected_body(5));
  EXPECT_EQ(got[http::field::content_length], std::to_string(expected_body(5).size()));
  EXPECT_EQ(got[http::field::content_type], "text/plain");
  EXPECT_FALSE(got.chunked());
}


// The server may be stopped and destroyed while an answer is still being made
// on another thread (an actor that replies late, a pool job). CI's ASan run
// caught a pool thread destroying its copy of the session's strand executor
// after the server's io_context was gone; these make each case certain.

/// Waits (bounded) until `flag` is set.
bool wait_for(const std::atomic<bool>& flag) {
  for (int i = 0; i < 1000 && !flag.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return flag.load();
}

TEST(http_stream, an_answer_sent_after_the_server_is_gone_is_dropped) {
  std::mutex m;
  std::optional<responder> kept;
  std::atomic<bool> asked{false};
  {
    http_server server{stream_options(), [&](http_request&&, const std::string&, responder r) {
                         std::lock_guard lock{m};
                         kept = std::move(r);
                         asked = true;
                       }};
    ASSERT_EQ(server.start(), "");
    int fd = connect_local(server.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /late HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_TRUE(wait_for(asked));
    ::close(fd);
  }  // the server is destroyed with the request unanswered
  std::lock_guard lock{m};
  (*kept)(json_response(http::status::ok, "{\"success\":true}", 11, true));
  kept.reset();  // under ASan, any touch of the dead server fails here
}

TEST(http_stream, a_piece_made_after_the_server_is_gone_is_dropped) {
  std::mutex m;
  std::condition_variable cv;
  std::function<void()> job;
  std::atomic<bool> started{false};
  {
    http_server server{stream_options(), [&](http_request&& req, const std::string&,
                                            responder respond) {
                         streamed_response r;
                         r.header.result(http::status::ok);
                         r.header.version(req.version());
                         r.next = [](std::string& out) {
                           out = "piece";
                           return false;
                         };
                         // The pool job is held here and run after the server is gone.
                         r.run = [&](std::function<void()> f) {
                           std::lock_guard lock{m};
                           job = std::move(f);
                           started = true;
                           cv.notify_all();
                         };
                         respond.stream(std::move(r));
                       }};
    ASSERT_EQ(server.start(), "");
    int fd = connect_local(server.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_TRUE(wait_for(started));
    ::close(fd);
  }
  std::function<void()> f;
  {
    std::lock_guard lock{m};
    f = std::move(job);
  }
  f();          // makes the piece and finds no server to post it to
  f = nullptr;  // the last reference to the session's job goes on this thread
}

TEST(http_stream, a_handler_that_drops_its_responder_closes_the_connection) {
  http_server server{stream_options(), [](http_request&&, const std::string&, responder r) {
                       std::thread{[r = std::move(r)]() mutable { r = responder{}; }}.detach();
                     }};
  ASSERT_EQ(server.start(), "");
  int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  // No answer will come: the client learns it from the close (recv 0), not
  // from its 10 s receive timeout (-1).
  char buf[64];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);
  ::close(fd);
  server.stop();
}

}  // namespace
}  // namespace gotel
