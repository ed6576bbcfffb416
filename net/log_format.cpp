#include "net/log_format.hpp"

#include "storage/utf8.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace gotel {

namespace {

/// %* : the message, control characters escaped.
class escaped_message final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    auto text = utf8::printable(std::string_view{msg.payload.data(), msg.payload.size()});
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<escaped_message>();
  }
};

/// %N : "[name] " for a named logger, nothing for the default one.
class logger_name final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (msg.logger_name.size() == 0)
      return;
    auto name = utf8::printable(std::string_view{msg.logger_name.data(), msg.logger_name.size()});
    dest.push_back('[');
    dest.append(name.data(), name.data() + name.size());
    dest.append(std::string_view{"] "});
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<logger_name>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_log_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<escaped_message>('*');
  f->add_flag<logger_name>('N');
  f->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %N[%^%l%$] %*");
  return f;
}

void install_log_formatter() {
  spdlog::set_formatter(make_log_formatter());
}

}  // namespace gotel
