#include "actors/cluster.hpp"

#include "actors/cluster_guard.hpp"
#include "actors/errors.hpp"
#include "actors/actor_time.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace gotel {

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string res;
  for (unsigned int i = 0; i < len; ++i) {
    res.push_back(hex[out[i] >> 4]);
    res.push_back(hex[out[i] & 0xf]);
  }
  return res;
}

namespace {

using namespace std::chrono;
using time_point = caf::actor_clock::time_point;
using tick_atom = caf::atom_constant<caf::atom("ctick")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
/// "I do not know you (any more): authenticate again", to the sender of a
/// refused message (see reject()).
using reauth_atom = caf::atom_constant<caf::atom("reauth")>;

/// Reservations per catch-up page: small enough that heartbeats sharing the
/// connection are not delayed (BUILD-NOTES.md), large enough to move 1M quickly.
constexpr std::size_t sync_page_size = 1000;
/// How long a change waits for a peer's confirmation. After it, a peer that is
/// still considered live has failed the write; one declared dead is excused.

/// The slowest retry towards a peer that keeps failing the handshake, and
/// after how many failures in a row (about 30 s at the default timeout) the
/// retries start slowing down towards it.
constexpr milliseconds mismatch_backoff_cap{60000};
constexpr std::uint64_t mismatch_after = 20;

struct peer {
  node_address addr;
  caf::actor out;  ///< their cluster actor, connected and authenticated to
  bool connecting = false;
  time_point next_attempt{};
  milliseconds backoff{250};
  bool heard = false;
  bool alive = false;
  time_point last_heard{};
  unix_ms last_heard_wall = 0;
  std::uint64_t epoch = 0;
  std::string down_key;  ///< the open "node silent" incident, if any
  /// Our last handshake over the connection it opened failed (it did not
  /// answer in time): dial our own connection next instead of trying again
  /// over that one.
  bool dial_next = false;
  /// A handshake over the connection a heartbeat of it came on is running.
  bool via_sender = false;
  std::uint64_t failed_attempts = 0;     ///< connection attempts failed in a row
  std::uint64_t handshake_failures = 0;  ///< of them, reached the peer but no session
  std::string logged_failure;         ///< the last failure logged at warn level
  /// Replicated changes waiting for `out`: the peer is live (its heartbeats
  /// arrive over the connection it opened) but we have not authenticated to
  /// it yet. Each is sent once we have, unless its timeout came first.
  struct waiting_change {
    std::shared_ptr<bool> done;  ///< sent, or given up on after the timeout
    std::function<void(caf::actor)> send;
  };
  std::vector<waiting_change> awaiting_out;
};

struct cluster_state {
  node_context* ctx = nullptr;
  coordinator_actor coord;
  cluster_options opts;
  std::vector<peer> peers;  ///< every node but this one, in config order
  /// Authenticated inbound senders (their cluster actors) -> node id.
  std::unordered_map<caf::actor_addr, std::string> inbound;
  /// Challenges handed out: sender -> (claimed id, nonce), a few per sender:
  /// a peer may run two handshakes at once (a dial and one over our link).
  std::unordered_map<caf::actor_addr, std::vector<std::pair<std::string, std::string>>>
    challenges;
  std::uint64_t epoch = 0;
  std::string coordinator_id;
  time_point started{};
  time_point last_tick{};
  time_point recovering_until{};
  std::string synced_with;  ///< the coordinator whose state we caught up with
  bool syncing = false;
  /// The running catch-up's peer and number; an answer to an abandoned one
  /// (its peer went away, see tick()) is ignored.
  std::string syncing_from;
  caf::actor_addr syncing_via;  ///< the handle its pending request went to
  std::uint64_t sync_generation = 0;
  /// Keys of replicated changes applied while a catch-up runs. The pages were
  /// read earlier, over another connection, so such a key (a reservation
  /// created meanwhile) can be missing from them: the final prune keeps it.
  std::unordered_set<std::string> replicated_while_syncing;
  /// Changes made on this node that not every configured node confirmed (it
  /// coordinated while split, or applied writes with no coordinator reachable),
  /// by reservation key; persisted under u/ (storage/FORMAT.md) and pushed to
  /// the coordinator at the next catch-up (docs/cluster.md, "Reconciliation").
  /// `generation` tells an entry apart from one written after it was pushed;
  /// `durable` says its u/ record has been written.
  struct unconfirmed_entry {
    unconfirmed_write write;
    std::uint64_t generation = 0;
    bool durable = false;
  };
  std::map<std::string, unconfirmed_entry> unconfirmed;
  std::uint64_t next_generation = 0;
  /// After a reconciliation failed, the next catch-up waits until then.
  time_point next_sync_attempt{};
  std::uint64_t rejected = 0;
  /// Replications waiting for the failure detector's verdict on a peer.
  std::unordered_map<std::uint64_t, std::function<void()>> rechecks;
  std::uint64_t next_recheck = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "gotel.cluster";
};

using cluster_pointer = caf::stateful_actor<cluster_state>*;

/// Whether `a` and `b` are the very same actor handle, not merely handles of
/// the same remote actor: CAF compares actor addresses by node and actor id,
/// so the proxy of a connection that is gone equals the proxy of the one that
/// replaced it. Bookkeeping that a dead connection's leftovers must not touch
/// compares identity.
bool same_handle(const caf::actor_addr& a, const caf::actor_addr& b) {
  return a.get() == b.get();
}

/// Whether `hdl` (a peer's actor, reached through a CAF proxy) is gone: CAF
/// kills the proxies of a connection it closed, and a killed proxy drops every
/// message silently, so a request sent through it only times out.
bool gone(const caf::actor& hdl) {
  auto ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
  return ptr == nullptr || ptr->getf(caf::abstract_actor::is_cleaned_up_flag);
}

/// Tells the cluster port's guard which nodes may send large messages: those
/// authenticated here and those we authenticated to (cluster_guard.hpp).
void refresh_trust(cluster_pointer self) {
  std::vector<caf::node_id> nodes;
  for (auto& [addr, id] : self->state.inbound)
    nodes.push_back(addr.node());
  for (auto& p : self->state.peers)
    if (p.out)
      nodes.push_back(p.out.node());
  cluster_guard::set_trusted(std::move(nodes));
}

peer* find_peer(cluster_state& st, const std::string& id) {
  for (auto& p : st.peers)
    if (p.addr.id == id)
      return &p;
  return nullptr;
}

std::size_t order_of(const cluster_state& st, const std::string& id) {
  for (std::size_t i = 0; i < st.opts.nodes.size(); ++i)
    if (st.opts.nodes[i].id == id)
      return i;
  return st.opts.nodes.size();
}

/// The authenticated peer id of the current message's sender, or nullptr.
const std::string* sender_id(cluster_pointer self) {
  auto sender = self->current_sender();
  if (!sender)
    return nullptr;
  auto i = self->state.inbound.find(caf::actor_cast<caf::actor_addr>(sender));
  return i == self->state.inbound.end() ? nullptr : &i->second;
}

void reject(cluster_pointer self, const char* what) {
  auto& st = self->state;
  // Log the first few and then every 100th, so a scanner cannot flood the log.
  if (st.rejected++ < 10 || st.rejected % 100 == 0)
    spdlog::warn("cluster: refused {} from an unauthenticated sender ({} refused so far)", what,
                 st.rejected);
  // A peer that believes it is authenticated here (its link to us outlived
  // our record of its handshake) authenticates again when told; anyone else
  // ignores this. One answer per refused message, nothing else is sent.
  if (auto sender = self->current_sender())
    self->send(caf::actor_cast<caf::actor>(sender), reauth_atom::value);
}

/// A handshake message that came with no sender (see the hello handler):
/// logged like a refusal, answered with an error nobody receives.
caf::error unroutable(cluster_pointer self, const char* what, const std::string& id) {
  auto& st = self->state;
  if (st.rejected++ < 10 || st.rejected % 100 == 0)
    spdlog::warn("cluster: dropped {} from \"{}\" that came with no sender (CAF has no route to "
                 "its node; it retries) ({} refused so far)",
                 what, id, st.rejected);
  return make_error(errc::unavailable, "no sender to answer");
}

void persist_epoch(cluster_pointer self) {
  storage::write_batch b;
  b.put_meta("cluster_epoch", std::to_string(self->state.epoch));
  auto status = self->state.ctx->db->write(b, true);
  if (!status.ok())
    spdlog::error("cluster: cannot persist epoch {}: {}", self->state.epoch, status.message);
}

/// Writes the intents to the outbox, then hands them to the dispatcher.
void send_alert(cluster_pointer self, const std::string& component, alert_kind kind,
                const std::string& key, const std::string& message) {
  auto& ctx = *self->state.ctx;
  auto wall = ctx.wall_now();
  std::vector<alert_intent> intents;
  for (auto& channel : ctx.channels) {
    alert_intent x;
    x.id = ctx.next_intent_id.fetch_add(1);
    x.dedup_key = key;
    x.kind = kind;
    x.channel = channel;
    x.app = "gotel";
    x.component = component;
    x.owner = "gotel";
    x.message = message;
    x.created_ms = wall;
    x.next_attempt_ms = wall;
    intents.push_back(std::move(x));
  }
  if (intents.empty())
    return;
  storage::write_batch b;
  for (auto& x : intents)
    b.put(x);
  auto dispatcher = ctx.dispatcher;
  ctx.committer->submit(std::move(b), [dispatcher, intents](const storage::status&) {
    caf::anon_send(dispatcher, dispatch_atom::value, intents);
  });
}

void peer_down(cluster_pointer self, peer& p) {
  auto& st = self->state;
  p.down_key = "node-" + p.addr.id + "-" + std::to_string(p.last_heard_wall);
  auto text = "GoTel node " + p.addr.id + " (" + p.addr.http + ") has been silent for more than "
              + std::to_string(st.opts.failure_timeout.count()) + " ms; reported by "
              + st.opts.self_id;
  spdlog::warn("cluster: {}", text);
  send_alert(self, p.addr.id, alert_kind::late, p.down_key, text);
  if (p.addr.id == st.coordinator_id)
    st.synced_with.clear();  // whoever coordinates next, catch up with it
}

void peer_up(cluster_pointer self, peer& p) {
  auto& st = self->state;
  if (p.down_key.empty())
    return;
  auto text = "GoTel node " + p.addr.id + " (" + p.addr.http + ") is back; reported by "
              + st.opts.self_id;
  spdlog::info("cluster: {}", text);
  send_alert(self, p.addr.id, alert_kind::recovered, p.down_key, text);
  p.down_key.clear();
}

void publish_view(cluster_pointer self) {
  auto& st = self->state;
  node_context::cluster_view v;
  v.epoch = st.epoch;
  v.coordinator_id = st.coordinator_id;
  for (auto& n : st.opts.nodes) {
    node_context::peer_view pv;
    pv.id = n.id;
    pv.http = n.http;
    pv.coordinator = n.id == st.coordinator_id;
    if (n.id == st.opts.self_id) {
      pv.alive = true;
      pv.last_heard_ms = st.ctx->wall_now();
    } else if (auto p = find_peer(st, n.id)) {
      pv.alive = p->alive;
      pv.last_heard_ms = p->last_heard_wall;
    }
    v.nodes.push_back(std::move(pv));
  }
  st.ctx->set_view(std::move(v));
}

/// Sets what this node may do from the election's outcome: coordinator or not,
/// and the alert lease (renewed only on on-time ticks, so a paused node wakes
/// up without one). Re-evaluates every reservation when alerting becomes allowed.
void update_role(cluster_pointer self, time_point now) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto now_ns = to_ns(now);
  bool could = ctx.may_alert(now_ns);
  bool coordinator = st.coordinator_id == st.opts.self_id;
  ctx.coordinator.store(coordinator, std::memory_order_release);
  if (coordinator && now >= st.recovering_until)
    ctx.alert_lease_ns.store(to_ns(now + st.opts.failure_timeout), std::memory_order_release);
  else
    ctx.alert_lease_ns.store(0, std::memory_order_release);
  if (ctx.may_alert(now_ns) && !could) {
    spdlog::info("cluster: {} coordinates (epoch {}); checking every deadline", st.opts.self_id,
                 st.epoch);
    caf::anon_send(st.coord, reevaluate_atom::value);
  }
}

