#include "net/bridge.hpp"

#include "actors/errors.hpp"
#include "storage/utf8.hpp"

#include <spdlog/spdlog.h>

namespace gotel {

void deliver(const reply_fn& fn, caf::expected<reservation_record> value) {
  // A callback that throws (a bug while writing the answer) must not end the
  // bridge, which carries every other request: it is logged and the request
  // answered 500 (a second answer, if the first got out, is dropped by the
  // server's responder).
  try {
    fn(std::move(value));
    return;
  } catch (const std::exception& e) {
    spdlog::error("bridge: answering a request failed: {}", utf8::printable(e.what()));
  } catch (...) {
    spdlog::error("bridge: answering a request failed");
  }
  try {
    fn(make_error(errc::internal, "internal error; see the server log"));
  } catch (...) {
    spdlog::error("bridge: answering a request with 500 failed too");
  }
}

std::string bridge_health::why() const {
  if (healthy())
    return {};
  if (!supervised.load())
    return "the bridge supervisor stopped; requests may go unanswered";
  return std::to_string(lost.load()) + " bridge actor(s) died and could not be respawned";
}

caf::actor spawn_bridge_supervisor(caf::actor_system& sys, std::vector<caf::actor>& bridges,
                                   std::mutex& mtx, std::function<caf::actor()> spawn,
                                   bridge_health& health) {
  auto sup = sys.spawn([&bridges, &mtx, spawn, &health](caf::event_based_actor* self)
                         -> caf::behavior {
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& b : bridges)
        self->monitor(b);
    }
    self->set_down_handler([self, &bridges, &mtx, spawn, &health](caf::down_msg& dm) {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& b : bridges) {
        if (b.address() != dm.source)
          continue;
        spdlog::error("bridge actor exited ({}); respawning it",
                      utf8::printable(caf::to_string(dm.reason)));
        caf::actor fresh;
        try {
          fresh = spawn();
        } catch (const std::exception& e) {
          spdlog::error("bridge: respawning failed: {}", utf8::printable(e.what()));
        }
        if (!fresh) {
          health.lost.fetch_add(1);
          return;
        }
        self->monitor(fresh);
        b = std::move(fresh);
        health.restarts.fetch_add(1);
        return;
      }
    });
    // Only down messages matter; a behavior keeps the supervisor alive.
    return {[](ask_atom) {}};
  });
  sup->attach_functor([&health] { health.supervised.store(false); });
  return sup;
}

caf::actor spawn_bridge(caf::actor_system& sys, coordinator_actor coordinator,
                        const node_context* ctx, std::chrono::milliseconds timeout) {
  auto dest = caf::actor_cast<caf::actor>(coordinator);
  return sys.spawn([dest, ctx, timeout](caf::event_based_actor* self) -> caf::behavior {
    auto local = [=](caf::message request, reply_fn fn) {
      self->request(dest, timeout, std::move(request))
        .then([fn](reservation_record& rec) { deliver(fn, std::move(rec)); },
              [fn](caf::error& err) { deliver(fn, std::move(err)); });
    };
    return {
      [=](ask_atom, caf::message& request, reply_fn& fn) {
        if (!ctx->cluster || ctx->coordinator.load(std::memory_order_acquire))
          return local(std::move(request), std::move(fn));
        self->request(ctx->cluster, timeout, forward_atom::value, request)
          .then([fn](reservation_record& rec) { deliver(fn, std::move(rec)); },
                [=](caf::error& err) {
                  if (code_of(err) == errc::no_coordinator)
                    local(request, fn);
                  else
                    deliver(fn, std::move(err));
                });
      },
    };
  });
}

void ask(const caf::actor& bridge, caf::message request, reply_fn fn) {
  caf::anon_send(bridge, ask_atom::value, std::move(request), std::move(fn));
}

}  // namespace gotel
