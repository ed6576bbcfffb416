#include "alerters/channel.hpp"

#include "alerters/curl_global.hpp"
#include "alerters/render.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <utility>

namespace gotel {

namespace {

/// The "event" field of the webhook payload. Spelled out here, not taken from
/// to_string(alert_kind), because it is part of the documented wire format.
std::string_view event_name(alert_kind kind) {
  switch (kind) {
    case alert_kind::late:
      return "late";
    case alert_kind::repeat:
      return "repeat";
    case alert_kind::recovered:
      return "recovered";
  }
  return "late";
}

class log_channel final : public alert_channel {
 public:
  std::string_view name() const override { return "log"; }

  delivery_result deliver(const alert_intent& intent) override {
    spdlog::warn("alert app={} component={} kind={} dedup_key={} message={}", intent.app,
                 intent.component, event_name(intent.kind), intent.dedup_key, intent.message);
    return {true, false, {}, {}};
  }

  bool groups_storms() const override { return false; }
};

using detail::curl_global_once;

/// Discards the receiver's answer body; only the status matters.
size_t discard_body(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;
}

/// One JSON POST through libcurl, classified the same way for every HTTP
/// channel: 2xx delivered; 408, 429, 5xx, 1xx/3xx and transport errors retry;
/// other 4xx do not. `label` prefixes errors, which never contain the URL (its
/// userinfo, path or query may hold a token).
delivery_result http_post(const std::string& url, const std::string& body,
                          const std::vector<std::string>& extra_headers,
                          std::chrono::milliseconds timeout, std::string_view label) {
  curl_global_once();
  // One easy handle per delivery: deliver() runs on several pool threads and
  // an alert every few seconds does not need connection reuse.
  CURL* curl = curl_easy_init();
  if (curl == nullptr)
    return {false, true, std::string{label} + ": curl_easy_init failed", {}};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  // No "Expect: 100-continue" round trip for small bodies.
  headers = curl_slist_append(headers, "Expect:");
  for (auto& h : extra_headers)
    headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "gotel-alerter");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  // Signals and pool threads do not mix (no SIGALRM-based DNS timeouts).
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
  auto rc = curl_easy_perform(curl);
  long http_status = 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    // curl_easy_strerror never names the URL, which may carry a token.
    return {false, true, std::string{label} + ": " + curl_easy_strerror(rc), {}};
  }
  if (http_status >= 200 && http_status < 300)
    return {true, false, {}, {}};
  bool retryable = http_status == 408 || http_status == 429 || http_status >= 500
                   || http_status < 400;
  return {false, retryable, std::string{label} + ": HTTP " + std::to_string(http_status), {}};
}

class webhook_channel final : public alert_channel {
 public:
  webhook_channel(std::string url, std::chrono::milliseconds timeout, std::string secret)
    : url_(std::move(url)), timeout_(timeout), secret_(std::move(secret)) {
    curl_global_once();
  }

  std::string_view name() const override { return "webhook"; }

  delivery_result deliver(const alert_intent& intent) override {
    auto body = webhook_payload(intent);
    std::vector<std::string> headers;
    if (!secret_.empty())
      headers.push_back("X-Gotel-Signature: sha256=" + hmac_sha256_hex(secret_, body));
    return http_post(url_, body, headers, timeout_, "webhook");
  }

 private:
  std::string url_;
  std::chrono::milliseconds timeout_;
  std::string secret_;  ///< never logged
};

class pagerduty_channel final : public alert_channel {
 public:
  explicit pagerduty_channel(pagerduty_options opts) : opts_(std::move(opts)) {
    curl_global_once();
  }

  std::string_view name() const override { return "pagerduty"; }

  delivery_result deliver(const alert_intent& intent) override {
    return http_post(opts_.url, pagerduty_payload(intent, opts_), {}, opts_.timeout, "pagerduty");
  }

 private:
  pagerduty_options opts_;
};

class slack_channel final : public alert_channel {
 public:
  slack_channel(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {
    curl_global_once();
  }

  std::string_view name() const override { return "slack"; }

  delivery_result deliver(const alert_intent& intent) override {
    return http_post(url_, slack_payload(intent), {}, timeout_, "slack");
  }

 private:
  std::string url_;  ///< the credential itself: never logged
  std::chrono::milliseconds timeout_;
};

/// At most `limit` bytes of `text`, cut at a UTF-8 character boundary, with
/// "..." at the end when something was cut.
std::string cap_utf8(const std::string& text, std::size_t limit) {
  if (text.size() <= limit)
    return text;
  std::size_t cut = limit - 3;
  // Back up over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.substr(0, cut) + "...";
}

/// ISO 8601 in UTC with milliseconds, as PagerDuty's timestamp wants it.
std::string iso8601(unix_ms t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(t % 1000));
  return buf;
}

