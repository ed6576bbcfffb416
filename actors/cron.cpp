#include "actors/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <vector>

namespace gotel {

namespace {

struct field_spec {
  const char* name;
  int min;
  int max;
  /// Names for values starting at `min` (months) or 0 (weekdays); may be empty.
  const std::array<const char*, 12>* names;
  int names_base;
  int names_count;
};

constexpr std::array<const char*, 12> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> day_names = {"sun", "mon", "tue", "wed", "thu", "fri",
                                                   "sat", "",    "",    "",    "",    ""};

const field_spec specs[5] = {
  {"minute", 0, 59, nullptr, 0, 0},
  {"hour", 0, 23, nullptr, 0, 0},
  {"day-of-month", 1, 31, nullptr, 0, 0},
  {"month", 1, 12, &month_names, 1, 12},
  {"day-of-week", 0, 7, &day_names, 0, 7},
};

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s)
    out.push_back(static_cast<char>(std::tolower(c)));
  return out;
}

/// Shortens user text quoted in a message, so a hostile expression cannot
/// make an error message large.
std::string quote(std::string_view s) {
  if (s.size() > 32)
    return "\"" + std::string{s.substr(0, 32)} + "...\"";
  return "\"" + std::string{s} + "\"";
}

/// One value: a number or (for month and day-of-week) a name.
std::optional<int> value_of(std::string_view text, const field_spec& spec, std::string& err) {
  if (text.empty()) {
    err = std::string{spec.name} + ": missing value";
    return std::nullopt;
  }
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      err = std::string{spec.name} + ": " + quote(text) + " is not a number";
      return std::nullopt;
    }
    if (v < spec.min || v > spec.max) {
      err = std::string{spec.name} + ": " + std::to_string(v) + " is out of range "
            + std::to_string(spec.min) + "-" + std::to_string(spec.max);
      return std::nullopt;
    }
    return v;
  }
  if (spec.names) {
    auto name = lower(text);
    for (int i = 0; i < spec.names_count; ++i)
      if (name == (*spec.names)[static_cast<std::size_t>(i)])
        return spec.names_base + i;
    err = std::string{spec.name} + ": unknown name " + quote(text)
          + (spec.names_base == 1 ? " (use JAN-DEC or 1-12)" : " (use SUN-SAT or 0-7)");
    return std::nullopt;
  }
  err = std::string{spec.name} + ": " + quote(text) + " is not a number";
  return std::nullopt;
}

/// Parses one field into `bits` (indexed by value); false + `err` when invalid.
template <std::size_t N>
bool parse_field(std::string_view text, const field_spec& spec, std::bitset<N>& bits,
                 std::string& err) {
  if (text.empty()) {
    err = std::string{spec.name} + ": empty field";
    return false;
  }
  const auto whole = text;
  while (true) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    if (item.empty()) {
      err = std::string{spec.name} + ": empty list item in " + quote(whole);
      return false;
    }
    int step = 1;
    auto slash = item.find('/');
    auto range = item.substr(0, slash);
    bool has_step = slash != std::string_view::npos;
    if (has_step) {
      auto step_text = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc{} || end != step_text.data() + step_text.size()) {
        err = std::string{spec.name} + ": step " + quote(step_text) + " is not a number";
        return false;
      }
      if (step < 1) {
        err = std::string{spec.name} + ": step must be at least 1";
        return false;
      }
      if (step > spec.max) {
        err = std::string{spec.name} + ": step " + std::to_string(step) + " is larger than the range "
              + std::to_string(spec.min) + "-" + std::to_string(spec.max);
        return false;
      }
    }
    int lo = spec.min;
    int hi = spec.max;
    if (range == "*") {
      // every value
    } else {
      auto dash = range.find('-');
      auto first = value_of(range.substr(0, dash), spec, err);
      if (!first)
        return false;
      lo = *first;
      if (dash != std::string_view::npos) {
        auto last = value_of(range.substr(dash + 1), spec, err);
        if (!last)
          return false;
        hi = *last;
        if (hi < lo) {
          err = std::string{spec.name} + ": range " + quote(range) + " is backwards";
          return false;
        }
      } else if (!has_step) {
        hi = lo;  // a single value; "5/10" means 5-max/10
      }
    }
    for (int v = lo; v <= hi; v += step)
      bits.set(static_cast<std::size_t>(v == 7 && N == 7 ? 0 : v));
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

std::string_view expand_macro(std::string_view expr, bool& known) {
  known = true;
  auto name = lower(expr);
  if (name == "@yearly" || name == "@annually") return "0 0 1 1 *";
  if (name == "@monthly") return "0 0 1 * *";
  if (name == "@weekly") return "0 0 * * 0";
  if (name == "@daily" || name == "@midnight") return "0 0 * * *";
  if (name == "@hourly") return "0 * * * *";
  known = false;
  return expr;
}

/// True when some day of some allowed month can match (AND semantics only:
/// with OR, or a restricted day-of-week, a matching weekday always comes).
bool can_fire(const cron_schedule& s) {
  if (!s.dow_star || s.dom_star)
    return true;
  static constexpr int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int m = 1; m <= 12; ++m)
    if (s.months.test(static_cast<std::size_t>(m)))
      for (int d = 1; d <= longest[m]; ++d)
        if (s.days.test(static_cast<std::size_t>(d)))
          return true;
  return false;
}