void become_coordinator(cluster_pointer self) {
  auto& st = self->state;
  std::uint64_t highest = st.epoch;
  for (auto& p : st.peers)
    highest = std::max(highest, p.epoch);
  st.epoch = highest + 1;
  st.coordinator_id = st.opts.self_id;
  // Whoever coordinates after us has writes we never saw: catch up with it
  // then, even if we caught up with it before.
  st.synced_with.clear();
  persist_epoch(self);
  spdlog::warn("cluster: {} takes over as coordinator, epoch {}", st.opts.self_id, st.epoch);
  // Tell everyone at once rather than at the next tick.
  for (auto& p : st.peers)
    if (p.out)
      self->send(p.out, heartbeat_atom::value, st.opts.self_id, st.epoch, true);
}

/// Keeps a live coordinator; otherwise the first live node in config order
/// takes over. A node listens for one failure timeout after it starts (or
/// wakes from a pause) before it may claim, so it learns the current one first.
void elect(cluster_pointer self, time_point now) {
  auto& st = self->state;
  bool alive = st.coordinator_id == st.opts.self_id;
  if (!alive && !st.coordinator_id.empty())
    if (auto p = find_peer(st, st.coordinator_id))
      alive = p->alive;
  if (alive)
    return;
  if (now < st.started + st.opts.failure_timeout || now < st.recovering_until)
    return;
  for (auto& n : st.opts.nodes) {
    if (n.id == st.opts.self_id) {
      become_coordinator(self);
      return;
    }
    if (auto p = find_peer(st, n.id); p && p->alive)
      return;  // an earlier live node will claim
  }
}

