// outbox_bench: how many alert intents per second the durable outbox persists
// through the group committer, as reservation actors write them (one batch per
// reservation change: the record plus one intent per channel), with the WAL
// synced (the production setting) and unsynced.
//
//   outbox_bench [--intents N] [--producers P] [--channels C] [--dir DIR] [--out FILE]
//
// Prints one line per mode and appends one JSON object per mode to FILE.

#include "storage/group_commit.hpp"
#include "storage/store.hpp"
#include "storage/utf8.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace gotel;

struct run_result {
  bool sync = true;
  std::uint64_t intents = 0;
  double seconds = 0;
  storage::group_commit_stats stats;
};

alert_intent make_intent(std::uint64_t id, std::uint64_t job, const char* channel) {
  alert_intent in;
  in.id = id;
  in.dedup_key = std::to_string(job) + ":1700000000000";
  in.channel = channel;
  in.job_id = job;
  in.app = "app" + std::to_string(job);
  in.component = "nightly";
  in.owner = "ops@example.com";
  in.notify = "a@example.com,b@example.com";
  in.message = "App: [app" + std::to_string(job)
               + "] Component: [nightly] failed checkin on IP [10.0.0.7]. Contact owner "
                 "[ops@example.com]";
  in.deadline_ms = 1700000000000;
  in.created_ms = 1700000000001;
  in.next_attempt_ms = in.created_ms;
  return in;
}

run_result run(const std::string& dir, bool sync, std::uint64_t intents, unsigned producers,
               unsigned channels) {
  std::filesystem::remove_all(dir);
  storage::status st;
  auto db = storage::store::open(storage::options{dir}, st);
  if (!db) {
    std::cerr << "outbox_bench: cannot open " << dir << ": " << st.message << "\n";
    std::exit(1);
  }
  storage::group_committer committer{*db, sync};
  static const char* names[] = {"email", "pagerduty", "slack", "webhook", "log"};
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> done{0};
  std::mutex mtx;
  std::condition_variable cv;
  std::uint64_t changes = intents / channels;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint64_t job = p; job < changes; job += producers) {
        storage::write_batch batch;
        reservation_record rec;
        rec.job_id = job;
        rec.app = "app" + std::to_string(job);
        rec.component = "nightly";
        rec.frequency = 5;
        rec.late_since_ms = 1700000000000;
        batch.put(reservation_key(rec.app, rec.component), rec);
        for (unsigned c = 0; c < channels; ++c)
          batch.put(make_intent(next_id.fetch_add(1), job, names[c % 5]));
        committer.submit(std::move(batch), [&](const storage::status& s) {
          if (!s.ok())
            std::cerr << "outbox_bench: write failed: " << s.message << "\n";
          if (done.fetch_add(1) + 1 == changes) {
            std::lock_guard<std::mutex> g{mtx};
            cv.notify_all();
          }
        });
      }
    });
  }
  for (auto& t : threads)
    t.join();
  {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [&] { return done.load() == changes; });
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run_result r{sync, changes * channels, secs, committer.stats()};
  committer.stop();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t intents = 200000;
  unsigned producers = 4;
  unsigned channels = 2;
  std::string dir = "/tmp/gotel-outbox-bench";
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--intents")
      intents = std::stoull(value);
    else if (flag == "--producers")
      producers = static_cast<unsigned>(std::stoul(value));
    else if (flag == "--channels")
      channels = static_cast<unsigned>(std::max(1ul, std::stoul(value)));
    else if (flag == "--dir")
      dir = value;
    else if (flag == "--out")
      out = value;
    else {
      std::cerr << "usage: outbox_bench [--intents N] [--producers P] [--channels C] [--dir DIR]"
                   " [--out FILE]\n";
      return 2;
    }
  }
  for (bool sync : {true, false}) {
    auto r = run(dir, sync, intents, producers, channels);
    double rate = static_cast<double>(r.intents) / r.seconds;
    std::printf("outbox_bench sync=%s: %llu intents (%u per change, %u producers) in %.3f s = "
                "%.0f intents/s; %llu writes, largest group %llu\n",
                sync ? "on" : "off", static_cast<unsigned long long>(r.intents), channels,
                producers, r.seconds, rate, static_cast<unsigned long long>(r.stats.batches),
                static_cast<unsigned long long>(r.stats.max_group));
    if (!out.empty()) {
      nlohmann::json j;
      j["benchmark"] = "outbox";
      j["sync"] = sync;
      j["intents"] = r.intents;
      j["intents_per_change"] = channels;
      j["producers"] = producers;
      j["seconds"] = r.seconds;
      j["intents_per_second"] = rate;
      j["writes"] = r.stats.batches;
      j["max_group"] = r.stats.max_group;
      std::ofstream{out, std::ios::app} << json_text(j) << "\n";
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
