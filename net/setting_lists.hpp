#pragma once
/// Reading comma-separated settings and header values: shared by the API-key,
/// origin and trusted-proxy parsers (net/auth.cpp, net/origin.cpp,
/// net/forwarded.cpp).

#include <string_view>

namespace gotel {

/// `s` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// Calls `fn(item)` for each non-empty, trimmed entry of a comma-separated
/// list; stops and returns false as soon as `fn` does.
template <class Fn>
bool for_each_listed(std::string_view csv, Fn fn) {
  while (!csv.empty()) {
    auto comma = csv.find(',');
    auto item = trim_blanks(csv.substr(0, comma));
    csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
    if (!item.empty() && !fn(item))
      return false;
  }
  return true;
}

}  // namespace gotel