/// Whether a failed connection attempt got past TCP: the peer listens, but
/// the TLS or CAF handshake failed (or never finished). That is what a
/// transport mismatch (cluster.tls differs) or a refused certificate looks
/// like from the connecting side; CAF 0.17 reports nothing on the accepting
/// side, which sees it only as its own attempts to connect failing.
/// CAF reports cannot_connect_to_node both when TCP fails (with the context
/// ("ip_connect failed", host, port)) and when its OpenSSL transport's client
/// handshake fails after TCP connected (with no context): a TLS node meeting a
/// plain one sees either disconnect_during_handshake or the latter, depending
/// on how the plain side parses the (random) ClientHello.
bool reached_but_failed(const caf::error& err) {
  return err != caf::sec::cannot_connect_to_node || err.context().empty();
}

std::string transport_hint(cluster_transport t, const std::string& id) {
  switch (t) {
    case cluster_transport::tls_mutual:
      return "check that " + id + " also runs with cluster.tls = \"mutual\" and that each "
             "node's certificate chains to the other's cluster.tls_ca";
    case cluster_transport::tls_anonymous:
      return "check that " + id + " also runs with cluster.tls = \"anonymous\"";
    default:
      return "this node runs with cluster.tls = \"off\": check that " + id + " does too";
  }
}

/// Proves this node to the peer's cluster actor `hdl` (hello, then the HMAC
/// of its nonce); on success `hdl` becomes the peer's `out`.
void authenticate(cluster_pointer self, const std::string& id, caf::actor hdl,
                  std::function<void(const caf::error&)> failed) {
  auto& st = self->state;
  auto self_id = st.opts.self_id;
  auto secret = st.opts.secret;
  auto timeout = st.opts.request_timeout;
  self->request(hdl, timeout, hello_atom::value, self_id)
    .then(
      [=](std::string& nonce) {
        auto mac = hmac_sha256_hex(secret, "gotel-cluster|" + self_id + "|" + nonce);
        self->request(hdl, timeout, auth_atom::value, self_id, mac)
          .then(
            [=](bool ok) {
              auto q = find_peer(self->state, id);
              if (!q)
                return;
              if (!ok) {
                spdlog::error("cluster: {} refused our credential (cluster.secret differs)", id);
                q->connecting = false;
                q->via_sender = false;
                q->next_attempt = self->clock().now() + q->backoff;
                q->backoff = std::min(q->backoff * 2, self->state.opts.failure_timeout / 2);
                return;
              }
              q->connecting = false;
              q->via_sender = false;
              q->backoff = milliseconds{250};
              q->failed_attempts = 0;
              q->handshake_failures = 0;
              q->dial_next = false;
              q->logged_failure.clear();
              if (q->out && same_handle(q->out.address(), hdl.address()))
                return;  // re-authenticated over the link we have (reauth_atom)
              q->out = hdl;
              self->monitor(hdl);
              refresh_trust(self);
              spdlog::info("cluster: connected to {}", id);
              auto waiting = std::move(q->awaiting_out);
              q->awaiting_out.clear();
              for (auto& w : waiting)
                w.send(hdl);
            },
            failed);
      },
      failed);
}

void connect(cluster_pointer self, peer& p) {
  auto& st = self->state;
  p.connecting = true;
  auto id = p.addr.id;
  auto where = p.addr.cluster_host + ":" + std::to_string(p.addr.cluster_port);
  auto failed = [self, id, where](const caf::error& err) {
    auto q = find_peer(self->state, id);
    if (!q)
      return;
    q->connecting = false;
    // Jitter, so that two nodes retrying each other do not stay in step.
    auto jitter = milliseconds{self->state.rng() % (q->backoff.count() / 2 + 1)};
    q->next_attempt = self->clock().now() + q->backoff + jitter;
    // A peer that answers but keeps failing to complete a session (a
    // cluster.tls or certificate mismatch, not a slow start: that passes well
    // within `mismatch_after` attempts) is retried ever more slowly, up to once
    // a minute:
    // CAF 0.17.6's OpenSSL transport leaks each failed session (~100 KB with
    // its SSL state, LeakSanitizer in integration.cluster_tls), so fast retries
    // against a misconfigured peer would grow memory without bound.
    auto cap = reached_but_failed(err) && q->handshake_failures >= mismatch_after
                 ? std::max(mismatch_backoff_cap, self->state.opts.failure_timeout / 2)
                 : self->state.opts.failure_timeout / 2;
    q->backoff = std::min(q->backoff * 2, cap);
    ++q->failed_attempts;
    auto why = caf::to_string(err);
    if (!reached_but_failed(err)) {
      // Nobody listens there (a peer that is down): its silence is reported.
      q->handshake_failures = 0;
      spdlog::debug("cluster: cannot reach {} at {}: {}", id, where, why);
      return;
    }
    // The peer accepted the connection but no session came of it. One quick
    // failure happens when a peer restarts mid-handshake; a mismatch repeats
    // (or hangs until the timeout: TLS towards a plain node). Log from the
    // second quick failure or the first timeout, on every change of reason,
    // and then about once a minute.
    ++q->handshake_failures;
    if ((q->handshake_failures < 2 && err != caf::sec::request_timeout)
        || (why == q->logged_failure && q->handshake_failures % 40 != 0))
      return;
    q->logged_failure = why;
    spdlog::warn("cluster: {} at {} accepted a connection but no cluster session came of it ({}; "
                 "{} attempts in a row); {}",
                 id, where, why, q->handshake_failures,
                 transport_hint(self->state.opts.transport, id));
  };
  // A peer that connected to us and authenticated is reached over that same
  // connection: with CAF's OpenSSL transport, a second connection between
  // two connected nodes made BASP drop both (and time out the connect), and
  // one connection per pair is enough for any transport.
  // A connection that is gone is forgotten (its proxy would swallow the
  // handshake); one our handshake timed out on is skipped once, so that
  // attempt dials. Either way the peer's own authentication stays: it says
  // who sends over that connection, and only the connection's end ends it.
  // (Regression: a failed handshake over it erased the entry, which by then
  // could be the peer's new authentication, equal by address; everything the
  // peer sent was then refused for good, as its own link to us still stood.)
  for (auto i = st.inbound.begin(); i != st.inbound.end(); ++i) {
    if (i->second != id)
      continue;
    auto hdl = caf::actor_cast<caf::actor>(i->first);
    if (gone(hdl)) {
      st.inbound.erase(i);
      break;
    }
    if (std::exchange(p.dial_next, false))
      break;
    authenticate(self, id, hdl, [self, id, failed](const caf::error& err) {
      if (auto q = find_peer(self->state, id))
        q->dial_next = true;
      failed(err);
    });
    return;
  }
  auto mm = st.opts.transport == cluster_transport::plain
              ? self->system().middleman().actor_handle()
              : self->system().openssl_manager().actor_handle();
  self->request(mm, st.opts.request_timeout, caf::connect_atom::value, p.addr.cluster_host,
                p.addr.cluster_port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        if (!ptr)
          return failed(caf::make_error(caf::sec::no_actor_published_at_port));
        authenticate(self, id, caf::actor_cast<caf::actor>(ptr), failed);
      },
      failed);
}

