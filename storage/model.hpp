#pragma once
/// The domain model that every layer shares: what a reservation, a checkin and an
/// alert intent are. Plain values; encoding lives in codec.hpp, layout in FORMAT.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

/// Milliseconds since the Unix epoch (wall time). Only for display, storage and
/// cron; deadlines are armed on a steady clock.
using unix_ms = std::int64_t;

/// Identity of a reservation: (app, component) lower-cased (ASCII) with trailing
/// spaces removed, joined by a NUL byte. `A1/C1` and `"a1 "/c1` share a key.
std::string reservation_key(std::string_view app, std::string_view component);

/// Lower-cases ASCII letters and strips trailing spaces; the identity of one half.
std::string normalize_name(std::string_view name);

/// Time units a reservation period may be given in.
enum class time_unit : std::uint8_t { seconds, minutes, hours, days };

/// Parses "seconds", "minutes", "hours", "days" (case-insensitive, singular
/// accepted); nullopt for anything else.
std::optional<time_unit> parse_time_unit(std::string_view text);

/// The canonical plural name, as GoTel lists it ("minutes").
std::string_view to_string(time_unit unit);

/// Length of one unit in milliseconds.
std::int64_t unit_ms(time_unit unit);

/// One level of a reservation's escalation policy: once the job has been late
/// for `after` whole periods past its missed deadline, alert `alerters` too.
struct escalation_step {
  std::int64_t after = 0;              ///< missed periods; 0 = at the missed deadline
  std::vector<std::string> alerters;   ///< channel names ("email", "pagerduty", ...)

  friend bool operator==(const escalation_step&, const escalation_step&) = default;
};

/// A run that sent a start signal and has not finished yet.
struct run_entry {
  std::string id;           ///< the client's run id (rid=); empty = anonymous
  unix_ms started_ms = 0;
  bool alerted = false;     ///< the "running too long" alert was made

  friend bool operator==(const run_entry&, const run_entry&) = default;
};

/// A reservation as stored. Every field is persisted (storage/FORMAT.md).
struct reservation_record {
  std::uint64_t job_id = 0;     ///< stable numeric id, assigned at creation
  std::string app;              ///< as first posted (display form)
  std::string component;        ///< as first posted (display form)
  std::string owner;            ///< kept from the first post
  std::string notify;           ///< comma-separated e-mail recipients, raw
  std::string alert_msg;        ///< template; empty = the default template
  std::int64_t frequency = 0;   ///< number of `unit`s between checkins, >= 1
  time_unit unit = time_unit::minutes;
  unix_ms created_ms = 0;       ///< when the reservation was first made
  unix_ms last_checkin_ms = 0;  ///< 0 = never checked in
  std::uint64_t checkins = 0;   ///< number of checkins ever
  unix_ms snooze_until_ms = 0;  ///< alerts suppressed until then; 0 = not snoozed
  unix_ms late_since_ms = 0;    ///< the missed deadline while late; 0 = not late
  unix_ms last_alert_ms = 0;    ///< when the last alert intent was made; 0 = never
  std::uint64_t alerts = 0;     ///< alert intents ever made (late + repeats)
  /// Channels this reservation alerts; empty = every configured channel.
  std::vector<std::string> alerters;
  /// Escalation policy, sorted by `after`; empty = `alerters` at the first miss.
  std::vector<escalation_step> escalation;
  /// Escalation steps already fired for the current lateness (0 while not late).
  std::uint32_t escalation_level = 0;
  /// Bumped on every change by the node that makes it; a replica applies a
  /// replicated record only when it is newer (cluster catch-up, docs/cluster.md).
  std::uint64_t revision = 0;
  /// Free-form labels for filtering (management API); lower-case, each
  /// [a-z0-9_.:-], no duplicates, in the order posted.
  std::vector<std::string> tags;

