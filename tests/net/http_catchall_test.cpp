// Tests net/http_server.*'s catch-all: a handler that throws answers 500 JSON
// and the server goes on serving (issue 13 section 1: no request ends the node).

#include "net/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace gotel {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

/// One request on its own connection; returns the response.
http::response<http::string_body> fetch(std::uint16_t port, const std::string& target) {
  asio::io_context ioc;
  tcp::socket sock{ioc};
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return res;
}

TEST(http_catchall, a_handler_that_throws_answers_500_and_the_server_keeps_serving) {
  http_server_options opts;
  opts.port = 0;
  opts.threads = 1;
  http_server server{opts, [](http_request&& req, const std::string&, responder respond) {
                       if (req.target() == "/throw")
                         throw std::runtime_error("boom \xff");
                       if (req.target() == "/type-error") {
                         nlohmann::json j = std::string{"\xe9"};
                         respond(json_response(http::status::ok, j.dump(), 11, false));
                         return;
                       }
                       respond(json_response(http::status::ok, "{\"ok\":true}", 11, false));
                     }};
  ASSERT_EQ(server.start(), "");
  for (auto target : {"/throw", "/type-error"}) {
    auto res = fetch(server.port(), target);
    EXPECT_EQ(res.result(), http::status::internal_server_error) << target;
    auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["success"], false);
  }
  auto ok = fetch(server.port(), "/fine");
  EXPECT_EQ(ok.result(), http::status::ok);
  EXPECT_EQ(ok.body(), "{\"ok\":true}");
  server.stop();
}

TEST(http_catchall, a_second_answer_to_one_request_is_dropped) {
  http_server_options opts;
  opts.port = 0;
  opts.threads = 1;
  http_server server{opts, [](http_request&&, const std::string&, responder respond) {
                       respond(json_response(http::status::ok, "{\"first\":1}", 11, false));
                       respond(json_response(http::status::ok, "{\"second\":2}", 11, false));
                     }};
  ASSERT_EQ(server.start(), "");
  auto res = fetch(server.port(), "/");
  EXPECT_EQ(res.body(), "{\"first\":1}");
  server.stop();
}

}  // namespace
}  // namespace gotel