/// Runs `fn` on this actor once the committer has made `batch` durable.
void after_commit(cluster_pointer self, storage::write_batch batch, std::function<void()> fn) {
  auto& st = self->state;
  auto token = ++st.next_recheck;
  st.rechecks.emplace(token, std::move(fn));
  auto hdl = caf::actor_cast<caf::actor>(self);
  st.ctx->committer->submit(std::move(batch), [hdl, token](const storage::status& s) {
    if (!s.ok())
      spdlog::error("cluster: cannot persist reconciliation state: {}", s.message);
    caf::anon_send(hdl, recheck_atom::value, token);
  });
}

/// Forgets the unconfirmed write of `key` if it is still entry `generation`.
void settle(cluster_pointer self, const std::string& key, std::uint64_t generation) {
  auto& st = self->state;
  auto i = st.unconfirmed.find(key);
  if (i == st.unconfirmed.end() || i->second.generation != generation)
    return;
  st.unconfirmed.erase(i);
  storage::write_batch b;
  b.erase_unconfirmed(key);
  st.ctx->committer->submit(std::move(b), [](const storage::status&) {});
}

/// What remembering the change `ch` takes: for a removal, the removed
/// record's uuid and revision; for any other change nothing (the record
/// itself is read from the store when it is pushed).
unconfirmed_write unconfirmed_of(const repl_change& ch) {
  unconfirmed_write w;
  if (ch.deleted) {
    w.removed = true;
    w.revision = ch.rec.revision;
    w.uuid = ch.rec.uuid;
  }
  return w;
}

/// After a change of `key` made on this node was replicated: one that every
/// configured node confirmed supersedes any earlier unconfirmed write of its
/// key; one that some node did not confirm is remembered (as `w`), durably,
/// before `done` runs (it acknowledges the write), so a restart cannot forget it.
void note_outcome(cluster_pointer self, const std::string& key, const unconfirmed_write& w,
                  bool everywhere, std::function<void()> done) {
  auto& st = self->state;
  auto i = st.unconfirmed.find(key);
  if (everywhere) {
    if (i != st.unconfirmed.end())
      settle(self, key, i->second.generation);
    return done();
  }
  if (i != st.unconfirmed.end() && i->second.write == w && i->second.durable)
    return done();  // already remembered
  auto generation = ++st.next_generation;
  st.unconfirmed[key] = {w, generation, false};
  storage::write_batch b;
  b.put_unconfirmed(key, w);
  after_commit(self, std::move(b), [self, key, generation, done = std::move(done)] {
    auto j = self->state.unconfirmed.find(key);
    if (j != self->state.unconfirmed.end() && j->second.generation == generation)
      j->second.durable = true;
    done();
  });
}

/// What a catch-up collects besides the keys it saw: the coordinator's
/// records of the keys this node has unconfirmed writes for.
struct catch_up {
  std::vector<std::string> keys;
  std::unordered_map<std::string, reservation_record> theirs;
};

/// The unconfirmed writes to push to a coordinator whose records of those
/// keys are `theirs`, each with the entry generation it was built from.
/// Forgets the writes that need no push: the coordinator has the same record
/// or a newer revision (then the newer state wins), or the removed
/// reservation is gone or was changed there since.
std::vector<std::pair<reconcile_change, std::uint64_t>>
reconciliation(cluster_pointer self, const catch_up& cu) {
  auto& st = self->state;
  std::vector<std::pair<reconcile_change, std::uint64_t>> out;
  std::vector<std::pair<std::string, std::uint64_t>> settled;
  for (auto& [key, entry] : st.unconfirmed) {
    auto& w = entry.write;
    auto t = cu.theirs.find(key);
    const reservation_record* theirs = t == cu.theirs.end() ? nullptr : &t->second;
    reconcile_change rc;
    rc.key = key;
    if (w.removed) {
      if (!theirs || theirs->uuid != w.uuid || theirs->revision > w.revision) {
        settled.emplace_back(key, entry.generation);
        continue;
      }
      rc.removed = true;
      rc.rec.uuid = w.uuid;
      rc.rec.revision = w.revision;
      out.emplace_back(std::move(rc), entry.generation);
      continue;
    }
    storage::status status;
    auto mine = st.ctx->db->get_reservation(key, status);
    if (!mine) {
      // Removed here since (a replicated checkout): nothing to push. A record
      // that cannot be read stays remembered (and logged by the store).
      if (status.code == storage::errc::not_found)
        settled.emplace_back(key, entry.generation);
      continue;
    }
    if (theirs && (theirs->revision > mine->revision || *theirs == *mine)) {
      settled.emplace_back(key, entry.generation);
      continue;
    }
    // The history entries their record does not count yet, oldest first.
    auto from = theirs ? theirs->history_seq() : 0;
    auto newest = mine->history_seq();
    if (newest > from) {
      auto n = std::min<std::uint64_t>(newest - from, st.ctx->history_limit);
      auto entries = st.ctx->db->checkins(key, n, status);
      for (std::size_t k = entries.size(); k-- > 0;) {
        rc.seqs.push_back(newest - k);
        rc.entries.push_back(std::move(entries[k]));
      }
    }
    rc.rec = std::move(*mine);
    out.emplace_back(std::move(rc), entry.generation);
  }
  for (auto& [key, generation] : settled)
    settle(self, key, generation);
  return out;
}

