#include "alerters/render.hpp"

#include "storage/utf8.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string_view>
#include <utility>

namespace gotel {

namespace {

constexpr std::int64_t second_ms = 1000;
constexpr std::int64_t minute_ms = 60 * second_ms;
constexpr std::int64_t hour_ms = 60 * minute_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;
constexpr std::int64_t week_ms = 7 * day_ms;
// go-humanize's calendar: a month is 30 days and a year 12 such months.
constexpr std::int64_t month_ms = 30 * day_ms;
constexpr std::int64_t year_ms = 12 * month_ms;
constexpr std::int64_t long_time_ms = 37 * year_ms;

/// One row of go-humanize's `defaultMagnitudes`: below `bound`, print `text`,
/// with "%d" replaced by delta / `unit` when `unit` is non-zero.
struct magnitude {
  std::int64_t bound;
  std::string_view text;
  std::int64_t unit;  ///< 0: the text has no number
};

constexpr std::array<magnitude, 17> magnitudes{{
  {second_ms, "now", 0},
  {2 * second_ms, "1 second ago", 0},
  {minute_ms, " seconds ago", second_ms},
  {2 * minute_ms, "1 minute ago", 0},
  {hour_ms, " minutes ago", minute_ms},
  {2 * hour_ms, "1 hour ago", 0},
  {day_ms, " hours ago", hour_ms},
  {2 * day_ms, "1 day ago", 0},
  {week_ms, " days ago", day_ms},
  {2 * week_ms, "1 week ago", 0},
  {month_ms, " weeks ago", week_ms},
  {2 * month_ms, "1 month ago", 0},
  {year_ms, " months ago", month_ms},
  {18 * month_ms, "1 year ago", 0},
  {2 * year_ms, "2 years ago", 0},
  {long_time_ms, " years ago", year_ms},
  {std::numeric_limits<std::int64_t>::max(), "a long while ago", 0},
}};

constexpr std::array<const char*, 7> weekday_names{"Sun", "Mon", "Tue", "Wed",
                                                   "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/// Floor division, so instants before 1970 land in the right second.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  auto q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    --q;
  return q;
}

/// a - b, clamped to int64's range: stored times are untrusted and may be
/// extreme (found by tests/fuzz/fuzz_template: now - INT64_MIN overflowed).
std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out))
    return b < 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  return out;
}

}  // namespace

std::string humanize_between(unix_ms now, unix_ms then) {
  return humanize_since(saturating_sub(now, then));
}

std::string humanize_since(std::int64_t delta_ms) {
  // A `then` slightly in the future (clock skew between nodes) reads as "now".
  if (delta_ms < 0)
    delta_ms = 0;
  for (const auto& mag : magnitudes) {
    if (delta_ms < mag.bound) {
      if (mag.unit == 0)
        return std::string{mag.text};
      return std::to_string(delta_ms / mag.unit) + std::string{mag.text};
    }
  }
  return std::string{magnitudes.back().text};  // unreachable: the last bound is INT64_MAX
}

std::string rfc1123(unix_ms t) {
  auto secs = static_cast<std::time_t>(floor_div(t, 1000));
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr)
    return "invalid time";
  // Fixed English names: strftime would follow the process locale.
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d UTC",
                weekday_names[static_cast<std::size_t>(tm.tm_wday) % 7], tm.tm_mday,
                month_names[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string render_alert(std::string_view tmpl, const alert_fields& fields) {
  if (tmpl.empty())
    tmpl = default_alert_template;
  // Each value is computed only when its placeholder occurs.
  auto value_of = [&fields](std::string_view name, std::string& out) -> bool {
    if (name == "jobid")
      out += std::to_string(fields.job_id);
    else if (name == "app")
      out += fields.app;
    else if (name == "component")
      out += fields.component;
    else if (name == "owner")
      out += fields.owner;
    else if (name == "notify")
      out += fields.notify;
    else if (name == "frequency")
      out += fields.frequency;
    else if (name == "last")
      out += fields.last_ms == 0 ? std::string{"never"} : rfc1123(fields.last_ms);
    else if (name == "since")
      out += fields.last_ms == 0 ? std::string{"never"}
                                 : humanize_between(fields.now_ms, fields.last_ms);
    else if (name == "checkins")
      out += std::to_string(fields.checkins);
    else if (name == "srv")
      out += fields.srv;
    else
      return false;
    return true;
  };
  std::string out;
  out.reserve(tmpl.size() + 64);
  std::size_t pos = 0;
  while (pos < tmpl.size()) {
    auto open = tmpl.find('{', pos);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(pos));
      break;
    }
    out.append(tmpl.substr(pos, open - pos));
    auto close = tmpl.find('}', open + 1);
    if (close == std::string_view::npos) {
      out.append(tmpl.substr(open));
      break;
    }
    auto name = tmpl.substr(open + 1, close - open - 1);
    // "{a{app}" must still find "{app}": an unknown name restarts the scan at the
    // next character, not after the closing brace.
    if (name.find('{') == std::string_view::npos && value_of(name, out)) {
      pos = close + 1;
    } else {
      out.push_back('{');
      pos = open + 1;
    }
  }
  // Names and templates stored by an older version may hold any bytes; every
  // channel (SMTP, webhook, Slack, PagerDuty, the log) gets UTF-8.
  return utf8::sanitize(out);
}

alert_fields fields_for(const reservation_record& rec, unix_ms now, const std::string& srv) {
  alert_fields f;
  f.job_id = rec.job_id;
  f.app = rec.app;
  f.component = rec.component;
  f.owner = rec.owner;
  f.notify = rec.notify;
  f.frequency = std::to_string(rec.frequency) + std::string{to_string(rec.unit)};
  f.last_ms = rec.last_checkin_ms;
  f.now_ms = now;
  f.checkins = rec.checkins;
  f.srv = srv;
  return f;
}

std::string render_recovery(const reservation_record& rec, unix_ms now, const std::string& srv) {
  // rfc1123 output holds no braces, so splicing it into the template is safe.
  std::string tmpl =
    "App: [{app}] Component: [{component}] checked in again on IP [{srv}] after being late since ";
  tmpl += rec.late_since_ms == 0 ? std::string{"an unknown time"} : rfc1123(rec.late_since_ms);
  tmpl += ". Contact owner [{owner}]";
  return render_alert(tmpl, fields_for(rec, now, srv));
}

}  // namespace gotel
