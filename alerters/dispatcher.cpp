#include "alerters/dispatcher.hpp"

#include "actors/messages.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

namespace gotel {

namespace {

/// A fixed set of threads running blocking jobs (channel deliveries) in FIFO
/// order. The destructor finishes the running jobs, drops the queued ones and
/// joins: it blocks for at most one channel timeout.
class blocking_pool {
 public:
  using job = std::function<void()>;

  explicit blocking_pool(std::size_t threads) {
    threads = std::max<std::size_t>(threads, 1);
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run(); });
  }

  ~blocking_pool() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
      // Queued deliveries are still in the outbox; the next start resumes them.
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  void post(job j) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      queue_.push_back(std::move(j));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      job j;
      {
        std::unique_lock<std::mutex> lock{mtx_};
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_)
          return;
        j = std::move(queue_.front());
        queue_.pop_front();
      }
      j();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

struct dispatcher_state {
  dispatcher_env env;
  std::unordered_map<std::string, std::shared_ptr<alert_channel>> channels;
  /// The outbox mirror: every intent this dispatcher has not yet delivered or
  /// expired, by id.
  std::map<std::uint64_t, alert_intent> pending;
  /// Ids whose delivery is running now; an id is never delivered twice at once.
  std::set<std::uint64_t> in_flight;
  dispatcher_stats stats;
  /// Used when env.log_seq is null; starts after the highest stored entry.
  std::atomic<std::uint64_t> own_log_seq{0};
  /// Declared last: destroyed (joined) first, while the rest is still valid.
  std::unique_ptr<blocking_pool> pool;

  static inline const char* name = "gotel.dispatcher";
};

using dispatcher_actor = caf::stateful_actor<dispatcher_state>;

std::uint64_t next_log_seq(dispatcher_state& st) {
  auto* seq = st.env.log_seq != nullptr ? st.env.log_seq : &st.own_log_seq;
  return seq->fetch_add(1) + 1;
}

void log_commit_error(const storage::status& st) {
  if (!st.ok())
    spdlog::error("alert dispatcher: outbox write failed: {}", st.message);
}

alert_log_entry log_entry_for(const alert_intent& intent, unix_ms now, std::string outcome) {
  alert_log_entry e;
  e.at_ms = now;
  e.job_id = intent.job_id;
  e.app = intent.app;
  e.component = intent.component;
  e.kind = intent.kind;
  e.channel = intent.channel;
  e.dedup_key = intent.dedup_key;
  e.outcome = std::move(outcome);
  return e;
}

/// Removes `id` from the outbox and logs `outcome`, in one atomic batch.
void finish(dispatcher_actor* self, std::uint64_t id, const std::string& outcome) {
  auto& st = self->state;
  auto i = st.pending.find(id);
  if (i == st.pending.end())
    return;
  storage::write_batch batch;
  batch.erase_intent(id);
  batch.append(next_log_seq(st), log_entry_for(i->second, st.env.wall_now(), outcome));
  st.env.committer->submit(std::move(batch), log_commit_error);
  st.pending.erase(i);
  st.stats.pending = st.pending.size();
}

void expire(dispatcher_actor* self, std::uint64_t id) {
  auto& st = self->state;
  auto i = st.pending.find(id);
  if (i == st.pending.end())
    return;
  const auto& in = i->second;
  spdlog::error("alert expired undelivered: app={} component={} channel={} dedup_key={} "
                "attempts={} last_error={}",
                in.app, in.component, in.channel, in.dedup_key, in.attempts, in.last_error);
  ++st.stats.expired;
  finish(self, id, "expired");
}

/// The wait before attempt `attempts + 1`: retry_initial doubled per failed
/// attempt, capped at retry_max, then +-20% jitter so that intents failing
/// together do not retry together. Seeded from the id: deterministic.
std::chrono::milliseconds backoff_for(const dispatcher_options& opts, std::uint64_t id,
                                      std::uint32_t attempts) {
  auto base = opts.retry_initial.count();
  auto cap = opts.retry_max.count();
  for (std::uint32_t i = 1; i < attempts && base < cap; ++i)
    base *= 2;
  base = std::min(base, cap);
  std::minstd_rand rng{static_cast<std::minstd_rand::result_type>(id * 31 + attempts)};
  std::uniform_real_distribution<double> jitter{0.8, 1.2};
  auto ms = static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng));
  return std::chrono::milliseconds{std::max<std::int64_t>(ms, 1)};
}

