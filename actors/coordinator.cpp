#include "actors/coordinator.hpp"

#include "actors/errors.hpp"

namespace gotel {

namespace {

caf::error no_reservation(const std::string& app, const std::string& component) {
  return make_error(errc::not_found, "no reservation " + app + "/" + component);
}

/// Spawns the actor for `key` and arranges for the coordinator to hear of an
/// abnormal exit (a crash), so it can restart it from storage.
reservation_actor spawn_reservation(coordinator_pointer self, const std::string& key,
                                    reservation_record rec, bool is_new) {
  auto hdl = self->spawn(reservation, self->state.ctx, key, std::move(rec), is_new);
  auto coord = caf::actor_cast<caf::actor>(self);
  auto addr = hdl.address();  // weak: the functor must not keep its actor alive
  hdl->attach_functor([coord, key, addr](const caf::error& reason) {
    if (reason && reason != caf::exit_reason::normal)
      caf::anon_send(coord, restart_atom::value, key, addr);
  });
  return hdl;
}

/// The live entry for (app, component), or nullptr.
coordinator_state::entry* find(coordinator_pointer self, const std::string& app,
                               const std::string& component) {
  auto i = self->state.registry.find(reservation_key(app, component));
  return i == self->state.registry.end() ? nullptr : &i->second;
}

}  // namespace

coordinator_actor::behavior_type coordinator(coordinator_pointer self, node_context* ctx) {
  self->state.ctx = ctx;
  return {
    [=](reserve_atom, reserve_request& req) -> caf::result<reservation_record> {
      auto& st = self->state;
      auto key = reservation_key(req.app, req.component);
      auto i = st.registry.find(key);
      if (i != st.registry.end()) {
        if (i->second.closing)
          return make_error(errc::conflict, "reservation " + req.app + "/" + req.component
                                              + " is being checked out; retry");
        return self->delegate(i->second.actor, reserve_atom::value, std::move(req));
      }
      reservation_record rec;
      rec.job_id = st.ctx->next_job_id.fetch_add(1);
      rec.app = req.app;
      rec.component = req.component;
      rec.owner = req.owner;
      rec.created_ms = st.ctx->wall_now();
      auto hdl = spawn_reservation(self, key, std::move(rec), true);
      st.registry.emplace(key, coordinator_state::entry{hdl, false});
      return self->delegate(hdl, reserve_atom::value, std::move(req));
    },
    [=](checkin_atom, checkin_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      return self->delegate(e->actor, checkin_atom::value, std::move(req));
    },
    [=](snooze_atom, snooze_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      return self->delegate(e->actor, snooze_atom::value, std::move(req));
    },
    [=](unsnooze_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      return self->delegate(e->actor, unsnooze_atom::value);
    },
    [=](get_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      return self->delegate(e->actor, get_atom::value);
    },
    [=](checkout_atom, key_request& req) -> caf::result<reservation_record> {
      auto e = find(self, req.app, req.component);
      if (!e || e->closing)
        return no_reservation(req.app, req.component);
      // The entry stays (closing) until the removal is durable, so a new
      // reservation for the same key cannot race the old one's delete.
      e->closing = true;
      auto key = reservation_key(req.app, req.component);
      auto hdl = e->actor;
      auto rp = self->make_response_promise<reservation_record>();
      self->request(hdl, caf::infinite, checkout_atom::value)
        .then(
          [=](reservation_record& rec) mutable {
            auto i = self->state.registry.find(key);
            if (i != self->state.registry.end() && i->second.actor == hdl)
              self->state.registry.erase(i);
            rp.deliver(std::move(rec));
          },
          [=](caf::error& err) mutable {
            auto i = self->state.registry.find(key);
            if (i != self->state.registry.end() && i->second.actor == hdl)
              i->second.closing = false;
            rp.deliver(std::move(err));
          });
      return rp;
    },
    [=](count_atom) -> std::uint64_t { return self->state.registry.size(); },
    [=](restore_atom) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      std::uint64_t restored = 0;
      std::uint64_t max_id = 0;
      // A blocking scan, once, before the node serves HTTP (~0.3 s per 1M keys).
      auto status = st.ctx->db->for_each_reservation(
        [&](const std::string& key, reservation_record&& rec) {
          max_id = std::max(max_id, rec.job_id);
          auto hdl = spawn_reservation(self, key, std::move(rec), false);
          st.registry[key] = coordinator_state::entry{hdl, false};
          ++restored;
          return true;
        });
      if (!status.ok())
        return make_error(errc::storage_failure, "restore failed: " + status.message);
      storage::status meta_status;
      std::uint64_t stored_next = 0;
      if (auto meta = st.ctx->db->get_meta("next_job_id", meta_status))
        stored_next = std::strtoull(meta->c_str(), nullptr, 10);
      auto next = std::max({st.ctx->next_job_id.load(), max_id + 1, stored_next});
      st.ctx->next_job_id.store(next);
      return restored;
    },
    [=](restart_atom, std::string& key, caf::actor_addr& dead) {
      auto& st = self->state;
      auto i = st.registry.find(key);
      if (i == st.registry.end() || i->second.closing || i->second.actor.address() != dead)
        return;
      storage::status status;
      auto rec = st.ctx->db->get_reservation(key, status);
      if (!rec) {
        st.registry.erase(i);  // never persisted: nothing to restore
        return;
      }
      st.restarts += 1;
      i->second.actor = spawn_reservation(self, key, std::move(*rec), false);
    },
  };
}

}  // namespace gotel
