#include "actors/timer_shard.hpp"

#include "actors/messages.hpp"

namespace gotel {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

void schedule_tick(caf::stateful_actor<timer_shard_state>* self) {
  auto& st = self->state;
  if (st.heap.empty())
    return;
  auto due = st.heap.top().due_ns;
  if (st.tick_ns != 0 && st.tick_ns <= due)
    return;  // an earlier-or-equal tick is already pending
  st.tick_ns = due;
  auto now = self->clock().now();
  auto at = from_ns(due);
  auto delay = at > now ? at - now : caf::actor_clock::duration_type{0};
  self->delayed_send(self, delay, tick_atom::value, due);
}

}  // namespace

caf::behavior timer_shard(caf::stateful_actor<timer_shard_state>* self) {
  return {
    [=](arm_atom, std::int64_t due_ns, caf::actor_addr& target) {
      self->state.heap.push(timer_entry{due_ns, std::move(target)});
      schedule_tick(self);
    },
    [=](tick_atom, std::int64_t tick_ns) {
      auto& st = self->state;
      if (tick_ns != st.tick_ns)
        return;  // superseded by an earlier tick that already ran
      st.tick_ns = 0;
      auto now = to_ns(self->clock().now());
      while (!st.heap.empty() && st.heap.top().due_ns <= now) {
        auto entry = st.heap.top();
        st.heap.pop();
        if (auto target = caf::actor_cast<caf::actor>(entry.target))
          caf::anon_send(target, wake_atom::value, entry.due_ns);
      }
      schedule_tick(self);
    },
    [=](count_atom) -> std::uint64_t { return self->state.heap.size(); },
  };
}

}  // namespace gotel
