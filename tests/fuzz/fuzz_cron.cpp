// Fuzzes actors/cron.*: the input's first line is a time zone name, the rest a
// cron expression. An unknown zone must make next_run report none; the
// expression is then read in UTC. When the expression parses, next_run is asked
// from fixed instants and from instants around the zone's own 2024 transitions,
// and each answer is chained a few times. Properties:
// - parsing ignores case and surrounding blanks, and every field allows a value;
// - a run is strictly after its start, on a minute boundary (UTC and local);
// - a run is a time the schedule names: its local time matches every field
//   (Vixie's day-of-month/day-of-week rule) and it is that local time's first
//   occurrence, or it is a spring-forward transition whose skipped local time
//   holds a matching minute (cron.hpp's daylight-saving contract);
// - no run is skipped: no day strictly between start and run matches, and no
//   minute in the first hours after the start is a run;
// - an accepted schedule always has a next run (cron.hpp: the schedules that
//   never fire are refused by parse_cron), found without unbounded search
//   (scripts/fuzz's -timeout turns a hang into a failure).

#include "actors/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace gotel;
using namespace std::chrono;

void require(bool ok) {
  if (!ok)
    std::abort();
}

sys_seconds instant(unix_ms ms) {
  return date::floor<seconds>(sys_time<milliseconds>{milliseconds{ms}});
}

unix_ms to_ms(sys_seconds t) {
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

unix_ms utc_ms(date::year_month_day d, int h = 0, int m = 0) {
  return to_ms(date::sys_days{d} + hours{h} + minutes{m});
}

/// The day rule alone: month, then day-of-month and day-of-week (OR when both
/// are restricted, AND when either starts with `*`).
bool day_matches(const cron_schedule& s, date::local_days day) {
  date::year_month_day ymd{day};
  if (!s.months.test(static_cast<unsigned>(ymd.month())))
    return false;
  bool dom = s.days.test(static_cast<unsigned>(ymd.day()));
  bool dow = s.weekdays.test(date::weekday{day}.c_encoding());
  return (s.dom_star || s.dow_star) ? (dom && dow) : (dom || dow);
}

bool local_matches(const cron_schedule& s, date::local_seconds t) {
  auto day = date::floor<date::days>(t);
  auto in_day = t - day;
  if (in_day % minutes{1} != seconds{0})
    return false;
  auto hour = static_cast<std::size_t>(duration_cast<hours>(in_day).count());
  auto minute = static_cast<std::size_t>(duration_cast<minutes>(in_day).count() % 60);
  return day_matches(s, day) && s.hours.test(hour) && s.minutes.test(minute);
}

/// Is `t` a run of `s` in `zone`, by cron.hpp's contract?
bool is_run(const cron_schedule& s, const date::time_zone* zone, sys_seconds t) {
  auto local = zone->to_local(t);
  if (local_matches(s, local) && zone->to_sys(local, date::choose::earliest) == t)
    return true;
  // A spring-forward transition runs the matching times its gap skipped.
  auto info = zone->get_info(t);
  if (info.begin != t)
    return false;
  auto before = zone->get_info(t - seconds{1});
  if (info.offset <= before.offset)
    return false;
  auto gap_end = date::local_seconds{t.time_since_epoch() + info.offset};
  for (auto g = date::ceil<minutes>(date::local_seconds{t.time_since_epoch() + before.offset});
       g < gap_end; g += minutes{1})
    if (local_matches(s, g))
      return true;
  return false;
}

/// How many minutes after a start are checked one by one for a skipped run;
/// longer spans are checked day by day (which is cheaper but blind to hours).
constexpr int brute_force_minutes = 90;
/// How many days are checked for a skipped matching day.
constexpr int day_scan_limit = 800;

void check_run(const cron_schedule& s, const date::time_zone* zone, unix_ms from, unix_ms next) {
  require(next > from);
  require(next % 60'000 == 0);
  auto run = instant(next);
  require(zone->to_local(run).time_since_epoch() % minutes{1} == seconds{0});
  require(is_run(s, zone, run));

  // First minutes after `from`: none of them may be a run.
  auto first = (from / 60'000 + 1) * 60'000;
  for (int i = 0; i < brute_force_minutes; ++i) {
    auto t = first + i * 60'000LL;
    if (t >= next)
      break;
    require(!is_run(s, zone, instant(t)));
  }
  // Whole local days between them: none may match (each day has a matching
  // hour and minute, so a matching day would hold an earlier run).
  auto from_day = date::floor<date::days>(zone->to_local(instant(from)));
  auto run_day = date::floor<date::days>(zone->to_local(run));
  int scanned = 0;
  for (auto d = from_day + date::days{1}; d < run_day && scanned < day_scan_limit;
       d += date::days{1}, ++scanned)
    require(!day_matches(s, d));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  std::string tz{input.substr(0, newline)};
  std::string_view expr = newline == std::string_view::npos ? std::string_view{}
                                                            : input.substr(newline + 1);

  auto parsed = parse_cron(expr);
  auto* s = std::get_if<cron_schedule>(&parsed);
  // Names and macros ignore case, blanks around the expression do not count.
  auto shouted = parse_cron(upper(expr));
  require(shouted.index() == parsed.index());
  auto padded = parse_cron(" \t" + std::string{expr} + "\t ");
  require(padded.index() == parsed.index());
  if (!s) {
    require(!std::get<cron_error>(parsed).message.empty());
    require(!next_run(expr, tz, 0));
    return 0;
  }
  require(std::get<cron_schedule>(shouted) == *s);
  require(std::get<cron_schedule>(padded) == *s);
  require(s->minutes.any() && s->hours.any() && s->months.any() && s->days.any()
          && s->weekdays.any());
  require(!s->days.test(0) && !s->months.test(0));

  const date::time_zone* zone = nullptr;
  if (time_zone_error(tz)) {
    require(!next_run(*s, tz, 0));
    tz = "UTC";
  }
  try {
    zone = date::locate_zone(tz.empty() ? std::string_view{"UTC"} : std::string_view{tz});
  } catch (const std::exception&) {
    std::abort();  // time_zone_error accepted a zone date cannot find
  }

  using date::year;
  std::vector<unix_ms> starts = {
    utc_ms(year{2024} / 1 / 1),
    utc_ms(year{2024} / 2 / 28, 23, 59) + 59'999,
    utc_ms(year{2025} / 6 / 15, 12, 34) + 56'789,
    utc_ms(year{2037} / 12 / 31, 23, 59),
    utc_ms(year{2000} / 1 / 1) - 1,
  };
  // Around the zone's own transitions in 2024 (none for UTC and zones without
  // daylight saving): just before, at, and inside a repeated hour.
  for (auto probe : {year{2024} / 1 / 15, year{2024} / 7 / 15}) {
    auto info = zone->get_info(date::sys_days{probe});
    if (info.end > date::sys_days{year{2024} / 1 / 1} && info.end < date::sys_days{year{2026} / 1 / 1}) {
      auto t = to_ms(info.end);
      for (auto d : {-60'000LL, -1LL, 0LL, 30 * 60'000LL})
        starts.push_back(t + d);
    }
  }

  for (auto from : starts) {
    for (int chain = 0; chain < 3; ++chain) {
      auto next = next_run(*s, tz, from);
      require(next.has_value());  // accepted schedules always fire
      require(next == next_run(expr, tz, from));
      check_run(*s, zone, from, *next);
      from = *next;
    }
  }
  return 0;
}
