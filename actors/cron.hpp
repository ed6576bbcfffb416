#pragma once
/// Cron schedules: a pure parser for 5-field expressions and the next run
/// time in an IANA time zone. Inputs in, values out; no clock, no config.
///
/// Semantics (Vixie cron, which cronie and most crontabs follow):
/// - fields: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
///   day-of-week 0-7 or SUN-SAT (0 and 7 are Sunday); names ignore case.
/// - items: `*`, `N`, `A-B`, and a step on any of them (`*/15`, `1-30/5`,
///   `5/10` = `5-max/10`), joined by commas.
/// - day-of-month and day-of-week: when both are restricted (neither starts
///   with `*`), a day matches if EITHER matches; otherwise both must.
/// - `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
///   `@hourly` stand for their usual expressions.
/// - daylight saving: a local time that does not exist (spring forward) runs
///   at the transition instant, like cronie runs fixed-time jobs skipped by the
///   jump right after it; a local time that occurs twice (fall back) runs once,
///   at its first occurrence.
///
/// Thread-safety: every function is safe to call from any thread (zone data
/// comes from date::locate_zone, which loads /usr/share/zoneinfo once).

#include "storage/model.hpp"

#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gotel {

/// A parsed expression: the set of allowed values per field.
struct cron_schedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;      ///< 1-31 (bit 0 unused)
  std::bitset<13> months;    ///< 1-12 (bit 0 unused)
  std::bitset<7> weekdays;   ///< 0 = Sunday
  bool dom_star = false;     ///< day-of-month field starts with `*`
  bool dow_star = false;     ///< day-of-week field starts with `*`

  friend bool operator==(const cron_schedule&, const cron_schedule&) = default;
};

/// Why an expression or zone was refused, in words for an HTTP 400.
struct cron_error {
  std::string message;
};

using cron_result = std::variant<cron_schedule, cron_error>;

/// Parses a 5-field expression (or an @macro). Refuses, with a message that
/// names the field and the problem: a wrong field count, values out of range,
/// unknown names, backwards ranges, zero steps, and schedules that can never
/// fire (e.g. `0 0 30 2 *`).
cron_result parse_cron(std::string_view expr);

/// nullopt when `tz` names an IANA zone (or is empty = UTC); otherwise why not.
std::optional<std::string> time_zone_error(std::string_view tz);

/// The first run strictly after `after` (Unix ms), reading the schedule in
/// zone `tz` (empty or "UTC" = UTC). nullopt for an unknown zone; every
/// schedule parse_cron accepts has a next run, however far (the search covers a
/// whole 400-year Gregorian cycle, after which the calendar repeats).
std::optional<unix_ms> next_run(const cron_schedule& schedule, std::string_view tz,
                                 unix_ms after);

/// Parses `expr` and calls next_run; nullopt when either is invalid.
std::optional<unix_ms> next_run(std::string_view expr, std::string_view tz, unix_ms after);

}  // namespace gotel
