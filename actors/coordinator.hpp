#pragma once
/// The coordinator actor: owns the registry of reservations and routes every
/// request to the right one. Reservation actors are *virtual* (issue 15;
/// docs/scale.md): the registry keeps a small entry per reservation (its ping
/// uuid and when it next needs evaluation, in one indexed deadline heap), and a
/// reservation's actor exists only while it is needed. It is activated (spawned
/// from its stored record) when a message or its deadline needs it, and asks to
/// be passivated after `reservations.passivate_after` without messages; the
/// coordinator agrees only when every message it sent was handled, so nothing
/// in flight is lost or applied twice. A restore reads the records and spawns
/// nothing. An actor that dies is restarted from its stored state.
///
/// Thread-safety: an actor; the registry is touched only by its handlers.

#include "actors/context.hpp"
#include "actors/deadline_heap.hpp"
#include "actors/flat_index.hpp"
#include "actors/stable_map.hpp"
#include "actors/messages.hpp"
#include "actors/ping_id.hpp"
#include "actors/reservation.hpp"
#include "actors/state_counts.hpp"

#include <caf/all.hpp>

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gotel {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flagged_atom = caf::atom_constant<caf::atom("flagged")>;

using coordinator_actor = caf::typed_actor<
  caf::replies_to<reserve_atom, reserve_request>::with<reservation_record>,
  caf::replies_to<checkin_atom, checkin_request>::with<reservation_record>,
  caf::replies_to<snooze_atom, snooze_request>::with<reservation_record>,
  caf::replies_to<unsnooze_atom, key_request>::with<reservation_record>,
  caf::replies_to<checkout_atom, key_request>::with<reservation_record>,
  caf::replies_to<get_atom, key_request>::with<reservation_record>,
  /// Run and ping signals, by (app, component) or by ping uuid; a success is
  /// routed as a checkin; `create` makes an unknown (app, component) first.
  caf::replies_to<signal_atom, signal_request>::with<reservation_record>,
  caf::replies_to<count_atom>::with<std::uint64_t>,
  /// Keys of the reservations counted late now (flagged, not snoozed), in key
  /// order, after the first argument; at most the second argument of them.
  /// Lets ?status=late page without a scan (net/manage.cpp).
  caf::replies_to<flagged_atom, std::string, std::uint32_t>::with<std::vector<std::string>>,
  /// Deadlines held (reservations with a next evaluation time, active or not).
  caf::replies_to<arm_atom>::with<std::uint64_t>,
  /// From a reservation actor: when it next needs evaluation (actor-clock
  /// nanoseconds; 0 = never). Replaces its previous deadline.
  caf::reacts_to<arm_atom, std::string, std::int64_t>,
  /// From an idle reservation actor: it stops if every message the coordinator
  /// sent it (the count) was handled; its `due_ns` (as arm_atom) and the
  /// wall-minus-steady offset of its times stay here.
  caf::replies_to<passivate_atom, std::string, std::uint32_t, std::int64_t,
                  std::int64_t>::with<bool>,
  caf::reacts_to<tick_atom, std::int64_t>,
  /// From the group committer: the batch path's write `token` is durable (or
  /// failed): its intents go to the dispatcher, its records to the peers.
  caf::reacts_to<persisted_atom, std::uint64_t, bool>,
  /// From a reservation actor: its count entry changed (state_counts.hpp):
  /// present, flagged, failed, running, snooze_until_ms.
  caf::reacts_to<count_atom, std::string, bool, bool, bool, bool, std::int64_t>,
  /// Loads every stored reservation and spawns its actor; replies how many.
  caf::replies_to<restore_atom>::with<std::uint64_t>,
  /// A change replicated from the cluster's coordinator: routed to (or spawns)
  /// the reservation actor, which adopts it if newer.
  caf::replies_to<apply_atom, repl_change>::with<reservation_record>,
  /// Catch-up finished: removes every reservation whose key is not in the list.
  caf::replies_to<prune_atom, std::vector<std::string>>::with<std::uint64_t>,
  /// This node may alert now (it took over, or its lease came back): every
  /// reservation looks at its deadline again.
  caf::reacts_to<reevaluate_atom>,
  /// From a reservation actor that terminated abnormally: respawn it.
  caf::reacts_to<restart_atom, std::string, caf::actor_addr>,
  /// On the coordinator: a change another node made while not every node
  /// confirmed it (docs/cluster.md, reconciliation). A record is created or
  /// adopted as its reservation actor decides; a removal checks the
  /// reservation out only if it is still the record that was removed (same
  /// uuid, revision not higher). Replicated to every live node before the reply.
  caf::replies_to<reconcile_atom, reconcile_change>::with<reservation_record>>;

struct coordinator_state {
  struct entry {
    reservation_actor actor;  ///< the active actor; nullptr = dormant
    /// The reservation's ping uuid (index key in `uuids`), when canonical.
    std::optional<uuid_bits> uuid;
    const std::string* key = nullptr;  ///< its key in `registry` (node keys stay put)
    /// When the reservation next needs evaluation (actor clock, ns); 0 = never.
    std::int64_t due_ns = 0;
    std::uint32_t heap_pos = deadline_heap<entry>::npos;
    /// Messages sent to the current actor; it may passivate only when it has
    /// handled as many.
    std::uint32_t delivered = 0;
    /// Wall minus steady ms of the passivated actor's times (unknown_skew
    /// after a restore): its next activation converts with it.
    std::int64_t skew_ms = unknown_skew;
    bool closing = false;  ///< a checkout is being persisted
    /// Its share of ctx->reservation_counts (state_counts.hpp); nullopt = not
    /// counted (a new reservation not yet written).
    std::optional<count_entry> counted;
    /// Its deadline passed while this node could not alert: evaluated again on
    /// reevaluate_atom (takeover, lease back), not before.
    bool parked = false;
  };
  node_context* ctx = nullptr;
  stable_map<entry> registry;
  /// Every entry with a due_ns, earliest first; one pending tick for its top.
  deadline_heap<entry> deadlines;
  std::int64_t tick_ns = 0;  ///< due time of the pending tick; 0 = none
  /// Ping uuid -> reservation key, for /ping/<uuid>. Rebuilt from the records
  /// at restore and kept with the registry (create, replicated apply, removal).
  flat_index<uuid_bits, entry, uuid_bits_hash> uuids;
  /// Normalized app -> entries in `registry` (closing ones included: their slot
  /// is free once the removal is durable). Kept with the registry, so
  /// server.max_reservations_per_app is checked in O(1) and is right after a
  /// restore or a catch-up; an app whose count drops to zero is erased.
  stable_map<std::uint64_t> per_app;
  /// Records the batch path changed whose write is not durable yet: an
  /// activation or a read in the meantime starts from these, not the store.
  std::unordered_map<std::string, reservation_record> unwritten;
  /// A batch path write on its way to disk.
  struct judged_batch {
    std::vector<alert_intent> intents;
    std::vector<repl_change> changes;  ///< for the peers (in a cluster)
    std::vector<std::pair<std::string, std::uint64_t>> written;  ///< key, revision
  };
  std::unordered_map<std::uint64_t, judged_batch> judged;
  std::uint64_t next_judged = 1;
  std::uint64_t restarts = 0;
  std::uint64_t active = 0;  ///< entries with an actor
  /// The coordinator takes its reservation actors down with it.
  ~coordinator_state() {
    for (auto& kv : registry)
      if (kv.second.actor)
        caf::anon_send_exit(kv.second.actor, caf::exit_reason::user_shutdown);
  }
  static inline const char* name = "gotel.coordinator";
};

using coordinator_pointer = coordinator_actor::stateful_pointer<coordinator_state>;

coordinator_actor::behavior_type coordinator(coordinator_pointer self, node_context* ctx);

}  // namespace gotel