/// Slack's mrkdwn needs only &, < and > escaped.
std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

constexpr auto json_replace = nlohmann::ordered_json::error_handler_t::replace;

}  // namespace

std::unique_ptr<alert_channel> make_log_channel() {
  return std::make_unique<log_channel>();
}

std::unique_ptr<alert_channel> make_webhook_channel(std::string url,
                                                    std::chrono::milliseconds timeout,
                                                    std::string secret) {
  return std::make_unique<webhook_channel>(std::move(url), timeout, std::move(secret));
}

std::unique_ptr<alert_channel> make_pagerduty_channel(pagerduty_options opts) {
  return std::make_unique<pagerduty_channel>(std::move(opts));
}

std::unique_ptr<alert_channel> make_slack_channel(std::string url,
                                                  std::chrono::milliseconds timeout) {
  return std::make_unique<slack_channel>(std::move(url), timeout);
}

bool is_alerter_name(std::string_view name) {
  return std::find(std::begin(alerter_names), std::end(alerter_names), name)
         != std::end(alerter_names);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xF]);
  }
  return out;
}

std::string pagerduty_payload(const alert_intent& intent, const pagerduty_options& opts) {
  // Key order as in PagerDuty's documentation; ordered_json keeps it.
  nlohmann::ordered_json j;
  j["routing_key"] = opts.routing_key;
  j["dedup_key"] = intent.dedup_key;
  if (intent.kind == alert_kind::recovered) {
    j["event_action"] = "resolve";
    return j.dump(-1, ' ', false, json_replace);
  }
  j["event_action"] = "trigger";
  nlohmann::ordered_json p;
  p["summary"] = cap_utf8(intent.message, pagerduty_summary_limit);
  p["source"] = opts.source.empty() ? std::string{"gotel"} : opts.source;
  p["severity"] = opts.severity;
  p["timestamp"] = iso8601(intent.created_ms);
  p["component"] = intent.component;
  p["group"] = intent.app;
  p["class"] = event_name(intent.kind);
  nlohmann::ordered_json d;
  d["event"] = event_name(intent.kind);
  d["job_id"] = intent.job_id;
  d["app"] = intent.app;
  d["component"] = intent.component;
  d["owner"] = intent.owner;
  d["notify"] = intent.notify;
  d["deadline"] = rfc1123(intent.deadline_ms);
  d["message"] = intent.message;
  p["custom_details"] = std::move(d);
  j["payload"] = std::move(p);
  j["client"] = "GoTel";
  return j.dump(-1, ' ', false, json_replace);
}

std::string slack_payload(const alert_intent& intent) {
  std::string job = slack_escape(intent.app + "/" + intent.component);
  std::string head;
  if (is_storm_notice(intent)) {
    head = intent.kind == alert_kind::recovered ? ":large_green_circle: *GoTel alert storm recovered*"
                                                : ":warning: *GoTel alert storm*";
  } else {
    switch (intent.kind) {
      case alert_kind::late:
        head = ":red_circle: *" + job + " missed its checkin* (deadline "
               + rfc1123(intent.deadline_ms) + ")";
        break;
      case alert_kind::repeat:
        head = ":red_circle: *" + job + " is still late* (deadline "
               + rfc1123(intent.deadline_ms) + ")";
        break;
      case alert_kind::recovered:
        head = ":large_green_circle: *" + job + " recovered*";
        break;
    }
  }
  nlohmann::ordered_json j;
  j["text"] = head + "\n" + slack_escape(intent.message);
  return j.dump(-1, ' ', false, json_replace);
}

std::string webhook_payload(const alert_intent& intent) {
  // ordered_json keeps the documented key order (docs/alerters.md).
  nlohmann::ordered_json j;
  j["event"] = event_name(intent.kind);
  j["dedup_key"] = intent.dedup_key;
  j["job_id"] = intent.job_id;
  j["app"] = intent.app;
  j["component"] = intent.component;
  j["owner"] = intent.owner;
  j["notify"] = intent.notify;
  j["message"] = intent.message;
  j["deadline"] = intent.deadline_ms / 1000;
  j["deadline_str"] = rfc1123(intent.deadline_ms);
  j["created"] = intent.created_ms / 1000;
  j["intent_id"] = intent.id;
  j["source"] = "gotel";
  // Invalid UTF-8 in a user's app name must not throw on a pool thread.
  return j.dump(-1, ' ', false, json_replace);
}

}  // namespace gotel
