#pragma once
/// The lateness rule on a stored record, in wall milliseconds: which escalation
/// steps fire, when a repeat is due, when to look again. Pure: inputs in,
/// values out. The reservation actor (actors/reservation.cpp) applies it on its
/// steady clock; the coordinator applies it to dormant reservations in batches,
/// without activating their actors (docs/scale.md, "The batch path").

#include "actors/schedule.hpp"
#include "storage/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gotel {

/// Escalation steps later than this after the missed deadline never fire (the
/// API refuses them; this guards stored values against overflow).
inline constexpr std::int64_t max_escalation_ms = 20LL * 366 * 24 * 3600 * 1000;

/// The escalation policy in force: the stored one, or GoTel's behaviour (the
/// reservation's alerters, every configured channel when it names none, at
/// the first miss).
std::vector<escalation_step> effective_steps(const reservation_record& rec);

/// The configured channels among `names` (all of them for an empty list). A
/// list naming no configured channel falls back to all of them: a monitor
/// prefers noise to silence.
std::vector<std::string> channels_for(const std::vector<std::string>& configured,
                                      const std::vector<std::string>& names);

/// Channels alerted so far in this lateness: those of the fired steps.
std::vector<std::string> fired_channels(const reservation_record& rec,
                                        const std::vector<std::string>& configured);

/// How long after the missed deadline escalation step `step` fires: `after`
/// periods; nullopt when that lies beyond any representable time.
std::optional<std::int64_t> step_offset_ms(const reservation_record& rec,
                                           const escalation_step& step);

/// What firing the due escalation steps decides (fire_due): the channels to
/// tell and how; `level` is the new escalation level.
struct late_alert {
  alert_kind kind = alert_kind::late;
  std::vector<std::string> targets;  ///< empty: nothing to send
  std::uint32_t level = 0;
};

/// While late and not snoozed, at `since_ms` after the missed deadline: every
/// escalation step that is due adds its channels (a "late" notice to those not
/// told yet), or else, once `repeat_due` and nothing was added, a repeat to every
/// channel alerted so far. `became_late`: the lateness starts now (no repeat).
late_alert due_alerts(const reservation_record& rec, const std::vector<std::string>& configured,
                      std::int64_t since_ms, bool repeat_due, bool became_late);

/// When something is next due while late, in ms after the missed deadline: the
/// next escalation step (strictly after its time), or the repeat at
/// `repeat_in_ms` (only once something was sent); `fallback_ms` when neither.
std::int64_t next_late_offset_ms(const reservation_record& rec, std::int64_t repeat_in_ms);

/// A dormant reservation whose deadline came, judged on its record at wall time
/// `now` (the coordinator's batch path). `activate`: the actor must decide
/// (failure signals, runs with a time limit, snoozes: the rarer rules stay in
/// one place); otherwise `rec` is updated in place when `changed`, `alert`
/// says what to send, and `wake_ms` is when to look again.
struct dormant_verdict {
  bool activate = false;
  bool changed = false;  ///< rec changed (became late, or an alert fired): write it
  late_alert alert;
  unix_ms wake_ms = 0;
};

/// `now` is in the wall clock of the record's times (the actor's frame, which
/// a wall-clock step after they were written does not move); `alert_stamp` is
/// the wall clock's now, recorded as last_alert_ms when an alert fires (as the
/// actor does).
dormant_verdict judge_dormant(reservation_record& rec, unix_ms now, const schedule_policy& policy,
                              const std::vector<std::string>& configured, unix_ms alert_stamp);

}  // namespace gotel
