#pragma once
/// A reservation actor: one per (app, component), virtual (issue 15): its
/// coordinator activates it when a message or its deadline needs it and it asks
/// to be passivated once idle for ctx->passivate_after (actors/coordinator.hpp).
/// It holds the reservation's state and its own deadline, answers checkins,
/// snoozes and checkouts only after the change is durable (group commit), and
/// turns a missed deadline into alert intents that are persisted in the same
/// batch as the state change that records them. Its deadline is kept by the
/// coordinator (one entry per reservation), which wakes it; it survives
/// passivation there.
///
/// Thread-safety: an actor; state is touched only by its own handlers.

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/state_counts.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gotel {

using idle_atom = caf::atom_constant<caf::atom("idle")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;

using reservation_actor = caf::typed_actor<
  caf::replies_to<reserve_atom, reserve_request>::with<reservation_record>,
  caf::replies_to<checkin_atom, checkin_request>::with<reservation_record>,
  caf::replies_to<snooze_atom, snooze_request>::with<reservation_record>,
  caf::replies_to<unsnooze_atom>::with<reservation_record>,
  caf::replies_to<checkout_atom>::with<reservation_record>,
  caf::replies_to<get_atom>::with<reservation_record>,
  /// A change replicated from the coordinator (actors/cluster.hpp): adopted when
  /// newer than the local state, persisted, never replicated again.
  caf::replies_to<apply_atom, repl_change>::with<reservation_record>,
  caf::reacts_to<wake_atom, std::int64_t>,
  /// Run and ping signals (start, fail, exit status, log; success is a checkin).
  caf::replies_to<signal_atom, signal_request>::with<reservation_record>,
  caf::reacts_to<persisted_atom, std::uint64_t, bool>,
  /// Its own idle check (passivation after ctx->passivate_after).
  caf::reacts_to<idle_atom>,
  /// On the coordinator, a record another node wrote while not every node
  /// confirmed it (reconciliation, docs/cluster.md): adopted with its history
  /// entries when its revision is newer; on a tie with different content this
  /// record wins with a new revision. Either way the outcome is replicated to
  /// every live node. Removals are decided by the coordinator actor.
  caf::replies_to<reconcile_atom, reconcile_change>::with<reservation_record>>;

struct reservation_state {
  using time_point = caf::actor_clock::time_point;

  /// A change handed to the committer whose reply waits for it to be durable.
  struct pending_write {
    std::uint64_t token = 0;
    std::optional<caf::typed_response_promise<reservation_record>> reply;
    reservation_record snapshot;
    std::vector<alert_intent> intents;
    bool quit_after = false;
    /// What to send to the other nodes once durable here (cluster only).
    std::optional<repl_change> change;
  };

  node_context* ctx = nullptr;
  /// The coordinator that activated it: keeps its deadline, decides passivation.
  caf::actor owner;
  std::string key;
  reservation_record rec;
  /// Steady time of the last checkin (or of creation): deadlines are measured
  /// from here, so wall-clock jumps neither fire nor skip alerts.
  time_point base;
  /// Steady time of the end of the current snooze (meaningful while snoozed).
  time_point snooze_end;
  /// Steady time of the next repeat alert (meaningful while late).
  time_point repeat_at;
  /// Cron schedules: the steady deadline (next run + grace), converted from
  /// wall time once per checkin, change or restore; nullopt = frequency-based.
  std::optional<time_point> cron_due;
  /// Steady start of each open run, parallel to rec.runs.
  std::vector<time_point> run_starts;
  /// The wake-up the coordinator holds for it, if any, and the earliest one
  /// the evaluation running now asks for.
  std::optional<time_point> armed;
  std::optional<time_point> want;
  /// Messages from the coordinator handled so far (passivation handshake).
  std::uint32_t handled = 0;
  /// When the last of them arrived (actor clock).
  time_point last_active;
  /// Requests of its own awaiting an answer (replication), and whether a
  /// passivation request is out.
  std::uint32_t outstanding = 0;
  bool passivating = false;
  std::uint64_t next_token = 1;
  /// Writes in flight, oldest first; usually none or one. A vector, not a
  /// deque: libstdc++'s empty deque allocates ~600 bytes, per reservation.
  std::vector<pending_write> pending;
  bool closing = false;  ///< checked out; answers nothing more
  /// The count entry its coordinator holds for it (state_counts.hpp); a change
  /// is reported when persisted. nullopt: not counted (new, or removed).
  std::optional<count_entry> told;

  static inline const char* name = "gotel.reservation";
};

using reservation_pointer = reservation_actor::stateful_pointer<reservation_state>;

/// The intents of one alert about `rec` to `channels` (one per channel, ids from
/// ctx.next_intent_id), deduplicated by the missed deadline `missed`. Shared by
/// the actor and the coordinator's batch path.
std::vector<alert_intent> alert_intents(node_context& ctx, const reservation_record& rec,
                                        const std::vector<std::string>& channels,
                                        alert_kind kind, const std::string& message,
                                        unix_ms missed, unix_ms wall);

/// Spawn arguments: `rec` as stored (restored), or a fresh record whose
/// created_ms is now (`is_new`; the first reserve request persists it).
/// Wall minus steady time not known: stored times are converted with the wall
/// clock of now.
inline constexpr std::int64_t unknown_skew = INT64_MIN;

/// `skew_ms`: wall minus steady milliseconds of the stored times (from a
/// passivated actor), or unknown_skew.
reservation_actor::behavior_type reservation(reservation_pointer self, node_context* ctx,
                                             caf::actor owner, std::string key,
                                             reservation_record rec, bool is_new,
                                             std::int64_t skew_ms = unknown_skew);

}  // namespace gotel