/// The zone for `tz`, nullptr for UTC; throws std::runtime_error when unknown.
const date::time_zone* zone_for(std::string_view tz) {
  if (tz.empty() || tz == "UTC" || tz == "Etc/UTC")
    return nullptr;
  return date::locate_zone(tz);
}

}  // namespace

cron_result parse_cron(std::string_view expr) {
  auto b = expr.find_first_not_of(" \t");
  if (b == std::string_view::npos)
    return cron_error{"schedule is empty; expected 5 fields: minute hour day-of-month month day-of-week"};
  expr = expr.substr(b, expr.find_last_not_of(" \t") - b + 1);
  bool macro = false;
  if (expr[0] == '@') {
    auto expanded = expand_macro(expr, macro);
    if (!macro)
      return cron_error{"unknown schedule macro " + quote(expr)
                        + " (use @yearly, @monthly, @weekly, @daily or @hourly)"};
    expr = expanded;
  }
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < expr.size()) {
    auto start = expr.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos)
      break;
    auto end = expr.find_first_of(" \t", start);
    if (end == std::string_view::npos)
      end = expr.size();
    fields.push_back(expr.substr(start, end - start));
    pos = end;
  }
  if (fields.size() != 5)
    return cron_error{"schedule must have 5 fields (minute hour day-of-month month day-of-week), got "
                      + std::to_string(fields.size())};
  cron_schedule s;
  std::string err;
  if (!parse_field(fields[0], specs[0], s.minutes, err)
      || !parse_field(fields[1], specs[1], s.hours, err)
      || !parse_field(fields[2], specs[2], s.days, err)
      || !parse_field(fields[3], specs[3], s.months, err)
      || !parse_field(fields[4], specs[4], s.weekdays, err))
    return cron_error{std::move(err)};
  s.dom_star = fields[2][0] == '*';
  s.dow_star = fields[4][0] == '*';
  if (!can_fire(s))
    return cron_error{"schedule never fires: no month it allows has the day-of-month it asks for"};
  return s;
}

std::optional<std::string> time_zone_error(std::string_view tz) {
  try {
    zone_for(tz);
    return std::nullopt;
  } catch (const std::exception&) {
    return "unknown time zone " + quote(tz) + " (use an IANA name such as Europe/Berlin or UTC)";
  }
}

std::optional<unix_ms> next_run(const cron_schedule& s, std::string_view tz, unix_ms after) {
  using namespace std::chrono;
  const date::time_zone* zone = nullptr;
  try {
    zone = zone_for(tz);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // Candidate local times are searched field by field; each candidate maps to
  // an instant monotonically (a gap maps to its transition, an overlap to its
  // first occurrence), so the first candidate past `after` is the answer.
  auto after_s = date::floor<seconds>(sys_time<milliseconds>{milliseconds{after}});
  auto to_local = [&](sys_seconds t) {
    return zone ? zone->to_local(t) : date::local_seconds{t.time_since_epoch()};
  };
  auto to_sys = [&](date::local_seconds t) {
    return zone ? zone->to_sys(t, date::choose::earliest) : sys_seconds{t.time_since_epoch()};
  };
  auto local = date::floor<minutes>(to_local(after_s));
  // The Gregorian calendar repeats every 400 years (146,097 days, a whole number
  // of weeks), so a day rule with no match in one cycle never matches. Ten years
  // were not enough: "0 0 29 2 */7" (29 February AND a Sunday) runs 28 years
  // apart, and a leap day on a given weekday can be 40 years away across 2100.
  // Days are skipped one at a time and months whole, so a full cycle is about
  // 16,000 steps.
  auto limit_year = date::year_month_day{date::floor<date::days>(local)}.year() + date::years{400};
  for (int guard = 0; guard < 500000; ++guard) {
    auto day = date::floor<date::days>(local);
    date::year_month_day ymd{day};
    if (ymd.year() > limit_year)
      return std::nullopt;
    auto month = static_cast<unsigned>(ymd.month());
    if (!s.months.test(month)) {
      auto next = date::year_month{ymd.year(), ymd.month()} + date::months{1};
      local = date::local_days{next / 1};
      continue;
    }
    bool dom = s.days.test(static_cast<unsigned>(ymd.day()));
    bool dow = s.weekdays.test(date::weekday{day}.c_encoding());
    if (!((s.dom_star || s.dow_star) ? (dom && dow) : (dom || dow))) {
      local = day + date::days{1};
      continue;
    }
    auto in_day = local - day;
    auto hour = static_cast<std::size_t>(duration_cast<hours>(in_day).count());
    if (!s.hours.test(hour)) {
      local = day + hours{hour + 1};
      continue;
    }
    auto minute = static_cast<std::size_t>(duration_cast<minutes>(in_day).count() % 60);
    if (!s.minutes.test(minute)) {
      auto m = minute + 1;
      while (m < 60 && !s.minutes.test(m))
        ++m;
      local = day + hours{hour} + minutes{m};  // m == 60 rolls into the next hour
      continue;
    }
    auto instant = to_sys(date::local_seconds{local});
    auto ms = duration_cast<milliseconds>(instant.time_since_epoch()).count();
    if (ms > after)
      return ms;
    local += minutes{1};
  }
  return std::nullopt;
}

std::optional<unix_ms> next_run(std::string_view expr, std::string_view tz, unix_ms after) {
  auto parsed = parse_cron(expr);
  if (auto* s = std::get_if<cron_schedule>(&parsed))
    return next_run(*s, tz, after);
  return std::nullopt;
}

}  // namespace gotel
