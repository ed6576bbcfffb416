#pragma once
/// The coordinator actor: owns the registry (app, component) -> reservation
/// actor, spawns and supervises reservation actors (one that dies is restarted
/// from its stored state), and routes every request to the right one.
///
/// Thread-safety: an actor; the registry is touched only by its handlers.

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/reservation.hpp"

#include <caf/all.hpp>

#include <string>
#include <unordered_map>

namespace gotel {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;

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
    reservation_actor actor;
    bool closing = false;  ///< a checkout is being persisted
    std::string uuid;      ///< the reservation's ping uuid (index key in `uuids`)
  };
  node_context* ctx = nullptr;
  std::unordered_map<std::string, entry> registry;
  /// Ping uuid -> reservation key, for /ping/<uuid>. Rebuilt from the records
  /// at restore and kept with the registry (create, replicated apply, removal).
  std::unordered_map<std::string, std::string> uuids;
  /// Normalized app -> entries in `registry` (closing ones included: their slot
  /// is free once the removal is durable). Kept with the registry, so
  /// server.max_reservations_per_app is checked in O(1) and is right after a
  /// restore or a catch-up; an app whose count drops to zero is erased.
  std::unordered_map<std::string, std::uint64_t> per_app;
  std::uint64_t restarts = 0;
  /// The coordinator takes its reservation actors down with it.
  ~coordinator_state() {
    for (auto& kv : registry)
      caf::anon_send_exit(kv.second.actor, caf::exit_reason::user_shutdown);
  }
  static inline const char* name = "gotel.coordinator";
};

using coordinator_pointer = coordinator_actor::stateful_pointer<coordinator_state>;

coordinator_actor::behavior_type coordinator(coordinator_pointer self, node_context* ctx);

}  // namespace gotel
