#include "storage/model.hpp"

#include <array>

namespace gotel {

namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace

std::string normalize_name(std::string_view name) {
  // Only trailing spaces: leading spaces and other whitespace are part of the
  // name, as in the original GoTel.
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string reservation_key(std::string_view app, std::string_view component) {
  std::string key = normalize_name(app);
  key.push_back('\0');
  key += normalize_name(component);
  return key;
}

std::optional<time_unit> parse_time_unit(std::string_view text) {
  struct entry {
    std::string_view plural;
    time_unit unit;
  };
  static constexpr std::array<entry, 4> units{{
      {"seconds", time_unit::seconds},
      {"minutes", time_unit::minutes},
      {"hours", time_unit::hours},
      {"days", time_unit::days},
  }};
  for (const auto& u : units) {
    if (iequals(text, u.plural) || iequals(text, u.plural.substr(0, u.plural.size() - 1)))
      return u.unit;
  }
  return std::nullopt;
}

std::string_view to_string(time_unit unit) {
  switch (unit) {
    case time_unit::seconds: return "seconds";
    case time_unit::minutes: return "minutes";
    case time_unit::hours: return "hours";
    case time_unit::days: return "days";
  }
  return "unknown";
}

std::int64_t unit_ms(time_unit unit) {
  switch (unit) {
    case time_unit::seconds: return 1000;
    case time_unit::minutes: return 60 * 1000;
    case time_unit::hours: return 60 * 60 * 1000;
    case time_unit::days: return 24 * 60 * 60 * 1000;
  }
  return 0;
}

std::string_view to_string(alert_kind kind) {
  switch (kind) {
    case alert_kind::late: return "late";
    case alert_kind::repeat: return "repeat";
    case alert_kind::recovered: return "recovered";
  }
  return "unknown";
}

}  // namespace gotel