void on_result(dispatcher_actor* self, std::uint64_t id, delivery_result res) {
  auto& st = self->state;
  st.in_flight.erase(id);
  auto i = st.pending.find(id);
  if (i == st.pending.end())
    return;
  if (res.delivered) {
    ++st.stats.delivered;
    finish(self, id, "delivered");
    return;
  }
  ++st.stats.failed_attempts;
  auto& in = i->second;
  ++in.attempts;
  in.last_error = res.error;
  auto now = st.env.wall_now();
  if (!res.retryable || now - in.created_ms >= st.env.opts.expire.count()) {
    expire(self, id);
    return;
  }
  auto delay = backoff_for(st.env.opts, id, in.attempts);
  in.next_attempt_ms = now + delay.count();
  spdlog::warn("alert delivery failed: app={} component={} channel={} attempt={} error={}; "
               "retry in {} ms",
               in.app, in.component, in.channel, in.attempts, in.last_error, delay.count());
  storage::write_batch batch;
  batch.put(in);
  st.env.committer->submit(std::move(batch), log_commit_error);
  self->delayed_send(self, delay, retry_atom::value, id);
}

/// Starts one delivery attempt of pending intent `id` unless one is running.
void attempt(dispatcher_actor* self, std::uint64_t id) {
  auto& st = self->state;
  auto i = st.pending.find(id);
  if (i == st.pending.end() || st.in_flight.count(id) > 0)
    return;
  auto ch = st.channels.find(i->second.channel);
  if (ch == st.channels.end()) {
    spdlog::error("alert dispatcher: no channel named '{}' (intent {})", i->second.channel, id);
    i->second.last_error = "no such channel";
    expire(self, id);
    return;
  }
  st.in_flight.insert(id);
  if (st.env.opts.inline_delivery) {
    on_result(self, id, ch->second->deliver(i->second));
    return;
  }
  // The job holds a weak handle: a dispatcher that terminated is not kept alive
  // by its own pool, and the result of a late delivery is dropped.
  st.pool->post([channel = ch->second, intent = i->second,
                 addr = caf::actor_cast<caf::actor_addr>(self)] {
    auto res = channel->deliver(intent);
    if (auto dest = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(dest, delivered_atom::value, intent.id, res.delivered, res.retryable,
                     std::move(res.error));
  });
}

/// Adds `intent` to the mirror (unless known) and schedules its first attempt.
void admit(dispatcher_actor* self, alert_intent intent) {
  auto& st = self->state;
  auto id = intent.id;
  if (st.pending.count(id) > 0)
    return;  // already pending: its own attempt or retry timer is under way
  auto wait_ms = intent.next_attempt_ms - st.env.wall_now();
  st.pending.emplace(id, std::move(intent));
  st.stats.pending = st.pending.size();
  if (wait_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds{wait_ms}, retry_atom::value, id);
  else
    attempt(self, id);
}

caf::behavior dispatcher_impl(dispatcher_actor* self, dispatcher_env env) {
  auto& st = self->state;
  st.env = std::move(env);
  for (auto& ch : st.env.channels)
    if (ch)
      st.channels.emplace(std::string{ch->name()}, ch);
  if (st.env.log_seq == nullptr && st.env.db != nullptr)
    st.own_log_seq = st.env.db->last_alert_log_seq();
  if (!st.env.opts.inline_delivery)
    st.pool = std::make_unique<blocking_pool>(st.env.opts.pool_threads);
  return {
    [=](dispatch_atom, std::vector<alert_intent>& intents) {
      for (auto& in : intents)
        admit(self, std::move(in));
    },
    [=](resume_atom) {
      // One scan at start-up; the outbox holds only undelivered alerts.
      std::vector<alert_intent> loaded;
      auto status = self->state.env.db->for_each_intent([&loaded](alert_intent&& in) {
        loaded.push_back(std::move(in));
        return true;
      });
      if (!status.ok())
        spdlog::error("alert dispatcher: reading the outbox failed: {}", status.message);
      spdlog::info("alert dispatcher: resuming {} pending alert(s)", loaded.size());
      for (auto& in : loaded)
        admit(self, std::move(in));
    },
    [=](retry_atom, std::uint64_t id) { attempt(self, id); },
    [=](delivered_atom, std::uint64_t id, bool delivered, bool retryable, std::string& error) {
      on_result(self, id, delivery_result{delivered, retryable, std::move(error)});
    },
    [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

caf::actor spawn_dispatcher(caf::actor_system& sys, dispatcher_env env) {
  return sys.spawn(dispatcher_impl, std::move(env));
}

}  // namespace gotel
