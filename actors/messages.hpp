#pragma once
/// Every message and atom that crosses an actor boundary, with its `inspect`
/// function. Types that may cross a node boundary are registered in
/// register_message_types() (actors/messages.cpp). Append only, never reorder.

#include "storage/model.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace gotel {

// -- atoms (at most 10 characters in CAF 0.17) --------------------------------
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using checkin_atom = caf::atom_constant<caf::atom("checkin")>;
using snooze_atom = caf::atom_constant<caf::atom("snooze")>;
using unsnooze_atom = caf::atom_constant<caf::atom("unsnooze")>;
using checkout_atom = caf::atom_constant<caf::atom("checkout")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using arm_atom = caf::atom_constant<caf::atom("arm")>;
using persisted_atom = caf::atom_constant<caf::atom("persisted")>;
using dispatch_atom = caf::atom_constant<caf::atom("dispatch")>;
using delivered_atom = caf::atom_constant<caf::atom("delivered")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using signal_atom = caf::atom_constant<caf::atom("signal")>;

// -- inspect functions for the shared model ------------------------------------

// Enums (time_unit, alert_kind) are serialized by CAF as their underlying type.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservation_record& x) {
  return f(caf::meta::type_name("reservation_record"), x.job_id, x.app, x.component,
           x.owner, x.notify, x.alert_msg, x.frequency, x.unit, x.created_ms,
           x.last_checkin_ms, x.checkins, x.snooze_until_ms, x.late_since_ms,
           x.last_alert_ms, x.alerts, x.alerters, x.escalation, x.escalation_level,
           x.revision, x.tags, x.uuid, x.schedule, x.tz, x.grace_ms, x.max_duration_ms,
           x.runs, x.last_duration_ms, x.total_duration_ms, x.runs_finished,
           x.failed_since_ms, x.fail_alerted_ms, x.last_exit_status, x.pings,
           x.manual_resume);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_entry& x) {
  return f(caf::meta::type_name("run_entry"), x.id, x.started_ms, x.alerted);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, escalation_step& x) {
  return f(caf::meta::type_name("escalation_step"), x.after, x.alerters);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkin_entry& x) {
  return f(caf::meta::type_name("checkin_entry"), x.at_ms, x.notes, x.source, x.kind, x.method,
           x.user_agent, x.run_id, x.duration_ms, x.exit_status);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alert_intent& x) {
  return f(caf::meta::type_name("alert_intent"), x.id, x.dedup_key, x.kind, x.channel,
           x.job_id, x.app, x.component, x.owner, x.notify, x.message, x.deadline_ms,
           x.created_ms, x.attempts, x.next_attempt_ms, x.last_error, x.progress);
}

}  // namespace gotel

// -- requests (local and, later, forwarded between nodes) ----------------------

