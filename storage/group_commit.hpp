#pragma once
/// Group commit: concurrent writers hand batches to one committer thread, which
/// merges everything queued into one synced RocksDB write and then runs each
/// writer's completion. One fsync (~175 us here) covers every queued request.

#include "storage/store.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace gotel::storage {

struct group_commit_stats {
  std::uint64_t batches = 0;   ///< synced writes issued
  std::uint64_t requests = 0;  ///< submit() calls completed
  std::uint64_t max_group = 0; ///< most requests merged into one write
};

/// Thread-safety: submit() may be called from any thread; completions run on the
/// committer thread (or inline in `inline_mode`) and must not block.
class group_committer {
 public:
  using completion = std::function<void(const status&)>;

  /// With `inline_mode`, submit() writes and completes on the caller's thread
  /// (deterministic tests); otherwise a committer thread is started.
  group_committer(store& db, bool sync, bool inline_mode = false,
                  std::size_t max_group = 4096);
  ~group_committer();

  group_committer(const group_committer&) = delete;
  group_committer& operator=(const group_committer&) = delete;

  /// Queues `batch`; `done` runs after it is durable (or failed). Batches from
  /// one thread are applied in submission order.
  void submit(write_batch batch, completion done);

  /// Completes everything queued, then stops the thread. Later submits fail
  /// with errc::unavailable.
  void stop();

  group_commit_stats stats() const;

 private:
  void run();

  store& db_;
  bool sync_;
  bool inline_;
  std::size_t max_group_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::pair<write_batch, completion>> queue_;
  bool stopping_ = false;
  group_commit_stats stats_;
  std::thread thread_;
};

}  // namespace gotel::storage
