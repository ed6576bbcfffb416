#include "alerters/dispatcher.hpp"

#include "actors/messages.hpp"
#include "alerters/render.hpp"

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

/// One channel's alert-storm window (see dispatcher.hpp).
struct storm_window {
  unix_ms start = 0;
  unix_ms end = 0;          ///< 0 = no window open
  std::size_t count = 0;    ///< new intents seen in this window
  std::size_t grouped = 0;  ///< of which folded into the notice
  std::size_t by_kind[3] = {0, 0, 0};
  std::vector<std::string> first_jobs;  ///< "app/component (kind)", at most storm_list
  std::vector<std::string> recipients;  ///< distinct notify recipients of folded intents
  std::uint64_t notice_id = 0;          ///< the notice collecting this window; 0 = none
};

/// An alert-storm incident: a notice sent (or to be sent) as a problem, and
/// the folded problem alerts it stands for. Their recoveries are folded into
/// one recovery notice under the incident's own dedup key, which resolves it.
struct storm_incident {
  std::string channel;
  std::set<std::string> open;         ///< dedup keys folded in and not yet recovered
  std::size_t jobs = 0;               ///< distinct dedup keys ever folded in
  std::size_t recovered = 0;          ///< recoveries folded into the pending recovery notice
  std::vector<std::string> recovered_jobs;  ///< "app/component", at most storm_list
  std::vector<std::string> recipients;      ///< of the recoveries folded in
  std::uint64_t recovery_id = 0;      ///< the pending recovery notice; 0 = none
};

/// What the dispatcher remembers of a problem alert (late/repeat) on a
/// grouping channel until the job recovers: whether it went out on its own (its
/// own incident is open at the receiver) and which storm incidents hold it.
struct problem_trace {
  bool alone = false;
  std::vector<std::string> incidents;  ///< storm notice dedup keys
};

/// One channel's mail budget in the current window (issue 14 section 5).
struct mail_budget {
  std::int64_t window = -1;  ///< wall time / mail_window; -1 = none yet
  std::size_t total = 0;     ///< messages started in this window
  std::unordered_map<std::string, std::size_t> sent;  ///< of which per recipient
  bool warned = false;       ///< the first deferral of the window was logged
};

/// The digest collecting one recipient's deferred alerts.
struct digest_state {
  std::uint64_t id = 0;      ///< the digest intent; 0 = none
  std::size_t alerts = 0;    ///< alerts summarised in it
  std::size_t by_kind[3] = {0, 0, 0};
  std::vector<std::string> lines;  ///< "<time> app/component (kind)", at most digest_list
};

