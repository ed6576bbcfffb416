#pragma once
/// A reservation actor: one per (app, component). It holds the reservation's
/// state and its own deadline, answers checkins, snoozes and checkouts only after
/// the change is durable (group commit), and turns a missed deadline into alert
/// intents that are persisted in the same batch as the state change that records
/// them. Its timer lives in a timer shard (timer_shard.hpp), which wakes it.
///
/// Thread-safety: an actor; state is touched only by its own handlers.

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/state_counts.hpp"

#include <caf/all.hpp>

#include <optional>
#include <string>
#include <vector>

namespace gotel {

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
  /// The earliest wake-up requested from the timer shard, if any.
  std::optional<time_point> armed;
  std::uint64_t next_token = 1;
  /// Writes in flight, oldest first; usually none or one. A vector, not a
  /// deque: libstdc++'s empty deque allocates ~600 bytes, per reservation.
  std::vector<pending_write> pending;
  bool closing = false;  ///< checked out; answers nothing more
  /// This reservation's share of ctx->reservation_counts (state_counts.hpp).
  counted_reservation counted;

  static inline const char* name = "gotel.reservation";
};

using reservation_pointer = reservation_actor::stateful_pointer<reservation_state>;

/// Spawn arguments: `rec` as stored (restored), or a fresh record whose
/// created_ms is now (`is_new`; the first reserve request persists it).
reservation_actor::behavior_type reservation(reservation_pointer self, node_context* ctx,
                                             std::string key, reservation_record rec,
                                             bool is_new);

}  // namespace gotel
