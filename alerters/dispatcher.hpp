#pragma once
/// The alert dispatcher: takes alert intents that are already in the outbox
/// (persisted in the same atomic batch as the reservation change that caused
/// them), delivers each through its channel on a small blocking pool, and on
/// success deletes it from the outbox and appends to the alert log. Each
/// channel has its own pool (bounded threads and queue). Failures are
/// retried with bounded exponential backoff and jitter until `expire`; restart
/// resumes every pending intent (resume_atom).
///
/// Alert storms: per channel, at most `storm_threshold` new intents within one
/// `storm_window` are delivered one by one; the rest are folded into a single
/// grouped notice for that channel (itself an outbox intent, sent at the end
/// of the window). A folded intent leaves the outbox in the same batch that
/// logs it with outcome "grouped" and writes the notice: nothing is lost from
/// the alert log.
///
/// Mail budgets (issue 14 section 5), on channels that send one message per
/// recipient (alert_channel::mails_recipients(), the e-mail alerter): an
/// intent mails at most `max_recipients` of its `notify` addresses (the rest
/// are cut and counted), and within one clock-aligned `mail_window` at most
/// `mail_per_recipient` messages go to one address and `mail_total` in all.
/// A recipient over budget is not dropped: the alert is added to that
/// recipient's digest (an outbox intent, dedup key `digest:<id>`) sent at the
/// next window, and the intent is logged "deferred to digest" (every
/// recipient deferred) or "partly deferred to digest".
///
/// Messages (dynamically typed actor):
///   (dispatch_atom, std::vector<alert_intent>)  -> void   new intents, already durable
///   (resume_atom)                               -> void   load all pending intents from the store
///   (stats_atom)                                -> dispatcher_stats

#include "alerters/channel.hpp"
#include "storage/group_commit.hpp"
#include "storage/store.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace gotel {

struct dispatcher_stats {
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t expired = 0;
  std::uint64_t pending = 0;  ///< intents in the outbox right now
  std::uint64_t grouped = 0;  ///< intents folded into alert-storm notices
  std::uint64_t mail_deferred = 0;      ///< recipient messages deferred to a digest
  std::uint64_t mail_digests = 0;       ///< digests delivered
  std::uint64_t recipients_capped = 0;  ///< recipients cut by max_recipients
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dispatcher_stats& x) {
  return f(caf::meta::type_name("dispatcher_stats"), x.delivered, x.failed_attempts,
           x.expired, x.pending, x.grouped, x.mail_deferred, x.mail_digests,
           x.recipients_capped);
}

struct dispatcher_options {
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{300000};
  std::chrono::milliseconds expire{24 * 3600 * 1000};
  /// Concurrent deliveries per channel: each channel has its own threads, so
  /// a slow or hung channel never delays another (issue 14 section 4).
  std::size_t pool_threads = 2;
  /// Deliveries queued per channel beyond the running ones; further intents
  /// wait in the outbox and are tried again after retry_initial.
  std::size_t channel_queue = 1000;
  /// Deliver on the dispatcher's own thread instead of the pool: deterministic
  /// actor tests on virtual time. Never in production (channels block).
  bool inline_delivery = false;
  /// New intents per channel per window sent one by one; 0 = never group.
  std::size_t storm_threshold = 50;
  std::chrono::milliseconds storm_window{10000};
  /// Jobs named in a grouped notice (the rest are counted).
  std::size_t storm_list = 20;
  /// Mail budgets (see above); 0 = unlimited (the configuration requires >= 1).
  std::size_t max_recipients = 10;
  std::size_t mail_per_recipient = 10;
  std::size_t mail_total = 120;
  std::chrono::milliseconds mail_window{60000};
  /// Alerts named one by one in a digest (the rest are counted).
  std::size_t digest_list = 50;
};

struct dispatcher_env {
  storage::store* db = nullptr;
  storage::group_committer* committer = nullptr;
  std::vector<std::shared_ptr<alert_channel>> channels;
  std::function<unix_ms()> wall_now;          ///< injected wall clock
  std::atomic<std::uint64_t>* log_seq = nullptr;  ///< alert log sequence, shared
  dispatcher_options opts;
  /// Intent id sequence shared with the reservation actors (node_context::
  /// next_intent_id: the next id to use). Null: the dispatcher continues after
  /// the highest id in the outbox.
  std::atomic<std::uint64_t>* intent_seq = nullptr;
};

/// Spawns the dispatcher. It owns its pool and stops it when it terminates.
caf::actor spawn_dispatcher(caf::actor_system& sys, dispatcher_env env);

}  // namespace gotel
