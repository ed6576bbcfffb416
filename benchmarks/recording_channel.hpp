#pragma once
/// A benchmark-only alerter channel: delivers nothing, records when each alert
/// intent reached it. An intent carries the deadline it is about (deadline_ms)
/// and when the reservation actor raised it (created_ms), both wall ms; the
/// dispatcher hands an intent to its channel only after the intent is durable in
/// the outbox, so `received_ms` bounds "detected and persisted" from above.
///
/// Thread-safety: deliver() is called from the dispatcher's pool threads.

#include "alerters/channel.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace gotel::bench {

struct alert_sample {
  std::int64_t deadline_ms;
  std::int64_t created_ms;
  std::int64_t received_ms;
};

class recording_channel : public alert_channel {
 public:
  std::string_view name() const override { return "bench"; }

  delivery_result deliver(const alert_intent& intent) override {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    {
      std::lock_guard<std::mutex> guard{mtx_};
      samples_.push_back({intent.deadline_ms, intent.created_ms, now});
    }
    cv_.notify_all();
    delivery_result r;
    r.delivered = true;
    return r;
  }

  /// Waits until `n` samples arrived or `timeout` passed; returns the count.
  std::size_t wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return samples_.size() >= n; });
    return samples_.size();
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return samples_.size();
  }

  std::vector<alert_sample> take() {
    std::lock_guard<std::mutex> guard{mtx_};
    return std::move(samples_);
  }

 private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<alert_sample> samples_;
};

}  // namespace gotel::bench
