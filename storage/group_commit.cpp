#include "storage/group_commit.hpp"

#include <algorithm>
#include <vector>

namespace gotel::storage {

namespace {

status stopped() { return {errc::unavailable, "group committer stopped"}; }

}  // namespace

group_committer::group_committer(store& db, bool sync, bool inline_mode, std::size_t max_group)
    : db_(db), sync_(sync), inline_(inline_mode), max_group_(std::max<std::size_t>(max_group, 1)) {
  if (!inline_) thread_ = std::thread([this] { run(); });
}

group_committer::~group_committer() { stop(); }

void group_committer::submit(write_batch batch, completion done) {
  {
    std::unique_lock lock(mtx_);
    if (stopping_) {
      lock.unlock();
      if (done) done(stopped());
      return;
    }
    if (!inline_) {
      queue_.emplace_back(std::move(batch), std::move(done));
      lock.unlock();
      cv_.notify_one();
      return;
    }
  }
  // Inline mode: the caller's thread is the committer.
  status st = db_.write(batch, sync_);
  {
    std::lock_guard lock(mtx_);
    ++stats_.batches;
    ++stats_.requests;
    stats_.max_group = std::max<std::uint64_t>(stats_.max_group, 1);
  }
  if (done) done(st);
}

void group_committer::stop() {
  std::thread committer;
  {
    std::lock_guard lock(mtx_);
    stopping_ = true;
    // Taking the thread under the lock makes a second stop() a no-op instead
    // of a second join.
    committer = std::move(thread_);
  }
  cv_.notify_all();
  if (committer.joinable()) committer.join();
}

group_commit_stats group_committer::stats() const {
  std::lock_guard lock(mtx_);
  return stats_;
}

void group_committer::run() {
  std::vector<std::pair<write_batch, completion>> group;
  for (;;) {
    {
      std::unique_lock lock(mtx_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // After stop() the queue is drained before the thread ends.
      if (queue_.empty()) return;
      const std::size_t n = std::min(queue_.size(), max_group_);
      for (std::size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    // Merging keeps submission order, so a later write of a key wins.
    write_batch merged = std::move(group.front().first);
    for (std::size_t i = 1; i < group.size(); ++i) merged.append_batch(std::move(group[i].first));
    const status st = db_.write(merged, sync_);

    {
      // Counted before the completions run, so a writer that has seen its
      // completion also sees its request in stats().
      std::lock_guard lock(mtx_);
      ++stats_.batches;
      stats_.requests += group.size();
      stats_.max_group = std::max<std::uint64_t>(stats_.max_group, group.size());
    }
    for (auto& [batch, done] : group) {
      if (done) done(st);
    }
    group.clear();
  }
}

}  // namespace gotel::storage