namespace gotel {

/// POST /reservation: an upsert on (app, component).
struct reserve_request {
  std::string app;
  std::string component;
  std::string owner;
  std::string notify;
  std::string alert_msg;
  std::int64_t frequency = 0;
  time_unit unit = time_unit::minutes;
  std::vector<std::string> alerters;        ///< empty = every configured channel
  std::vector<escalation_step> escalation;  ///< empty = alerters at the first miss
  /// Tags to set; kept as they are when `tags_given` is false (a POST
  /// /reservation from an old client does not clear them).
  bool tags_given = false;
  std::vector<std::string> tags;
  /// Cron schedule instead of frequency/time_units (then frequency is 0 and
  /// the actor derives the typical gap); empty = frequency-based.
  std::string schedule;
  std::string tz;                    ///< IANA zone of `schedule`; empty = UTC
  std::int64_t grace_ms = 0;         ///< slack after each expected checkin
  std::int64_t max_duration_ms = 0;  ///< runs open longer alert; 0 = no limit
  /// manual_resume to set; kept as it is when `manual_resume_given` is false.
  bool manual_resume_given = false;
  bool manual_resume = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reserve_request& x) {
  return f(caf::meta::type_name("reserve_request"), x.app, x.component, x.owner, x.notify,
           x.alert_msg, x.frequency, x.unit, x.alerters, x.escalation,
           x.tags_given, x.tags, x.schedule, x.tz, x.grace_ms, x.max_duration_ms,
           x.manual_resume_given, x.manual_resume);
}

/// POST /checkin.
struct checkin_request {
  std::string app;
  std::string component;
  std::string notes;
  std::string source;  ///< client address as seen by the node
  std::string run_id;  ///< the run this checkin finishes; empty = the anonymous run
  std::int32_t exit_status = -1;  ///< 0 when a client sent exit status 0; -1 = none
  std::string method;       ///< a ping URL's HTTP method; empty = the JSON API
  /// A ping URL's User-Agent (first 200 bytes). A ping URL (a method is set)
  /// resumes a paused reservation unless it has manual_resume; GoTel's own
  /// /checkin keeps its snooze.
  std::string user_agent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkin_request& x) {
  return f(caf::meta::type_name("checkin_request"), x.app, x.component, x.notes, x.source,
           x.run_id, x.exit_status, x.method, x.user_agent);
}

/// POST /snooze: suppress alerts for `duration_ms` from now.
struct snooze_request {
  std::string app;
  std::string component;
  std::int64_t duration_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snooze_request& x) {
  return f(caf::meta::type_name("snooze_request"), x.app, x.component, x.duration_ms);
}

/// Names one reservation (checkout, cancel snooze, get).
struct key_request {
  std::string app;
  std::string component;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, key_request& x) {
  return f(caf::meta::type_name("key_request"), x.app, x.component);
}

/// What a ping or run signal says (docs/pings.md).
enum class signal_kind : std::uint8_t {
  success,  ///< a checkin: finishes the run (if any) successfully
  start,    ///< a run started
  fail,     ///< the run failed (explicit /fail or an exit status 1-255)
  log,      ///< only a log line for the history; changes no state
};

/// POST /start, POST /fail and the ping URLs. Names the reservation by
/// (app, component) or, when `uuid` is set, by its ping uuid.
struct signal_request {
  std::string app;
  std::string component;
  std::string uuid;          ///< /ping/<uuid>; empty = by (app, component)
  signal_kind kind = signal_kind::success;
  std::int32_t exit_status = -1;  ///< 0-255 when the client sent one; -1 = none
  std::string run_id;        ///< pairs start and finish of overlapping runs; empty = newest
  std::string notes;         ///< the ping body (log), already size-limited
  std::string source;        ///< client address as seen by the node
  bool create = false;       ///< slug ping with ?create=1: create an unknown reservation
  std::string method;        ///< a ping URL's HTTP method; empty = the JSON API
  std::string user_agent;    ///< a ping URL's User-Agent (first 200 bytes)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, signal_request& x) {
  return f(caf::meta::type_name("signal_request"), x.app, x.component, x.uuid, x.kind,
           x.exit_status, x.run_id, x.notes, x.source, x.create, x.method, x.user_agent);
}

/// Registers every type above with `cfg` (required on every node for remoting).
void register_message_types(caf::actor_system_config& cfg);

}  // namespace gotel

// -- cluster (actors/cluster.hpp, docs/cluster.md) -----------------------------

namespace gotel {

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using prune_atom = caf::atom_constant<caf::atom("prune")>;
using reevaluate_atom = caf::atom_constant<caf::atom("reeval")>;
using view_atom = caf::atom_constant<caf::atom("view")>;

/// One replicated change: the whole record after the change (or its removal),
/// plus the checkin entry it added, if any.
struct repl_change {
  std::string key;
  reservation_record rec;
  bool deleted = false;
  std::uint64_t checkin_seq = 0;  ///< 0 = no new checkin entry
  checkin_entry checkin;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, repl_change& x) {
  return f(caf::meta::type_name("repl_change"), x.key, x.rec, x.deleted, x.checkin_seq,
           x.checkin);
}

/// A page of catch-up: changes in key order, where the next page starts, and
/// whether this was the last page.
struct sync_page {
  std::vector<repl_change> changes;
  std::string next_key;
  bool done = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sync_page& x) {
  return f(caf::meta::type_name("sync_page"), x.changes, x.next_key, x.done);
}

using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;

/// Reconciliation (docs/cluster.md): a change this node made while not every
/// configured node confirmed it, sent to the coordinator it catches up with.
/// `rec` is the whole local record; with `removed`, the reservation was checked
/// out here and `rec` carries only the removed record's uuid and revision.
/// `seqs` and `entries` (same length, oldest first) are the newest history
/// entries the coordinator's record did not yet count.
struct reconcile_change {
  std::string key;
  reservation_record rec;
  bool removed = false;
  std::vector<std::uint64_t> seqs;
  std::vector<checkin_entry> entries;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconcile_change& x) {
  return f(caf::meta::type_name("reconcile_change"), x.key, x.rec, x.removed, x.seqs,
           x.entries);
}

}  // namespace gotel
