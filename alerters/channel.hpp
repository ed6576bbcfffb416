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
};

/// Thread-safety: deliver() may be called concurrently from several pool threads.
class alert_channel {
 public:
  virtual ~alert_channel() = default;
  /// Stable name, stored in intents ("log", "webhook", ...).
  virtual std::string_view name() const = 0;
  /// Blocking; returns within the channel's configured timeout.
  virtual delivery_result deliver(const alert_intent& intent) = 0;
};

/// Writes every alert to the process log (spdlog). Never fails.
std::unique_ptr<alert_channel> make_log_channel();

/// POSTs the JSON documented in docs/alerters.md to `url` via libcurl.
/// 2xx = delivered; 4xx (but 408/429) = not retryable; anything else = retry.
std::unique_ptr<alert_channel> make_webhook_channel(std::string url,
                                                    std::chrono::milliseconds timeout);

/// The webhook JSON body for `intent` (exposed for tests and docs).
std::string webhook_payload(const alert_intent& intent);

}  // namespace gotel