/// Sends each change of `pushes` to coordinator `id`, which applies it under
/// its own rules and replicates the outcome to every live node; forgets each
/// one it confirmed. If any fails, the catch-up runs again later.
void push_unconfirmed(cluster_pointer self, const std::string& id,
                      std::vector<std::pair<reconcile_change, std::uint64_t>> pushes) {
  auto& st = self->state;
  if (pushes.empty())
    return;
  auto p = find_peer(st, id);
  if (!p || !p->out) {
    // Gone right after the pages came: try again with the next catch-up.
    if (st.synced_with == id)
      st.synced_with.clear();
    st.next_sync_attempt = self->clock().now() + st.opts.failure_timeout;
    return;
  }
  struct tally {
    std::size_t pending;
    std::size_t pushed = 0;
    std::size_t failed = 0;
  };
  auto t = std::make_shared<tally>(tally{pushes.size()});
  auto finish = [self, id, t] {
    if (--t->pending > 0)
      return;
    auto& st = self->state;
    spdlog::info("cluster: pushed {} reservations written during the split to {}",
                 t->pushed + t->failed, id);
    if (t->failed > 0) {
      // Typically applied there but not yet confirmed by every live node:
      // the next catch-up finds them equal, or pushes them again.
      spdlog::warn("cluster: {} of them were not confirmed by {}; catching up again", t->failed,
                   id);
      if (st.synced_with == id)
        st.synced_with.clear();
      st.next_sync_attempt = self->clock().now() + st.opts.failure_timeout;
    }
  };
  auto timeout = st.opts.request_timeout + st.opts.failure_timeout;
  for (auto& [rc, generation] : pushes) {
    auto key = rc.key;
    auto gen = generation;
    self->request(p->out, timeout, reconcile_atom::value, st.opts.self_id, std::move(rc))
      .then(
        [=](bool ok) {
          if (ok) {
            settle(self, key, gen);
            t->pushed += 1;
          } else {
            t->failed += 1;
          }
          finish();
        },
        [=](caf::error& e) {
          spdlog::debug("cluster: reconciling a reservation with {}: {}", id, caf::to_string(e));
          t->failed += 1;
          finish();
        });
  }
}

/// Catch-up: pages through the coordinator's reservations, applies each (a
/// replica adopts only newer revisions), pushes back the changes made here
/// that not every node confirmed (reconciliation), then removes what the
/// coordinator no longer has, sparing what it pushed.
void sync_from(cluster_pointer self, std::string id, std::string after,
               std::shared_ptr<catch_up> cu) {
  auto p = find_peer(self->state, id);
  if (!p || !p->out) {
    self->state.syncing = false;
    return;
  }
  auto generation = self->state.sync_generation;
  auto current = [self, generation] {
    return self->state.syncing && self->state.sync_generation == generation;
  };
  self->state.syncing_via = p->out.address();
  self->request(p->out, seconds{30}, sync_atom::value, after)
    .then(
      [=](sync_page& page) {
        auto& st = self->state;
        if (!current())
          return;
        for (auto& ch : page.changes) {
          if (auto u = st.unconfirmed.find(ch.key); u != st.unconfirmed.end()) {
            auto& w = u->second.write;
            cu->theirs[ch.key] = ch.rec;
            // Checked out here and unchanged there: the removal is pushed
            // below; applying their record would bring it back meanwhile.
            if (w.removed && ch.rec.uuid == w.uuid && ch.rec.revision <= w.revision)
              continue;
          }
          cu->keys.push_back(ch.key);
          caf::anon_send(st.coord, apply_atom::value, std::move(ch));
        }
        if (!page.done)
          return sync_from(self, id, page.next_key, cu);
        auto count = cu->keys.size();
        auto pushes = reconciliation(self, *cu);
        auto& keys = cu->keys;
        for (auto& push : pushes)
          if (!push.first.removed)
            keys.push_back(push.first.key);  // the prune spares what we push
        auto& fresh = st.replicated_while_syncing;
        keys.insert(keys.end(), fresh.begin(), fresh.end());
        fresh.clear();
        caf::anon_send(st.coord, prune_atom::value, std::move(keys));
        st.syncing = false;
        st.synced_with = id;
        spdlog::info("cluster: caught up with {} ({} reservations)", id, count);
        push_unconfirmed(self, id, std::move(pushes));
      },
      [=](caf::error& e) {
        if (!current())
          return;
        self->state.syncing = false;
        spdlog::warn("cluster: catch-up from {} failed: {}", id, caf::to_string(e));
      });
}

