#include "net/bridge.hpp"

namespace gotel {

caf::actor spawn_bridge(caf::actor_system& sys, coordinator_actor coordinator,
                        std::chrono::milliseconds timeout) {
  auto dest = caf::actor_cast<caf::actor>(coordinator);
  return sys.spawn([dest, timeout](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](ask_atom, caf::message& request, reply_fn& fn) {
        self->request(dest, timeout, std::move(request))
          .then([fn](reservation_record& rec) { fn(std::move(rec)); },
                [fn](caf::error& err) { fn(std::move(err)); });
      },
    };
  });
}

void ask(const caf::actor& bridge, caf::message request, reply_fn fn) {
  caf::anon_send(bridge, ask_atom::value, std::move(request), std::move(fn));
}

}  // namespace gotel