struct dispatcher_state {
  dispatcher_env env;
  std::unordered_map<std::string, std::shared_ptr<alert_channel>> channels;
  /// The outbox mirror: every intent this dispatcher has not yet delivered or
  /// expired, by id.
  std::map<std::uint64_t, alert_intent> pending;
  /// Ids whose delivery is running or queued now, with their channel; an id is
  /// never delivered twice at once.
  std::map<std::uint64_t, std::string> in_flight;
  /// Deliveries running or queued per channel (at most channel_threads +
  /// channel_queue; the rest wait in the outbox).
  std::unordered_map<std::string, std::size_t> busy;
  dispatcher_stats stats;
  /// Used when env.log_seq is null; starts after the highest stored entry.
  std::atomic<std::uint64_t> own_log_seq{0};
  /// Used when env.intent_seq is null: the next id after every id seen.
  std::atomic<std::uint64_t> own_intent_seq{1};
  std::unordered_map<std::string, storm_window> storms;
  /// Storm incidents by their notice's dedup key, until every folded job recovered.
  std::map<std::string, storm_incident> incidents;
  /// Problem alerts not yet recovered, by channel + '\n' + dedup key.
  std::unordered_map<std::string, problem_trace> problems;
  /// Pending storm recovery notices: notice id -> its incident's dedup key.
  std::map<std::uint64_t, std::string> recovery_notices;
  /// Mail budgets by channel, and open digests by channel + '\n' + recipient.
  std::unordered_map<std::string, mail_budget> budgets;
  std::unordered_map<std::string, digest_state> digests;
  /// One pool per channel, so a hung channel (a relay that never answers)
  /// never delays another. Declared last: destroyed (joined) first.
  std::unordered_map<std::string, std::unique_ptr<blocking_pool>> pools;

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

/// Removes `id` from the outbox and logs `outcome`, in one atomic batch
/// (together with the changes already in `batch`).
void finish(dispatcher_actor* self, std::uint64_t id, const std::string& outcome,
            storage::write_batch batch = {}) {
  auto& st = self->state;
  auto i = st.pending.find(id);
  if (i == st.pending.end())
    return;
  batch.erase_intent(id);
  batch.append(next_log_seq(st), log_entry_for(i->second, st.env.wall_now(), outcome));
  st.env.committer->submit(std::move(batch), log_commit_error);
  // A digest that went out (or gave up) collects nothing more: forget it.
  if (is_mail_digest(i->second))
    if (auto d = st.digests.find(i->second.channel + '\n' + i->second.notify);
        d != st.digests.end() && d->second.id == id)
      st.digests.erase(d);
  st.pending.erase(i);
  st.stats.pending = st.pending.size();
  // A storm recovery notice that went out (or gave up) ends its wave; the
  // incident is forgotten once every job folded into it has recovered.
  if (auto r = st.recovery_notices.find(id); r != st.recovery_notices.end()) {
    if (auto inc = st.incidents.find(r->second); inc != st.incidents.end()) {
      if (inc->second.recovery_id == id)
        inc->second.recovery_id = 0;
      if (inc->second.open.empty() && inc->second.recovery_id == 0)
        st.incidents.erase(inc);
    }
    st.recovery_notices.erase(r);
  }
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

/// Whether `progress` (alert_intent::progress) holds a recipient deferred to a
/// digest, or one sent to.
bool any_deferred(const std::string& progress) {
  for (auto& r : split_recipients(progress))
    if (r.front() == deferred_mark)
      return true;
  return false;
}

bool any_sent(const std::string& progress) {
  for (auto& r : split_recipients(progress))
    if (r.front() != deferred_mark)
      return true;
  return false;
}

void on_result(dispatcher_actor* self, std::uint64_t id, delivery_result res) {
  auto& st = self->state;
  if (auto f = st.in_flight.find(id); f != st.in_flight.end()) {
    if (auto b = st.busy.find(f->second); b != st.busy.end() && b->second > 0)
      --b->second;
    st.in_flight.erase(f);
  }
  auto i = st.pending.find(id);
  if (i == st.pending.end())
    return;
  // Partial progress (e-mail recipients already sent to) survives retries and
  // restarts: it is persisted with the retry state below.
  if (!res.progress.empty())
    i->second.progress = res.progress;
  if (res.delivered) {
    ++st.stats.delivered;
    if (is_mail_digest(i->second))
      ++st.stats.mail_digests;
    finish(self, id, any_deferred(i->second.progress) ? "partly deferred to digest" : "delivered");
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

bool spend_mail_budget(dispatcher_actor* self, alert_intent& in);

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
  auto& busy = st.busy[ch->first];
  if (!st.env.opts.inline_delivery
      && busy >= st.env.opts.pool_threads + st.env.opts.channel_queue) {
    // The channel's queue is full: the intent waits in the outbox and tries
    // again later; no attempt is counted.
    self->delayed_send(self, st.env.opts.retry_initial, retry_atom::value, id);
    return;
  }
  if (ch->second->mails_recipients() && !spend_mail_budget(self, i->second))
    return;  // nothing to send now: deferred to digests, or a digest waits
  ++busy;
  st.in_flight.emplace(id, ch->first);
  if (st.env.opts.inline_delivery) {
    on_result(self, id, ch->second->deliver(i->second));
    return;
  }
  // The job holds a weak handle: a dispatcher that terminated is not kept alive
  // by its own pool, and the result of a late delivery is dropped.
  st.pools.at(ch->first)->post([channel = ch->second, intent = i->second,
                 addr = caf::actor_cast<caf::actor_addr>(self)] {
    auto res = channel->deliver(intent);
    if (auto dest = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(dest, delivered_atom::value, intent.id, res.delivered, res.retryable,
                     std::move(res.error), std::move(res.progress));
  });
}

/// Adds `intent` to the mirror (unless known) and schedules its first attempt.
void schedule(dispatcher_actor* self, alert_intent intent) {
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

/// The key of dispatcher_state::problems.
std::string problem_key(const std::string& channel, const std::string& dedup_key) {
  return channel + '\n' + dedup_key;
}

std::uint64_t next_intent_id(dispatcher_state& st) {
  auto* seq = st.env.intent_seq != nullptr ? st.env.intent_seq : &st.own_intent_seq;
  return seq->fetch_add(1);
}

/// A new storm notice (gotel/alert-storm) on `channel`: its id, who it is
/// from, and when it was made and is due; the caller sets key and text.
/// An intent GoTel itself raises on `channel` (app and owner "gotel",
/// `component` naming what it is: an alert-storm notice, a mail digest).
alert_intent new_own_notice(dispatcher_state& st, alert_kind kind, const std::string& channel,
                            std::string component, unix_ms deadline_ms, unix_ms now,
                            unix_ms due_ms) {
  alert_intent notice;
  notice.id = next_intent_id(st);
  notice.kind = kind;
  notice.channel = channel;
  notice.app = "gotel";
  notice.component = std::move(component);
  notice.owner = "gotel";
  notice.deadline_ms = deadline_ms;
  notice.created_ms = now;
  notice.next_attempt_ms = due_ms;
  return notice;
}

alert_intent new_storm_notice(dispatcher_state& st, alert_kind kind, const std::string& channel,
                              unix_ms deadline_ms, unix_ms now, unix_ms due_ms) {
  return new_own_notice(st, kind, channel, "alert-storm", deadline_ms, now, due_ms);
}

std::string_view kind_word(alert_kind kind) {
  switch (kind) {
    case alert_kind::late: return "late";
    case alert_kind::repeat: return "repeat";
    case alert_kind::recovered: return "recovered";
  }
  return "late";
}

/// The text of a grouped notice for `channel`'s window `w`.
std::string storm_text(const dispatcher_state& st, const std::string& channel,
                       const storm_window& w) {
  auto& o = st.env.opts;
  std::string out = "GoTel alert storm on channel " + channel + ": "
                    + std::to_string(w.grouped) + " more alert(s) within "
                    + (o.storm_window.count() % 1000 == 0
                         ? std::to_string(o.storm_window.count() / 1000) + " s"
                         : std::to_string(o.storm_window.count()) + " ms")
                    + " were grouped into this notice after " + std::to_string(o.storm_threshold)
                    + " were sent one by one (" + std::to_string(w.by_kind[0]) + " late, "
                    + std::to_string(w.by_kind[1]) + " repeat, " + std::to_string(w.by_kind[2])
                    + " recovered).";
  out += " First " + std::to_string(w.first_jobs.size()) + ":";
  for (auto& j : w.first_jobs)
    out += "\n- " + j;
  if (w.grouped > w.first_jobs.size())
    out += "\n... and " + std::to_string(w.grouped - w.first_jobs.size()) + " more.";
  out += "\nEvery alert is in the alert log (outcome \"grouped\").";
  return out;
}

/// Folds `intent` into its channel's storm notice: one batch removes it from
/// the outbox, logs it as "grouped" and writes the updated notice.
void fold(dispatcher_actor* self, storm_window& w, alert_intent intent,
          storage::write_batch& batch) {
  auto& st = self->state;
  auto now = st.env.wall_now();
  ++w.grouped;
  ++st.stats.grouped;
  w.by_kind[static_cast<int>(intent.kind) % 3] += 1;
  if (w.first_jobs.size() < st.env.opts.storm_list)
    w.first_jobs.push_back(intent.app + "/" + intent.component + " ("
                           + std::string{kind_word(intent.kind)} + ")");
  for (auto& r : split_recipients(intent.notify))
    if (w.recipients.size() < 100
        && std::find(w.recipients.begin(), w.recipients.end(), r) == w.recipients.end())
      w.recipients.push_back(r);
  batch.erase_intent(intent.id);
  batch.append(next_log_seq(st), log_entry_for(intent, now, "grouped"));
  auto folded_key = intent.dedup_key;

  // The notice must not be one already being sent (clocks may disagree about
  // the window's end): then a fresh notice collects the rest.
  auto n = st.pending.find(w.notice_id);
  bool fresh = w.notice_id == 0 || n == st.pending.end() || st.in_flight.count(w.notice_id) > 0;
  alert_intent notice;
  if (fresh) {
    notice = new_storm_notice(st, alert_kind::late, intent.channel, w.start, now, w.end);
    notice.dedup_key = std::string{storm_dedup_prefix} + intent.channel + ":"
                       + std::to_string(notice.id);
    w.notice_id = notice.id;
  } else {
    notice = n->second;
  }
  notice.message = storm_text(st, intent.channel, w);
  notice.notify.clear();
  for (auto& r : w.recipients)
    notice.notify += (notice.notify.empty() ? "" : ",") + r;
  batch.put(notice);
  // Remember which incident now stands for this job, so that its recovery
  // resolves the incident instead of paging anew.
  auto& inc = st.incidents[notice.dedup_key];
  inc.channel = notice.channel;
  if (inc.open.insert(folded_key).second)
    ++inc.jobs;
  auto& trace = st.problems[problem_key(notice.channel, folded_key)];
  if (std::find(trace.incidents.begin(), trace.incidents.end(), notice.dedup_key)
      == trace.incidents.end())
    trace.incidents.push_back(notice.dedup_key);
  if (fresh)
    schedule(self, std::move(notice));
  else
    n->second = std::move(notice);
}

/// The text of the recovery notice of storm incident `key`.
std::string storm_recovery_text(const std::string& key, const storm_incident& inc) {
  std::string out = "GoTel alert storm on channel " + inc.channel + " recovered: "
                    + std::to_string(inc.recovered) + " of the " + std::to_string(inc.jobs)
                    + " job(s) grouped into " + key + " checked in again";
  if (inc.open.empty())
    out += "; every grouped job has recovered, which resolves the storm incident.";
  else
    out += "; " + std::to_string(inc.open.size())
           + " grouped job(s) are still late (see /badguests).";
  out += " Recovered:";
  for (auto& j : inc.recovered_jobs)
    out += "\n- " + j;
  if (inc.recovered > inc.recovered_jobs.size())
    out += "\n... and " + std::to_string(inc.recovered - inc.recovered_jobs.size()) + " more.";
  out += "\nEvery alert is in the alert log (outcome \"grouped\").";
  return out;
}

/// Folds the recovery `intent` of a job grouped into storm incident `key` into
/// the incident's recovery notice: kind recovered, sent at the end of one
/// storm window, under the incident's own dedup key once every grouped job has
/// recovered (PagerDuty: the resolve of the storm trigger). While some are
/// still late, the notice reports the wave under `<key>:partial:<id>`, which
/// resolves nothing.
void fold_recovery(dispatcher_actor* self, const std::string& key, storm_incident& inc,
                   const alert_intent& intent, storage::write_batch& batch) {
  auto& st = self->state;
  auto now = st.env.wall_now();
  inc.open.erase(intent.dedup_key);
  auto n = st.pending.find(inc.recovery_id);
  bool fresh = inc.recovery_id == 0 || n == st.pending.end()
               || st.in_flight.count(inc.recovery_id) > 0;
  alert_intent notice;
  if (fresh) {
    inc.recovered = 0;
    inc.recovered_jobs.clear();
    inc.recipients.clear();
    notice = new_storm_notice(st, alert_kind::recovered, inc.channel, intent.deadline_ms, now,
                              now + st.env.opts.storm_window.count());
    inc.recovery_id = notice.id;
    st.recovery_notices[notice.id] = key;
  } else {
    notice = n->second;
  }
  ++inc.recovered;
  if (inc.recovered_jobs.size() < st.env.opts.storm_list)
    inc.recovered_jobs.push_back(intent.app + "/" + intent.component);
  for (auto& r : split_recipients(intent.notify))
    if (inc.recipients.size() < 100
        && std::find(inc.recipients.begin(), inc.recipients.end(), r) == inc.recipients.end())
      inc.recipients.push_back(r);
  notice.dedup_key = inc.open.empty() ? key : key + ":partial:" + std::to_string(notice.id);
  notice.message = storm_recovery_text(key, inc);
  notice.notify.clear();
  for (auto& r : inc.recipients)
    notice.notify += (notice.notify.empty() ? "" : ",") + r;
  batch.put(notice);
  if (fresh)
    schedule(self, std::move(notice));
  else
    n->second = std::move(notice);
}

/// Admits the recovery `intent` on a grouping channel: delivered on its own
/// when its problem alert went out on its own (or is unknown: a restart
/// forgets), folded into the recovery notice of every storm incident holding
/// it otherwise. Recoveries are never counted towards a storm: there are never
/// more of them than problem alerts that went out.
void admit_recovery(dispatcher_actor* self, alert_intent intent, storage::write_batch& batch) {
  auto& st = self->state;
  auto p = st.problems.find(problem_key(intent.channel, intent.dedup_key));
  if (p == st.problems.end()) {
    schedule(self, std::move(intent));
    return;
  }
  auto trace = std::move(p->second);
  st.problems.erase(p);
  bool folded = false;
  for (auto& key : trace.incidents) {
    auto inc = st.incidents.find(key);
    if (inc == st.incidents.end())
      continue;
    fold_recovery(self, inc->first, inc->second, intent, batch);
    folded = true;
  }
  if (trace.alone || !folded) {
    schedule(self, std::move(intent));  // resolves the job's own incident
    return;
  }
  ++st.stats.grouped;
  batch.erase_intent(intent.id);
  batch.append(next_log_seq(st), log_entry_for(intent, st.env.wall_now(), "grouped"));
}

// -- mail budgets (issue 14 section 5) -------------------------------------------

std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                               : std::to_string(d.count()) + " ms";
}

/// The text of `to`'s digest `d`.
std::string digest_text(const dispatcher_state& st, const std::string& to,
                        const digest_state& d) {
  auto& o = st.env.opts;
  std::string out = "GoTel held back " + std::to_string(d.alerts) + " alert(s) for " + to
                    + ": the mail budget (at most " + std::to_string(o.mail_per_recipient)
                    + " message(s) to one address and " + std::to_string(o.mail_total)
                    + " in total within " + duration_text(o.mail_window)
                    + ") was used up, so they are summarised here ("
                    + std::to_string(d.by_kind[0]) + " late, " + std::to_string(d.by_kind[1])
                    + " repeat, " + std::to_string(d.by_kind[2]) + " recovered).";
  out += " First " + std::to_string(d.lines.size()) + ":";
  for (auto& l : d.lines)
    out += "\n- " + l;
  if (d.alerts > d.lines.size())
    out += "\n... and " + std::to_string(d.alerts - d.lines.size()) + " more.";
  out += "\nEvery alert is in the alert log (outcome \"deferred to digest\" or \"partly "
         "deferred to digest\").";
  return out;
}

/// Adds intent `in` to the digest of recipient `to` (a fresh one, due at
/// `due`, unless one is collecting): the updated digest goes into `batch`.
void add_to_digest(dispatcher_actor* self, const alert_intent& in, const std::string& to,
                   unix_ms due, storage::write_batch& batch) {
  auto& st = self->state;
  auto now = st.env.wall_now();
  auto& d = st.digests[in.channel + '\n' + to];
  // A digest already being sent collects nothing more: a fresh one does.
  auto n = st.pending.find(d.id);
  bool fresh = d.id == 0 || n == st.pending.end() || st.in_flight.count(d.id) > 0;
  alert_intent digest;
  if (fresh) {
    d = digest_state{};
    digest = new_own_notice(st, alert_kind::late, in.channel, "mail-digest", now, now, due);
    digest.dedup_key = std::string{digest_dedup_prefix} + std::to_string(digest.id);
    digest.notify = to;
    d.id = digest.id;
  } else {
    digest = n->second;
  }
  ++d.alerts;
  d.by_kind[static_cast<int>(in.kind) % 3] += 1;
  if (d.lines.size() < st.env.opts.digest_list)
    d.lines.push_back(rfc1123(in.created_ms) + " " + in.app + "/" + in.component + " ("
                      + std::string{kind_word(in.kind)} + ")");
  digest.message = digest_text(st, to, d);
  batch.put(digest);
  if (fresh)
    schedule(self, std::move(digest));
  else
    n->second = std::move(digest);
}

/// Spends the mail budget of an attempt of pending intent `in` on a channel
/// that mails recipients: each recipient not yet handled is sent to if both
/// its own and the channel's budget have room, else deferred to its digest
/// (marked in `progress`, persisted with the digest in one batch). True: go
/// ahead with the recipients that had room. False: nothing to send now (every
/// remaining recipient was deferred and the intent finished, or a digest waits
/// for the next window).
bool spend_mail_budget(dispatcher_actor* self, alert_intent& in) {
  auto& st = self->state;
  auto& o = st.env.opts;
  if (o.mail_per_recipient == 0 && o.mail_total == 0)
    return true;
  auto now = st.env.wall_now();
  auto window_ms = std::max<std::int64_t>(o.mail_window.count(), 1);
  auto index = now / window_ms;
  auto& b = st.budgets[in.channel];
  if (b.window != index) {
    b = mail_budget{};
    b.window = index;
  }
  std::set<std::string> handled;
  for (auto& r : split_recipients(in.progress))
    handled.insert(r.front() == deferred_mark ? r.substr(1) : r);
  std::vector<std::string> defer;
  std::size_t sending = 0;
  for (auto& r : split_recipients(in.notify)) {
    if (handled.count(r) > 0)
      continue;
    auto& mine = b.sent[r];
    bool room = (o.mail_total == 0 || b.total < o.mail_total)
                && (o.mail_per_recipient == 0 || mine < o.mail_per_recipient);
    if (room) {
      ++b.total;
      ++mine;
      ++sending;
    } else {
      defer.push_back(r);
    }
  }
  if (defer.empty())
    return true;
  auto next_window = (index + 1) * window_ms;
  if (is_mail_digest(in)) {
    // A digest is never deferred into another: it waits for the next window.
    in.next_attempt_ms = next_window;
    self->delayed_send(self, std::chrono::milliseconds{next_window - now}, retry_atom::value,
                       in.id);
    return false;
  }
  if (!b.warned) {
    b.warned = true;
    spdlog::warn("mail budget of channel {} used up in this window ({} message(s) to one address,"
                 " {} in total per {} ms): further alerts go into digests",
                 in.channel, o.mail_per_recipient, o.mail_total, window_ms);
  }
  storage::write_batch batch;
  for (auto& r : defer) {
    add_to_digest(self, in, r, next_window, batch);
    ++st.stats.mail_deferred;
    in.progress += (in.progress.empty() ? "" : ",") + std::string(1, deferred_mark) + r;
  }
  if (sending == 0) {
    auto outcome = any_sent(in.progress) ? "partly deferred to digest" : "deferred to digest";
    finish(self, in.id, outcome, std::move(batch));
    return false;
  }
  batch.put(in);
  st.env.committer->submit(std::move(batch), log_commit_error);
  return true;
}

/// Cuts the recipients of a new or resumed mail intent to max_recipients
/// (records stored before the limit existed may hold more); the cut is counted
/// and the capped intent persisted at once (before any attempt can finish it).
void cap_recipients(dispatcher_state& st, alert_intent& intent) {
  auto max = st.env.opts.max_recipients;
  if (max == 0)
    return;
  auto all = split_recipients(intent.notify);
  if (all.size() <= max)
    return;
  std::string kept;
  for (std::size_t k = 0; k < max; ++k)
    kept += (kept.empty() ? "" : ",") + all[k];
  spdlog::warn("alert {} for {}/{}: notify holds {} recipients, above alerts.max_recipients; "
               "mailing the first {}",
               intent.dedup_key, intent.app, intent.component, all.size(), max);
  st.stats.recipients_capped += all.size() - max;
  intent.notify = std::move(kept);
  storage::write_batch batch;
  batch.put(intent);
  st.env.committer->submit(std::move(batch), log_commit_error);
}

/// Admits a new or resumed intent: delivered on its own, or folded into a
/// storm notice when its channel is over the threshold in this window.
void admit(dispatcher_actor* self, alert_intent intent, storage::write_batch& batch) {
  auto& st = self->state;
  if (st.env.intent_seq == nullptr && intent.id >= st.own_intent_seq.load())
    st.own_intent_seq.store(intent.id + 1);
  auto threshold = st.env.opts.storm_threshold;
  auto ch = st.channels.find(intent.channel);
  if (ch != st.channels.end() && ch->second->mails_recipients() && !is_storm_notice(intent)
      && !is_mail_digest(intent) && st.pending.count(intent.id) == 0)
    cap_recipients(st, intent);
  // Retries (attempts > 0) and notices themselves are never counted or folded;
  // neither is anything for a channel that logs every alert (the log).
  if (threshold == 0 || intent.attempts > 0 || is_storm_notice(intent) || is_mail_digest(intent)
      || st.pending.count(intent.id) > 0 || ch == st.channels.end()
      || !ch->second->groups_storms()) {
    schedule(self, std::move(intent));
    return;
  }
  if (intent.kind == alert_kind::recovered) {
    admit_recovery(self, std::move(intent), batch);
    return;
  }
  auto now = st.env.wall_now();
  auto& w = st.storms[intent.channel];
  if (w.end == 0 || now >= w.end) {
    w = storm_window{};
    w.start = now;
    w.end = now + st.env.opts.storm_window.count();
  }
  if (++w.count <= threshold) {
    st.problems[problem_key(intent.channel, intent.dedup_key)].alone = true;
    schedule(self, std::move(intent));
    return;
  }
  if (w.grouped == 0)
    spdlog::warn("alert storm on channel {}: more than {} alerts within {} ms; grouping the rest",
                 intent.channel, threshold, st.env.opts.storm_window.count());
  fold(self, w, std::move(intent), batch);
}

/// Admits every intent; the folds of one message share one batch.
void admit_all(dispatcher_actor* self, std::vector<alert_intent>& intents) {
  storage::write_batch batch;
  for (auto& in : intents)
    admit(self, std::move(in), batch);
  if (!batch.empty())
    self->state.env.committer->submit(std::move(batch), log_commit_error);
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
    for (auto& [name, ch] : st.channels)
      st.pools.emplace(name, std::make_unique<blocking_pool>(st.env.opts.pool_threads));
  return {
    [=](dispatch_atom, std::vector<alert_intent>& intents) { admit_all(self, intents); },
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
      admit_all(self, loaded);
    },
    [=](retry_atom, std::uint64_t id) { attempt(self, id); },
    [=](delivered_atom, std::uint64_t id, bool delivered, bool retryable, std::string& error,
        std::string& progress) {
      on_result(self, id,
                delivery_result{delivered, retryable, std::move(error), std::move(progress)});
    },
    [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

caf::actor spawn_dispatcher(caf::actor_system& sys, dispatcher_env env) {
  return sys.spawn(dispatcher_impl, std::move(env));
}

}  // namespace gotel