void tick(cluster_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto gap = now - st.last_tick;
  st.last_tick = now;
  if (gap > st.opts.failure_timeout) {
    // We were paused (SIGSTOP, a VM freeze): our view of the others is stale.
    // No alerts until we have listened for one failure timeout.
    spdlog::warn("cluster: {} was paused for {} ms; listening before acting", st.opts.self_id,
                 duration_cast<milliseconds>(gap).count());
    st.recovering_until = now + st.opts.failure_timeout;
    for (auto& p : st.peers)
      if (p.heard)
        p.last_heard = now;
    // A paused coordinator gives up its claim: the others have most likely
    // replaced it. If nobody did, it is elected again after listening.
    if (st.coordinator_id == st.opts.self_id)
      st.coordinator_id.clear();
    // Whatever was written meanwhile went past us: catch up again with
    // whoever coordinates, even the one we caught up with before the pause.
    // (Regression: a node paused while coordinating, whose coordinator before
    // that took over again, never caught up and missed the writes.)
    st.synced_with.clear();
  }
  for (auto& p : st.peers) {
    bool alive = p.heard && now - p.last_heard <= st.opts.failure_timeout;
    if (p.alive && !alive)
      peer_down(self, p);
    p.alive = alive;
    if (!p.out && !p.connecting && now >= p.next_attempt)
      connect(self, p);
  }
  bool claims = st.coordinator_id == st.opts.self_id;
  for (auto& p : st.peers)
    if (p.out)
      self->send(p.out, heartbeat_atom::value, st.opts.self_id, st.epoch, claims);
  elect(self, now);
  update_role(self, now);
  // A worker catches up with the coordinator it follows, once per coordinator
  // (and again after the coordinator was lost and came back).
  // A catch-up whose peer is no longer the live coordinator we reach is
  // abandoned: its request may never be answered (its connection closed, or
  // the peer was paused), and it would hold every catch-up off until it times
  // out. (Regression: a node that asked a coordinator which was then paused
  // stayed behind for 30 s, missing every write made meanwhile.)
  if (st.syncing) {
    auto p = find_peer(st, st.syncing_from);
    // Also when its request went to a connection since replaced (sent just
    // before CAF noticed the old one was gone): it is never answered.
    if (st.syncing_from != st.coordinator_id || !p || !p->out || !p->alive
        || !same_handle(p->out.address(), st.syncing_via) || gone(p->out)) {
      spdlog::info("cluster: catch-up from {} abandoned: no longer the coordinator we reach",
                   st.syncing_from);
      st.syncing = false;
      ++st.sync_generation;
    }
  }
  if (!st.syncing && !st.coordinator_id.empty() && st.coordinator_id != st.opts.self_id
      && st.synced_with != st.coordinator_id && now >= st.next_sync_attempt) {
    if (auto p = find_peer(st, st.coordinator_id); p && p->out && p->alive) {
      st.syncing = true;
      st.syncing_from = st.coordinator_id;
      ++st.sync_generation;
      st.replicated_while_syncing.clear();
      sync_from(self, st.coordinator_id, "", std::make_shared<catch_up>());
    }
  }
  publish_view(self);
  self->delayed_send(self, st.opts.heartbeat, tick_atom::value);
}

