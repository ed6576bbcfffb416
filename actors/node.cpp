#include "actors/node.hpp"

#include "actors/cluster.hpp"
#include "actors/cluster_tls.hpp"
#include "actors/errors.hpp"
#include "actors/self_row.hpp"
#include "alerters/dispatcher.hpp"

#include <caf/io/middleman.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

namespace gotel {

unix_ms system_wall_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::unique_ptr<node> node::start(const config& cfg, std::string& error,
                                  std::function<unix_ms()> wall_now,
                                  std::vector<std::shared_ptr<alert_channel>> extra_channels) {
  std::unique_ptr<node> n{new node};
  n->cfg_ = cfg;
  auto& ctx = n->ctx_;
  ctx.wall_now = wall_now ? std::move(wall_now) : system_wall_now;

  // Broken TLS files are a startup error, found before the data directory is
  // touched: CAF would only find them inside its I/O loop, on the first
  // connection (cluster_tls.hpp).
  auto transport = transport_of(cfg.cluster);
  if (!cfg.cluster.nodes.empty() && transport == cluster_transport::tls_mutual) {
    if (auto e = check_tls_files(cfg.cluster); !e.empty()) {
      error = "cluster TLS: " + e;
      return nullptr;
    }
  }

  storage::status st;
  n->db_ = storage::store::open(storage::options{cfg.server.data_dir}, st);
  if (!n->db_) {
    error = "cannot open the data directory " + cfg.server.data_dir + ": " + st.message;
    return nullptr;
  }
  n->committer_ = std::make_unique<storage::group_committer>(*n->db_, cfg.server.sync_writes);
  ctx.db = n->db_.get();
  ctx.committer = n->committer_.get();
  ctx.policy.bake_ms = cfg.alerts.initial_bake_seconds * 1000;
  ctx.policy.grace_ms = cfg.alerts.grace_seconds * 1000;
  ctx.policy.repeat_ms = static_cast<std::int64_t>(cfg.alerts.hours_between_alerts * 3600'000.0);
  ctx.history_limit = static_cast<std::size_t>(cfg.server.history_per_reservation);
  ctx.max_reservations_per_app = static_cast<std::uint64_t>(cfg.server.max_reservations_per_app);
  ctx.max_reservations = static_cast<std::uint64_t>(cfg.server.max_reservations);
  if (!cfg.server.advertise_address.empty()) {
    ctx.srv = cfg.server.advertise_address;
  } else if (auto hp = split_host_port(cfg.server.listen)) {
    ctx.srv = hp->first;
  }

  // Sequences continue where the stored ones end.
  std::uint64_t max_intent = 0;
  n->db_->for_each_intent([&](alert_intent&& x) {
    max_intent = std::max(max_intent, x.id);
    return true;
  });
  ctx.next_intent_id.store(max_intent + 1);
  ctx.alert_log_seq.store(n->db_->last_alert_log_seq());

  // CAF: the sharing scheduler (work stealing stalls on 2 cores under millions
  // of timers, BUILD-NOTES.md), quiet logger.
  auto threads = cfg.server.scheduler_threads > 0
                   ? static_cast<std::size_t>(cfg.server.scheduler_threads)
                   : std::max<std::size_t>(2, std::thread::hardware_concurrency());
  n->system_cfg_ = std::make_unique<caf::actor_system_config>();
  auto& scfg = *n->system_cfg_;
  scfg.set("scheduler.policy", caf::atom("sharing"));
  scfg.set("scheduler.max-threads", threads);
  scfg.set("logger.verbosity", caf::atom("quiet"));
  scfg.set("logger.file-verbosity", caf::atom("quiet"));
  scfg.set("logger.console-verbosity", caf::atom("quiet"));
  register_message_types(scfg);
  if (!cfg.cluster.nodes.empty()) {
    scfg.load<caf::io::middleman>();
    // CAF detects nothing hung by default (BUILD-NOTES.md); our own heartbeats
    // decide liveness, these only let a dead connection close.
    scfg.set("middleman.heartbeat-interval",
             caf::timespan{std::chrono::milliseconds{cfg.cluster.heartbeat_ms}});
    scfg.set("middleman.connection-timeout",
             caf::timespan{std::chrono::milliseconds{cfg.cluster.failure_timeout_ms}});
    if (transport != cluster_transport::plain)
      configure_tls(scfg, cfg.cluster);
  }
  n->system_ = std::make_unique<caf::actor_system>(scfg);
  auto& sys = *n->system_;

  // Alerters: the log always (unless disabled), the webhook when configured.
  dispatcher_env env;
  env.db = ctx.db;
  env.committer = ctx.committer;
  env.wall_now = ctx.wall_now;
  env.log_seq = &ctx.alert_log_seq;
  env.opts.retry_initial = std::chrono::milliseconds{cfg.alerts.retry_initial_ms};
  env.opts.retry_max = std::chrono::milliseconds{cfg.alerts.retry_max_ms};
  env.opts.expire = std::chrono::milliseconds{
    static_cast<std::int64_t>(cfg.alerts.expire_hours * 3600'000.0)};
  if (cfg.alerts.log_alerter)
    env.channels.push_back(make_log_channel());
  env.opts.storm_threshold = static_cast<std::size_t>(cfg.alerts.storm_threshold);
  env.opts.storm_window = std::chrono::milliseconds{cfg.alerts.storm_window_ms};
  env.opts.pool_threads = static_cast<std::size_t>(cfg.alerts.channel_threads);
  env.opts.channel_queue = static_cast<std::size_t>(cfg.alerts.channel_queue);
  env.opts.max_recipients = static_cast<std::size_t>(cfg.alerts.max_recipients);
  env.opts.mail_per_recipient = static_cast<std::size_t>(cfg.alerts.mail_per_recipient_per_minute);
  env.opts.mail_total = static_cast<std::size_t>(cfg.alerts.mail_per_minute);
  env.intent_seq = &ctx.next_intent_id;
  if (!cfg.alerts.webhook_url.empty())
    env.channels.push_back(make_webhook_channel(
      cfg.alerts.webhook_url, std::chrono::milliseconds{cfg.alerts.webhook_timeout_ms},
      cfg.alerts.webhook_secret));
  if (!cfg.smtp.host.empty()) {
    smtp_options o;
    o.host = cfg.smtp.host;
    o.port = static_cast<int>(cfg.smtp.port);
    o.user = cfg.smtp.user;
    o.pass = cfg.smtp.pass;
    o.from = cfg.smtp.from;
    o.reply_to = cfg.smtp.reply_to;
    o.tls = cfg.smtp.tls;
    o.timeout = std::chrono::milliseconds{cfg.smtp.timeout_ms};
    env.channels.push_back(make_smtp_channel(std::move(o)));
  }
  if (!cfg.pagerduty.routing_key.empty()) {
    pagerduty_options o;
    o.routing_key = cfg.pagerduty.routing_key;
    o.url = cfg.pagerduty.url;
    o.severity = cfg.pagerduty.severity;
    o.source = ctx.srv.empty() ? cfg.server.node_id : ctx.srv;
    o.timeout = std::chrono::milliseconds{cfg.pagerduty.timeout_ms};
    env.channels.push_back(make_pagerduty_channel(std::move(o)));
  }
  if (!cfg.slack.webhook_url.empty())
    env.channels.push_back(make_slack_channel(
      cfg.slack.webhook_url, std::chrono::milliseconds{cfg.slack.timeout_ms}));
  for (auto& ch : extra_channels)
    env.channels.push_back(std::move(ch));
  for (auto& ch : env.channels)
    ctx.channels.emplace_back(ch->name());
  // Secrets (SMTP password, routing key, Slack URL, webhook key) are never logged.
  std::string names;
  for (auto& c : ctx.channels)
    names += (names.empty() ? "" : ", ") + c;
  spdlog::info("alerters: {}", names.empty() ? "none" : names);
  ctx.dispatcher = spawn_dispatcher(sys, std::move(env));

  ctx.passivate_after = std::chrono::seconds{cfg.reservations.passivate_after_seconds};
  n->coordinator_ = sys.spawn(gotel::coordinator, &ctx);
  // The cluster starts before the restore, so that restored reservations of a
  // node that is not (yet) the coordinator raise no alerts.
  std::string nodes_error;
  auto nodes = parse_nodes(cfg.cluster.nodes, nodes_error);
  {
    std::vector<std::string> ids{cfg.server.node_id};
    for (auto& a : nodes)
      if (a.id != cfg.server.node_id)
        ids.push_back(a.id);
    ctx.self_row_keys = self_row_keys(ids);
  }
  n->coordinator_ = sys.spawn(gotel::coordinator, &ctx);
  if (!nodes.empty()) {
    cluster_options copts;
    copts.self_id = cfg.server.node_id;
    copts.nodes = std::move(nodes);
    copts.secret = cfg.cluster.secret;
    copts.transport = transport;
    copts.transport_description = describe(transport, cfg.cluster);
    copts.heartbeat = std::chrono::milliseconds{cfg.cluster.heartbeat_ms};
    copts.failure_timeout = std::chrono::milliseconds{cfg.cluster.failure_timeout_ms};
    copts.request_timeout = std::chrono::milliseconds{cfg.server.request_timeout_ms};
    if (!start_cluster(sys, &ctx, n->coordinator_, std::move(copts), error))
      return nullptr;
  }
  caf::scoped_actor self{sys};
  bool ok = true;
  self->request(n->coordinator_, caf::infinite, restore_atom::value)
    .receive([&](std::uint64_t count) { n->restored_ = count; },
             [&](caf::error& err) {
               ok = false;
               error = message_of(err);
             });
  if (!ok)
    return nullptr;
  caf::anon_send(ctx.dispatcher, resume_atom::value);
  // After the restore, so that its rows are found, not created again.
  self_row_options sopts;
  sopts.node_id = cfg.server.node_id;
  sopts.period = std::chrono::seconds{cfg.server.self_checkin_seconds};
  sopts.request_timeout = std::chrono::milliseconds{cfg.server.request_timeout_ms};
  n->self_row_ = spawn_self_row(sys, &ctx, n->coordinator_, std::move(sopts));
  spdlog::info("node {}: restored {} reservations from {}", cfg.server.node_id, n->restored_,
               cfg.server.data_dir);
  return n;
}

void node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  if (self_row_)
    caf::anon_send_exit(self_row_, caf::exit_reason::user_shutdown);
  if (ctx_.cluster)
    caf::anon_send_exit(ctx_.cluster, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(coordinator_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ctx_.dispatcher, caf::exit_reason::user_shutdown);
  // start() may fail before the committer exists (e.g. the data directory
  // cannot be opened); its unique_ptr then destroys a half-built node.
  if (committer_)
    committer_->stop();
}

node::~node() {
  stop();
  // Every actor of the node has been told to exit: let them finish before the
  // handles they share go. (A reservation actor still arming a deadline as
  // the node stopped right after its start, e.g. on a refused listen, once
  // divided by a cleared timer list: SIGFPE. The node's own rows made that
  // window common; the system's destructor waits for the same.)
  if (system_)
    system_->await_all_actors_done();
  coordinator_ = nullptr;
  self_row_ = nullptr;
  ctx_.cluster = nullptr;
  ctx_.dispatcher = nullptr;
  system_.reset();  // joins the scheduler
  committer_.reset();
  db_.reset();
}

}  // namespace gotel
