#pragma once
/// The log format: spdlog's default look with every message's control
/// characters escaped (issue 14 section 7, log forging): a name, note or
/// recipient holding "\n[2026-12-03 09:00:00.000] [info] ..." or a NUL is
/// written as one line with `\n`/`\x00` in it, and bytes that are not UTF-8 as
/// U+FFFD (storage/utf8.hpp printable()).

#include <memory>

namespace spdlog {
class formatter;
}

namespace gotel {

/// "[%Y-%m-%d %H:%M:%S.%e] [%l] <message, escaped>" (the logger name too, when it has one).
std::unique_ptr<spdlog::formatter> make_log_formatter();

/// Sets make_log_formatter() on every registered logger, the default one included.
void install_log_formatter();

}  // namespace gotel
