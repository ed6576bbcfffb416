#pragma once
/// A real HTTP/1.1 receiver on 127.0.0.1 (ephemeral port) for channel tests:
/// captures each request's method, target, headers and exact body, and answers
/// every request with a fixed status, or never answers (to test timeouts).
/// One connection at a time, `Connection: close`; enough for libcurl's POSTs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace gotel::test {

struct captured_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
};

class http_receiver {
 public:
  /// `status` 0 means: read the request, never answer, hold the connection.
  /// `port` 0 = ephemeral; a fixed one brings a receiver "back up" where an
  /// earlier one was down.
  explicit http_receiver(int status, int port = 0) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
      throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
        || ::listen(fd_, 16) != 0)
      throw std::runtime_error("bind/listen");
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~http_receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  http_receiver(const http_receiver&) = delete;
  http_receiver& operator=(const http_receiver&) = delete;

  int port() const { return port_; }

  /// "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<captured_request> requests() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return requests_;
  }

  /// A port on 127.0.0.1 on which nothing listens (bound, then released).
  static int unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  /// Waits up to 50 ms for `fd` to be readable; the loop re-checks stop_.
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) > 0;
  }

  void serve() {
    while (!stop_) {
      if (!readable(fd_))
        continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0)
        continue;
      handle(conn);
      ::close(conn);
    }
  }

  void handle(int conn) {
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    char buf[4096];
    while (!stop_) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length)
        break;
      if (!readable(conn))
        continue;
      auto n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0)
        return;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos)
          content_length = parse_head(data.substr(0, header_end));
      }
    }
    if (header_end == std::string::npos)
      return;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      pending_.body = data.substr(header_end + 4, content_length);
      requests_.push_back(pending_);
    }
    if (status_ == 0) {
      // Never answer: hold the connection until the client gives up or we stop.
      while (!stop_) {
        if (readable(conn) && ::recv(conn, buf, sizeof(buf), 0) <= 0)
          return;
      }
      return;
    }
    auto answer = "HTTP/1.1 " + std::to_string(status_)
                  + " Status\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\nok";
    ::send(conn, answer.data(), answer.size(), MSG_NOSIGNAL);
  }

  /// Fills pending_'s request line and headers; returns Content-Length.
  std::size_t parse_head(const std::string& head) {
    pending_ = {};
    std::size_t pos = 0;
    bool first = true;
    while (pos <= head.size()) {
      auto eol = head.find("\r\n", pos);
      if (eol == std::string::npos)
        eol = head.size();
      auto line = head.substr(pos, eol - pos);
      pos = eol + 2;
      if (first) {
        first = false;
        auto sp1 = line.find(' ');
        auto sp2 = line.find(' ', sp1 + 1);
        pending_.method = line.substr(0, sp1);
        pending_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        continue;
      }
      auto colon = line.find(':');
      if (colon == std::string::npos)
        continue;
      auto name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      pending_.headers[name] = value;
    }
    auto i = pending_.headers.find("content-length");
    return i == pending_.headers.end() ? 0 : std::stoul(i->second);
  }

  int status_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mtx_;
  captured_request pending_;  ///< touched only by the server thread until pushed
  std::vector<captured_request> requests_;
  std::thread thread_;
};

}  // namespace gotel::test