  // -- schedules, runs and ping URLs (docs/pings.md) --------------------------
  /// Stable id for Healthchecks-style ping URLs (/ping/<uuid>), assigned at creation.
  std::string uuid;
  /// 5-field cron expression; empty = every `frequency` `unit`s. When set,
  /// frequency x unit is only the typical gap between runs (display, escalation).
  std::string schedule;
  /// IANA time zone the schedule is read in; empty = UTC.
  std::string tz;
  /// Extra slack after each expected checkin, on top of alerts.grace_seconds.
  std::int64_t grace_ms = 0;
  /// A run started and not finished within this alerts ("running too long"); 0 = no limit.
  std::int64_t max_duration_ms = 0;
  /// Runs started and not yet finished, oldest first (at most max_open_runs).
  std::vector<run_entry> runs;
  std::int64_t last_duration_ms = 0;   ///< duration of the last finished run; 0 = none
  std::int64_t total_duration_ms = 0;  ///< sum over finished runs (for the average)
  std::uint64_t runs_finished = 0;     ///< runs with a measured duration
  unix_ms failed_since_ms = 0;         ///< a fail signal not yet followed by a success; 0 = none
  unix_ms fail_alerted_ms = 0;         ///< when that failure was alerted; 0 = not yet
  std::int32_t last_exit_status = -1;  ///< exit status of the last finished run; -1 = unknown
  /// History entries ever written (checkins, starts, failures, logs). Records
  /// written before it existed numbered their history by `checkins`.
  std::uint64_t pings = 0;
  /// A ping URL signal (success, fail, exit status) to a paused reservation
  /// leaves it paused (and is recorded as "ign") instead of resuming it;
  /// Healthchecks' manual_resume.
  bool manual_resume = false;

  /// The period in milliseconds (frequency x unit).
  std::int64_t period_ms() const { return frequency * unit_ms(unit); }
  /// Seq of the newest history entry (`h/` key).
  std::uint64_t history_seq() const { return pings > checkins ? pings : checkins; }

  friend bool operator==(const reservation_record&, const reservation_record&) = default;
};

/// Most runs a reservation tracks at once; a start beyond it drops the oldest.
inline constexpr std::size_t max_open_runs = 16;

/// One checkin in a reservation's bounded history.
struct checkin_entry {
  unix_ms at_ms = 0;
  std::string notes;
  std::string source;  ///< the client's address as seen by the node
  /// The signal: empty = a checkin (success); "start", "fail", "exit <n>"
  /// (n in 1-255), "log", "ign" (a ping ignored: paused with manual_resume).
  /// Entries written before signals existed have none.
  std::string kind;
  std::string method;        ///< HTTP method of a ping URL; empty = the JSON API
  std::string user_agent;    ///< the client's User-Agent, first max_user_agent_bytes
  std::string run_id;        ///< the run id the signal carried; empty = none
  std::int64_t duration_ms = -1;  ///< the run this signal finished took; -1 = none
  std::int32_t exit_status = -1;  ///< 0-255 when the client sent one; -1 = none
};

/// Bytes of a User-Agent kept in the history (Healthchecks keeps 200).
inline constexpr std::size_t max_user_agent_bytes = 200;

/// A change this node made that not every configured node confirmed (cluster
/// reconciliation, docs/cluster.md): kept until it has been reconciled with
/// the coordinator this node next catches up with.
struct unconfirmed_write {
  /// The change checked the reservation out. Then `revision` and `uuid` are
  /// those of the record it removed; for any other change both are unused
  /// (the record itself is read back from the store when it is pushed).
  bool removed = false;
  std::uint64_t revision = 0;
  std::string uuid;

  friend bool operator==(const unconfirmed_write&, const unconfirmed_write&) = default;
};

/// What an alert intent is about.
enum class alert_kind : std::uint8_t { late, repeat, recovered };

std::string_view to_string(alert_kind kind);

/// An alert that must reach one channel. Written to the outbox before any send
/// attempt, deleted only once delivered or expired.
struct alert_intent {
  std::uint64_t id = 0;         ///< outbox sequence number, unique per node
  std::string dedup_key;        ///< job id + missed deadline: equal across nodes
  alert_kind kind = alert_kind::late;
  std::string channel;          ///< alerter name, e.g. "webhook", "log"
  std::uint64_t job_id = 0;
  std::string app;
  std::string component;
  std::string owner;
  std::string notify;
  std::string message;          ///< the rendered alert text
  unix_ms deadline_ms = 0;      ///< the missed deadline
  unix_ms created_ms = 0;
  std::uint32_t attempts = 0;
  unix_ms next_attempt_ms = 0;  ///< not before this wall time
  std::string last_error;
  /// Channel-specific delivery progress kept across retries (e-mail: the
  /// recipients already sent to, comma-separated), so a retry does not resend.
  std::string progress;
};

/// One line of the alert log (kept after delivery; feeds /badguests).
struct alert_log_entry {
  unix_ms at_ms = 0;
  std::uint64_t job_id = 0;
  std::string app;
  std::string component;
  alert_kind kind = alert_kind::late;
  std::string channel;
  std::string dedup_key;
  std::string outcome;  ///< "queued", "delivered", "expired", "grouped" (alert storm)
};

}  // namespace gotel
