#pragma once
/// A real RocksDB store in a fresh temporary directory, with an inline group
/// committer (writes complete on the caller's thread, so actor tests on virtual
/// time stay deterministic). Removed when the test ends.

#include "storage/group_commit.hpp"
#include "storage/store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gotel::test {

struct temp_store {
  explicit temp_store(const char* prefix = "gotel-test") {
    std::string tmpl = std::string{"/tmp/"} + prefix + "-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    open();
  }
  ~temp_store() {
    committer.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  temp_store(const temp_store&) = delete;
  temp_store& operator=(const temp_store&) = delete;

  void open() {
    storage::status st;
    db = storage::store::open(storage::options{dir, true, 8}, st);
    if (!db)
      throw std::runtime_error("open failed: " + st.message);
    committer = std::make_unique<storage::group_committer>(*db, true, /*inline_mode=*/true);
  }
  /// Closes and reopens the database, as a restarted process would.
  void reopen() {
    committer.reset();
    db.reset();
    open();
  }
  std::vector<alert_intent> outbox() const {
    std::vector<alert_intent> out;
    auto st = db->for_each_intent([&out](alert_intent&& in) {
      out.push_back(std::move(in));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message;
    return out;
  }
  std::vector<alert_log_entry> log(std::size_t limit = 100) const {
    storage::status st;
    auto out = db->alert_log(limit, st);
    EXPECT_TRUE(st.ok()) << st.message;
    return out;
  }

  std::string dir;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::group_committer> committer;
};

}  // namespace gotel::test
