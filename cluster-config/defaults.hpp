#pragma once
/// Every default in one place, each with the reason it is what it is.

#include <cstdint>

namespace gotel::defaults {

/// Loopback: a fresh install is not reachable from the network until asked to be.
inline constexpr const char* listen = "127.0.0.1:8080";
/// A local folder beside the working directory, so a first start needs no setup.
inline constexpr const char* data_dir = "./gotel-data";
/// The node's name in logs, alerts and (later) the cluster.
inline constexpr const char* node_id = "gotel-1";
/// 0 = one I/O thread per core; HTTP parsing is cheap and runs beside the actors.
inline constexpr std::int64_t io_threads = 0;
/// 0 = one actor scheduler thread per core.
inline constexpr std::int64_t scheduler_threads = 0;
/// GoTel bodies are a few hundred bytes; 64 KiB leaves room for long notes.
inline constexpr std::int64_t max_body_bytes = 64 * 1024;
/// app, component, owner, time_units: names, not documents.
inline constexpr std::int64_t max_field_bytes = 256;
/// notify and alert_msg lists and templates; checkin notes.
inline constexpr std::int64_t max_notes_bytes = 4096;
/// Bytes of a /ping body kept as its log: Healthchecks' PING_BODY_LIMIT.
inline constexpr std::int64_t ping_body_limit = 10000;
/// How long an HTTP handler waits for an actor before answering 503.
inline constexpr std::int64_t request_timeout_ms = 5000;
/// Checkins kept per reservation: enough to see a pattern, bounded for millions.
inline constexpr std::int64_t history_per_reservation = 50;
/// A 2xx means the write is in the synced WAL (ARCHITECTURE.md property 1).
inline constexpr bool sync_writes = true;
/// Exposing the API to the network without keys must be a decision, not an accident.
inline constexpr bool open_api = false;
/// A ping uuid may be derived from its app and component (records stored before
/// uuids existed) and is listed to read-only keys: not a secret unless chosen
/// to be.
inline constexpr bool open_uuid_pings = false;
/// Far above any real team's crontabs, low enough that a leaked ping key with
/// ?create=1 (or a runaway script) cannot fill memory and disk.
inline constexpr std::int64_t max_reservations_per_app = 10000;
/// A cap on all apps together: per-app limits alone let a client with many
/// app names fill memory and disk (issue 14 section 6). Sized for millions per
/// node (issue 15): 2M dormant reservations hold ~850 MiB (docs/scale.md, 427 B
/// each at 1M), so the cap bounds what a runaway client can take without
/// refusing a real fleet; raise it (or 0) for more.
inline constexpr std::int64_t max_reservations = 2000000;
/// The original GoTel checked in gotel/coordinator and gotel/worker every 30 s
/// (its monitor loop) against a 5-minute frequency: 10 periods (self_row.hpp).
inline constexpr std::int64_t self_checkin_seconds = 30;
/// Beast's default; real clients send well under 2 KiB of headers.
inline constexpr std::int64_t max_header_bytes = 16 * 1024;
/// Keeps keep-alive connections of busy cron hosts reused without hoarding sockets.
inline constexpr std::int64_t idle_timeout_ms = 60000;
/// A whole request (<= max_body_bytes) takes milliseconds; 10 s forgives slow links
/// and cuts off clients that trickle bytes to hold a connection (slowloris).
inline constexpr std::int64_t read_timeout_ms = 10000;
/// Far above what one host running cron jobs opens (and above the benchmarks' 64);
/// stops one address from taking every socket.
inline constexpr std::int64_t max_connections_per_client = 256;
/// Every client together: far above what thousands of cron hosts keep open, and
/// a bound on what a flood from many addresses can hold (memory, descriptors).
/// The file-descriptor limit lowers it further (docs/security.md).
inline constexpr std::int64_t max_connections = 10000;
/// Peers whose X-Forwarded-For is believed: a proxy on this machine.
inline constexpr const char* trusted_proxies = "127.0.0.0/8,::1";
/// Off: many cron hosts behind one NAT address would share a bucket, and a refused
/// checkin turns into a false alert. Set it when the API is exposed.
inline constexpr double rate_limit_per_second = 0;
/// When rate limiting is on: a host's jobs that all start on the same minute still
/// check in at once.
inline constexpr std::int64_t rate_limit_burst = 200;
/// TLS 1.2 is what every supported curl, Python and Go client speaks; 1.0/1.1 are
/// deprecated (RFC 8996). "1.3" is there for operators who can require it.
inline constexpr const char* tls_min_version = "1.2";

/// GoTel's default config re-alerted every 6 hours while a job stays late.
inline constexpr double hours_between_alerts = 6.0;
/// The original waited 24 h before a new reservation could alert; we alert after
/// one period. Operators who want the old bake set this.
inline constexpr std::int64_t initial_bake_seconds = 0;
/// Extra slack after each deadline; GoTel had none (strictly later than the period).
inline constexpr std::int64_t grace_seconds = 0;
/// Alerts always reach the log, so a node with no channel configured is not silent.
inline constexpr bool log_alerter = true;
/// A receiver that takes longer than this is treated as failed and retried.
inline constexpr std::int64_t webhook_timeout_ms = 5000;
/// First retry after 1 s, doubling (with jitter) up to 5 minutes.
inline constexpr std::int64_t retry_initial_ms = 1000;
inline constexpr std::int64_t retry_max_ms = 5 * 60 * 1000;
/// After a day of failures an intent is expired: logged, counted, and dropped.
inline constexpr double expire_hours = 24.0;
/// 50 alerts on one channel within 10 s is an outage of the monitor's own view
/// (network cut, shared dependency down), not 50 separate incidents: group the rest.
inline constexpr std::int64_t storm_threshold = 50;
inline constexpr std::int64_t storm_window_ms = 10000;
/// Each channel delivers on its own threads, so a hung relay never delays the
/// webhook (issue 14 section 4); 2 lets one slow receiver not stall its channel.
inline constexpr std::int64_t channel_threads = 2;
/// Deliveries queued per channel; beyond, intents wait in the outbox (durable).
inline constexpr std::int64_t channel_queue = 1000;
/// A reservation actor idle for 2 minutes is passivated: a job checking in
/// every minute keeps its actor, one checking in hourly or daily costs only
/// its compact entry between checkins (docs/scale.md).
inline constexpr std::int64_t passivate_after_seconds = 120;
/// Issue 14 section 5: one reservation with 701 addresses in notify made 701
/// SMTP sessions per alert. Ten addresses cover a team list and an on-call
/// alias; a larger audience belongs on a mailing list the relay expands.
inline constexpr std::int64_t max_recipients = 10;
/// Ten mails a minute to one address is more than a person reads (a job
/// flapping on a 1 s period sends a late and a recovery each cycle); the rest
/// arrive in one digest per address and minute.
inline constexpr std::int64_t mail_per_recipient_per_minute = 10;
/// 120 a minute in total (two a second) stays below the sending limits of
/// common relays and hosted SMTP services (hundreds to a few thousand an hour
/// per account), so a storm does not get the sender throttled or blocklisted.
inline constexpr std::int64_t mail_per_minute = 120;

/// The SMTP submission port every relay listens on without TLS wrapping.
inline constexpr std::int64_t smtp_port = 25;
/// A sender address that says where the mail comes from; operators set their own.
inline constexpr const char* smtp_from = "gotel@localhost";
/// GoTel used plain SMTP; relays on the local network often offer nothing else.
inline constexpr const char* smtp_tls = "none";
/// SMTP relays greet slowly under load; 10 s per recipient before a retry.
inline constexpr std::int64_t smtp_timeout_ms = 10000;
/// PagerDuty's public Events API v2 endpoint; override for proxies and tests.
inline constexpr const char* pagerduty_url = "https://events.pagerduty.com/v2/enqueue";
/// A missed cron job pages: that is why it has a PagerDuty escalation at all.
inline constexpr const char* pagerduty_severity = "critical";
/// Same budget as the webhook: a slower answer is retried.
inline constexpr std::int64_t pagerduty_timeout_ms = 5000;
inline constexpr std::int64_t slack_timeout_ms = 5000;

inline constexpr const char* log_level = "info";

/// Per-reservation /metrics series for at most this many reservations: seven
/// series each, so 7,000 in all, within Prometheus' advice to keep a target's
/// series in the low thousands (every series costs the server memory).
inline constexpr std::int64_t metrics_per_reservation_max = 1000;

/// Heartbeats twice a second: cheap, and a lost one is noticed well before the timeout.
inline constexpr std::int64_t heartbeat_ms = 500;
/// Three seconds of silence (six heartbeats) before a peer is declared dead:
/// tolerates lost heartbeats and GC-free hiccups, still fails over within seconds.
inline constexpr std::int64_t failure_timeout_ms = 3000;
/// Off: nodes with different settings cannot talk, so any other default would split
/// an existing cluster during a rolling upgrade, and the safe mode ("mutual") needs
/// certificates only the operator can issue. gotel warns when a cluster address is
/// not loopback and this is off (docs/security.md).
inline constexpr const char* cluster_tls = "off";

}  // namespace gotel::defaults
