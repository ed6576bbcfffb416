#include "net/bridge.hpp"

#include "actors/errors.hpp"

namespace gotel {

caf::actor spawn_bridge(caf::actor_system& sys, coordinator_actor coordinator,
                        const node_context* ctx, std::chrono::milliseconds timeout) {
  auto dest = caf::actor_cast<caf::actor>(coordinator);
  return sys.spawn([dest, ctx, timeout](caf::event_based_actor* self) -> caf::behavior {
    auto local = [=](caf::message request, reply_fn fn) {
      self->request(dest, timeout, std::move(request))
        .then([fn](reservation_record& rec) { fn(std::move(rec)); },
              [fn](caf::error& err) { fn(std::move(err)); });
    };
    return {
      [=](ask_atom, caf::message& request, reply_fn& fn) {
        if (!ctx->cluster || ctx->coordinator.load(std::memory_order_acquire))
          return local(std::move(request), std::move(fn));
        self->request(ctx->cluster, timeout, forward_atom::value, request)
          .then([fn](reservation_record& rec) { fn(std::move(rec)); },
                [=](caf::error& err) {
                  if (code_of(err) == errc::no_coordinator)
                    local(request, fn);
                  else
                    fn(std::move(err));
                });
      },
    };
  });
}

void ask(const caf::actor& bridge, caf::message request, reply_fn fn) {
  caf::anon_send(bridge, ask_atom::value, std::move(request), std::move(fn));
}

}  // namespace gotel