caf::behavior cluster_actor(cluster_pointer self, node_context* ctx, coordinator_actor coord,
                            cluster_options opts) {
  auto& st = self->state;
  st.ctx = ctx;
  st.coord = coord;
  st.opts = std::move(opts);
  for (auto& n : st.opts.nodes)
    if (n.id != st.opts.self_id) {
      peer p;
      p.addr = n;
      st.peers.push_back(std::move(p));
    }
  storage::status status;
  if (auto e = ctx->db->get_meta("cluster_epoch", status))
    st.epoch = std::strtoull(e->c_str(), nullptr, 10);
  status = ctx->db->for_each_unconfirmed([&](const std::string& key, unconfirmed_write&& w) {
    st.unconfirmed[key] = {std::move(w), ++st.next_generation, true};
    return true;
  });
  if (!status.ok())
    spdlog::error("cluster: reading the changes not yet on every node: {}", status.message);
  if (!st.unconfirmed.empty())
    spdlog::info("cluster: {} reservations changed here are not yet on every node; they are "
                 "reconciled at the next catch-up",
                 st.unconfirmed.size());
  st.started = st.last_tick = self->clock().now();
  self->set_down_handler([=](caf::down_msg& dm) {
    // By identity: a peer's actor keeps its address across connections, and
    // this may be the end of a connection that another already replaced.
    for (auto& p : self->state.peers)
      if (p.out && same_handle(p.out.address(), dm.source)) {
        spdlog::info("cluster: connection to {} lost", p.addr.id);
        p.out = nullptr;
        p.next_attempt = self->clock().now() + p.backoff;
      }
    auto& inbound = self->state.inbound;
    if (auto i = inbound.find(dm.source); i != inbound.end() && same_handle(i->first, dm.source))
      inbound.erase(i);
    refresh_trust(self);
  });
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) { tick(self); },
    [=](recheck_atom, std::uint64_t token) {
      auto i = self->state.rechecks.find(token);
      if (i == self->state.rechecks.end())
        return;
      auto fn = std::move(i->second);
      self->state.rechecks.erase(i);
      fn();
    },
    // -- handshake (the only messages accepted from strangers) ---------------
    [=](hello_atom, std::string& id) -> caf::result<std::string> {
      // No sender: CAF 0.17 lost its route to the sending node while the
      // connection still delivers (a node resumed from SIGSTOP closed its
      // stale connection after the peer's new one came up). Nobody could be
      // answered or authenticated, and a null address must not reach the
      // maps below: hashing it crashed the process (cluster_handshake_test).
      if (!self->current_sender())
        return unroutable(self, "a handshake", id);
      static constexpr char hex[] = "0123456789abcdef";
      std::string nonce;
      for (int i = 0; i < 32; ++i)
        nonce.push_back(hex[self->state.rng() & 0xf]);
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (self->state.challenges.size() > 1024)
        self->state.challenges.clear();  // bounded: strangers cannot grow it
      auto& mine = self->state.challenges[sender];
      if (mine.size() >= 4)
        mine.erase(mine.begin());
      mine.emplace_back(std::move(id), nonce);
      return nonce;
    },
    [=](auth_atom, std::string& id, std::string& mac) -> bool {
      auto& st = self->state;
      if (!self->current_sender()) {
        unroutable(self, "a credential", id);
        return false;
      }
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      auto i = st.challenges.find(sender);
      bool ok = false;
      if (i != st.challenges.end() && find_peer(st, id) != nullptr) {
        auto& mine = i->second;
        for (auto c = mine.begin(); c != mine.end(); ++c) {
          if (c->first != id)
            continue;
          auto expected = hmac_sha256_hex(st.opts.secret, "gotel-cluster|" + id + "|" + c->second);
          if (expected.size() == mac.size()
              && CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) == 0) {
            ok = true;
            mine.erase(c);  // each nonce answers once
            break;
          }
        }
        if (!ok)
          st.challenges.erase(i);  // a wrong answer spends every open nonce
        else if (mine.empty())
          st.challenges.erase(i);
      }
      if (!ok) {
        spdlog::warn("cluster: refused a peer claiming to be \"{}\": wrong cluster credential "
                     "or unknown node",
                     id);
        return false;
      }
      // Replace the key too, not only the value: a peer that reconnects (a
      // healed partition) keeps its actor address, and a key kept from the
      // old connection is its dead proxy, which connect() would then use.
      st.inbound.erase(sender);
      st.inbound.emplace(sender, id);
      // Its connection's end ends the authentication (down handler).
      self->monitor(caf::actor_cast<caf::actor>(self->current_sender()));
      refresh_trust(self);
      return true;
    },
    [=](reauth_atom) {
      // Only from the very actor we reach a peer through (a stranger cannot
      // make us talk to anyone else), and only once at a time.
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      for (auto& p : self->state.peers) {
        if (!p.out || !same_handle(p.out.address(), sender) || p.connecting)
          continue;
        spdlog::info("cluster: {} no longer knows us; authenticating again", p.addr.id);
        p.connecting = true;
        auto id = p.addr.id;
        authenticate(self, id, p.out, [self, id](const caf::error& err) {
          if (auto q = find_peer(self->state, id))
            q->connecting = false;
          spdlog::debug("cluster: authenticating again to {}: {}", id, caf::to_string(err));
        });
      }
    },
    // -- from authenticated peers ---------------------------------------------
    [=](heartbeat_atom, std::string& id, std::uint64_t epoch, bool claims) {
      auto& st = self->state;
      auto who = sender_id(self);
      if (!who || *who != id)
        return reject(self, "a heartbeat");
      auto p = find_peer(st, id);
      if (!p)
        return;
      auto now = self->clock().now();
      p->last_heard = now;
      p->last_heard_wall = st.ctx->wall_now();
      p->heard = true;
      p->epoch = epoch;
      if (!p->alive) {
        p->alive = true;
        peer_up(self, *p);
      }
      // It reached us but we have not reached it (our attempts failed while it
      // was down and are backing off, or a dial of ours is still pending):
      // authenticate over the connection this heartbeat came on now, one
      // round trip, so replication to it and our heartbeats are not held up.
      // (Regression: both nodes dialed as a paused one resumed, CAF kept one
      // connection, and our pending dial waited out its 5 s timeout while
      // the peer, hearing nothing from us, declared us dead and took over.)
      if (!p->out && !p->via_sender) {
        p->via_sender = true;
        authenticate(self, id, caf::actor_cast<caf::actor>(self->current_sender()),
                     [self, id](const caf::error& err) {
                       if (auto q = find_peer(self->state, id))
                         q->via_sender = false;
                       spdlog::debug("cluster: authenticating to {} over its connection: {}", id,
                                     caf::to_string(err));
                     });
      }
      if (claims) {
        bool newer = epoch > st.epoch;
        bool tie_won = epoch == st.epoch && st.coordinator_id != id
                       && order_of(st, id) < order_of(st, st.coordinator_id);
        if (newer || tie_won || (epoch == st.epoch && st.coordinator_id.empty())) {
          if (st.coordinator_id == st.opts.self_id)
            spdlog::warn("cluster: {} steps down: {} coordinates with epoch {}", st.opts.self_id,
                         id, epoch);
          st.epoch = epoch;
          st.coordinator_id = id;
          persist_epoch(self);
          update_role(self, now);
          publish_view(self);
        }
      } else if (epoch > st.epoch) {
        // A newer epoch exists: whoever we thought coordinated (ourselves
        // included) is stale. Step down at once; the coordinator's own
        // heartbeat will name it.
        if (st.coordinator_id == st.opts.self_id)
          spdlog::warn("cluster: {} steps down: {} has seen epoch {}", st.opts.self_id, id, epoch);
        st.epoch = epoch;
        st.coordinator_id.clear();
        persist_epoch(self);
        update_role(self, now);
        publish_view(self);
      }
      // A peer behind us (it woke from a pause, or healed from a partition)
      // hears our view at once, over its own connection, instead of waiting
      // for ours to be re-established.
      if (epoch < st.epoch)
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), heartbeat_atom::value,
                   st.opts.self_id, st.epoch, st.coordinator_id == st.opts.self_id);
    },
    [=](replicate_atom, std::string& id, std::uint64_t, repl_change& ch) -> caf::result<bool> {
      auto who = sender_id(self);
      if (!who || *who != id) {
        reject(self, "a replicated change");
        return false;
      }
      if (self->state.syncing)
        self->state.replicated_while_syncing.insert(ch.key);
      auto rp = self->make_response_promise<bool>();
      self->request(caf::actor_cast<caf::actor>(self->state.coord), caf::infinite,
                    apply_atom::value, std::move(ch))
        .then([=](reservation_record&) mutable { rp.deliver(true); },
              [=](caf::error&) mutable { rp.deliver(false); });
      return rp;
    },
    [=](forward_atom, std::string& id, caf::message& msg) -> caf::result<reservation_record> {
      auto who = sender_id(self);
      if (!who || *who != id) {
        reject(self, "a forwarded request");
        return make_error(errc::unavailable, "not a cluster member");
      }
      auto rp = self->make_response_promise<reservation_record>();
      self->request(caf::actor_cast<caf::actor>(self->state.coord),
                    self->state.opts.request_timeout, std::move(msg))
        .then([=](reservation_record& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](sync_atom, std::string& after) -> caf::result<sync_page> {
      if (!sender_id(self)) {
        reject(self, "a catch-up request");
        return make_error(errc::unavailable, "not a cluster member");
      }
      sync_page page;
      page.done = true;
      auto status = self->state.ctx->db->for_each_reservation_after(
        after, [&](const std::string& key, reservation_record&& rec) {
          if (page.changes.size() == sync_page_size) {
            page.done = false;
            return false;
          }
          page.next_key = key;
          page.changes.push_back(repl_change{key, std::move(rec), false, 0, {}});
          return true;
        });
      if (!status.ok() && status.code != storage::errc::corruption)
        return make_error(errc::storage_failure, "catch-up scan failed: " + status.message);
      return page;
    },
    [=](reconcile_atom, std::string& id, reconcile_change& rc) -> caf::result<bool> {
      auto who = sender_id(self);
      if (!who || *who != id) {
        reject(self, "a reconciliation");
        return false;
      }
      // Only the coordinator decides; a node that stepped down meanwhile
      // refuses, and the sender tries again at its next catch-up.
      if (self->state.coordinator_id != self->state.opts.self_id)
        return false;
      auto rp = self->make_response_promise<bool>();
      self->request(caf::actor_cast<caf::actor>(self->state.coord), caf::infinite,
                    reconcile_atom::value, std::move(rc))
        .then([=](reservation_record&) mutable { rp.deliver(true); },
              [=](caf::error& e) mutable {
                spdlog::debug("cluster: reconciliation from {}: {}", id, caf::to_string(e));
                rp.deliver(false);
              });
      return rp;
    },
    // -- local ----------------------------------------------------------------
    [=](replicate_atom, repl_change& ch) -> caf::result<bool> {
      // Answers true once every peer that was live when the change was sent has
      // confirmed it, or has since been declared dead (it catches up when it
      // returns); false when a peer that is still considered live did not
      // confirm in time. Only true lets the write be acknowledged, so a
      // coordinator elected after a crash has every acknowledged change.
      // A change that some configured node did not confirm (it was not live,
      // or was excused) is remembered for reconciliation before the answer.
      auto& st = self->state;
      std::vector<std::string> targets;
      for (auto& p : st.peers)
        if (p.alive)
          targets.push_back(p.addr.id);
      auto rp = self->make_response_promise<bool>();
      if (targets.empty()) {
        // No live peer: durable here only (degraded, docs/cluster.md).
        note_outcome(self, ch.key, unconfirmed_of(ch), false,
                     [rp]() mutable { rp.deliver(true); });
        return rp;
      }
      struct progress {
        std::size_t pending;
        bool all_confirmed = true;
        bool everywhere;  ///< every configured peer confirmed
      };
      auto prog = std::make_shared<progress>(
        progress{targets.size(), true, targets.size() == st.peers.size()});
      auto noted = std::make_shared<std::pair<std::string, unconfirmed_write>>(ch.key,
                                                                              unconfirmed_of(ch));
      // `ok`: the write may be acknowledged as far as this peer goes;
      // `reached`: the peer has the change.
      auto answered = [=](bool ok, bool reached) mutable {
        prog->all_confirmed = prog->all_confirmed && ok;
        prog->everywhere = prog->everywhere && reached;
        if (--prog->pending > 0)
          return;
        note_outcome(self, noted->first, noted->second, prog->everywhere,
                     [rp, ok = prog->all_confirmed]() mutable { rp.deliver(ok); });
      };
      auto patience = st.opts.failure_timeout + 2 * st.opts.heartbeat;
      // Once the failure detector has had its say: a peer declared dead (or
      // gone from the config) is excused, one still live has not confirmed.
      auto after_patience = [=](std::function<void()> fn) {
        auto& st = self->state;
        auto token = ++st.next_recheck;
        st.rechecks.emplace(token, std::move(fn));
        self->delayed_send(self, patience, recheck_atom::value, token);
      };
      auto excused = [=](const std::string& id) {
        auto q = find_peer(self->state, id);
        return !q || !q->alive;
      };
      auto send_to = [=](const std::string& id, caf::actor hdl) mutable {
        self->request(hdl, patience, replicate_atom::value, self->state.opts.self_id,
                      self->state.epoch, ch)
          .then([=](bool ok) mutable { answered(ok, ok); },
                [=](caf::error&) mutable {
                  if (excused(id))
                    return answered(true, false);
                  // It failed while still considered live (e.g. it was just
                  // stopped): let the failure detector decide, then answer.
                  after_patience([=]() mutable { answered(excused(id), false); });
                });
      };
      for (auto& id : targets) {
        auto p = find_peer(st, id);
        if (p->out) {
          send_to(id, p->out);
          continue;
        }
        // Live, but only over the connection it opened: the change waits for
        // ours (authenticating over theirs takes one round trip), so that the
        // write is not acknowledged without it.
        auto done = std::make_shared<bool>(false);
        std::erase_if(p->awaiting_out, [](const peer::waiting_change& w) { return *w.done; });
        p->awaiting_out.push_back({done, [=](caf::actor hdl) mutable {
                                     if (!std::exchange(*done, true))
                                       send_to(id, std::move(hdl));
                                   }});
        if (!p->connecting)
          connect(self, *p);
        after_patience([=]() mutable {
          if (std::exchange(*done, true))
            return;
          answered(excused(id), false);
        });
      }
      return rp;
    },
    [=](forward_atom, caf::message& msg) -> caf::result<reservation_record> {
      auto& st = self->state;
      auto p = st.coordinator_id.empty() ? nullptr : find_peer(st, st.coordinator_id);
      if (!p || !p->out || !p->alive)
        return make_error(errc::no_coordinator, "no coordinator reachable");
      auto rp = self->make_response_promise<reservation_record>();
      self->request(p->out, st.opts.request_timeout, forward_atom::value, st.opts.self_id,
                    std::move(msg))
        .then([=](reservation_record& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
  };
}

}  // namespace

caf::actor start_cluster(caf::actor_system& sys, node_context* ctx, coordinator_actor coord,
                         cluster_options opts, std::string& error) {
  const node_address* me = nullptr;
  for (auto& n : opts.nodes)
    if (n.id == opts.self_id)
      me = &n;
  if (!me) {
    error = "server.node_id " + opts.self_id + " is not in cluster.nodes";
    return nullptr;
  }
  auto host = me->cluster_host;
  auto port = me->cluster_port;
  auto opts_transport = opts.transport;
  auto description = opts.transport_description;
  auto opts_self_id = opts.self_id;
  ctx->coordinator.store(false);
  ctx->alert_lease_ns.store(0);
  // Strangers are refused before CAF sees them (docs/security.md).
  std::vector<std::string> peer_hosts;
  for (auto& n : opts.nodes)
    peer_hosts.push_back(n.cluster_host);
  if (auto e = cluster_guard::configure(peer_hosts, port); !e.empty()) {
    error = e;
    return nullptr;
  }
  auto hdl = sys.spawn(cluster_actor, ctx, std::move(coord), std::move(opts));
  auto published = opts_transport == cluster_transport::plain
                     ? sys.middleman().publish(hdl, port, host.c_str(), true)
                     : caf::openssl::publish(hdl, port, host.c_str(), true);
  if (!published) {
    error = "cannot listen for the cluster on " + host + ":" + std::to_string(port) + ": "
            + sys.render(published.error());
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    return nullptr;
  }
  cluster_guard::set_port(static_cast<std::uint16_t>(*published));
  ctx->cluster = hdl;
  spdlog::info("cluster: {} listening for peers on {}:{} ({})", opts_self_id, host, *published,
               description);
  return hdl;
}

}  // namespace gotel
