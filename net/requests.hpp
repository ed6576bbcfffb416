#pragma once
/// Pure mapping from HTTP request bodies to actor requests: JSON parsing,
/// case-insensitive keys, types, required fields and size limits. Every rejection
/// carries the HTTP status and a message that says what is wrong.

#include "actors/messages.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace gotel {

struct field_limits {
  std::size_t max_field_bytes = 256;   ///< app, component, owner, time_units
  std::size_t max_notes_bytes = 4096;  ///< notes, notify, alert_msg
  std::size_t ping_body_limit = 10000;  ///< bytes of a /ping body kept (Healthchecks)
  /// Most distinct e-mail addresses in notify (alerts.max_recipients); more is a 400.
  std::size_t max_recipients = 10;
};

/// A request the API refuses: `status` is the HTTP status (400 or 413).
struct rejection {
  int status = 400;
  std::string message;
};

template <class T>
using parse_result = std::variant<T, rejection>;

parse_result<reserve_request> parse_reserve(std::string_view body, const field_limits& lim);
parse_result<checkin_request> parse_checkin(std::string_view body, const field_limits& lim);
parse_result<snooze_request> parse_snooze(std::string_view body, const field_limits& lim);
parse_result<key_request> parse_key(std::string_view body, const field_limits& lim);

/// POST /start and POST /fail: app, component, optional notes and run_id (or
/// rid); /fail also an optional exit_status 1-255. `kind` says which.
parse_result<signal_request> parse_signal(std::string_view body, signal_kind kind,
                                          const field_limits& lim);

/// Longest run id; run ids hold [A-Za-z0-9._-] (so they embed in stored text).
inline constexpr std::size_t max_run_id_bytes = 64;

/// True for an acceptable run id (empty = anonymous is acceptable).
bool is_run_id(std::string_view text);

/// Longest accepted period or snooze: ten years, far from any overflow.
inline constexpr std::int64_t max_period_ms = 10LL * 366 * 24 * 3600 * 1000;

}  // namespace gotel
