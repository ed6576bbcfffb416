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

// -- inspect functions for the shared model ------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, time_unit& x) {
  auto raw = static_cast<std::uint8_t>(x);
  auto res = f(raw);
  x = static_cast<time_unit>(raw);
  return res;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alert_kind& x) {
  auto raw = static_cast<std::uint8_t>(x);
  auto res = f(raw);
  x = static_cast<alert_kind>(raw);
  return res;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservation_record& x) {
  return f(caf::meta::type_name("reservation_record"), x.job_id, x.app, x.component,
           x.owner, x.notify, x.alert_msg, x.frequency, x.unit, x.created_ms,
           x.last_checkin_ms, x.checkins, x.snooze_until_ms, x.late_since_ms,
           x.last_alert_ms, x.alerts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkin_entry& x) {
  return f(caf::meta::type_name("checkin_entry"), x.at_ms, x.notes, x.source);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, alert_intent& x) {
  return f(caf::meta::type_name("alert_intent"), x.id, x.dedup_key, x.kind, x.channel,
           x.job_id, x.app, x.component, x.owner, x.notify, x.message, x.deadline_ms,
           x.created_ms, x.attempts, x.next_attempt_ms, x.last_error);
}

}  // namespace gotel
