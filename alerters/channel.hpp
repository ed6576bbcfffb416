#pragma once
/// An alerter channel: something that can deliver one alert intent. Channels are
/// called on the dispatcher's blocking pool, never on actor scheduler threads.

#include "storage/model.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gotel {

struct delivery_result {
  bool delivered = false;
  bool retryable = true;  ///< false: retrying cannot help (e.g. 4xx other than 408/429)
  std::string error;      ///< never contains secrets
  /// The intent's new `progress` (kept across retries), e.g. the e-mail
  /// recipients already sent to. Empty = no partial progress.
  std::string progress;
};

/// Names of every alerter GoTel knows, sorted; a reservation's "alerters" and
/// "escalation" may name only these.
inline constexpr std::string_view alerter_names[] = {"email", "log", "pagerduty", "slack",
                                                      "webhook"};

/// Whether `name` is one of alerter_names.
bool is_alerter_name(std::string_view name);

/// Alert-storm notices (one intent standing for many grouped ones) carry a
/// dedup key with this prefix; channels word them differently.
inline constexpr std::string_view storm_dedup_prefix = "storm:";

inline bool is_storm_notice(const alert_intent& intent) {
  return intent.dedup_key.starts_with(storm_dedup_prefix);
}

/// Mail digests (alerts held back by the mail budget, one message to one
/// recipient) carry a dedup key with this prefix.
inline constexpr std::string_view digest_dedup_prefix = "digest:";

inline bool is_mail_digest(const alert_intent& intent) {
  return intent.dedup_key.starts_with(digest_dedup_prefix);
}

/// In `alert_intent::progress`, a recipient whose copy of the alert went into
/// a digest instead (mail budget) is kept as `>address`: handled, not sent.
/// '>' never starts an address a channel would mail.
inline constexpr char deferred_mark = '>';

/// Thread-safety: deliver() may be called concurrently from several pool threads.
class alert_channel {
 public:
  virtual ~alert_channel() = default;
  /// Stable name, stored in intents ("log", "webhook", ...).
  virtual std::string_view name() const = 0;
  /// Blocking; returns within the channel's configured timeout.
  virtual delivery_result deliver(const alert_intent& intent) = 0;
  /// Whether the dispatcher may fold this channel's alerts into alert-storm
  /// notices. The log alerter answers false: every alert reaches the log.
  virtual bool groups_storms() const { return true; }
  /// Whether the channel sends one message per `notify` recipient: then the
  /// dispatcher caps the recipients and applies the mail budgets.
  virtual bool mails_recipients() const { return false; }
};

/// Writes every alert to the process log (spdlog). Never fails.
std::unique_ptr<alert_channel> make_log_channel();

/// POSTs the JSON documented in docs/alerters.md to `url` via libcurl.
/// 2xx = delivered; 4xx (but 408/429) = not retryable; anything else = retry.
/// With a non-empty `secret`, each request carries
/// `X-Gotel-Signature: sha256=<hex HMAC-SHA256 of the exact body>`.
std::unique_ptr<alert_channel> make_webhook_channel(std::string url,
                                                    std::chrono::milliseconds timeout,
                                                    std::string secret = {});

/// The webhook JSON body for `intent` (exposed for tests and docs).
std::string webhook_payload(const alert_intent& intent);

/// Lower-case hex HMAC-SHA256 of `body` under `key` (OpenSSL).
std::string hmac_sha256_hex(std::string_view key, std::string_view body);

/// E-mail through an SMTP relay, one message per recipient in `intent.notify`.
struct smtp_options {
  std::string host;
  int port = 25;
  std::string user;        ///< empty = no AUTH
  std::string pass;        ///< never logged
  std::string from;
  std::string reply_to;    ///< empty = from
  std::string tls = "none";  ///< none, starttls, tls
  std::chrono::milliseconds timeout{10000};
};

/// Name "email". Delivered once every recipient accepted its message; a
/// recipient that failed does not stop the others, and a retry sends only to
/// those not yet in `intent.progress`. A permanent (5xx) refusal of every
/// remaining recipient is not retryable.
std::unique_ptr<alert_channel> make_smtp_channel(smtp_options opts);

/// The recipients of `notify` (comma-separated), trimmed, empty ones dropped.
std::vector<std::string> split_recipients(std::string_view notify);

/// The exact RFC 5322 message (CRLF line ends) sent to `to` for `intent`.
/// Exposed for tests and docs.
std::string smtp_message(const alert_intent& intent, const smtp_options& opts,
                         const std::string& to);

/// PagerDuty Events API v2.
struct pagerduty_options {
  std::string routing_key;  ///< never logged
  std::string url = "https://events.pagerduty.com/v2/enqueue";
  std::string severity = "critical";
  std::string source;       ///< this node's address
  std::chrono::milliseconds timeout{5000};
};

/// Name "pagerduty": trigger for late/repeat, resolve for recovered, with
/// dedup_key = intent.dedup_key. 2xx (PagerDuty answers 202) = delivered;
/// 408, 429, 5xx and transport errors retry; other 4xx (400: bad event) do not.
std::unique_ptr<alert_channel> make_pagerduty_channel(pagerduty_options opts);

/// The Events API v2 JSON body for `intent` (exposed for tests and docs).
std::string pagerduty_payload(const alert_intent& intent, const pagerduty_options& opts);

/// PagerDuty's limit on payload.summary.
inline constexpr std::size_t pagerduty_summary_limit = 1024;

/// Name "slack": POSTs {"text": slack_text(intent)} to an incoming webhook.
std::unique_ptr<alert_channel> make_slack_channel(std::string url,
                                                  std::chrono::milliseconds timeout);

/// The Slack JSON body for `intent` (exposed for tests and docs).
std::string slack_payload(const alert_intent& intent);

}  // namespace gotel
