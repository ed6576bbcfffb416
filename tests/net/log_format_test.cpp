// Tests net/log_format.*: a logged value cannot forge a log line (issue 14
// section 7): newlines, carriage returns and NUL are escaped, bytes that are
// not UTF-8 become U+FFFD, and the line keeps spdlog's default look.

#include "net/log_format.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace gotel {
namespace {

std::string logged(const std::string& value, const std::string& logger_name = "") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger log{logger_name, sink};
  log.set_formatter(make_log_formatter());
  log.info("reservation by owner {}", value);
  log.flush();
  return out.str();
}

TEST(log_format, an_owner_with_a_newline_cannot_forge_a_log_line) {
  auto text = logged("bob\n[2026-12-03 09:00:00.000] [info] forged\r\n");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(text.find("\n[2026-12-03 09:00:00.000]"), std::string::npos) << text;
  EXPECT_NE(text.find("owner bob\\n[2026-12-03 09:00:00.000] [info] forged\\r\\n"),
            std::string::npos)
    << text;
  EXPECT_TRUE(std::regex_search(
    text, std::regex{R"(^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[info\] reservation)"}))
    << text;
}

TEST(log_format, nul_bytes_and_invalid_utf8_are_escaped) {
  auto text = logged(std::string("a\0b\xff", 4));
  EXPECT_NE(text.find("a\\x00b\xEF\xBF\xBD"), std::string::npos) << text;
  EXPECT_EQ(text.find('\0'), std::string::npos);
}

TEST(log_format, a_named_logger_shows_its_name) {
  auto text = logged("x", "cluster");
  EXPECT_NE(text.find("] [cluster] [info] reservation by owner x"), std::string::npos) << text;
}

}  // namespace
}  // namespace gotel
