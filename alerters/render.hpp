#pragma once
/// Pure text for alerts and listings: GoTel's relative times, RFC 1123 times and
/// the alert_msg template. No clock is read here; `now` is always a parameter.

#include "storage/model.hpp"

#include <string>
#include <string_view>

namespace gotel {

/// The template used when a reservation's alert_msg is empty (GoTel's).
inline constexpr std::string_view default_alert_template =
  "App: [{app}] Component: [{component}] failed checkin on IP [{srv}]. Contact owner [{owner}]";

/// go-humanize's relative time as GoTel shows it: "now", "1 second ago",
/// "5 minutes ago", ..., "a long while ago". `delta_ms` = now - then (>= 0).
std::string humanize_since(std::int64_t delta_ms);

/// humanize_since(now - then), with the difference clamped: stored times are
/// untrusted and may be extreme. Every caller with two timestamps uses this.
std::string humanize_between(unix_ms now, unix_ms then);

/// RFC 1123 in UTC as Go prints it: "Mon, 02 Jan 2006 15:04:05 UTC".
std::string rfc1123(unix_ms t);

/// What the placeholders of a template stand for.
struct alert_fields {
  std::uint64_t job_id = 0;
  std::string app, component, owner, notify;
  std::string frequency;  ///< e.g. "5minutes"
  unix_ms last_ms = 0;    ///< last checkin (0 = never)
  unix_ms now_ms = 0;
  std::uint64_t checkins = 0;
  std::string srv;        ///< IP of the node sending the alert
};

/// Fills `{jobid} {app} {component} {owner} {notify} {frequency} {last} {since}
/// {checkins} {srv}` in one pass: replaced text is not rescanned and an unknown
/// `{x}` stays as it is. An empty template means default_alert_template.
std::string render_alert(std::string_view tmpl, const alert_fields& fields);

/// Builds the fields for `rec` as seen at `now` by node `srv`.
alert_fields fields_for(const reservation_record& rec, unix_ms now, const std::string& srv);

/// Text of a recovery notice for `rec` (a late job checked in).
std::string render_recovery(const reservation_record& rec, unix_ms now, const std::string& srv);

}  // namespace gotel
