#include "alerters/channel.hpp"

#include "alerters/render.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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
    return {true, false, {}};
  }
};

/// libcurl's process-wide init is not thread-safe; do it once, lazily.
void curl_global_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Discards the receiver's answer body; only the status matters.
size_t discard_body(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;
}

class webhook_channel final : public alert_channel {
 public:
  webhook_channel(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {
    curl_global_once();
  }

  std::string_view name() const override { return "webhook"; }

  delivery_result deliver(const alert_intent& intent) override {
    // One easy handle per delivery: deliver() runs on several pool threads and
    // an alert every few seconds does not need connection reuse.
    CURL* curl = curl_easy_init();
    if (curl == nullptr)
      return {false, true, "webhook: curl_easy_init failed"};
    auto body = webhook_payload(intent);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip for small bodies.
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "gotel-alerter");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
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
      return {false, true, std::string{"webhook: "} + curl_easy_strerror(rc)};
    }
    if (http_status >= 200 && http_status < 300)
      return {true, false, {}};
    bool retryable = http_status == 408 || http_status == 429 || http_status >= 500
                     || http_status < 400;
    return {false, retryable, "webhook: HTTP " + std::to_string(http_status)};
  }

 private:
  std::string url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<alert_channel> make_log_channel() {
  return std::make_unique<log_channel>();
}

std::unique_ptr<alert_channel> make_webhook_channel(std::string url,
                                                    std::chrono::milliseconds timeout) {
  return std::make_unique<webhook_channel>(std::move(url), timeout);
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
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace gotel
